"""ACLs and Object Ownership given with a write: CreateBucket, PutObject, CopyObject, multipart uploads.

Checked before the handler runs (a refused ACL must leave nothing written) and stored after it
succeeded, through the `after_success` hooks the dispatcher runs once a handler answered
without an error: the object's version id exists only then.

AWS facts used here: see `acl` and `ownership`. In short: with BucketOwnerEnforced a write may
carry no ACL or one that gives the bucket owner full control only (else 400
AccessControlListNotSupported; CreateBucket: InvalidBucketAclWithObjectOwnership);
BlockPublicAcls refuses a public ACL with 403 AccessDenied; with BucketOwnerPreferred an object
written with bucket-owner-full-control belongs to the bucket owner.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from strongroom.catalog.model import Bucket
from strongroom.errors import access_denied
from strongroom.s3 import acl, ownership
from strongroom.s3.context import Ctx
from strongroom.s3.public_access_block import PublicAccessBlock

AfterSuccess = Callable[[Ctx, web.StreamResponse], Awaitable[None]]
HOOKS = "after_success"  # ctx.extras key: hooks the dispatcher runs after a successful answer
_UPLOAD_ID = re.compile(rb"<UploadId>([^<]+)</UploadId>")


def _body_of(response: web.StreamResponse) -> bytes | None:
    """The body of a response built whole (web.Response with bytes), else None."""
    body = response.body if isinstance(response, web.Response) else None
    return bytes(body) if isinstance(body, bytes | bytearray) else None


def add_hook(ctx: Ctx, hook: AfterSuccess) -> None:
    ctx.extras.setdefault(HOOKS, []).append(hook)


async def run_after_success(ctx: Ctx, response: web.StreamResponse) -> None:
    """Run the hooks a request registered, once its handler answered with success (POST Object's
    success_action_redirect is a 303)."""
    if response.status >= 400:
        return
    for hook in ctx.extras.get(HOOKS, ()):
        await hook(ctx, response)


def pending_key(upload_id: str) -> str:
    return f"upload:{upload_id}"


async def prepare_create_bucket(ctx: Ctx) -> None:
    owner = ctx.principal.user_id
    mode = ownership.header_mode(ctx) or ownership.ENFORCED
    users = await acl.known_users(ctx) if any(h in ctx.headers for h in acl.GRANT_HEADERS) else set()
    requested = acl.from_headers(ctx.headers, owner, owner, users)
    if requested is not None and mode == ownership.ENFORCED and not requested.only_owner_full_control(owner):
        raise ownership.invalid_acl_with_ownership()
    keep_acl = requested is not None and mode != ownership.ENFORCED and requested != acl.private(owner)
    if mode == ownership.ENFORCED and not keep_acl:
        return  # the defaults: nothing to store

    async def store(ctx: Ctx, response: web.StreamResponse) -> None:
        name = ctx.bucket_name or ""
        catalog = ctx.services.catalog
        await ctx.services.db(catalog.put_bucket_config, name, ownership.KIND, mode)
        if keep_acl and requested is not None:
            await ctx.services.db(catalog.put_bucket_config, name, acl.KIND, requested.to_json())

    add_hook(ctx, store)


async def prepare_object_write(ctx: Ctx, mode: str, pab: PublicAccessBlock, bucket: Bucket, key: str,
                               headers: Mapping[str, str]) -> None:
    """Check the ACL headers of a PutObject, CopyObject, CreateMultipartUpload or POST Object."""
    if not acl.has_acl_headers(headers):
        return
    users = await acl.known_users(ctx) if any(h in headers for h in acl.GRANT_HEADERS) else set()
    if mode == ownership.ENFORCED:  # the bucket owner owns the object: only its full control is accepted
        requested = acl.from_headers(headers, bucket.owner_id, bucket.owner_id, users)
        if requested is not None and not requested.only_owner_full_control(bucket.owner_id):
            raise acl.not_supported()
        return
    writer = ctx.principal.user_id or bucket.owner_id
    takes_over = mode == ownership.PREFERRED and headers.get("x-amz-acl") == "bucket-owner-full-control"
    requested = acl.from_headers(headers, bucket.owner_id if takes_over else writer, bucket.owner_id, users)
    if requested is None:
        return
    if pab.block_public_acls and requested.public:
        raise access_denied()
    document = requested.to_json()

    async def store(ctx: Ctx, response: web.StreamResponse) -> None:
        catalog = ctx.services.catalog
        body = _body_of(response)
        if body is not None and b"<UploadId>" in body:  # CreateMultipartUpload: the ACL waits for completion
            found = _UPLOAD_ID.search(body)
            if found:
                await ctx.services.db(catalog.put_object_acl, pending_key(found.group(1).decode()), document)
            return
        version = await ctx.services.db(catalog.get_object, bucket.name, key)
        etag = response.headers.get("ETag", "").strip('"')
        if version is not None and (not etag or version.etag == etag):  # not replaced in the meantime
            await ctx.services.db(catalog.put_object_acl, version.version_id, document)

    add_hook(ctx, store)


def prepare_complete_upload(ctx: Ctx, bucket: Bucket, key: str, upload_id: str) -> None:
    """CompleteMultipartUpload: the ACL given when the upload was created goes to the new version."""

    async def move(ctx: Ctx, response: web.StreamResponse) -> None:
        catalog = ctx.services.catalog
        document = await ctx.services.db(catalog.get_object_acl, pending_key(upload_id))
        if document is None:
            return
        body = _body_of(response)
        if body is not None and b"<Error>" in body:
            return  # S3 may report a failed completion inside a 200
        version = await ctx.services.db(catalog.get_object, bucket.name, key)
        if version is not None:
            await ctx.services.db(catalog.put_object_acl, version.version_id, document)
        await ctx.services.db(catalog.put_object_acl, pending_key(upload_id), None)

    add_hook(ctx, move)
