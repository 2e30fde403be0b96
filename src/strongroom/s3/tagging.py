"""Get/Put/DeleteObjectTagging. (The x-amz-tagging header and the tag rules are in object_headers.)"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from strongroom.catalog.model import ObjectVersion
from strongroom.errors import S3Error, malformed_xml
from strongroom.s3 import versioning, xml
from strongroom.s3.body import Body
from strongroom.s3.context import Ctx
from strongroom.s3.documents import verify_document_digest, xml_response
from strongroom.s3.object_headers import require_integrity_header, validate_tags
from strongroom.s3.objects import current_version

MAX_DOCUMENT = 64 * 1024


def render(tags: Mapping[str, str]) -> bytes:
    body = "".join(f"<Tag>{xml.el('Key', k)}{xml.el('Value', v)}</Tag>" for k, v in tags.items())
    return xml.document("Tagging", f"<TagSet>{body}</TagSet>")


async def get_object_tagging(ctx: Ctx) -> web.StreamResponse:
    version = await current_version(ctx)
    return xml_response(render(version.tags), headers=await _version_header(ctx, version))


async def put_object_tagging(ctx: Ctx) -> web.StreamResponse:
    require_integrity_header(ctx.headers)
    version = await current_version(ctx)
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
    await _store(ctx, version, validate_tags(pairs))
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

