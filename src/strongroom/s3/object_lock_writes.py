"""The Object Lock side of every object write (PutObject, CopyObject, CreateMultipartUpload, POST Object):
the bucket's lock configuration and the x-amz-object-lock-* headers a write asks for, checked once here.
(Apart from the handlers in `object_lock`, which need `objects`; `objects` needs this.)"""

from __future__ import annotations

from collections.abc import Mapping

from strongroom.catalog.model import Bucket
from strongroom.errors import S3Error, not_implemented
from strongroom.object_lock import KIND, LockConfiguration
from strongroom.s3 import object_lock_wire as wire
from strongroom.s3.context import Ctx
from strongroom.s3.object_headers import checksum_request, content_md5


def object_retention_not_implemented() -> S3Error:
    # See `object_lock`'s docstring: refused, never accepted and not enforced.
    return not_implemented("Object Lock retention and legal holds on object versions are not implemented yet")


async def lock_configuration(ctx: Ctx, bucket: Bucket) -> LockConfiguration | None:
    """The bucket's Object Lock configuration as the request began, or None: not lock-enabled."""
    text = (await ctx.bucket_configs(bucket.name)).get(KIND)
    return LockConfiguration.from_json(text) if text is not None else None


def _has_integrity_header(headers: Mapping[str, str]) -> bool:
    if content_md5(headers) is not None:
        return True
    wanted = checksum_request(headers)
    return bool(wanted.expected) or wanted.trailer is not None


async def check_write(ctx: Ctx, headers: Mapping[str, str], *, has_body: bool) -> wire.LockHeaders:
    """The Object Lock a write asks for (PutObject, CopyObject, CreateMultipartUpload, POST Object:
    `headers` are the request's, or POST Object's form fields), validated against the bucket. A write
    with a body must carry Content-MD5 or an x-amz-checksum-* when it asks for a lock."""
    assert ctx.bucket is not None
    asked = wire.parse_lock_headers(headers, ctx.services.clock.now())
    config = await lock_configuration(ctx, ctx.bucket)
    if not asked.asked:
        return asked
    if config is None:
        raise wire.missing_lock_configuration()
    if has_body and not _has_integrity_header(headers):
        raise wire.missing_integrity_header()
    raise object_retention_not_implemented()
