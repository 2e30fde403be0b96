"""The catalogue of IAM action names a policy may name, and what each S3 action applies to.

Sources (the Service Authorization Reference, "Actions defined by ..."):
- S3: the action list of "Actions, resources, and condition keys for Amazon S3"
  (list_amazons3), as extracted on 2024-02-12 by JuroOravec/aws-iam-policy-types
  (docs/typedoc/enums/AwsS3Actions.md), plus the actions added since then as listed,
  with the resource type each applies to, in a 2025/26 copy of that reference
  (bucket metadata tables, ABAC, annotations, UpdateObjectEncryption, PauseReplication,
  ListCallerAccessGrants, AllowVendedLogDeliveryForResource).
- KMS: list_awskeymanagementservice as extracted on 2024-02-12 (AwsKmsActions.md), plus
  kms:ListKeyRotations, kms:RotateKeyOnDemand and kms:DeriveSharedSecret, whose API
  reference pages name them as their required permissions.
- STS: only sts:GetCallerIdentity, the one STS operation strongroom serves.

Names are stored as AWS spells them; matching is case-insensitive (action names are).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from strongroom.policy.wildcard import Glob


def _names(prefix: str, block: str) -> frozenset[str]:
    return frozenset(f"{prefix}:{name}" for name in block.split())


# Actions whose resource type is `object` (arn:aws:s3:::bucket/key).
S3_OBJECT_ACTIONS = _names("s3", """
    AbortMultipartUpload BypassGovernanceRetention DeleteObject DeleteObjectAnnotation
    DeleteObjectTagging DeleteObjectVersion DeleteObjectVersionAnnotation DeleteObjectVersionTagging
    GetObject GetObjectAcl GetObjectAnnotation GetObjectAttributes GetObjectLegalHold
    GetObjectRetention GetObjectTagging GetObjectTorrent GetObjectVersion GetObjectVersionAcl
    GetObjectVersionAnnotation GetObjectVersionAnnotationForReplication GetObjectVersionAttributes
    GetObjectVersionForReplication GetObjectVersionTagging GetObjectVersionTorrent
    InitiateReplication ListMultipartUploadParts ListObjectAnnotations ListObjectVersionAnnotations
    ObjectOwnerOverrideToBucketOwner PutObject PutObjectAcl PutObjectAnnotation PutObjectLegalHold
    PutObjectRetention PutObjectTagging PutObjectVersionAcl PutObjectVersionAnnotation
    PutObjectVersionTagging ReplicateDelete ReplicateObject ReplicateObjectAnnotation ReplicateTags
    RestoreObject UpdateObjectEncryption
""")

# Actions whose resource type is `bucket` (arn:aws:s3:::bucket).
S3_BUCKET_ACTIONS = _names("s3", """
    AllowVendedLogDeliveryForResource CreateBucket CreateBucketMetadataTableConfiguration
    DeleteBucket DeleteBucketMetadataTableConfiguration DeleteBucketPolicy DeleteBucketWebsite
    GetAccelerateConfiguration GetAnalyticsConfiguration GetBucketAbac GetBucketAcl GetBucketCORS
    GetBucketLocation GetBucketLogging GetBucketMetadataTableConfiguration GetBucketNotification
    GetBucketObjectLockConfiguration GetBucketOwnershipControls GetBucketPolicy
    GetBucketPolicyStatus GetBucketPublicAccessBlock GetBucketRequestPayment GetBucketTagging
    GetBucketVersioning GetBucketWebsite GetEncryptionConfiguration
    GetIntelligentTieringConfiguration GetInventoryConfiguration GetLifecycleConfiguration
    GetMetricsConfiguration GetReplicationConfiguration ListBucket ListBucketMultipartUploads
    ListBucketVersions ListTagsForResource PauseReplication PutAccelerateConfiguration
    PutAnalyticsConfiguration PutBucketAbac PutBucketAcl PutBucketCORS PutBucketLogging
    PutBucketNotification PutBucketObjectLockConfiguration PutBucketOwnershipControls
    PutBucketPolicy PutBucketPublicAccessBlock PutBucketRequestPayment PutBucketTagging
    PutBucketVersioning PutBucketWebsite PutEncryptionConfiguration
    PutIntelligentTieringConfiguration PutInventoryConfiguration PutLifecycleConfiguration
    PutMetricsConfiguration PutReplicationConfiguration TagResource UntagResource
    UpdateBucketMetadataAnnotationTableConfiguration UpdateBucketMetadataInventoryTableConfiguration
    UpdateBucketMetadataJournalTableConfiguration
