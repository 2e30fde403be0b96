"""The Tagging document of objects and buckets: Get/Put/DeleteObjectTagging and Get/Put/DeleteBucketTagging.
(The x-amz-tagging header and the tag rules are in object_headers.)

A bucket's tags are a bucket configuration document (catalog kind "tagging", a JSON list of [key, value]
pairs in the order given). AWS's rules for them (S3 user guide, "Using cost allocation S3 bucket tags";
the API reference, PutBucketTagging; responses recorded from AWS in LocalStack's test_s3_api snapshots):
at most 50 tags, the object tag rules otherwise, Content-MD5 or an x-amz-checksum-* required; an empty
TagSet removes them, as DeleteBucketTagging does (204, even when there were none); GetBucketTagging of a
bucket without tags is 404 NoSuchTagSet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aiohttp import web

from strongroom.catalog.model import ObjectVersion
from strongroom.errors import S3Error, malformed_xml
from strongroom.s3 import versioning, xml
from strongroom.s3.body import Body
from strongroom.s3.context import Ctx
from strongroom.s3.documents import verify_document_digest, xml_response
from strongroom.s3.object_headers import check_tags, require_integrity_header, validate_tags
from strongroom.s3.objects import current_version

MAX_DOCUMENT = 64 * 1024
BUCKET_KIND = "tagging"  # the catalog's bucket config kind
MAX_BUCKET_TAGS = 50


def render(tags: Mapping[str, str]) -> bytes:
    body = "".join(f"<Tag>{xml.el('Key', k)}{xml.el('Value', v)}</Tag>" for k, v in tags.items())
    return xml.document("Tagging", f"<TagSet>{body}</TagSet>")


async def get_object_tagging(ctx: Ctx) -> web.StreamResponse:
    version = await current_version(ctx)
    return xml_response(render(version.tags), headers=await _version_header(ctx, version))


async def _read_tag_pairs(ctx: Ctx) -> list[tuple[str, str]]:
    """The pairs of a Tagging document body, in order, after its integrity header was checked."""
    require_integrity_header(ctx.headers)
    body = Body(ctx)
    data = await body.read_all(MAX_DOCUMENT, malformed_xml())
    verify_document_digest(ctx, data, body.trailers)
    root = xml.parse(data, "Tagging")
    xml.check_known(root, ("TagSet",))
    tag_set = xml.only_child(root, "TagSet")
    if tag_set is None:
        raise malformed_xml()
    xml.check_known(tag_set, ("Tag",))
    pairs = []
    for tag in xml.children(tag_set, "Tag"):
        xml.check_known(tag, ("Key", "Value"))
        key, value = xml.only_child(tag, "Key"), xml.only_child(tag, "Value")
        if key is None or value is None:
            raise malformed_xml()
        pairs.append((key.text or "", value.text or ""))
    return pairs


async def put_object_tagging(ctx: Ctx) -> web.StreamResponse:
    require_integrity_header(ctx.headers)  # before the object is looked up, as for every integrity refusal
    version = await current_version(ctx)
    await _store(ctx, version, validate_tags(await _read_tag_pairs(ctx)))
    return web.Response(status=200, headers=await _version_header(ctx, version))


async def delete_object_tagging(ctx: Ctx) -> web.StreamResponse:
    version = await current_version(ctx)
    await _store(ctx, version, {})
    return web.Response(status=204, headers=await _version_header(ctx, version))


async def _version_header(ctx: Ctx, version: ObjectVersion) -> dict[str, str]:
    """The tagging operations name the version they acted on (x-amz-version-id), as S3 answers them."""
    return versioning.version_headers(version, await versioning.status(ctx))


async def _store(ctx: Ctx, version: ObjectVersion, tags: dict[str, str]) -> None:
    if not await ctx.services.write(ctx.services.catalog.set_object_tags, version, tags):
        raise S3Error(
            "OperationAborted",
            409,
            "A conflicting conditional operation is currently in progress against this resource. "
            "Please try again.",
        )



# --- buckets ------------------------------------------------------------------------------------------


def no_such_tag_set(bucket: str) -> S3Error:
    return S3Error("NoSuchTagSet", 404, "The TagSet does not exist", BucketName=bucket)


def too_many_bucket_tags() -> S3Error:
    # The count is checked before the tags themselves, with its own code (BadRequest, not InvalidTag).
    return S3Error("BadRequest", 400, f"Bucket tag count cannot be greater than {MAX_BUCKET_TAGS}")


async def put_bucket_tagging(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    pairs = await _read_tag_pairs(ctx)
    if len(pairs) > MAX_BUCKET_TAGS:
        raise too_many_bucket_tags()
    tags = check_tags(pairs)
    document = json.dumps(list(tags.items())) if tags else None  # no tags: as DeleteBucketTagging
    await ctx.services.write(ctx.services.catalog.put_bucket_config, ctx.bucket.name, BUCKET_KIND, document)
    return web.Response(status=204)


async def get_bucket_tagging(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    stored = (await ctx.bucket_configs(ctx.bucket.name)).get(BUCKET_KIND)
    if stored is None:
        raise no_such_tag_set(ctx.bucket.name)
    return xml_response(render(dict(json.loads(stored))))


async def delete_bucket_tagging(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    await ctx.services.write(ctx.services.catalog.put_bucket_config, ctx.bucket.name, BUCKET_KIND, None)
    return web.Response(status=204)
