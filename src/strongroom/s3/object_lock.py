"""Object Lock handlers: Put/GetObjectLockConfiguration, Put/GetObjectRetention, Put/GetObjectLegalHold.

The documents and headers are `object_lock_wire`'s; the rules are `strongroom.object_lock`'s, applied by
the catalog in the transaction that changes a version's lock (catalog/sql_locks.py). A bucket's
configuration is the catalog config kind "object-lock": present means enabled, for good. What object
writes and reads do about locks is `object_lock_requests`'.
"""

from __future__ import annotations

from aiohttp import web

from strongroom.catalog.model import ObjectVersion
from strongroom.errors import S3Error, malformed_xml, no_such_key
from strongroom.object_lock import KIND
from strongroom.s3 import object_lock_wire as wire
from strongroom.s3 import version_ids, versioning
from strongroom.s3.body import Body
from strongroom.s3.context import Ctx
from strongroom.s3.documents import verify_document_digest, xml_response
from strongroom.s3.object_headers import require_integrity_header
from strongroom.s3.object_lock_requests import bypass_governance, lock_configuration

MAX_DOCUMENT = 64 * 1024


def invalid_bucket_state_unversioned() -> S3Error:
    # PutObjectLockConfiguration on a bucket whose versioning is not Enabled (409, as peers recorded it
    # from AWS: minio, versitygw; AWS's user guide: versioning must be enabled first).
    return S3Error("InvalidBucketState", 409,
                   "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration")


def missing_request_body() -> S3Error:
    return S3Error("MissingRequestBodyError", 400, "Request Body is empty")


def method_not_allowed() -> S3Error:
    # A delete marker has no retention or legal hold of its own.
    return S3Error("MethodNotAllowed", 405, "The specified method is not allowed against this resource.")


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
    if current is None and await versioning.status(ctx) != versioning.ENABLED:
        # Object Lock can be enabled on an existing bucket whose versioning is Enabled (AWS, since 2023).
        raise invalid_bucket_state_unversioned()
    await ctx.services.write(ctx.services.catalog.put_bucket_config, ctx.bucket.name, KIND, config.to_json())
    return web.Response(status=200)


async def get_object_lock_configuration(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    config = await lock_configuration(ctx, ctx.bucket)
    if config is None:
        raise wire.lock_configuration_not_found(ctx.bucket.name)
    return xml_response(wire.render_configuration(config))


# --- a version's retention and legal hold ----------------------------------------------------------


async def _locked_bucket(ctx: Ctx) -> None:
    """Object-level requests need a lock-enabled bucket, and a version id, if any, of a version's shape."""
    assert ctx.bucket is not None
    if await lock_configuration(ctx, ctx.bucket) is None:
        raise wire.missing_lock_configuration()
    version_id = ctx.query.get("versionId")
    if version_id is not None:
        version_ids.check_shape(version_id)


def _found(ctx: Ctx, version: ObjectVersion | None) -> ObjectVersion:
    assert ctx.key is not None
    version_id = ctx.query.get("versionId")
    if version is None:
        raise no_such_key(ctx.key) if version_id is None else version_ids.no_such_version(ctx.key, version_id)
    if version.delete_marker:
        raise method_not_allowed()
    return version


async def _version(ctx: Ctx) -> ObjectVersion:
    assert ctx.bucket is not None and ctx.key is not None
    version_id = ctx.query.get("versionId")
    catalog = ctx.services.catalog
    if version_id is None:
        return _found(ctx, await ctx.services.point(catalog.object_read(ctx.bucket.name, ctx.key)))
    return _found(ctx, await ctx.services.point(catalog.version_read(ctx.bucket.name, ctx.key, version_id)))


async def put_object_retention(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None and ctx.key is not None
    await _locked_bucket(ctx)
    retention = wire.parse_retention(await _document(ctx))
    version = await ctx.services.write(
        ctx.services.catalog.put_retention, ctx.bucket.name, ctx.key, ctx.query.get("versionId"), retention,
        bypass_governance=await bypass_governance(ctx, ctx.key))
    _found(ctx, version)
    return web.Response(status=200)


async def get_object_retention(ctx: Ctx) -> web.StreamResponse:
    await _locked_bucket(ctx)
    version = await _version(ctx)
    lock = await ctx.services.read(ctx.services.catalog.get_lock, version.version_id)
    if lock is None or lock.retention is None:
        raise wire.no_object_lock_configuration()
    return xml_response(wire.render_retention(lock.retention))


async def put_object_legal_hold(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None and ctx.key is not None
    await _locked_bucket(ctx)
    on = wire.parse_legal_hold(await _document(ctx))
    version = await ctx.services.write(ctx.services.catalog.put_legal_hold, ctx.bucket.name, ctx.key,
                                       ctx.query.get("versionId"), on)
    _found(ctx, version)
    return web.Response(status=200)


async def get_object_legal_hold(ctx: Ctx) -> web.StreamResponse:
    await _locked_bucket(ctx)
    version = await _version(ctx)
    lock = await ctx.services.read(ctx.services.catalog.get_lock, version.version_id)
    if lock is None:
        raise wire.no_object_lock_configuration()
    return xml_response(wire.render_legal_hold(lock.legal_hold))
