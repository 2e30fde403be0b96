"""Authentication: who signed this request (SigV4, or SigV2 where S3 still accepts it).

Keys are looked up in the catalog on every request, with no cache: a key
removed with `strongroom user remove` stops working at once, in every server
process. Secrets are kept sealed under the root key and are unsealed only to
verify a signature.
"""

from __future__ import annotations

from datetime import UTC, datetime

from strongroom.catalog.model import AccessKey, User
from strongroom.crypto import IntegrityError
from strongroom.errors import internal_error, invalid_access_key_id, invalid_request
from strongroom.s3 import sigv2, sigv4
from strongroom.s3.context import ANONYMOUS, Ctx, Principal
from strongroom.s3.routing import Operation

_UNSUPPORTED_MECHANISM = (
    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
)
# Operations AWS documents as accepting Signature Version 4 only, with the message each answers.
SIGV4_ONLY = {
    Operation.PutBucketEncryption: _UNSUPPORTED_MECHANISM,
    Operation.UpdateObjectEncryption: (
        "Requests that modify an object encryption configuration require AWS Signature Version 4. "
        "Modify the request to use AWS Signature Version 4, and then try again."
    ),
}


def auth_request(ctx: Ctx) -> sigv4.AuthRequest:
    raw = ctx.request.raw_path
    path, _, query = raw.partition("?")
    return sigv4.AuthRequest(ctx.request.method, path, query, ctx.request.headers)


async def _lookup(ctx: Ctx, access_key: str) -> tuple[AccessKey, User, str]:
    found = await ctx.services.read(ctx.services.catalog.lookup_access_key, access_key)
    if found is None or not found[0].active:
        raise invalid_access_key_id()
    key, user = found
    try:
        secret = ctx.services.keyring.unseal_secret(key.sealed_secret, key.access_key)
    except IntegrityError:
        raise internal_error() from None
    return key, user, secret


def _v2_resource_path(ctx: Ctx, raw_path: str) -> str:
    """SigV2 signs the path with the bucket in it, also for virtual-hosted-style requests."""
    if ctx.bucket_name and not raw_path.startswith("/" + ctx.bucket_name):
        return "/" + ctx.bucket_name + raw_path
    if ctx.bucket_name and raw_path.startswith("/" + ctx.bucket_name):
        host = (ctx.headers.get("host") or "").rsplit(":", 1)[0].lower()
        if host == f"{ctx.bucket_name}.{ctx.config.base_domain}".lower():
            return "/" + ctx.bucket_name + raw_path
    return raw_path


async def authenticate(ctx: Ctx, service: str = "s3", payload_sha256: str | None = None) -> None:
    """Set ctx.principal (anonymous when unsigned). Services other than S3 (STS, KMS) send no
    x-amz-content-sha256: they pass the hash of the body they read, which the signature covers."""
    req = auth_request(ctx)
    v2 = sigv2.parse(req) if service == "s3" else None
    if v2 is not None:
        if ctx.op in SIGV4_ONLY:
            raise invalid_request(SIGV4_ONLY[ctx.op])
        key, user, secret = await _lookup(ctx, v2.access_key)
        sigv2.verify(v2, req, _v2_resource_path(ctx, req.raw_path), secret, datetime.now(UTC))
        ctx.principal = Principal(user, key.access_key)
        ctx.signature_version = "AWS"
        return
    parsed = sigv4.parse(req)
    if parsed is None:
        ctx.principal = ANONYMOUS
        return
    sigv4.check_scope(parsed, service=service)
    key, user, secret = await _lookup(ctx, parsed.access_key)
    ctx.signing = sigv4.verify(parsed, req, secret, datetime.now(UTC), payload_sha256=payload_sha256)
    ctx.auth = parsed
    ctx.principal = Principal(user, key.access_key)
    ctx.signature_version = "AWS4-HMAC-SHA256"
