"""Object Lock handlers: Put/GetObjectLockConfiguration, Put/GetObjectRetention, Put/GetObjectLegalHold,
and the check of the x-amz-object-lock-* headers that every object write runs.

The documents and headers are `object_lock_wire`'s; the rules are `strongroom.object_lock`'s. A bucket's
configuration is the catalog config kind "object-lock": present means enabled, for good.

Until versions carry their own retention and legal hold (issue 11's second half), a request that asks
for object-level protection in a lock-enabled bucket (a default retention, a retention or legal hold on
an object or a write) is refused with 501 NotImplemented rather than accepted and not enforced: the
worst failure a store can have here is a retention it accepts and does not keep.
"""

from __future__ import annotations

from aiohttp import web

from strongroom.errors import S3Error, malformed_xml
from strongroom.object_lock import KIND, LockConfiguration
from strongroom.s3 import object_lock_wire as wire
from strongroom.s3.body import Body
from strongroom.s3.context import Ctx
from strongroom.s3.documents import verify_document_digest, xml_response
from strongroom.s3.object_headers import require_integrity_header
from strongroom.s3.object_lock_writes import lock_configuration, object_retention_not_implemented
from strongroom.s3.objects import current_version

MAX_DOCUMENT = 64 * 1024


def invalid_bucket_state_unversioned() -> S3Error:
    # PutObjectLockConfiguration on a bucket whose versioning is not Enabled (409, as peers recorded it
    # from AWS: minio, versitygw; AWS's user guide: versioning must be enabled first).
    return S3Error("InvalidBucketState", 409,
                   "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration")


def missing_request_body() -> S3Error:
    return S3Error("MissingRequestBodyError", 400, "Request Body is empty")


async def _document(ctx: Ctx) -> bytes:
    require_integrity_header(ctx.headers)  # requestChecksumRequired for all three Put operations
    body = Body(ctx)
    data = await body.read_all(MAX_DOCUMENT, malformed_xml())
    if not data.strip():
        raise missing_request_body()
    verify_document_digest(ctx, data, body.trailers)
    return data


# --- the bucket's configuration -------------------------------------------------------------------


async def put_object_lock_configuration(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    config = wire.parse_configuration(await _document(ctx))
    current = await lock_configuration(ctx, ctx.bucket)
    if current is None:
        # Object Lock can be enabled on an existing bucket whose versioning is Enabled (AWS, since 2023).
        # No bucket is versioned here unless it was created with Object Lock, so every other bucket is
        # refused as AWS refuses an unversioned one.
        raise invalid_bucket_state_unversioned()
    if config.default is not None:
        raise object_retention_not_implemented()  # see the module's docstring
    await ctx.services.write(ctx.services.catalog.put_bucket_config, ctx.bucket.name, KIND, config.to_json())
    return web.Response(status=200)


async def get_object_lock_configuration(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    config = await lock_configuration(ctx, ctx.bucket)
    if config is None:
        raise wire.lock_configuration_not_found(ctx.bucket.name)
    return xml_response(wire.render_configuration(config))


# --- a version's retention and legal hold ----------------------------------------------------------


async def _locked_bucket(ctx: Ctx) -> LockConfiguration:
    assert ctx.bucket is not None
    config = await lock_configuration(ctx, ctx.bucket)
    if config is None:
        raise wire.missing_lock_configuration()
    return config


async def put_object_retention(ctx: Ctx) -> web.StreamResponse:
    await _locked_bucket(ctx)
    wire.parse_retention(await _document(ctx))
    await current_version(ctx)
    raise object_retention_not_implemented()


async def get_object_retention(ctx: Ctx) -> web.StreamResponse:
    await _locked_bucket(ctx)
    await current_version(ctx)
    raise object_retention_not_implemented()


async def put_object_legal_hold(ctx: Ctx) -> web.StreamResponse:
    await _locked_bucket(ctx)
    wire.parse_legal_hold(await _document(ctx))
    await current_version(ctx)
    raise object_retention_not_implemented()


async def get_object_legal_hold(ctx: Ctx) -> web.StreamResponse:
    await _locked_bucket(ctx)
    await current_version(ctx)
    raise object_retention_not_implemented()
