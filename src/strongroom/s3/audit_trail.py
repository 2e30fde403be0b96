"""The audit log's lines for the S3 operations that change who may do what or how data is encrypted.

For each audited operation the dispatcher takes the state before the handler runs (read from the
catalog, not from a cache) and, when the handler succeeded, the state after; the line names the kinds
that changed with their documents before and after. A request that changed nothing leaves no line.
Bucket sub-resources: policy, ACL, Object Ownership, Block Public Access, default encryption,
versioning, Object Lock configuration, server access logging, CORS, tags; object ACLs. Every one of them
is a bucket config document, so the before -> after pair is read the same way for all.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from strongroom.identity import user_arn
from strongroom.s3.context import Ctx
from strongroom.s3.routing import Operation

log = logging.getLogger("strongroom.audit")

BUCKET_CONFIGS = frozenset({
    Operation.PutBucketPolicy, Operation.DeleteBucketPolicy,
    Operation.PutBucketAcl,
    Operation.PutBucketOwnershipControls, Operation.DeleteBucketOwnershipControls,
    Operation.PutPublicAccessBlock, Operation.DeletePublicAccessBlock,
    Operation.PutBucketEncryption, Operation.DeleteBucketEncryption,
    Operation.PutBucketVersioning, Operation.PutObjectLockConfiguration,
    Operation.PutBucketLogging,
    Operation.PutBucketCors, Operation.DeleteBucketCors,
    Operation.PutBucketTagging, Operation.DeleteBucketTagging,
})
AUDITED = BUCKET_CONFIGS | {Operation.PutObjectAcl}

State = dict[str, Any]


async def before(ctx: Ctx) -> State:
    return await _state(ctx)


async def after(ctx: Ctx, was: State) -> None:
    audit = ctx.services.audit
    assert audit is not None
    now = await _state(ctx)
    changed = sorted(k for k in set(was) | set(now) if was.get(k) != now.get(k))
    if not changed:
        return
    target = f"arn:aws:s3:::{ctx.bucket_name}" + (f"/{ctx.key}" if ctx.op is Operation.PutObjectAcl else "")
    actor = user_arn(ctx.services.account_id, ctx.principal.user) if ctx.principal.user else "anonymous"
    try:
        await ctx.services.run(audit.record, actor=actor, source="s3", action=ctx.op.name, target=target,
                               before={k: was.get(k) for k in changed},
                               after={k: now.get(k) for k in changed})
    except OSError as e:  # the change is made and stays: the request is answered as it went, loudly
        log.error("request %s: the audit log %s could not record %s on %s: %s", ctx.request_id, audit.path,
                  ctx.op.name, target, e)


async def _state(ctx: Ctx) -> State:
    services, bucket = ctx.services, ctx.bucket_name or ""
    if ctx.op is Operation.PutObjectAcl:
        version = await services.point(services.catalog.object_read(bucket, ctx.key or ""))
        if version is None:
            return {}
        acl = await services.read(services.catalog.get_object_acl, version.version_id)
        return {"acl": _document(acl)}
    configs = await services.read(services.catalog.get_bucket_configs, bucket)  # not the cache: as stored
    return {kind: _document(text) for kind, text in configs.items()}


def _document(text: str | None) -> Any:
    """A stored document as JSON when it is JSON (policies, ACLs, configurations), else its text."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