""")

# Account-level actions and those on resources strongroom does not have (access points,
# jobs, Storage Lens, Access Grants, Multi-Region Access Points).
S3_OTHER_ACTIONS = _names("s3", """
    AssociateAccessGrantsIdentityCenter CreateAccessGrant CreateAccessGrantsInstance
    CreateAccessGrantsLocation CreateAccessPoint CreateAccessPointForObjectLambda CreateJob
    CreateMultiRegionAccessPoint CreateStorageLensGroup DeleteAccessGrant DeleteAccessGrantsInstance
    DeleteAccessGrantsInstanceResourcePolicy DeleteAccessGrantsLocation DeleteAccessPoint
    DeleteAccessPointForObjectLambda DeleteAccessPointPolicy DeleteAccessPointPolicyForObjectLambda
    DeleteJobTagging DeleteMultiRegionAccessPoint DeleteStorageLensConfiguration
    DeleteStorageLensConfigurationTagging DeleteStorageLensGroup DescribeJob
    DescribeMultiRegionAccessPointOperation DissociateAccessGrantsIdentityCenter GetAccessGrant
    GetAccessGrantsInstance GetAccessGrantsInstanceForPrefix GetAccessGrantsInstanceResourcePolicy
    GetAccessGrantsLocation GetAccessPoint GetAccessPointConfigurationForObjectLambda
    GetAccessPointForObjectLambda GetAccessPointPolicy GetAccessPointPolicyForObjectLambda
    GetAccessPointPolicyStatus GetAccessPointPolicyStatusForObjectLambda GetAccountPublicAccessBlock
    GetDataAccess GetJobTagging GetMultiRegionAccessPoint GetMultiRegionAccessPointPolicy
    GetMultiRegionAccessPointPolicyStatus GetMultiRegionAccessPointRoutes
    GetStorageLensConfiguration GetStorageLensConfigurationTagging GetStorageLensDashboard
    GetStorageLensGroup ListAccessGrants ListAccessGrantsInstances ListAccessGrantsLocations
    ListAccessPoints ListAccessPointsForObjectLambda ListAllMyBuckets ListCallerAccessGrants
    ListJobs ListMultiRegionAccessPoints ListStorageLensConfigurations ListStorageLensGroups
    PutAccessGrantsInstanceResourcePolicy PutAccessPointConfigurationForObjectLambda
    PutAccessPointPolicy PutAccessPointPolicyForObjectLambda PutAccessPointPublicAccessBlock
    PutAccountPublicAccessBlock PutJobTagging PutMultiRegionAccessPointPolicy
    PutStorageLensConfiguration PutStorageLensConfigurationTagging
    SubmitMultiRegionAccessPointRoutes UpdateAccessGrantsLocation UpdateJobPriority UpdateJobStatus
    UpdateStorageLensGroup
""")

S3_ACTIONS = S3_OBJECT_ACTIONS | S3_BUCKET_ACTIONS | S3_OTHER_ACTIONS

KMS_ACTIONS = _names("kms", """
    CancelKeyDeletion ConnectCustomKeyStore CreateAlias CreateCustomKeyStore CreateGrant CreateKey
    Decrypt DeleteAlias DeleteCustomKeyStore DeleteImportedKeyMaterial DeriveSharedSecret
    DescribeCustomKeyStores DescribeKey DisableKey DisableKeyRotation DisconnectCustomKeyStore
    EnableKey EnableKeyRotation Encrypt GenerateDataKey GenerateDataKeyPair
    GenerateDataKeyPairWithoutPlaintext GenerateDataKeyWithoutPlaintext GenerateMac GenerateRandom
    GetKeyPolicy GetKeyRotationStatus GetParametersForImport GetPublicKey ImportKeyMaterial
    ListAliases ListGrants ListKeyPolicies ListKeyRotations ListKeys ListResourceTags
    ListRetirableGrants PutKeyPolicy ReEncryptFrom ReEncryptTo ReplicateKey RetireGrant RevokeGrant
    RotateKeyOnDemand ScheduleKeyDeletion Sign SynchronizeMultiRegionKey TagResource UntagResource
    UpdateAlias UpdateCustomKeyStore UpdateKeyDescription UpdatePrimaryRegion Verify VerifyMac
""")

STS_ACTIONS = _names("sts", "GetCallerIdentity")

ACTIONS_BY_SERVICE: dict[str, frozenset[str]] = {"s3": S3_ACTIONS, "kms": KMS_ACTIONS, "sts": STS_ACTIONS}
ALL_ACTIONS = S3_ACTIONS | KMS_ACTIONS | STS_ACTIONS

# Lower-cased name -> AWS spelling, per service, for case-insensitive lookups.
_FOLDED = {svc: {a.lower(): a for a in names} for svc, names in ACTIONS_BY_SERVICE.items()}


def _longest_literal(pattern: str) -> str:
    """The longest run without wildcards: a cheap substring pre-filter before the glob."""
    best = ""
    for part in pattern.replace("?", "*").split("*"):
        if len(part) > len(best):
            best = part
    return best


@lru_cache(maxsize=8192)
def _expand(pattern: str, services: tuple[str, ...]) -> frozenset[str]:
    if pattern == "*":
        return frozenset().union(*(ACTIONS_BY_SERVICE[s] for s in services))
    prefix, colon, name = pattern.partition(":")
    prefix = prefix.lower()
    if not colon or prefix not in services:
        return frozenset()
    folded = _FOLDED[prefix]
    lowered = pattern.lower()
    if "*" not in name and "?" not in name:
        hit = folded.get(lowered)
        return frozenset([hit]) if hit else frozenset()
    glob = Glob.compile(lowered)
    needle = _longest_literal(lowered)
    return frozenset(a for low, a in folded.items() if needle in low and glob.match(low))


def expand(pattern: str, services: Iterable[str]) -> frozenset[str]:
    """The catalogue actions of `services` (prefixes: "s3", "kms", "sts") that `pattern` names."""
    return _expand(pattern, tuple(sorted(services)))


def applies_to_object(action: str) -> bool:
    return action in S3_OBJECT_ACTIONS


def applies_to_bucket(action: str) -> bool:
    return action in S3_BUCKET_ACTIONS
