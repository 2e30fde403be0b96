"""Multipart uploads: finding an upload (NoSuchUpload), lists of parts and of uploads.

Owns ListParts, ListMultipartUploads, and the parts list of a
CompleteMultipartUpload: parsing it and checking it against the stored parts
(order, ETags, checksums, minimum size), the multipart ETag and the whole-object
checksum. The operations that write (create, parts, complete, abort) are in
`multipart.py`, which holds the one `HANDLERS` table for both modules.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web
from awscrt import checksums as crt

from strongroom import checksums
from strongroom.catalog.model import Part, Piece, Upload
from strongroom.errors import (
    S3Error,
    bad_digest,
    invalid_argument,
    invalid_request,
    malformed_xml,
    no_such_upload,
)
from strongroom.s3 import xml
from strongroom.s3.context import Ctx

MAX_LIST = 1000  # max-parts and max-uploads above this are served as 1000, as S3 does
MIN_PART_SIZE = 5 * 1024 * 1024
_INT_MAX = 2**31 - 1
_COMBINE = {"CRC32": crt.combine_crc32, "CRC32C": crt.combine_crc32c, "CRC64NVME": crt.combine_crc64nvme}
_PART_ELEMENTS = ("PartNumber", "ETag", *(f"Checksum{a}" for a in checksums.ALGORITHMS))


async def find_upload(ctx: Ctx) -> Upload | None:
    """The upload named by ?uploadId; one of another bucket or key is as unknown as a made-up id."""
    assert ctx.bucket is not None
    upload_id = ctx.query.get("uploadId", "")
    upload = await ctx.services.read(ctx.services.catalog.get_upload, upload_id) if upload_id else None
    if upload is None or upload.bucket != ctx.bucket.name or upload.key != ctx.key:
        return None
    return upload


async def load_upload(ctx: Ctx) -> Upload:
    """The upload named by ?uploadId, or 404 NoSuchUpload."""
    upload = await find_upload(ctx)
    if upload is None:
        raise no_such_upload(ctx.query.get("uploadId", ""))
    return upload


def int_argument(query: Mapping[str, str], name: str, default: int) -> int:
    """A non-negative integer query argument (max-parts, part-number-marker, max-uploads)."""
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = _INT_MAX + 1
    if value > _INT_MAX:
        raise invalid_argument(f"Provided {name} not an integer or within integer range", name, raw)
    if value < 0:
        raise invalid_argument(f"Argument {name} must be an integer between 0 and {_INT_MAX}", name, raw)
    return value


async def user_names(ctx: Ctx, user_ids: set[str]) -> dict[str, str]:
    names = {}
    for user_id in user_ids:
        user = await ctx.services.read(ctx.services.catalog.get_user_by_id, user_id)
        names[user_id] = user.name if user else ""
    return names


def initiator_xml(user_id: str, name: str) -> str:
    """<Initiator> and <Owner>: the user who started the upload (one account per deployment)."""
    who = xml.el("ID", user_id) + xml.el("DisplayName", name)
    return f"<Initiator>{who}</Initiator><Owner>{who}</Owner>"


def part_xml(part: Part, algorithm: str | None) -> str:
    piece = part.piece
    out = (xml.el("PartNumber", piece.part_number) + xml.el("LastModified", xml.timestamp(part.last_modified))
           + xml.el("ETag", f'"{piece.etag}"') + xml.el("Size", piece.size))
    # Only the upload's own algorithm: a part checksum of another one would make a CompleteMultipartUpload
    # built from this listing fail (S3 refuses checksums the upload did not ask for).
    if algorithm and algorithm in piece.checksums:
        out += xml.el(f"Checksum{algorithm}", piece.checksums[algorithm])
    return f"<Part>{out}</Part>"


async def list_parts(ctx: Ctx) -> web.StreamResponse:
    upload = await load_upload(ctx)
    max_parts = int_argument(ctx.query, "max-parts", MAX_LIST)
    marker = int_argument(ctx.query, "part-number-marker", 0)
    parts, truncated = await ctx.services.listing(ctx.services.catalog.list_parts, upload.upload_id,
                                                  after=marker, max_parts=min(max_parts, MAX_LIST))
    body = [
        xml.el("Bucket", upload.bucket), xml.el("Key", upload.key), xml.el("UploadId", upload.upload_id),
        xml.el("PartNumberMarker", marker),
        xml.el("NextPartNumberMarker", parts[-1].piece.part_number if parts else 0),
        xml.el("MaxParts", max_parts), xml.el("IsTruncated", truncated),
        *(part_xml(p, upload.checksum_algorithm) for p in parts),
        initiator_xml(upload.owner_id, (await user_names(ctx, {upload.owner_id}))[upload.owner_id]),
        xml.el("StorageClass", upload.storage_class),
    ]
    if upload.checksum_algorithm:
        body += [xml.el("ChecksumAlgorithm", upload.checksum_algorithm),
                 xml.el("ChecksumType", upload.checksum_type or "COMPOSITE")]
    return web.Response(body=xml.document("ListPartsResult", body), content_type="application/xml")


def _invalid_upload_id_marker(marker: str) -> S3Error:
    return invalid_argument("Invalid uploadId marker", "upload-id-marker", marker)


async def list_multipart_uploads(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    q = ctx.query
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    key_marker = q.get("key-marker", "")
    # S3 ignores upload-id-marker without key-marker
    id_marker = q.get("upload-id-marker", "") if key_marker else ""
    max_uploads = int_argument(q, "max-uploads", MAX_LIST)
    encoding = q.get("encoding-type")
    if encoding is not None and encoding != "url":
        raise invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", encoding)
    if id_marker:
        marked = await ctx.services.read(ctx.services.catalog.get_upload, id_marker)
        if marked is None or marked.bucket != ctx.bucket.name or marked.key != key_marker:
            raise _invalid_upload_id_marker(id_marker)
    page = await ctx.services.listing(ctx.services.catalog.list_uploads, ctx.bucket.name, prefix=prefix,
                                 delimiter=delimiter, key_marker=key_marker, upload_id_marker=id_marker,
                                 max_uploads=min(max_uploads, MAX_LIST))

    def enc(text: str) -> str:
        return quote(text, safe="/") if encoding else text

    next_key, next_id = page.next_key_marker, page.next_upload_id_marker
    if next_key is None and page.uploads:
        next_key, next_id = page.uploads[-1].key, page.uploads[-1].upload_id
    body = [xml.el("Bucket", ctx.bucket.name), xml.el("KeyMarker", enc(key_marker)),
            xml.el("UploadIdMarker", id_marker), xml.el("NextKeyMarker", enc(next_key or "")),
            xml.el("NextUploadIdMarker", next_id or "")]
    if delimiter:
        body.append(xml.el("Delimiter", enc(delimiter)))
    body.append(xml.el("Prefix", enc(prefix)))
    if encoding:
        body.append(xml.el("EncodingType", encoding))
    body += [xml.el("MaxUploads", max_uploads), xml.el("IsTruncated", page.is_truncated)]
    names = await user_names(ctx, {u.owner_id for u in page.uploads})
    for upload in page.uploads:
        item = (xml.el("Key", enc(upload.key)) + xml.el("UploadId", upload.upload_id)
                + initiator_xml(upload.owner_id, names[upload.owner_id])
                + xml.el("StorageClass", upload.storage_class)
                + xml.el("Initiated", xml.timestamp(upload.initiated)))
        if upload.checksum_algorithm:
            item += xml.el("ChecksumAlgorithm", upload.checksum_algorithm)
            item += xml.el("ChecksumType", upload.checksum_type or "COMPOSITE")
        body.append(f"<Upload>{item}</Upload>")
    body += [f"<CommonPrefixes>{xml.el('Prefix', enc(p))}</CommonPrefixes>" for p in page.common_prefixes]
    return web.Response(body=xml.document("ListMultipartUploadsResult", body), content_type="application/xml")


# --- the parts list of a CompleteMultipartUpload --------------------------------------------------


def invalid_part(upload_id: str, number: int, etag: str) -> S3Error:
    # Two spaces after "found." as S3 writes it.
    return S3Error("InvalidPart", 400, "One or more of the specified parts could not be found.  The part may "
                   "not have been uploaded, or the specified entity tag may not match the part's entity tag.",
                   UploadId=upload_id, PartNumber=str(number), ETag=etag)


def invalid_part_order(upload_id: str) -> S3Error:
    return S3Error("InvalidPartOrder", 400, "The list of parts was not in ascending order. "
                   "Parts must be ordered by part number.", UploadId=upload_id)


def entity_too_small(number: int, etag: str, size: int) -> S3Error:
    return S3Error("EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed size",
                   ProposedSize=str(size), MinSizeAllowed=str(MIN_PART_SIZE), PartNumber=str(number),
                   ETag=etag)


@dataclass(frozen=True, slots=True)
class Listed:
    """One <Part> of a CompleteMultipartUpload document."""

    number: int
    etag: str  # unquoted
    checksums: dict[str, str]


def parse_parts(data: bytes) -> list[Listed]:
    if not data.strip():
        raise malformed_xml()  # as S3 answers an empty Complete (ceph's s3-tests: multipart_upload_empty)
    root = xml.parse(data, "CompleteMultipartUpload")
    xml.check_known(root, ("Part",))
    listed = []
    for node in xml.children(root, "Part"):
        xml.check_known(node, _PART_ELEMENTS)
        number_node, etag_node = xml.only_child(node, "PartNumber"), xml.only_child(node, "ETag")
        if number_node is None or etag_node is None:
            raise malformed_xml()
        try:
            number = int(xml.text_of(number_node))
        except ValueError:
            raise malformed_xml() from None
        if number < 1:
            raise invalid_argument("PartNumber must be >= 1", "PartNumber", str(number))
        sums = {c.tag[len("Checksum"):]: xml.text_of(c) for c in node if c.tag.startswith("Checksum")}
        listed.append(Listed(number, xml.text_of(etag_node).strip('"'), sums))
    return listed


def select_parts(upload: Upload, listed: list[Listed], stored: dict[int, Part]) -> list[Piece]:
    """The stored pieces the document names, checked as S3 checks them, in order."""
    if not listed:
        raise malformed_xml()  # S3 answers a document without parts so, not with InvalidRequest
    algorithm = upload.checksum_algorithm
    pieces = []
    for i, item in enumerate(listed):
        if i and item.number <= listed[i - 1].number:
            raise invalid_part_order(upload.upload_id)
        part = stored.get(item.number)
        if part is None or part.piece.etag != item.etag or (item.checksums and algorithm is None):
            raise invalid_part(upload.upload_id, item.number, item.etag)
        if algorithm is not None:
            given = item.checksums.get(algorithm)
            if given is None and upload.checksum_type != "FULL_OBJECT":
                if item.checksums:  # another algorithm's checksum: S3 calls it a mismatch
                    other = next(iter(item.checksums)).lower()
                    raise bad_digest(f"The {other} you specified for part {item.number} did not match what "
                                     "we received.")
                raise invalid_request(f"The upload was created using a {algorithm.lower()} checksum. The "
                                      "complete request must include the checksum for each part. It was "
                                      f"missing for part {item.number} in the request.")
            if given is not None and given != part.piece.checksums.get(algorithm):
                raise invalid_part(upload.upload_id, item.number, item.etag)
        if i < len(listed) - 1 and part.piece.size < MIN_PART_SIZE:
            raise entity_too_small(item.number, item.etag, part.piece.size)
        pieces.append(part.piece)
    return pieces


def multipart_etag(pieces: list[Piece]) -> str:
    """MD5 of the concatenated binary part ETags, "-N". Non-MD5 part ETags (SSE-KMS, SSE-C) are hex too."""
    return checksums.multipart_etag([p.etag for p in pieces])


def object_checksum(algorithm: str, kind: str, pieces: list[Piece]) -> str:
    """COMPOSITE: the checksum of the binary part checksums, "-N"; FULL_OBJECT: the CRCs combined."""
    if kind == "COMPOSITE":
        return checksums.composite(algorithm, [p.checksums[algorithm] for p in pieces])
    raw = [base64.b64decode(p.checksums[algorithm]) for p in pieces]
    combined = int.from_bytes(raw[0], "big")
    for value, piece in zip(raw[1:], pieces[1:], strict=True):
        combined = _COMBINE[algorithm](combined, int.from_bytes(value, "big"), piece.size)
    return base64.b64encode(combined.to_bytes(len(raw[0]), "big")).decode()
