"""A request as the policy engine sees it: who asks, on which resource ARNs, with which condition keys.

AWS facts used here (IAM "AWS global condition context keys"; the Service Authorization
Reference, "Condition keys for Amazon S3"; S3 user guide, "Bucket policy examples using
condition keys"):
- aws:SecureTransport is "true" or "false"; aws:SourceIp the client's address; aws:CurrentTime
  ISO 8601 and aws:EpochTime seconds. aws:username, aws:userid and aws:PrincipalArn come from the
  principal (the engine adds them; the root user has no aws:username).
- The s3: keys that name request headers carry the request's own header values: a PUT that
  relies on the bucket's default encryption has no s3:x-amz-server-side-encryption at all, which
  is why the classic "deny unencrypted uploads" policy with StringNotEquals denies it.
- s3:prefix, s3:delimiter and s3:max-keys exist for ListBucket and ListBucketVersions when the
  request carries the parameter.
- s3:signatureversion is "AWS" (SigV2) or "AWS4-HMAC-SHA256"; s3:authType is REST-HEADER,
  REST-QUERY-STRING or POST; s3:x-amz-content-sha256 is the header as sent.
- s3:ExistingObjectTag/<key> carries the tags of the object acted on (read, ACL and tagging
  actions on an existing object).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import UTC, datetime

from strongroom import policy
from strongroom.identity import unique_id
from strongroom.s3.context import Ctx
from strongroom.s3.routing import Operation

# Header-valued S3 condition keys: s3:<header> is the header's value when the request has it.
HEADER_KEYS = (
    "x-amz-acl", "x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm", "x-amz-content-sha256", "x-amz-copy-source",
    "x-amz-metadata-directive", "x-amz-storage-class", "x-amz-grant-read", "x-amz-grant-write",
    "x-amz-grant-read-acp", "x-amz-grant-write-acp", "x-amz-grant-full-control", "x-amz-object-ownership",
    "x-amz-website-redirect-location", "x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold",
)
LISTING_OPS = frozenset({Operation.ListObjects, Operation.ListObjectsV2, Operation.ListObjectVersions})
# Actions whose condition context carries s3:ExistingObjectTag/<key> (Service Authorization Reference).
EXISTING_TAG_ACTIONS = frozenset({
    "s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAcl", "s3:GetObjectVersionAcl", "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl", "s3:GetObjectTagging", "s3:GetObjectVersionTagging", "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging", "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging",
})


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def principal(ctx: Ctx) -> policy.Principal:
    user = ctx.principal.user
    account = ctx.services.account_id
    if user is None:
        return policy.Principal.anonymous()
    if user.is_root:
        return policy.Principal.root(account, canonical_id=user.user_id)
    return policy.Principal.user(account, user.name, user.user_id, canonical_id=user.user_id,
                                 unique_id=unique_id(user))


def auth_type(ctx: Ctx) -> str | None:
    if ctx.principal.anonymous:
        return None
    if ctx.op is Operation.PostObject:
        return "POST"
    if ctx.auth is not None:
        return "REST-QUERY-STRING" if ctx.auth.kind == "presigned" else "REST-HEADER"
    return "REST-HEADER" if "authorization" in ctx.headers else "REST-QUERY-STRING"


def source_ip(ctx: Ctx) -> str | None:
    remote = ctx.request.remote
    if not remote:
        return None
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def request_keys(ctx: Ctx, headers: Mapping[str, str] | None = None) -> dict[str, str | list[str]]:
    """The condition keys of the request itself (not of the object it acts on)."""
    now = ctx.services.clock.now()  # the catalog's time (clock.py): one clock for every server
    keys: dict[str, str | list[str]] = {
        "aws:SecureTransport": "true" if ctx.secure else "false",
        "aws:CurrentTime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now)),
        "s3:ResourceAccount": ctx.services.account_id,
    }
    ip = source_ip(ctx)
    if ip is not None:
        keys["aws:SourceIp"] = ip
    for name, key in (("user-agent", "aws:UserAgent"), ("referer", "aws:Referer")):
        if name in ctx.headers:
            keys[key] = ctx.headers[name]
    if not ctx.principal.anonymous:
        version = ctx.signature_version
        if version:
            keys["s3:signatureversion"] = version
        kind = auth_type(ctx)
        if kind:
            keys["s3:authType"] = kind
    source = ctx.headers if headers is None else headers
    for header in HEADER_KEYS:
        value = source.get(header)
        if value is not None:
            keys[f"s3:{header}"] = value
    if ctx.query.get("versionId"):
        keys["s3:versionid"] = ctx.query["versionId"]
    if ctx.op in LISTING_OPS:
        for param in ("prefix", "delimiter", "max-keys"):
            if param in ctx.query:
                keys[f"s3:{param}"] = ctx.query[param]
    return keys


def tag_keys(tags: Mapping[str, str]) -> dict[str, str | list[str]]:
    return {f"s3:ExistingObjectTag/{k}": v for k, v in tags.items()}
