"""What object requests ask of Object Lock and show of it: the lock a write gives its new version
(PutObject, CopyObject, CreateMultipartUpload, CompleteMultipartUpload, POST Object), checked once here,
and the x-amz-object-lock-* headers of GET and HEAD.
(Apart from the handlers in `object_lock`, which need `objects`; `objects` needs this.)"""

from __future__ import annotations

from collections.abc import Mapping

from strongroom.catalog.model import Bucket, ObjectVersion
from strongroom.object_lock import KIND, Lock, LockConfiguration, Retention
from strongroom.s3 import object_lock_wire as wire
from strongroom.s3.context import Ctx
from strongroom.s3.object_headers import checksum_request, content_md5


async def lock_configuration(ctx: Ctx, bucket: Bucket) -> LockConfiguration | None:
    """The bucket's Object Lock configuration as the request began, or None: not lock-enabled."""
    text = (await ctx.bucket_configs(bucket.name)).get(KIND)
    return LockConfiguration.from_json(text) if text is not None else None


def _has_integrity_header(headers: Mapping[str, str]) -> bool:
    if content_md5(headers) is not None:
        return True
    wanted = checksum_request(headers)
    return bool(wanted.expected) or wanted.trailer is not None


def _default(config: LockConfiguration | None, now: float) -> Retention | None:
    d = config.default if config is not None else None
    return None if d is None else Retention(d.mode, d.until(now))


async def lock_for_write(ctx: Ctx, headers: Mapping[str, str], *, has_body: bool,
                         with_default: bool = True) -> Lock | None:
    """The Object Lock of the version a write makes: what the x-amz-object-lock-* headers (or POST
    Object's fields of those names) ask, validated, and where they name no retention the bucket's
    default retention from now on (the catalog's time); None for nothing. A request asking for a lock
    in a bucket without Object Lock is InvalidRequest; one with a body must carry Content-MD5 or an
    x-amz-checksum-* (API PutObject). `with_default`: False for CreateMultipartUpload, whose version gets
    the default when it completes (`default_lock`)."""
    assert ctx.bucket is not None
    now = ctx.services.clock.now()
    asked = wire.parse_lock_headers(headers, now)
    config = await lock_configuration(ctx, ctx.bucket)
    if asked.asked:
        if config is None:
            raise wire.missing_lock_configuration()
        if has_body and not _has_integrity_header(headers):
            raise wire.missing_integrity_header()
    retention = asked.retention or (_default(config, now) if with_default else None)
    if retention is None and not asked.legal_hold:
        return None
    return Lock(retention, bool(asked.legal_hold))


async def default_lock(ctx: Ctx) -> Lock | None:
    """The bucket's default retention for a version made now (CompleteMultipartUpload)."""
    assert ctx.bucket is not None
    retention = _default(await lock_configuration(ctx, ctx.bucket), ctx.services.clock.now())
    return None if retention is None else Lock(retention)


async def bypass_governance(ctx: Ctx, key: str | None) -> bool:
    """x-amz-bypass-governance-retention: true, from a requester allowed s3:BypassGovernanceRetention on
    the key: both, or GOVERNANCE holds (S3 user guide, "Bypassing governance mode")."""
    if not wire.bypass_requested(ctx.headers):
        return False
    return await ctx.access.may("s3:BypassGovernanceRetention", key)


async def lock_headers(ctx: Ctx, version: ObjectVersion) -> dict[str, str]:
    """GET and HEAD: the version's retention and legal hold, each shown only to a requester allowed to
    read it (API HeadObject: "only returned if the requester has the s3:GetObjectRetention" /
    "s3:GetObjectLegalHold permission"). Nothing is read in a bucket without Object Lock."""
    assert ctx.bucket is not None
    if await lock_configuration(ctx, ctx.bucket) is None or version.delete_marker:
        return {}
    lock = await ctx.services.read(ctx.services.catalog.get_lock, version.version_id)
    if lock is None:
        return {}
    headers: dict[str, str] = {}
    r = lock.retention
    if r is not None and await ctx.access.may("s3:GetObjectRetention", version.key):
        headers[wire.MODE_HEADER] = r.mode
        headers[wire.UNTIL_HEADER] = wire.render_date(r.retain_until)
    if await ctx.access.may("s3:GetObjectLegalHold", version.key):
        headers[wire.HOLD_HEADER] = wire.ON if lock.legal_hold else wire.OFF
    return headers
