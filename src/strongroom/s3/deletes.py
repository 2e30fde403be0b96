"""DeleteObject and DeleteObjects: a version removed, a delete marker made, or nothing, by the bucket's
versioning, the request's conditions (If-Match, per entry in DeleteObjects) and Object Lock (decided by
the catalog in the removing transaction; the bypass header by object_lock_requests)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from aiohttp import web

from strongroom.catalog.model import ObjectVersion
from strongroom.errors import S3Error, access_denied, malformed_xml
from strongroom.s3 import object_lock_requests, version_ids, versioning, xml
from strongroom.s3.body import Body
from strongroom.s3.context import Ctx
from strongroom.s3.documents import verify_document_digest, xml_response
from strongroom.s3.object_headers import require_integrity_header, unquoted_etag

MAX_DELETE_BODY = 2 * 1024 * 1024


# DeleteObject's conditions that AWS evaluates on directory buckets only (API reference DeleteObject:
# "This functionality is only supported for directory buckets"). strongroom's buckets are general
# purpose ones; a condition it does not evaluate is refused rather than ignored, so that a delete meant
# to be conditional never runs unconditionally (AWS's answer on a general purpose bucket is not
# documented). In DeleteObjects, the entry's LastModifiedTime and Size.
DIRECTORY_BUCKET_ENTRY_CONDITIONS = {"LastModifiedTime": "x-amz-if-match-last-modified-time",
                                     "Size": "x-amz-if-match-size"}
DIRECTORY_BUCKET_CONDITIONS = tuple(DIRECTORY_BUCKET_ENTRY_CONDITIONS.values())


def directory_bucket_condition(name: str) -> S3Error:
    return S3Error("NotImplemented", 501,
                   "A header you provided implies functionality that is not implemented", Header=name)


@dataclass(frozen=True, slots=True)
class DeleteEntry:
    """One <Object> of a DeleteObjects document (ObjectIdentifier)."""

    key: str
    version_id: str | None
    if_match: str | None  # its ETag: a conditional delete of this entry
    unevaluated: str | None  # a directory-bucket condition it names (as its header's name), refused


def delete_entry(node: ET.Element) -> DeleteEntry:
    key_node = xml.only_child(node, "Key")
    if key_node is None:
        raise malformed_xml()
    version_node, etag_node = xml.only_child(node, "VersionId"), xml.only_child(node, "ETag")
    return DeleteEntry(
        key_node.text or "",
        None if version_node is None else version_node.text or "",
        None if etag_node is None else unquoted_etag(etag_node.text or ""),
        next((header for element, header in DIRECTORY_BUCKET_ENTRY_CONDITIONS.items()
              if xml.only_child(node, element) is not None), None))


async def delete_object(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None and ctx.key is not None
    version_id = ctx.query.get("versionId")
    for name in DIRECTORY_BUCKET_CONDITIONS:
        if name in ctx.headers:
            raise directory_bucket_condition(name)
    status = await versioning.status(ctx)
    if version_id is None:
        # A conditional delete (user guide, "How to perform conditional deletes"): If-Match with an ETag
        # or "*" holds against the current version; 412 when it differs, 404 NoSuchKey when there is none.
        marker = await ctx.services.vault.delete(ctx.bucket.name, ctx.key, versioning=status,
                                                 owner_id=ctx.principal.user_id or ctx.bucket.owner_id,
                                                 if_match=unquoted_etag(ctx.headers.get("if-match")))
        # DeleteObject (S3 API reference): a versioned bucket answers with the marker it made.
        return web.Response(status=204, headers=versioning.marker_headers(marker) if marker else None)
    if status is None:
        version_ids.check_delete(version_id)  # any id but `null` names nothing: 400, and nothing is deleted
    version_ids.check_shape(version_id)
    removed = await ctx.services.vault.delete_version(
        ctx.bucket.name, ctx.key, version_id,
        bypass_governance=await object_lock_requests.bypass_governance(ctx, ctx.key))
    # x-amz-version-id names the version deleted; x-amz-delete-marker says it was a marker. Deleting a
    # version that is not there deletes nothing and succeeds, as any DELETE of what is gone.
    out = {"x-amz-version-id": version_id}
    if removed is not None and removed.delete_marker:
        out["x-amz-delete-marker"] = "true"
    return web.Response(status=204, headers=out)


async def delete_objects(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    require_integrity_header(ctx.headers)
    body = Body(ctx)
    data = await body.read_all(MAX_DELETE_BODY, malformed_xml())
    verify_document_digest(ctx, data, body.trailers)
    root = xml.parse(data, "Delete")
    xml.check_known(root, ("Quiet", "Object"))
    quiet_node = xml.only_child(root, "Quiet")
    quiet = quiet_node is not None and xml.text_of(quiet_node).lower() == "true"
    objects = xml.children(root, "Object")
    if not objects or len(objects) > 1000:
        raise malformed_xml()
    entries = [delete_entry(node) for node in objects]
    out = []
    # Each <Object> is decided as its own DeleteObject: with a VersionId, s3:DeleteObjectVersion; with an
    # ETag, s3:GetObject too, as a conditional DeleteObject (authorization).
    permitted = [await ctx.access.may("s3:DeleteObjectVersion" if entry.version_id else "s3:DeleteObject",
                                      entry.key)
                 and (entry.if_match in (None, "*") or await ctx.access.may("s3:GetObject", entry.key))
                 for entry in entries]
    if not any(permitted):
        raise access_denied()  # no key may be deleted: the request itself is refused
    status = await versioning.status(ctx)
    owner = ctx.principal.user_id or ctx.bucket.owner_id
    for entry, ok in zip(entries, permitted, strict=True):
        # DeleteObjects (S3 API reference): an <Error> or <Deleted> per <Object>, with its <VersionId>
        # when the request named one.
        named = xml.el("Key", entry.key)
        if entry.version_id is not None:
            named += xml.el("VersionId", entry.version_id)
        if not ok:
            out.append(f"<Error>{named}{xml.el('Code', 'AccessDenied')}"
                       f"{xml.el('Message', 'Access Denied')}</Error>")
            continue
        marker: ObjectVersion | None
        try:
            if entry.unevaluated is not None:
                raise directory_bucket_condition(entry.unevaluated)
            if status is None:
                version_ids.check_delete_entry(entry.key, entry.version_id)  # any id but `null`: nothing
            elif entry.version_id is not None and not version_ids.well_formed(entry.version_id):
                raise version_ids.no_such_version(entry.key, entry.version_id)
            if entry.version_id is None:
                marker = await ctx.services.vault.delete(ctx.bucket.name, entry.key, versioning=status,
                                                         owner_id=owner, if_match=entry.if_match)
            else:
                # Object Lock: a protected version is this key's AccessDenied, as DeleteObject's.
                removed = await ctx.services.vault.delete_version(
                    ctx.bucket.name, entry.key, entry.version_id,
                    bypass_governance=await object_lock_requests.bypass_governance(ctx, entry.key))
                marker = removed if removed is not None and removed.delete_marker else None
        except S3Error as e:  # any id but `null` names nothing, the entry's ETag did not hold, or its
            # version is locked: this key fails, and nothing of it is deleted
            out.append(f"<Error>{named}{xml.el('Code', e.code)}{xml.el('Message', e.message)}</Error>")
            continue
        if not quiet:
            # DeleteObjects (API reference, DeletedObject): DeleteMarker and DeleteMarkerVersionId when a
            # marker was made, or was the version deleted.
            made = (xml.el("DeleteMarker", "true") + xml.el("DeleteMarkerVersionId", marker.s3_version_id)
                    if marker is not None else "")
            out.append(f"<Deleted>{named}{made}</Deleted>")
    return xml_response(xml.document("DeleteResult", out))
