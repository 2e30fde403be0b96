"""Bucket policy handlers: PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy, GetBucketPolicyStatus.
The model (validation, the stored text, its parsed form, AWS's rules and wording) is
`strongroom.s3.access.bucket_policy`."""

from __future__ import annotations

from aiohttp import web

from strongroom.policy import PolicyError, statement_allows_public
from strongroom.s3 import xml
from strongroom.s3.access import bucket_policy as model
from strongroom.s3.access import public_access_block
from strongroom.s3.context import Ctx
from strongroom.s3.documents import read_document, xml_response


def _principal_arn(ctx: Ctx) -> str:
    user = ctx.principal.user
    account = ctx.services.account_id
    if user is None or user.is_root:
        return f"arn:aws:iam::{account}:root"
    return f"arn:aws:iam::{account}:user/{user.name}"


async def put_bucket_policy(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    bucket = ctx.bucket.name
    data = await read_document(ctx, model.MAX_POLICY_BYTES, model.policy_too_large())
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise model.malformed_policy("This policy contains invalid Json") from None
    catalog, account = ctx.services.catalog, ctx.services.account_id
    try:
        policy, principals = await ctx.services.run(model.validate, catalog, account, bucket, text)
    except PolicyError as e:
        raise model.malformed_policy(e.message) from None
    if statement_allows_public(policy):
        pab = public_access_block.from_stored(
            await ctx.services.read(catalog.get_bucket_config, bucket, public_access_block.KIND))
        if pab.block_public_policy:
            raise model.public_policy_blocked(_principal_arn(ctx), bucket)
    # The text, then the IDs its ARNs stand for: between the two, the old IDs can only deny a user
    # re-created since, and an ARN they lack names its user by name, as it did before this record.
    await ctx.services.write(catalog.put_bucket_config, bucket, model.KIND, text)
    await ctx.services.write(catalog.put_bucket_config, bucket, model.PRINCIPALS_KIND, principals)
    return web.Response(status=204)


async def _stored(ctx: Ctx) -> tuple[str, str | None]:
    """The stored policy text and the unique IDs its user ARNs stand for."""
    assert ctx.bucket is not None
    configs = await ctx.services.read(ctx.services.catalog.get_bucket_configs, ctx.bucket.name)
    text = configs.get(model.KIND)
    if text is None:
        raise model.no_such_bucket_policy(ctx.bucket.name)
    return text, configs.get(model.PRINCIPALS_KIND)


async def get_bucket_policy(ctx: Ctx) -> web.StreamResponse:
    text, principals = await _stored(ctx)
    if principals or "AIDA" in text:
        users = await ctx.services.read(ctx.services.catalog.list_users)
        text = model.render(text, principals, users, ctx.services.account_id)
    return web.Response(status=200, body=text.encode("utf-8"), content_type="application/json")


async def delete_bucket_policy(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    catalog = ctx.services.catalog
    await ctx.services.write(catalog.put_bucket_config, ctx.bucket.name, model.KIND, None)
    await ctx.services.write(catalog.put_bucket_config, ctx.bucket.name, model.PRINCIPALS_KIND, None)
    return web.Response(status=204)


async def get_bucket_policy_status(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    text, principals = await _stored(ctx)
    _policy, public = model.parsed(text, principals, ctx.services.account_id, ctx.bucket.name)
    return xml_response(xml.document("PolicyStatus", xml.el("IsPublic", public)))
