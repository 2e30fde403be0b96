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
    doc = await ctx.services.db(ctx.services.catalog.get_bucket_config, ctx.bucket.name, "encryption")
    return BucketDefault.from_json(doc)


@dataclass(frozen=True, slots=True)
class CustomerKey:
    key: bytes = field(repr=False)
    key_md5: str  # base64, echoed in responses


def customer_key(headers: Mapping[str, str], prefix: str = SSEC) -> CustomerKey | None:
    """The SSE-C headers (or the copy-source set), validated as S3 validates them."""
    algorithm = headers.get(prefix + "algorithm")
    key_b64 = headers.get(prefix + "key")
    key_md5 = headers.get(prefix + "key-md5")
    if algorithm is None and key_b64 is None and key_md5 is None:
        return None
    if algorithm is None:
        raise invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide a valid "
            "encryption algorithm.", prefix + "algorithm")
    if algorithm != "AES256":
        raise S3Error("InvalidEncryptionAlgorithmError", 400,
                      "The encryption request you specified is not valid. The valid value is AES256.",
                      ArgumentName=prefix + "algorithm", ArgumentValue=algorithm)
    if key_b64 is None:
        raise invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide an "
            "appropriate secret key.", prefix + "key")
    try:
        key = base64.b64decode(key_b64, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise invalid_argument("The secret key was invalid for the specified algorithm.", prefix + "key")
    actual_md5 = base64.b64encode(hashlib.md5(key, usedforsecurity=False).digest()).decode()
    if key_md5 is None or key_md5 != actual_md5:
        raise invalid_argument("The calculated MD5 hash of the key did not match the hash that was provided.",
                               prefix + "key-MD5")
    return CustomerKey(key, actual_md5)


def require_secure_for_sse_c(ctx: Ctx) -> None:
    if not ctx.secure:
        raise invalid_request(
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a "
            "secure connection.")


@dataclass(frozen=True, slots=True)
class Choice:
    """What a write asks for, after the bucket default: the vault turns it into an ObjectKek."""

    algorithm: str  # AES256 | aws:kms | aws:kms:dsse | SSE-C
    kms_key_id: str | None = None
    bucket_key: bool = False
    context: str | None = None
    customer: CustomerKey | None = None


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
    customer = customer_key(h)
    if customer is not None:
        if algorithm is not None:
            raise invalid_argument(
                "Server Side Encryption with Customer provided key is incompatible with the encryption "
                "method specified", SSE, algorithm)
        require_secure_for_sse_c(ctx)
        if default.sse_c_blocked:
            raise access_denied("Requests specifying Server Side Encryption with Customer provided keys "
                                "are blocked for this bucket.")
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
        ok = isinstance(parsed, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.items())
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise invalid_argument("The header 'x-amz-server-side-encryption-context' shall be Base64-encoded "
                               "UTF-8 string holding JSON which represents a string-string map",
                               SSE_CONTEXT, value)


def response_headers(sealing: Sealing, customer: CustomerKey | None = None) -> dict[str, str]:
    """The encryption headers S3 sends back on writes and reads of an object."""
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
    return headers
