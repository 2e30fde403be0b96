"""Storing the ACL and Object Ownership a write carried, once the write committed: one function per
operation, each called by its handler with the id it has just written.

Authorization decided and checked the ACL before the handler ran (`access.write_acls`; a refused ACL
leaves nothing written) and left it on the request: `ctx.object_acl`, `ctx.move_upload_acl`,
`ctx.new_bucket_access`. These writes are separate catalog transactions for now; they are the one
place per operation to fold into the version's or upload's own transaction.
"""

from __future__ import annotations

from strongroom.s3.access import acl, ownership
from strongroom.s3.access.write_acls import pending_upload_key
from strongroom.s3.context import Ctx


async def store_object_acl(ctx: Ctx, version_id: str) -> None:
    """PutObject, CopyObject, POST Object: the new version's ACL."""
    if ctx.object_acl is not None:
        await ctx.services.write(ctx.services.catalog.put_object_acl, version_id, ctx.object_acl)


async def store_upload_acl(ctx: Ctx, upload_id: str) -> None:
    """CreateMultipartUpload: the ACL waits, under the upload's id, for the upload's completion."""
    if ctx.object_acl is not None:
        await ctx.services.write(ctx.services.catalog.put_object_acl, pending_upload_key(upload_id),
                                 ctx.object_acl)


async def move_upload_acl(ctx: Ctx, upload_id: str, version_id: str) -> None:
    """CompleteMultipartUpload: the ACL given when the upload was created goes to the new version."""
    if not ctx.move_upload_acl:
        return
    catalog = ctx.services.catalog
    document = await ctx.services.read(catalog.get_object_acl, pending_upload_key(upload_id))
    if document is None:
        return
    await ctx.services.write(catalog.put_object_acl, version_id, document)
    await ctx.services.write(catalog.put_object_acl, pending_upload_key(upload_id), None)


async def store_bucket_access(ctx: Ctx, bucket: str) -> None:
    """CreateBucket: the Object Ownership mode and ACL it asked for (nothing for the defaults)."""
    access = ctx.new_bucket_access
    if access is None:
        return
    await ctx.services.write(ctx.services.catalog.put_bucket_config, bucket, ownership.KIND, access.ownership)
    if access.acl is not None:
        await ctx.services.write(ctx.services.catalog.put_bucket_config, bucket, acl.KIND, access.acl)
