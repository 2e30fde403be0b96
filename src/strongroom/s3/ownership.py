"""S3 Object Ownership: PutBucketOwnershipControls, GetBucketOwnershipControls, DeleteBucketOwnershipControls.

Owns the bucket's ownership mode (catalog bucket config kind "ownership") and the
x-amz-object-ownership header of CreateBucket.

AWS facts used here (API OwnershipControlsRule, CreateBucket; user guide "Controlling ownership
of objects and disabling ACLs"; S3 error responses):
- ObjectOwnership is BucketOwnerEnforced (ACLs disabled, the bucket owner owns every object),
  BucketOwnerPreferred or ObjectWriter (ACLs enabled). "By default, ObjectOwnership is set to
  BucketOwnerEnforced and ACLs are disabled": a bucket with no stored row is BucketOwnerEnforced.
- After DeleteBucketOwnershipControls the bucket has no controls (the pre-2023 behaviour, ACLs
  enabled, objects owned by their writer) and Get answers 404 OwnershipControlsNotFoundError,
  "The bucket ownership controls were not found".
- Turning ACLs off requires a bucket ACL that gives full control to the bucket owner only, else
  400 InvalidBucketAclWithObjectOwnership, "Bucket cannot have ACLs set with ObjectOwnership's
  BucketOwnerEnforced setting"; the same error answers a CreateBucket that asks for
  BucketOwnerEnforced with an ACL granting anyone else.
"""

from __future__ import annotations

from aiohttp import web

from strongroom.errors import S3Error, invalid_argument, malformed_xml
from strongroom.s3 import public_access_block, xml
from strongroom.s3.context import Ctx
from strongroom.s3.objects import xml_response
from strongroom.s3.routing import Operation

KIND = "ownership"
ENFORCED, PREFERRED, WRITER = "BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"
MODES = (ENFORCED, PREFERRED, WRITER)
NONE = "none"  # stored by DeleteBucketOwnershipControls; behaves as ObjectWriter
MAX_BODY = 64 * 1024


def not_found(bucket: str) -> S3Error:
    return S3Error("OwnershipControlsNotFoundError", 404, "The bucket ownership controls were not found",
                   BucketName=bucket)


def invalid_acl_with_ownership() -> S3Error:
    return S3Error("InvalidBucketAclWithObjectOwnership", 400,
                   "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")


def mode_of(document: str | None) -> str:
    """The effective mode: what decides whether ACLs count and who owns new objects."""
    if document is None:
        return ENFORCED
    return WRITER if document == NONE else document


async def mode(ctx: Ctx, bucket: str) -> str:
    return mode_of(await ctx.services.db(ctx.services.catalog.get_bucket_config, bucket, KIND))


def header_mode(ctx: Ctx) -> str | None:
    """CreateBucket's x-amz-object-ownership, validated."""
    value = ctx.headers.get("x-amz-object-ownership")
    if value is not None and value not in MODES:
        raise invalid_argument("Invalid x-amz-object-ownership header", "x-amz-object-ownership", value)
    return value


def parse(data: bytes) -> str:
    root = xml.parse(data, "OwnershipControls")
    xml.check_known(root, ("Rule",))
    rules = xml.children(root, "Rule")
    if len(rules) != 1:
        raise malformed_xml()
    xml.check_known(rules[0], ("ObjectOwnership",))
    node = xml.only_child(rules[0], "ObjectOwnership")
    if node is None or len(node) or xml.text_of(node) not in MODES:
        raise malformed_xml()
    return xml.text_of(node)


async def put_bucket_ownership_controls(ctx: Ctx) -> web.StreamResponse:
    from strongroom.s3 import acl  # acl builds on this module; the reverse is needed only here

    assert ctx.bucket is not None
    data = await public_access_block.read_document(
        ctx, MAX_BODY, public_access_block.max_message_length_exceeded())
    wanted = parse(data)
    if wanted == ENFORCED:
        current = await acl.bucket_acl(ctx, ctx.bucket.name, ctx.bucket.owner_id)
        if not current.only_owner_full_control(ctx.bucket.owner_id):
            raise invalid_acl_with_ownership()
    await ctx.services.db(ctx.services.catalog.put_bucket_config, ctx.bucket.name, KIND, wanted)
    return web.Response(status=200)


async def get_bucket_ownership_controls(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    doc = await ctx.services.db(ctx.services.catalog.get_bucket_config, ctx.bucket.name, KIND)
    if doc == NONE:
        raise not_found(ctx.bucket.name)
    body = f"<Rule>{xml.el('ObjectOwnership', mode_of(doc))}</Rule>"
    return xml_response(xml.document("OwnershipControls", body))


async def delete_bucket_ownership_controls(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    await ctx.services.db(ctx.services.catalog.put_bucket_config, ctx.bucket.name, KIND, NONE)
    return web.Response(status=204)


HANDLERS = {
    Operation.PutBucketOwnershipControls: put_bucket_ownership_controls,
    Operation.GetBucketOwnershipControls: get_bucket_ownership_controls,
    Operation.DeleteBucketOwnershipControls: delete_bucket_ownership_controls,
}
