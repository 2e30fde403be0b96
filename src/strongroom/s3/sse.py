"""Server-side encryption on the wire: the SSE request headers, the bucket default, and the choice.

`choose(ctx)` turns a write request's headers and its bucket's default
encryption into what the vault must do. Header errors are S3's own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from strongroom.catalog.model import Sealing
from strongroom.errors import S3Error, access_denied, invalid_argument, invalid_request
from strongroom.s3.context import Ctx
from strongroom.vault import Encryption
from strongroom.vault.wrapping import kms_context

SSE = "x-amz-server-side-encryption"
SSE_KMS_KEY = "x-amz-server-side-encryption-aws-kms-key-id"
SSE_CONTEXT = "x-amz-server-side-encryption-context"
SSE_BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"
SSEC = "x-amz-server-side-encryption-customer-"
COPY_SSEC = "x-amz-copy-source-server-side-encryption-customer-"
ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")


@dataclass(frozen=True, slots=True)
class BucketDefault:
    """A bucket's default encryption (the stored form of its ServerSideEncryptionConfiguration)."""

    algorithm: str = "AES256"
    kms_key_id: str | None = None
    bucket_key: bool = False
    blocked: tuple[str, ...] = ()  # EncryptionType values: "SSE-C" or "NONE"
    configured: bool = False  # False: no configuration was put; the SSE-S3 default applies

    def to_json(self) -> str:
        return json.dumps({"algorithm": self.algorithm, "kms_key_id": self.kms_key_id,
                           "bucket_key": self.bucket_key, "blocked": list(self.blocked),
                           "configured": self.configured})

    @staticmethod
    def from_json(text: str | None) -> BucketDefault:
        if not text:
            return BucketDefault()
        d = json.loads(text)
        return BucketDefault(d["algorithm"], d.get("kms_key_id"), d.get("bucket_key", False),
                             tuple(d.get("blocked", ())), d.get("configured", False))

    @property
    def sse_c_blocked(self) -> bool:
        return "SSE-C" in self.blocked


def new_bucket_default(allow_sse_c: bool) -> BucketDefault:
    """AWS blocks SSE-C writes on new buckets since April 2026; an operator may allow them."""
    return BucketDefault(blocked=("NONE",) if allow_sse_c else ("SSE-C",))


async def bucket_default(ctx: Ctx) -> BucketDefault:
    assert ctx.bucket is not None
    return BucketDefault.from_json((await ctx.bucket_configs(ctx.bucket.name)).get("encryption"))


@dataclass(frozen=True, slots=True)
class CustomerKey:
    key: bytes = field(repr=False)
    key_md5: str  # base64, echoed in responses


def _sse_c_argument(message: str, value: str = "null") -> S3Error:
    # Recorded from AWS (LocalStack TestS3SSECEncryption, validated 2026-02-21): every SSE-C header error
    # names x-amz-server-side-encryption as its argument, whichever header was wrong.
    return invalid_argument(message, SSE, value)


