"""Bucket operations: CreateBucket, HeadBucket, ListBuckets, DeleteBucket, GetBucketLocation."""

from __future__ import annotations

import ipaddress
import re

from aiohttp import web

from strongroom import object_lock
from strongroom.catalog.api import BucketExists, BucketNotEmpty, NoSuchBucketError
from strongroom.catalog.model import Bucket
from strongroom.errors import S3Error, access_denied, malformed_xml, no_such_bucket
from strongroom.s3 import object_lock_wire, sse, versioning, xml
from strongroom.s3.access import acl, ownership
from strongroom.s3.body import Body
from strongroom.s3.context import Ctx

_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
MAX_CONFIG_BODY = 1024 * 1024
US_EAST_1 = "us-east-1"


def valid_bucket_name(name: str) -> bool:
    """The S3 general purpose bucket naming rules."""
    if not _NAME.fullmatch(name) or ".." in name:
        return False
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        return False
    try:
        ipaddress.IPv4Address(name)
        return False
    except ValueError:
        return True


def invalid_bucket_name(name: str) -> S3Error:
    return S3Error("InvalidBucketName", 400, "The specified bucket is not valid.", BucketName=name)


def owner_xml(user_id: str) -> str:
    """Only the ID: S3 stopped returning DisplayName on 2025-11-21."""
    return f"<Owner>{xml.el('ID', user_id)}</Owner>"


def check_location_constraint(wanted: str, region: str) -> None:
    """us-east-1 takes no constraint (naming it is invalid); every other region wants its own name."""
    if wanted == region == US_EAST_1:
        raise S3Error("InvalidLocationConstraint", 400, "The specified location-constraint is not valid",
                      LocationConstraint=wanted)
    if wanted != region and (wanted or region != US_EAST_1):
        raise S3Error(
            "IllegalLocationConstraintException", 400,
            f"The {wanted or 'unspecified'} location constraint is incompatible for the region specific "
            "endpoint this request was sent to.")


async def create_bucket(ctx: Ctx) -> web.StreamResponse:
    name = ctx.bucket_name or ""
    if not valid_bucket_name(name):
        raise invalid_bucket_name(name)
    body = await Body(ctx).read_all(MAX_CONFIG_BODY, malformed_xml())
    region = ctx.config.region
    wanted = ""
    if body.strip():
        root = xml.parse(body, "CreateBucketConfiguration")
        xml.check_known(root, ("LocationConstraint", "Location", "Bucket", "Tags"))
        node = xml.only_child(root, "LocationConstraint")
        wanted = xml.text_of(node) if node is not None else ""
    check_location_constraint(wanted, region)
    bucket = Bucket(name, ctx.principal.user_id, region, ctx.services.clock.now())
    try:
        await ctx.services.write(ctx.services.catalog.create_bucket, bucket)
    except BucketExists as exists:
        if exists.owner_id == ctx.principal.user_id:
            # A 200 that asked for Object Lock must not answer for a bucket without it (a re-run after a
            # create that failed half-way, or the wrong bucket): such a request gets the 409 instead.
            lock_missing = object_lock_wire.bucket_lock_requested(ctx.headers) and \
                object_lock.KIND not in await ctx.services.bucket_configs(name)
            if region == US_EAST_1 and not lock_missing:
                # S3's legacy answer there: 200, and "resets the bucket access control lists" (API
                # reference, BucketAlreadyOwnedByYou): the ACL and ownership asked for are stored again.
                await _store_bucket_access(ctx, name)
                return web.Response(status=200, headers={"Location": f"/{name}"})
            raise S3Error(
                "BucketAlreadyOwnedByYou", 409,
                "Your previous request to create the named bucket succeeded and you already own it.",
                BucketName=name) from None
        raise S3Error(
            "BucketAlreadyExists", 409,
            "The requested bucket name is not available. The bucket namespace is shared by all users "
            "of the system. Please select a different name and try again.", BucketName=name) from None
    default = sse.new_bucket_default(ctx.config.allow_sse_c_new_buckets)
    await ctx.services.write(ctx.services.catalog.put_bucket_config, name, "encryption", default.to_json())
    if object_lock_wire.bucket_lock_requested(ctx.headers):
        # Object Lock at CreateBucket turns versioning on with it (API CreateBucket).
        await ctx.services.write(ctx.services.catalog.set_bucket_versioning, name,
                                 versioning.document(versioning.ENABLED))
        await ctx.services.write(ctx.services.catalog.put_bucket_config, name, object_lock.KIND,
                                 object_lock.LockConfiguration().to_json())
    await _store_bucket_access(ctx, name)
    return web.Response(status=200, headers={"Location": f"/{name}"})


async def _store_bucket_access(ctx: Ctx, bucket: str) -> None:
    """The Object Ownership mode and ACL a CreateBucket asked for, as authorization checked them
    (`ctx.new_bucket_access`; nothing for the defaults)."""
    access = ctx.new_bucket_access
    if access is None:
        return
    await ctx.services.write(ctx.services.catalog.put_bucket_config, bucket, ownership.KIND, access.ownership)
    if access.acl is not None:
        await ctx.services.write(ctx.services.catalog.put_bucket_config, bucket, acl.KIND, access.acl)


async def head_bucket(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    return web.Response(status=200, headers={"x-amz-bucket-region": ctx.bucket.region,
                                             "x-amz-access-point-alias": "false"})


async def list_buckets(ctx: Ctx) -> web.StreamResponse:
    user = ctx.principal.user
    if user is None:
        raise access_denied()
    owner = None if user.is_root else user.user_id
    buckets = await ctx.services.listing(ctx.services.catalog.list_buckets, owner)
    prefix = ctx.query.get("prefix", "")
    entries = "".join(
        f"<Bucket>{xml.el('Name', b.name)}{xml.el('CreationDate', xml.timestamp(b.created))}"
        f"{xml.el('BucketRegion', b.region)}</Bucket>"
        for b in buckets if b.name.startswith(prefix)
    )
    body = owner_xml(user.user_id) + f"<Buckets>{entries}</Buckets>"
    if prefix:
        body += xml.el("Prefix", prefix)
    return web.Response(body=xml.document("ListAllMyBucketsResult", body), content_type="application/xml")


async def delete_bucket(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    try:
        await ctx.services.write(ctx.services.catalog.delete_bucket, ctx.bucket.name)
    except BucketNotEmpty:
        raise S3Error("BucketNotEmpty", 409, "The bucket you tried to delete is not empty",
                      BucketName=ctx.bucket.name) from None
    except NoSuchBucketError:
        raise no_such_bucket(ctx.bucket.name) from None
    return web.Response(status=204)


async def get_bucket_location(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    region = "" if ctx.bucket.region == "us-east-1" else ctx.bucket.region
    element = f'<LocationConstraint xmlns="{xml.S3_NS}">{xml.escape(region)}</LocationConstraint>'
    body = xml.DECLARATION + element
    return web.Response(body=body.encode(), content_type="application/xml")
