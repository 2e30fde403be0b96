"""S3 Block Public Access handlers: PutPublicAccessBlock, GetPublicAccessBlock, DeletePublicAccessBlock.
The model (the document, its stored form, the new-bucket default, AWS's rules) is
`strongroom.s3.access.public_access_block`."""

from __future__ import annotations

from aiohttp import web

from strongroom.s3.access import public_access_block as model
from strongroom.s3.context import Ctx
from strongroom.s3.documents import read_document, xml_response


async def put_public_access_block(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    data = await read_document(ctx, model.MAX_BODY, model.max_message_length_exceeded())
    pab = model.parse_configuration(data)
    await ctx.services.write(ctx.services.catalog.put_bucket_config, ctx.bucket.name, model.KIND,
                             pab.to_json())
    return web.Response(status=200)


async def get_public_access_block(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    pab = model.from_stored(await ctx.services.read(ctx.services.catalog.get_bucket_config, ctx.bucket.name,
                                                    model.KIND))
    if not pab.configured:
        raise model.no_such_configuration(ctx.bucket.name)
    return xml_response(model.render(pab))


async def delete_public_access_block(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    await ctx.services.write(ctx.services.catalog.put_bucket_config, ctx.bucket.name, model.KIND, model.NONE)
    return web.Response(status=204)
