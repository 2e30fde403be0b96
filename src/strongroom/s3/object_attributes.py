"""GetObjectAttributes: an object's ETag, checksum, parts, storage class and size, without its body.

AWS facts used here (API reference GetObjectAttributes, GetObjectAttributesParts, ObjectPart;
S3's answers as other S3 implementations recorded them):
- `x-amz-object-attributes` names the root elements to return, comma-separated, among ETag,
  Checksum, ObjectParts, StorageClass, ObjectSize; only those are returned. Missing or empty:
  400 InvalidRequest "The x-amz-object-attributes header specifying the attributes to be
  retrieved is either missing or empty"; an unknown name: 400 InvalidArgument "Invalid attribute
  name specified." (ArgumentName x-amz-object-attributes).
- The response is `<GetObjectAttributesResponse>` with the Last-Modified header; ETag unquoted.
- ObjectParts is for multipart objects: PartsCount always; the Part list (PartNumber, Size, the
  part's checksum) only "if an additional checksum ... is applied to the object", paged by
  `x-amz-max-parts` (default 1000; S3 ignores a value it cannot read) after
  `x-amz-part-number-marker`, with PartNumberMarker, NextPartNumberMarker, MaxParts, IsTruncated.
- Permissions: s3:GetObject and s3:GetObjectAttributes (with a version id, s3:GetObjectVersion and
  s3:GetObjectVersionAttributes) -- decided by authorization. A missing object is 404 NoSuchKey
  with s3:ListBucket, else 403 AccessDenied, as for GetObject.
- An SSE-C object needs its customer key headers (the right key, else 403); encryption headers
  such as x-amz-server-side-encryption are refused with 400, as on GetObject.
"""

from __future__ import annotations

from aiohttp import web

from strongroom.catalog.model import ObjectVersion
from strongroom.errors import invalid_argument, invalid_request
from strongroom.s3 import versioning, xml
from strongroom.s3.context import Ctx
from strongroom.s3.documents import xml_response
from strongroom.s3.objects import check_customer_key, current_version

ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
DEFAULT_MAX_PARTS = 1000


def requested_attributes(value: str | None) -> frozenset[str]:
    names = [n.strip() for n in (value or "").split(",") if n.strip()]
    if not names:
        raise invalid_request("The x-amz-object-attributes header specifying the attributes to be retrieved "
                              "is either missing or empty")
    for name in names:
        if name not in ATTRIBUTES:
            raise invalid_argument("Invalid attribute name specified.", "x-amz-object-attributes", name)
    return frozenset(names)


def _int_header(value: str | None, default: int) -> int:
    """S3 ignores a paging header it cannot read (x-amz-max-parts: "abc" lists as if absent)."""
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return number if number >= 0 else default


def render_checksum(version: ObjectVersion) -> str:
    if not version.checksums:
        return ""
    inner = "".join(xml.el(f"Checksum{alg}", value) for alg, value in version.checksums.items())
    if version.checksum_type:
        inner += xml.el("ChecksumType", version.checksum_type)
    return f"<Checksum>{inner}</Checksum>"


def render_parts(ctx: Ctx, version: ObjectVersion) -> str:
    if "-" not in version.etag:
        return ""  # not a multipart object: no parts to tell of
    inner = ""
    algorithms = tuple(version.checksums)
    if algorithms:  # parts are listed only for an object with an additional checksum
        marker = _int_header(ctx.headers.get("x-amz-part-number-marker"), 0)
        max_parts = _int_header(ctx.headers.get("x-amz-max-parts"), DEFAULT_MAX_PARTS)
        after = [p for p in version.pieces if p.part_number > marker]
        page, truncated = after[:max_parts], len(after) > max_parts
        inner += xml.el("IsTruncated", truncated) + xml.el("MaxParts", max_parts)
        if truncated and page:
            inner += xml.el("NextPartNumberMarker", page[-1].part_number)
        inner += xml.el("PartNumberMarker", marker)
        for piece in page:
            checks = "".join(xml.el(f"Checksum{alg}", piece.checksums[alg]) for alg in algorithms
                             if alg in piece.checksums)
            number, size = xml.el("PartNumber", piece.part_number), xml.el("Size", piece.size)
            inner += f"<Part>{checks}{number}{size}</Part>"
    inner += xml.el("PartsCount", len(version.pieces))
    return f"<ObjectParts>{inner}</ObjectParts>"


async def get_object_attributes(ctx: Ctx) -> web.StreamResponse:
    wanted = requested_attributes(ctx.headers.get("x-amz-object-attributes"))
    version = await current_version(ctx)
    check_customer_key(ctx, version)
    body = ""
    if "ETag" in wanted:
        body += xml.el("ETag", version.etag)
    if "Checksum" in wanted:
        body += render_checksum(version)
    if "ObjectParts" in wanted:
        body += render_parts(ctx, version)
    if "StorageClass" in wanted:
        body += xml.el("StorageClass", version.storage_class)
    if "ObjectSize" in wanted:
        body += xml.el("ObjectSize", version.size)
    headers = {"Last-Modified": xml.http_date(version.last_modified),
               **versioning.version_headers(version, await versioning.status(ctx))}
    return xml_response(xml.document("GetObjectAttributesResponse", body), headers=headers)