def customer_key(headers: Mapping[str, str], prefix: str = SSEC,
                 sse: str | None = None) -> CustomerKey | None:
    """The SSE-C headers (or the copy-source set), validated in the order S3 validates them.

    `sse` is the request's x-amz-server-side-encryption, which SSE-C excludes.
    """
    algorithm = headers.get(prefix + "algorithm")
    key_b64 = headers.get(prefix + "key")
    key_md5 = headers.get(prefix + "key-md5")
    if algorithm is None and key_b64 is None:
        return None
    if sse is not None:
        raise _sse_c_argument("Server Side Encryption with Customer provided key is incompatible with the "
                              "encryption method specified", sse)
    if algorithm is None:
        raise _sse_c_argument("Requests specifying Server Side Encryption with Customer provided keys must "
                              "provide a valid encryption algorithm.")
    if key_b64 is None:
        raise _sse_c_argument("Requests specifying Server Side Encryption with Customer provided keys must "
                              "provide an appropriate secret key.")
    if algorithm != "AES256":
        raise S3Error("InvalidEncryptionAlgorithmError", 400,
                      "The Encryption request you specified is not valid. Supported value: AES256.",
                      ArgumentName=SSE, ArgumentValue=algorithm)
    try:
        key = base64.b64decode(key_b64, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    # AWS checks the MD5 before the length (24-byte keys with a wrong MD5 got the MD5 error:
    # aws/aws-sdk-go#1726, aws/aws-cli#6906); a missing MD5 is a wrong one.
    actual_md5 = base64.b64encode(hashlib.md5(key, usedforsecurity=False).digest()).decode()
    if key_md5 is None or key_md5 != actual_md5:
        raise _sse_c_argument("The calculated MD5 hash of the key did not match the hash that was provided.")
    if len(key) != 32:
        raise _sse_c_argument("The secret key was invalid for the specified algorithm.")
    return CustomerKey(key, actual_md5)


def require_secure_for_sse_c(ctx: Ctx) -> None:
    if not ctx.secure:
        raise invalid_request(
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a "
            "secure connection.")


def sse_c_blocked(ctx: Ctx, key: str | None) -> S3Error:
    """A write asking for SSE-C in a bucket that blocks it (UG troubleshoot-403-errors, the SSE-C block)."""
    assert ctx.bucket is not None
    who = ctx.principal.user
    principal = (f"arn:aws:iam::{ctx.services.account_id}:root" if who is None or who.is_root
                 else f"arn:aws:iam::{ctx.services.account_id}:user/{who.name}")
    action = "s3:CopyObject" if ctx.op.name == "CopyObject" else "s3:PutObject"
    resource = f"arn:aws:s3:::{ctx.bucket.name}/{key or ''}"
    return access_denied(
        f'User: {principal} is not authorized to perform: {action} on resource: "{resource}" because this '
        "bucket has blocked upload requests that specify Server Side Encryption with Customer provided keys "
        "(SSE-C). Please specify a different server-side encryption type")


def require_sigv4_for_kms(ctx: Ctx) -> None:
    """AWS serves SSE-KMS objects only to SigV4-signed requests: SigV2 and anonymous ones are refused,
    whatever a policy allows (S3 API reference, CopyObject; AWS knowledge center article
    s3-kms-signature-version-error)."""
    if ctx.signature_version != "AWS4-HMAC-SHA256":
        raise invalid_argument("Requests specifying Server Side Encryption with AWS KMS managed keys require "
                               "AWS Signature Version 4.", "Authorization", "null")


def check_no_sse_on_read(ctx: Ctx) -> None:
    """GET and HEAD take no x-amz-server-side-encryption headers: 400 (S3 API reference, GetObject)."""
    for name in (SSE, SSE_KMS_KEY, SSE_CONTEXT, SSE_BUCKET_KEY):
        if name in ctx.headers:
            raise invalid_argument(f"{name} header is not supported for this operation.", name,
                                   ctx.headers[name])


@dataclass(frozen=True, slots=True)
class Choice:
    """What a write asks for, after the bucket default: `encryption` is what the vault takes."""

    algorithm: str  # AES256 | aws:kms | aws:kms:dsse | SSE-C
    kms_key_id: str | None = None
    bucket_key: bool = False
    context: str | None = None
    customer: CustomerKey | None = None

    @property
    def encryption(self) -> Encryption:
        return Encryption(self.algorithm, self.kms_key_id, self.bucket_key, self.context,
                          self.customer.key if self.customer else None)


def _bool_header(value: str | None, name: str) -> bool | None:
    if value is None:
        return None
    if value.lower() not in ("true", "false"):
        raise invalid_argument(f"Invalid value for {name}", name, value)
    return value.lower() == "true"


def choose(ctx: Ctx, default: BucketDefault, headers: Mapping[str, str] | None = None) -> Choice:
    h = ctx.headers if headers is None else headers
    algorithm = h.get(SSE)
    kms_key = h.get(SSE_KMS_KEY)
    context = h.get(SSE_CONTEXT)
    bucket_key = _bool_header(h.get(SSE_BUCKET_KEY), SSE_BUCKET_KEY)
    customer = customer_key(h, sse=algorithm)
    if customer is not None:
        require_secure_for_sse_c(ctx)
        if default.sse_c_blocked:
            raise sse_c_blocked(ctx, ctx.key)
        return Choice("SSE-C", customer=customer)
    if algorithm is not None and algorithm not in ALGORITHMS:
        raise invalid_argument("The encryption method specified is not supported", SSE, algorithm)
    if algorithm == "AES256" and kms_key is not None:
        raise invalid_argument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header "
            "x-amz-server-side-encryption : aws:kms", SSE_KMS_KEY, kms_key)
    if algorithm is None and (kms_key is not None or context is not None):
        raise invalid_argument(
            "Server Side Encryption with AWS KMS managed key requires HTTP header "
            "x-amz-server-side-encryption : aws:kms", SSE, "null")
    if context is not None:
        _check_context(context)
    if algorithm is None:
        if default.algorithm == "AES256":
            return Choice("AES256")
        return Choice(default.algorithm, default.kms_key_id, default.bucket_key if bucket_key is None
                      else bucket_key)
    if algorithm == "AES256":
        return Choice("AES256")
    # explicit aws:kms[/dsse]: without a key id the bucket's key if its default is KMS, else aws/s3
    key = kms_key or (default.kms_key_id if default.algorithm == algorithm else None)
    use_bucket_key = bucket_key if bucket_key is not None else (default.bucket_key and
                                                                 default.algorithm.startswith("aws:kms"))
    if algorithm == "aws:kms:dsse":
        use_bucket_key = False  # S3 Bucket Keys are not supported with DSSE-KMS
    return Choice(algorithm, key, use_bucket_key, context)


def _check_context(value: str) -> None:
    try:
        parsed = json.loads(base64.b64decode(value, validate=True))
        ok = isinstance(parsed, dict) and all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in parsed.items())
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise invalid_argument("The header 'x-amz-server-side-encryption-context' shall be Base64-encoded "
                               "UTF-8 string holding JSON which represents a string-string map",
                               SSE_CONTEXT, value)


def response_headers(sealing: Sealing, customer: CustomerKey | None = None, *,
                     context: bool = False) -> dict[str, str]:
    """The encryption headers S3 sends back on writes and reads of an object.

    `context`: PutObject, CopyObject and CreateMultipartUpload also return the encryption context
    (the one the request gave, with aws:s3:arn merged in); UploadPart, Complete, GET and HEAD do not.
    """
    if sealing.algorithm == "SSE-C":
        headers = {SSEC + "algorithm": "AES256"}
        if customer is not None:
            headers[SSEC + "key-MD5"] = customer.key_md5
        return headers
    headers = {SSE: sealing.algorithm}
    if sealing.algorithm.startswith("aws:kms"):
        if sealing.kms_key_arn:
            headers[SSE_KMS_KEY] = sealing.kms_key_arn
        if sealing.bucket_key:
            headers[SSE_BUCKET_KEY] = "true"
        stored = kms_context(sealing) if context and sealing.context is not None else None
        if stored is not None:
            merged = json.dumps(stored, separators=(",", ":"), sort_keys=True)
            headers[SSE_CONTEXT] = base64.b64encode(merged.encode()).decode()
    return headers
