"""The ACL handlers: GetBucketAcl, PutBucketAcl, GetObjectAcl, PutObjectAcl.

The ACL model (grants, canned ACLs, the AccessControlPolicy document, what a grant allows) is
`strongroom.s3.access.acl`. Whether ACLs count at all is Object Ownership's business: with
BucketOwnerEnforced, the default for new buckets, they do not, and reads answer the bucket
owner's full control ("Requests to read ACLs always return a response that shows full control
for the bucket owner"); a Put that gives anyone else anything is 400 AccessControlListNotSupported.
"""

from __future__ import annotations

from aiohttp import web

from strongroom.errors import S3Error
from strongroom.s3.access import acl as model
from strongroom.s3.access import ownership, public_access_block
from strongroom.s3.access.acl import Acl
from strongroom.s3.access.public_access_block import PublicAccessBlock
from strongroom.s3.context import Ctx
from strongroom.s3.documents import read_document, xml_response
from strongroom.s3.objects import current_version


async def known_users(ctx: Ctx) -> set[str]:
    users = await ctx.services.listing(ctx.services.catalog.list_users)
    return {u.user_id for u in users}


async def requested(ctx: Ctx, owner: str, bucket_owner: str) -> Acl:
    """The ACL a PutBucketAcl or PutObjectAcl sets, from its headers or its body."""
    users = await known_users(ctx) if any(h in ctx.headers for h in model.GRANT_HEADERS) else set()
    from_head = model.from_headers(ctx.headers, owner, bucket_owner, users)
    data = await read_document(ctx, model.MAX_BODY, public_access_block.max_message_length_exceeded())
    if data.strip():
        if from_head is not None:
            raise S3Error("UnexpectedContent", 400, "This request does not support content")
        return model.from_document(data, owner, await known_users(ctx))
    if from_head is None:
        raise S3Error("MissingSecurityHeader", 400, "Your request is missing a required header.",
                      MissingHeaderName="x-amz-acl")
    return from_head


async def _ownership_mode(ctx: Ctx, bucket: str) -> str:
    return ownership.mode_of(await ctx.services.read(ctx.services.catalog.get_bucket_config, bucket,
                                                     ownership.KIND))


async def _public_access_block(ctx: Ctx, bucket: str) -> PublicAccessBlock:
    return public_access_block.from_stored(await ctx.services.read(
        ctx.services.catalog.get_bucket_config, bucket, public_access_block.KIND))


async def get_bucket_acl(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    if await _ownership_mode(ctx, ctx.bucket.name) == ownership.ENFORCED:
        return xml_response(model.render(model.private(ctx.bucket.owner_id)))
    doc = await ctx.services.read(ctx.services.catalog.get_bucket_config, ctx.bucket.name, model.KIND)
    return xml_response(model.render(model.stored_bucket_acl(doc, ctx.bucket.owner_id)))


async def put_bucket_acl(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    owner = ctx.bucket.owner_id
    acl = await requested(ctx, owner, owner)
    mode = await _ownership_mode(ctx, ctx.bucket.name)
    model.check_settable(acl, mode, owner, await _public_access_block(ctx, ctx.bucket.name))
    if mode != ownership.ENFORCED:
        await ctx.services.write(ctx.services.catalog.put_bucket_config, ctx.bucket.name, model.KIND,
                                 acl.to_json())
    return web.Response(status=200)


async def get_object_acl(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    version = await current_version(ctx)
    if await _ownership_mode(ctx, ctx.bucket.name) == ownership.ENFORCED:
        return xml_response(model.render(model.private(ctx.bucket.owner_id)))
    doc = await ctx.services.read(ctx.services.catalog.get_object_acl, version.version_id)
    return xml_response(model.render(model.object_acl(doc, version)))


async def put_object_acl(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    version = await current_version(ctx)
    mode = await _ownership_mode(ctx, ctx.bucket.name)
    doc = await ctx.services.read(ctx.services.catalog.get_object_acl, version.version_id)
    owner = ctx.bucket.owner_id if mode == ownership.ENFORCED else model.object_acl(doc, version).owner
    acl = await requested(ctx, owner, ctx.bucket.owner_id)
    model.check_settable(acl, mode, ctx.bucket.owner_id, await _public_access_block(ctx, ctx.bucket.name))
    if mode != ownership.ENFORCED:
        await ctx.services.write(ctx.services.catalog.put_object_acl, version.version_id, acl.to_json())
    return web.Response(status=200)
