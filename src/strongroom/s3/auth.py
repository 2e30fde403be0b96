"""Authentication: who signed this request (SigV4, or SigV2 where S3 still accepts it).

Every door that takes a signature (SigV4 header and presigned, SigV2, the POST
Object form's policy, STS and the KMS JSON API) finds the signer's credentials
with `credentials`, the one lookup. Keys are looked up in the catalog on every
request: a key removed with `strongroom user remove` stops working at once, in
every server process (on PostgreSQL through each server's cache of keys, which
hears of every change within milliseconds: catalog/read_cache.py). Secrets are kept sealed under the root
key and are unsealed only to verify a signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from strongroom import sigv4
from strongroom.catalog.model import AccessKey, User
from strongroom.crypto import IntegrityError
from strongroom.errors import internal_error, invalid_access_key_id, invalid_request
from strongroom.s3 import sigv2
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


@dataclass(frozen=True, slots=True)
class Credentials:
    """An active access key, the user it belongs to and its secret, unsealed to check one signature."""

    key: AccessKey
    user: User
    secret: str = field(repr=False)

    @property
    def principal(self) -> Principal:
        return Principal(self.user, self.key.access_key)


async def credentials(ctx: Ctx, access_key: str) -> Credentials:
    """The one credential lookup. An unknown or deactivated key: InvalidAccessKeyId (each door words it
    its own way); a secret that no longer unseals under the root key: InternalError."""
    try:
        access_key.encode("utf-8")
    except UnicodeEncodeError:  # a byte that is not UTF-8 (kept as a surrogate): no key has it
        raise invalid_access_key_id() from None
    found = await ctx.services.access_key(access_key)
    if found is None or not found[0].active:
        raise invalid_access_key_id()
    key, user = found
    try:
        secret = ctx.services.keyring.unseal_secret(key.sealed_secret, key.access_key)
    except IntegrityError:
        raise internal_error() from None
    return Credentials(key, user, secret)


def _now(ctx: Ctx) -> datetime:
    """The time a signature's date is checked against: the catalog's (clock.py), as every server has it."""
    return datetime.fromtimestamp(ctx.services.clock.now(), UTC)


def auth_request(ctx: Ctx) -> sigv4.AuthRequest:
    raw = ctx.request.raw_path
    path, _, query = raw.partition("?")
    return sigv4.AuthRequest(ctx.request.method, path, query, ctx.request.headers)


def _v2_resource_path(ctx: Ctx, raw_path: str) -> str:
    """SigV2 signs the path with the bucket in it, also for virtual-hosted-style requests."""
    if ctx.bucket_name and not raw_path.startswith("/" + ctx.bucket_name):
        return "/" + ctx.bucket_name + raw_path
    if ctx.bucket_name and raw_path.startswith("/" + ctx.bucket_name):
        host = (ctx.headers.get("host") or "").rsplit(":", 1)[0].lower()
        if host == f"{ctx.bucket_name}.{ctx.config.base_domain}".lower():
            return "/" + ctx.bucket_name + raw_path
    return raw_path


def v2_resource_paths(ctx: Ctx, raw_path: str) -> tuple[str, ...]:
    """The paths a SigV2 client may have signed. A request on a bucket itself is signed as `/bucket/` by
    botocore's HmacV1 (signature_version='s3', the virtual-hosted form) even when it sends `/bucket`
    path-style, and as sent by others: both verify, as they do on S3."""
    path = _v2_resource_path(ctx, raw_path)
    if ctx.bucket_name and ctx.key is None and path == "/" + ctx.bucket_name:
        return path, path + "/"
    return (path,)


def verify_sigv4(ctx: Ctx, parsed: sigv4.ParsedAuth, req: sigv4.AuthRequest, found: Credentials,
                 payload_sha256: str | None = None) -> None:
    """Check a SigV4 signature made with `found`'s secret and, when it holds, make its user the principal."""
    ctx.signing = sigv4.verify(parsed, req, found.secret, _now(ctx), payload_sha256=payload_sha256)
    ctx.auth = parsed
    ctx.principal = found.principal


async def authenticate(ctx: Ctx) -> None:
    """Set ctx.principal for an S3 request (anonymous when unsigned). STS and KMS authenticate over the
    body they read (s3/service.py, s3/kms_http.py), with the same credential lookup."""
    req = auth_request(ctx)
    # With --sigv2 off a SigV2 request (header or presigned) goes on to sigv4.parse, which refuses it as
    # S3 does where SigV2 is not offered: 400 InvalidRequest "...Please use AWS4-HMAC-SHA256."
    v2 = sigv2.parse(req) if ctx.config.sigv2 else None
    if v2 is not None:
        if ctx.op in SIGV4_ONLY:
            raise invalid_request(SIGV4_ONLY[ctx.op])
        found = await credentials(ctx, v2.access_key)
        sigv2.verify(v2, req, v2_resource_paths(ctx, req.raw_path), found.secret, _now(ctx))
        ctx.principal = found.principal
        ctx.signature_version = "AWS"
        return
    parsed = sigv4.parse(req)
    if parsed is None:
        ctx.principal = ANONYMOUS
        return
    # AuthorizationHeaderMalformed / AuthorizationQueryParametersError "the region 'X' is wrong;
    # expecting 'Y'" with <Region>, as S3 answers a scope naming another region.
    sigv4.check_scope(parsed, service="s3", region=ctx.config.region)
    verify_sigv4(ctx, parsed, req, await credentials(ctx, parsed.access_key), None)
    ctx.signature_version = "AWS4-HMAC-SHA256"
