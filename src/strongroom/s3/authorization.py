"""Authorization: may this principal run this operation on this bucket or object?

Decided once per request, before the handler runs, from the operation's IAM
action. Until bucket and user policies are enforced: the root user may do
anything, a bucket's owner anything on it, and nobody else anything.
"""

from __future__ import annotations

from strongroom.errors import access_denied
from strongroom.s3.context import Ctx
from strongroom.s3.routing import Operation


async def authorize(ctx: Ctx) -> None:
    if ctx.op.scope == "service" or ctx.op is Operation.CreateBucket:
        if ctx.principal.anonymous and ctx.op is not Operation.PostService:
            raise access_denied()
        return
    if ctx.op is Operation.PostObject:  # authenticated by its form policy, checked by the handler
        return
    if ctx.principal.is_root:
        return
    if ctx.bucket is not None and ctx.principal.user_id == ctx.bucket.owner_id:
        return
    raise access_denied()
