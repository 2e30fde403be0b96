"""S3 Object Ownership handlers: PutBucketOwnershipControls, GetBucketOwnershipControls,
DeleteBucketOwnershipControls. The model (modes, the document, AWS's rules) is
`strongroom.s3.access.ownership`."""

from __future__ import annotations

from aiohttp import web

from strongroom.s3.access import acl, ownership, public_access_block
from strongroom.s3.context import Ctx
from strongroom.s3.documents import read_document, xml_response


async def put_bucket_ownership_controls(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    data = await read_document(ctx, ownership.MAX_BODY, public_access_block.max_message_length_exceeded())
    wanted = ownership.parse(data)
    if wanted == ownership.ENFORCED:  # turning ACLs off: the bucket ACL must give its owner alone access
        doc = await ctx.services.read(ctx.services.catalog.get_bucket_config, ctx.bucket.name, acl.KIND)
        if not acl.stored_bucket_acl(doc, ctx.bucket.owner_id).only_owner_full_control(ctx.bucket.owner_id):
            raise ownership.invalid_acl_with_ownership()
    await ctx.services.write(ctx.services.catalog.put_bucket_config, ctx.bucket.name, ownership.KIND, wanted)
    return web.Response(status=200)


async def get_bucket_ownership_controls(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    doc = await ctx.services.read(ctx.services.catalog.get_bucket_config, ctx.bucket.name, ownership.KIND)
    if doc == ownership.NONE:
        raise ownership.not_found(ctx.bucket.name)
    return xml_response(ownership.render(doc))


async def delete_bucket_ownership_controls(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    await ctx.services.write(ctx.services.catalog.put_bucket_config, ctx.bucket.name, ownership.KIND,
                             ownership.NONE)
    return web.Response(status=204)
