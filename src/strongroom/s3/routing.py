"""Routing as data: (method, bucket?, key?, query keyword, header) -> Operation.

Operations carry AWS's names; each also names the IAM action that authorizes
it (from the AWS service authorization reference). The first rule that
matches wins, so more specific rules come first. A request that no rule
matches is NotImplemented (501), as on S3 for an unsupported sub-resource.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class Operation(enum.Enum):
    """An S3 operation by its AWS name, with the IAM action that authorizes it and its scope.

    Members are declared as (IAM action, scope) with scope "service", "bucket" or "object". Many share
    an action (PutObject, CopyObject, UploadPart...), so each member gets its own value: without that,
    Enum would make them aliases of one another.
    """

    action: str
    scope: str

    def __new__(cls, action: str, scope: str) -> Operation:
        member = object.__new__(cls)
        member._value_ = len(cls.__members__) + 1
        member.action = action
        member.scope = scope
        return member

    ListBuckets = ("s3:ListAllMyBuckets", "service")
    PostService = ("", "service")  # POST /: KMS (X-Amz-Target) or STS (Action=...), told apart by its handler

    CreateBucket = ("s3:CreateBucket", "bucket")
    DeleteBucket = ("s3:DeleteBucket", "bucket")
    HeadBucket = ("s3:ListBucket", "bucket")
    ListObjects = ("s3:ListBucket", "bucket")
    ListObjectsV2 = ("s3:ListBucket", "bucket")
    ListObjectVersions = ("s3:ListBucketVersions", "bucket")
    GetBucketLocation = ("s3:GetBucketLocation", "bucket")
    GetBucketVersioning = ("s3:GetBucketVersioning", "bucket")
    PutBucketVersioning = ("s3:PutBucketVersioning", "bucket")
    PutBucketEncryption = ("s3:PutEncryptionConfiguration", "bucket")
    GetBucketEncryption = ("s3:GetEncryptionConfiguration", "bucket")
    DeleteBucketEncryption = ("s3:PutEncryptionConfiguration", "bucket")
    PutBucketPolicy = ("s3:PutBucketPolicy", "bucket")
    GetBucketPolicy = ("s3:GetBucketPolicy", "bucket")
    DeleteBucketPolicy = ("s3:DeleteBucketPolicy", "bucket")
    GetBucketPolicyStatus = ("s3:GetBucketPolicyStatus", "bucket")
    GetBucketAcl = ("s3:GetBucketAcl", "bucket")
    PutBucketAcl = ("s3:PutBucketAcl", "bucket")
    GetBucketOwnershipControls = ("s3:GetBucketOwnershipControls", "bucket")
    PutBucketOwnershipControls = ("s3:PutBucketOwnershipControls", "bucket")
    DeleteBucketOwnershipControls = ("s3:PutBucketOwnershipControls", "bucket")
    PutBucketTagging = ("s3:PutBucketTagging", "bucket")
    GetBucketTagging = ("s3:GetBucketTagging", "bucket")
    DeleteBucketTagging = ("s3:PutBucketTagging", "bucket")
    PutBucketCors = ("s3:PutBucketCORS", "bucket")
    GetBucketCors = ("s3:GetBucketCORS", "bucket")
    DeleteBucketCors = ("s3:PutBucketCORS", "bucket")
    # Reads of sub-resources strongroom does not configure: AWS's "not configured" answer (unconfigured.py)
    GetBucketWebsite = ("s3:GetBucketWebsite", "bucket")
    GetBucketReplication = ("s3:GetReplicationConfiguration", "bucket")
    GetBucketAccelerateConfiguration = ("s3:GetAccelerateConfiguration", "bucket")
    GetBucketRequestPayment = ("s3:GetBucketRequestPayment", "bucket")
    GetBucketNotificationConfiguration = ("s3:GetBucketNotification", "bucket")
    ListBucketAnalyticsConfigurations = ("s3:GetAnalyticsConfiguration", "bucket")
    ListBucketMetricsConfigurations = ("s3:GetMetricsConfiguration", "bucket")
    ListBucketInventoryConfigurations = ("s3:GetInventoryConfiguration", "bucket")
    ListBucketIntelligentTieringConfigurations = ("s3:GetIntelligentTieringConfiguration", "bucket")
    GetPublicAccessBlock = ("s3:GetBucketPublicAccessBlock", "bucket")
    PutPublicAccessBlock = ("s3:PutBucketPublicAccessBlock", "bucket")
    DeletePublicAccessBlock = ("s3:PutBucketPublicAccessBlock", "bucket")
    PutBucketLogging = ("s3:PutBucketLogging", "bucket")
    GetBucketLogging = ("s3:GetBucketLogging", "bucket")
    PutObjectLockConfiguration = ("s3:PutBucketObjectLockConfiguration", "bucket")
    GetObjectLockConfiguration = ("s3:GetBucketObjectLockConfiguration", "bucket")
    PutBucketLifecycleConfiguration = ("s3:PutLifecycleConfiguration", "bucket")
    GetBucketLifecycleConfiguration = ("s3:GetLifecycleConfiguration", "bucket")
    DeleteBucketLifecycle = ("s3:PutLifecycleConfiguration", "bucket")  # API reference: that permission
    ListMultipartUploads = ("s3:ListBucketMultipartUploads", "bucket")
    DeleteObjects = ("s3:DeleteObject", "bucket")
    PostObject = ("s3:PutObject", "bucket")

    PutObject = ("s3:PutObject", "object")
    CopyObject = ("s3:PutObject", "object")
    GetObject = ("s3:GetObject", "object")
    HeadObject = ("s3:GetObject", "object")
    DeleteObject = ("s3:DeleteObject", "object")
    GetObjectAcl = ("s3:GetObjectAcl", "object")
    PutObjectAcl = ("s3:PutObjectAcl", "object")
    GetObjectTagging = ("s3:GetObjectTagging", "object")
    PutObjectTagging = ("s3:PutObjectTagging", "object")
    DeleteObjectTagging = ("s3:DeleteObjectTagging", "object")
    PutObjectRetention = ("s3:PutObjectRetention", "object")
    GetObjectRetention = ("s3:GetObjectRetention", "object")
    PutObjectLegalHold = ("s3:PutObjectLegalHold", "object")
    GetObjectLegalHold = ("s3:GetObjectLegalHold", "object")
    GetObjectAttributes = ("s3:GetObjectAttributes", "object")
    UpdateObjectEncryption = ("s3:UpdateObjectEncryption", "object")  # and s3:PutObject (authorization)
    CreateMultipartUpload = ("s3:PutObject", "object")
    UploadPart = ("s3:PutObject", "object")
    UploadPartCopy = ("s3:PutObject", "object")
    CompleteMultipartUpload = ("s3:PutObject", "object")
    AbortMultipartUpload = ("s3:AbortMultipartUpload", "object")
    ListParts = ("s3:ListMultipartUploadParts", "object")


@dataclass(frozen=True, slots=True)
class Rule:
    method: str
    target: str  # "service" | "bucket" | "object"
    op: Operation
    query: str | None = None  # a query keyword that must be present
    header: str | None = None  # a header that must be present (lowercase)


O = Operation  # noqa: E741 - short alias keeps the table readable

RULES: tuple[Rule, ...] = (
    Rule("GET", "service", O.ListBuckets),
    Rule("POST", "service", O.PostService),
    # bucket sub-resources
    Rule("PUT", "bucket", O.PutBucketEncryption, query="encryption"),
    Rule("GET", "bucket", O.GetBucketEncryption, query="encryption"),
    Rule("DELETE", "bucket", O.DeleteBucketEncryption, query="encryption"),
    Rule("PUT", "bucket", O.PutBucketPolicy, query="policy"),
    Rule("GET", "bucket", O.GetBucketPolicy, query="policy"),
    Rule("DELETE", "bucket", O.DeleteBucketPolicy, query="policy"),
    Rule("GET", "bucket", O.GetBucketPolicyStatus, query="policyStatus"),
    Rule("GET", "bucket", O.GetBucketAcl, query="acl"),
    Rule("PUT", "bucket", O.PutBucketAcl, query="acl"),
    Rule("GET", "bucket", O.GetBucketOwnershipControls, query="ownershipControls"),
    Rule("PUT", "bucket", O.PutBucketOwnershipControls, query="ownershipControls"),
    Rule("DELETE", "bucket", O.DeleteBucketOwnershipControls, query="ownershipControls"),
    Rule("GET", "bucket", O.GetPublicAccessBlock, query="publicAccessBlock"),
    Rule("PUT", "bucket", O.PutPublicAccessBlock, query="publicAccessBlock"),
    Rule("DELETE", "bucket", O.DeletePublicAccessBlock, query="publicAccessBlock"),
    Rule("PUT", "bucket", O.PutBucketTagging, query="tagging"),
    Rule("GET", "bucket", O.GetBucketTagging, query="tagging"),
    Rule("DELETE", "bucket", O.DeleteBucketTagging, query="tagging"),
    Rule("PUT", "bucket", O.PutBucketCors, query="cors"),
    Rule("GET", "bucket", O.GetBucketCors, query="cors"),
    Rule("DELETE", "bucket", O.DeleteBucketCors, query="cors"),
    Rule("GET", "bucket", O.GetBucketWebsite, query="website"),
    Rule("GET", "bucket", O.GetBucketReplication, query="replication"),
    Rule("PUT", "bucket", O.PutBucketLogging, query="logging"),
    Rule("GET", "bucket", O.GetBucketLogging, query="logging"),
    Rule("GET", "bucket", O.GetBucketAccelerateConfiguration, query="accelerate"),
    Rule("GET", "bucket", O.GetBucketRequestPayment, query="requestPayment"),
    Rule("GET", "bucket", O.GetBucketNotificationConfiguration, query="notification"),
    # With an `id`, these name Get<...>Configuration of one configuration; the handler answers both.
    Rule("GET", "bucket", O.ListBucketAnalyticsConfigurations, query="analytics"),
    Rule("GET", "bucket", O.ListBucketMetricsConfigurations, query="metrics"),
    Rule("GET", "bucket", O.ListBucketInventoryConfigurations, query="inventory"),
    Rule("GET", "bucket", O.ListBucketIntelligentTieringConfigurations, query="intelligent-tiering"),
    Rule("PUT", "bucket", O.PutObjectLockConfiguration, query="object-lock"),
    Rule("GET", "bucket", O.GetObjectLockConfiguration, query="object-lock"),
    Rule("PUT", "bucket", O.PutBucketLifecycleConfiguration, query="lifecycle"),
    Rule("GET", "bucket", O.GetBucketLifecycleConfiguration, query="lifecycle"),
    Rule("DELETE", "bucket", O.DeleteBucketLifecycle, query="lifecycle"),
    Rule("GET", "bucket", O.GetBucketLocation, query="location"),
    Rule("GET", "bucket", O.GetBucketVersioning, query="versioning"),
    Rule("PUT", "bucket", O.PutBucketVersioning, query="versioning"),
    Rule("GET", "bucket", O.ListObjectVersions, query="versions"),
    Rule("GET", "bucket", O.ListMultipartUploads, query="uploads"),
    Rule("POST", "bucket", O.DeleteObjects, query="delete"),
    Rule("GET", "bucket", O.ListObjectsV2, query="list-type"),
    Rule("GET", "bucket", O.ListObjects),
    Rule("HEAD", "bucket", O.HeadBucket),
    Rule("PUT", "bucket", O.CreateBucket),
    Rule("DELETE", "bucket", O.DeleteBucket),
    Rule("POST", "bucket", O.PostObject),
    # object sub-resources
    Rule("PUT", "object", O.UploadPartCopy, query="uploadId", header="x-amz-copy-source"),
    Rule("PUT", "object", O.UploadPart, query="uploadId"),
    Rule("POST", "object", O.CompleteMultipartUpload, query="uploadId"),
    Rule("DELETE", "object", O.AbortMultipartUpload, query="uploadId"),
    Rule("GET", "object", O.ListParts, query="uploadId"),
    Rule("POST", "object", O.CreateMultipartUpload, query="uploads"),
    Rule("PUT", "object", O.UpdateObjectEncryption, query="encryption"),
    Rule("GET", "object", O.GetObjectAcl, query="acl"),
    Rule("PUT", "object", O.PutObjectAcl, query="acl"),
    Rule("GET", "object", O.GetObjectTagging, query="tagging"),
    Rule("PUT", "object", O.PutObjectTagging, query="tagging"),
    Rule("DELETE", "object", O.DeleteObjectTagging, query="tagging"),
    Rule("GET", "object", O.GetObjectAttributes, query="attributes"),
    Rule("PUT", "object", O.PutObjectRetention, query="retention"),
    Rule("GET", "object", O.GetObjectRetention, query="retention"),
    Rule("PUT", "object", O.PutObjectLegalHold, query="legal-hold"),
    Rule("GET", "object", O.GetObjectLegalHold, query="legal-hold"),
    Rule("PUT", "object", O.CopyObject, header="x-amz-copy-source"),
    Rule("PUT", "object", O.PutObject),
    Rule("GET", "object", O.GetObject),
    Rule("HEAD", "object", O.HeadObject),
    Rule("DELETE", "object", O.DeleteObject),
)

# Sub-resources S3 has but strongroom does not implement: a request naming one answers 501 rather than
# being served as the plain operation (a GET ?lifecycle must not list objects, a DELETE ?tagging must
# never delete the bucket).
UNSUPPORTED_SUBRESOURCES = frozenset(
    {
        "accelerate", "analytics", "cors", "intelligent-tiering", "inventory", "lifecycle", "logging",
        "metrics", "notification", "replication", "requestPayment", "restore", "select", "torrent",
        "website", "metadataTable", "metadataConfiguration",
        "metadataInventoryTable", "metadataJournalTable", "abac", "session", "renameObject", "tagging",
        "versioning", "attributes", "acl", "policy", "policyStatus", "encryption", "ownershipControls",
        "publicAccessBlock", "uploads", "uploadId", "delete", "location", "versions", "list-type",
    }
)  # fmt: skip
# Every name that selects a sub-resource: a rule without a query keyword never matches a request naming one.
SUBRESOURCES = UNSUPPORTED_SUBRESOURCES | {rule.query for rule in RULES if rule.query}


def route(method: str, has_bucket: bool, has_key: bool, query: Mapping[str, str],
          headers: Mapping[str, str]) -> Operation | None:
    """The operation a request names, or None when strongroom does not implement it."""
    target = "object" if has_key else "bucket" if has_bucket else "service"
    named = [k for k in query if k in SUBRESOURCES] if target != "service" else []
    for rule in RULES:
        if rule.method != method or rule.target != target:
            continue
        if rule.query is None:
            if named:
                return None  # a sub-resource with no rule for this method and target: 501, not a fall-through
        elif rule.query not in query:
            continue
        if rule.header is not None and rule.header not in headers:
            continue
        return rule.op
    return None
