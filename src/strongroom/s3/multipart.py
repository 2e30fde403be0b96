"""Multipart uploads, write side: CreateMultipartUpload, UploadPart, UploadPartCopy,
CompleteMultipartUpload and AbortMultipartUpload (the listings are in `multipart_list.py`).

These handlers read and check the request and render the answer; the vault
(`vault/uploads.py`) does the rest. An upload chooses its encryption once, at creation,
and keeps the KEK's sealing in its record; every part is a piece encrypted under that KEK,
its key bound to (bucket, key, upload id, part number). The completed object takes the
upload id as its version id, so its pieces are bound exactly like a simple PUT's without
being re-sealed: Complete needs no KMS call and no SSE-C key, as on AWS.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from strongroom import checksums
from strongroom.catalog.model import ObjectVersion, Upload
from strongroom.errors import (
    S3Error,
    bad_digest,
    invalid_argument,
    invalid_request,
    malformed_xml,
    no_such_upload,
    not_implemented,
)
from strongroom.s3 import lifecycle, object_lock_requests, sse, versioning, xml
from strongroom.s3.body import Body
from strongroom.s3.context import Ctx
from strongroom.s3.documents import xml_response
from strongroom.s3.kms_check import kms_check
from strongroom.s3.multipart_list import (
    Listed,
    find_upload,
    invalid_part,
    load_upload,
    multipart_etag,
    object_checksum,
    parse_parts,
    select_parts,
)
from strongroom.s3.object_headers import (
    MAX_SINGLE_PUT,
    check_key,
    check_md5,
    checksum_request,
    content_md5,
    content_type,
    header_tags,
    stored_headers,
    user_metadata,
)
from strongroom.s3.objects import (
    copy_source_version,
    entity_too_large,
    load_copy_source,
    open_version,
    require_sigv4_for,
)
from strongroom.vault import Conditions, NewObject, PartsChanged, Written

MAX_PART_NUMBER = 10000
MAX_COMPLETE_BODY = 16 * 1024 * 1024  # 10,000 <Part>s with checksums fit well within this
FULL_OBJECT_ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME")
COMPOSITE_ALGORITHMS = ("CRC32", "CRC32C", "SHA1", "SHA256")
_SSE_C_REQUIRED = ("The multipart upload initiate requested encryption. "
                   "Subsequent part requests must include the appropriate encryption parameters.")


def part_number(ctx: Ctx) -> int:
    raw = ctx.query.get("partNumber", "")
    try:
        number = int(raw)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_PART_NUMBER:
        raise invalid_argument("Part number must be an integer between 1 and 10000, inclusive",
                               "partNumber", raw)
    return number


def checksum_choice(ctx: Ctx) -> tuple[str | None, str | None]:
    """(algorithm, type) for a new upload from x-amz-checksum-algorithm and x-amz-checksum-type."""
    algorithm = ctx.headers.get("x-amz-checksum-algorithm")
    kind = ctx.headers.get("x-amz-checksum-type")
    if kind is not None and kind.upper() not in ("COMPOSITE", "FULL_OBJECT"):
        raise invalid_request("Value for x-amz-checksum-type header is invalid.")
    if algorithm is None:
        if kind is not None:
            raise invalid_request("The x-amz-checksum-type header can only be used with the "
                                  "x-amz-checksum-algorithm header.")
        return None, None
    algorithm = algorithm.upper()
    if algorithm not in checksums.ALGORITHMS:
        raise invalid_request("Checksum algorithm provided is unsupported. Please try again with any of the "
                              "valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
    kind = kind.upper() if kind else ("FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE")
    allowed = FULL_OBJECT_ALGORITHMS if kind == "FULL_OBJECT" else COMPOSITE_ALGORITHMS
    if algorithm not in allowed:
        raise invalid_request(f"The {kind} checksum type cannot be used with the {algorithm.lower()} "
                              "checksum algorithm.")
    return algorithm, kind


async def writing_customer_key(ctx: Ctx, upload: Upload) -> sse.CustomerKey | None:
    """The request's SSE-C key: an SSE-C upload needs it on every request that writes, others refuse it.
    The vault checks that it is the upload's."""
    customer = sse.customer_key(ctx.headers)
    if upload.sealing.algorithm != "SSE-C":
        if customer is not None:
            raise invalid_request(_SSE_C_REQUIRED)
        if upload.sealing.algorithm.startswith("aws:kms"):
            sse.require_sigv4_for_kms(ctx)
        return None
    if customer is None:
        raise invalid_request(_SSE_C_REQUIRED)
    sse.require_secure_for_sse_c(ctx)
    if (await sse.bucket_default(ctx)).sse_c_blocked:  # blocked after the upload began (UploadPart docs)
        raise sse.sse_c_blocked(ctx, ctx.key)
    return customer


async def complete_customer_key(ctx: Ctx, upload: Upload) -> bytes | None:
    """Complete takes no SSE-C key (AWS: only where a checksum or a bucket policy asks for one); a key
    that is sent must be the upload's. An SSE-C upload cannot complete once its bucket blocks SSE-C."""
    if sse.customer_key(ctx.headers) is not None:
        customer = await writing_customer_key(ctx, upload)
        return customer.key if customer else None
    if upload.sealing.algorithm == "SSE-C" and (await sse.bucket_default(ctx)).sse_c_blocked:
        raise sse.sse_c_blocked(ctx, ctx.key)
    return None


def checksum_headers(values: dict[str, str]) -> dict[str, str]:
    return {checksums.header_name(alg): value for alg, value in values.items()}


async def create_multipart_upload(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None and ctx.key is not None
    check_key(ctx.key)
    algorithm, kind = checksum_choice(ctx)
    lock = await object_lock_requests.lock_for_write(ctx, ctx.headers, has_body=False, with_default=False)
    metadata = user_metadata(ctx.headers)
    choice = sse.choose(ctx, await sse.bucket_default(ctx))
    require_sigv4_for(ctx, choice)
    target = NewObject(ctx.bucket.name, ctx.key, ctx.principal.user_id or ctx.bucket.owner_id,
                       content_type(ctx.headers), stored_headers(ctx.headers), metadata,
                       header_tags(ctx.headers), lock=lock)
    upload = await ctx.services.vault.create_upload(target, choice.encryption, kms_check=kms_check(ctx),
                                                    checksum_algorithm=algorithm, checksum_type=kind,
                                                    acl=ctx.object_acl)
    headers = sse.response_headers(upload.sealing, choice.customer, context=True)
    if algorithm and kind:
        headers.update({"x-amz-checksum-algorithm": algorithm, "x-amz-checksum-type": kind})
    body = xml.el("Bucket", upload.bucket) + xml.el("Key", upload.key) + xml.el("UploadId", upload.upload_id)
    return xml_response(xml.document("InitiateMultipartUploadResult", body), headers=headers)


def check_part_algorithm(upload: Upload, requested: str | None) -> None:
    """A part's checksum must be the upload's algorithm. A FULL_OBJECT upload accepts a part without one
    (S3 computes it); a COMPOSITE one needs it, since the client will list it at Complete."""
    expected = upload.checksum_algorithm
    if expected is None or requested == expected:
        return
    if requested is None and upload.checksum_type == "FULL_OBJECT":
        return
    raise invalid_request(f"Checksum Type mismatch occurred, expected checksum Type: {expected.lower()}, "
                          f"actual checksum Type: {requested.lower() if requested else 'null'}")


async def upload_part(ctx: Ctx) -> web.StreamResponse:
    upload = await load_upload(ctx)
    number = part_number(ctx)
    body = Body(ctx)
    if body.length is None:
        raise S3Error("MissingContentLength", 411, "You must provide the Content-Length HTTP header.")
    if body.length > MAX_SINGLE_PUT:
        raise entity_too_large(body.length)
    md5_expected = content_md5(ctx.headers)
    wanted = checksum_request(ctx.headers)
    check_part_algorithm(upload, wanted.algorithms[0] if wanted.algorithms else None)
    customer = await writing_customer_key(ctx, upload)

    def verify(written: Written) -> None:
        check_md5(md5_expected, written.md5_hex)
        wanted.verify(written.checksums, body.trailers)

    written = await ctx.services.vault.put_part(
        upload, number, body.chunks(), customer_key=customer.key if customer else None,
        kms_check=kms_check(ctx), size_hint=body.length, md5=md5_expected is not None,
        checksums=wanted.algorithms, verify=verify)
    headers = {"ETag": f'"{written.piece.etag}"', **sse.response_headers(upload.sealing, customer)}
    headers.update(checksum_headers(written.checksums))
    return web.Response(status=200, headers=headers)


def copy_range(value: str | None, size: int) -> tuple[int, int]:
    """[start, end) from x-amz-copy-source-range, validated as S3 validates it (stricter than Range)."""
    if value is None:
        return 0, size
    malformed = invalid_argument(
        "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are "
        "the zero-based offsets of the first and last bytes to copy", "x-amz-copy-source-range", value)
    unit, _, spec = value.partition("=")
    first, dash, last = spec.partition("-")
    if unit != "bytes" or not dash or not first.isdigit() or not last.isdigit() or int(first) > int(last):
        raise malformed
    start, end = int(first), int(last)
    if start >= size:
        raise invalid_request("The specified copy range is invalid for the source object size")
    if end >= size:  # S3 answers InvalidRange here (ceph's s3-tests, test_multipart_copy_invalid_range)
        raise S3Error("InvalidRange", 416, "The requested range is not satisfiable", RangeRequested=value,
                      ActualObjectSize=str(size))
    return start, end + 1


async def upload_part_copy(ctx: Ctx) -> web.StreamResponse:
    source = await load_copy_source(ctx)
    opened, _ = await open_version(ctx, source, sse.COPY_SSEC)
    upload = await load_upload(ctx)
    number = part_number(ctx)
    start, end = copy_range(ctx.headers.get("x-amz-copy-source-range"), source.size)
    if end - start > MAX_SINGLE_PUT:
        raise entity_too_large(end - start)
    customer = await writing_customer_key(ctx, upload)
    written = await ctx.services.vault.put_part(
        upload, number, opened.read(start, end, ctx.request_id),
        customer_key=customer.key if customer else None, kms_check=kms_check(ctx), size_hint=end - start)
    result = (xml.el("LastModified", xml.timestamp(ctx.services.clock.now()))
              + xml.el("ETag", f'"{written.piece.etag}"')
              + "".join(xml.el(f"Checksum{alg}", v) for alg, v in written.checksums.items()))
    return xml_response(xml.document("CopyPartResult", result),
                        headers={**sse.response_headers(upload.sealing, customer),
                                 **copy_source_version(ctx, source)})


async def abort_multipart_upload(ctx: Ctx) -> web.StreamResponse:
    upload = await load_upload(ctx)
    await ctx.services.vault.abort(upload)
    return web.Response(status=204)


# --- CompleteMultipartUpload ----------------------------------------------------------------------


def _not_implemented_header(name: str) -> S3Error:
    err = not_implemented()
    err.details["Header"] = name
    return err


def complete_conditions(ctx: Ctx) -> Conditions:
    """(If-None-Match: *, If-Match etag): the only conditional forms S3 takes on Complete."""
    none_match, match = ctx.headers.get("if-none-match"), ctx.headers.get("if-match")
    if none_match is not None and match is not None:
        raise _not_implemented_header("If-Match,If-None-Match")
    if none_match is not None and none_match.strip() != "*":
        raise _not_implemented_header("If-None-Match")
    if match is not None and match.strip() == "*":
        raise _not_implemented_header("If-Match")
    return Conditions(none_match is not None, match.strip().strip('"') if match is not None else None)


def check_complete_headers(ctx: Ctx, upload: Upload, size: int, value: str | None) -> None:
    """x-amz-checksum-type, the whole-object x-amz-checksum-* and x-amz-mp-object-size of a Complete."""
    kind = ctx.headers.get("x-amz-checksum-type")
    if kind is not None and upload.checksum_algorithm and kind.upper() != upload.checksum_type:
        raise invalid_request(f"The upload was created using the {upload.checksum_type} checksum mode. "
                              "The complete request must use the same checksum mode.")
    if value is not None and upload.checksum_type == "FULL_OBJECT" and upload.checksum_algorithm:
        given = ctx.headers.get(checksums.header_name(upload.checksum_algorithm))
        if given is not None and given != value:
            raise bad_digest(f"The {upload.checksum_algorithm.lower()} you specified did not match the "
                             "calculated checksum.")
    declared = ctx.headers.get("x-amz-mp-object-size")
    if declared is not None and declared != str(size):
        raise invalid_request(f"The provided 'x-amz-mp-object-size' header value {declared} does not match "
                              f"what was computed: {size}")


async def complete_multipart_upload(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None and ctx.key is not None
    upload = await find_upload(ctx)
    if upload is None:
        return await retried_complete(ctx, parse_parts(await Body(ctx).read_all(MAX_COMPLETE_BODY,
                                                                                malformed_xml())))
    conditions = complete_conditions(ctx)
    vault = ctx.services.vault
    await vault.check_conditions(ctx.bucket.name, ctx.key, conditions)
    listed = parse_parts(await Body(ctx).read_all(MAX_COMPLETE_BODY, malformed_xml()))
    parts = await vault.parts(upload)
    stored = {p.piece.part_number: p for p in parts}
    used = select_parts(upload, listed, stored)
    size = sum(p.size for p in used)
    algorithm, kind = upload.checksum_algorithm, upload.checksum_type or "COMPOSITE"
    whole = object_checksum(algorithm, kind, used) if algorithm else None
    check_complete_headers(ctx, upload, size, whole)
    customer_key = await complete_customer_key(ctx, upload)
    status = await versioning.status(ctx)
    try:
        version = await vault.complete(
            upload, used, etag=multipart_etag(used),
            checksums={algorithm: whole} if algorithm and whole else {},
            checksum_type=kind if algorithm else None, conditions=conditions, customer_key=customer_key,
            kms_check=kms_check(ctx), versioned=status == versioning.ENABLED,
            lock=await object_lock_requests.default_lock(ctx))
    except PartsChanged:
        raise invalid_part(upload.upload_id, listed[0].number, listed[0].etag) from None
    except S3Error as e:
        if e.code != "NoSuchUpload":
            raise
        return await retried_complete(ctx, listed)  # a Complete of the same upload finished first
    return await complete_result(ctx, version, status)


# How long after a completion a retried CompleteMultipartUpload still gets the first answer. S3 does so
# for some hours (its NoSuchUpload for a completed upload comes "only after a few hours":
# minio/minio#2250); the exact time is not documented: strongroom's choice.
COMPLETED_UPLOAD_MEMORY = 6 * 3600.0


async def retried_complete(ctx: Ctx, listed: list[Listed]) -> web.StreamResponse:
    """A Complete of an upload that is no longer in progress. An SDK retries Complete when the answer was
    lost, and S3 answers the retry 200 with the same ETag (recorded from S3 in adobe/S3Mock#2586 and
    minio/minio#13318). A completed upload's version id is its upload id (vault.complete), so the key's
    current version tells: when it is the one this upload made, less than COMPLETED_UPLOAD_MEMORY ago,
    from the very parts this request lists, the retry answers as the first Complete did. Anything else
    is NoSuchUpload."""
    upload_id = ctx.query.get("uploadId", "")
    version = await ctx.services.point(ctx.services.catalog.object_read(ctx.bucket_name or "", ctx.key or ""))
    status = await versioning.status(ctx)
    if (not upload_id or version is None or version.version_id != upload_id
            or ctx.services.clock.now() - version.last_modified > COMPLETED_UPLOAD_MEMORY
            or [(p.number, p.etag) for p in listed] != [(p.part_number, p.etag) for p in version.pieces]):
        raise no_such_upload(upload_id)
    return await complete_result(ctx, version, status)


async def complete_result(ctx: Ctx, version: ObjectVersion, status: str | None) -> web.StreamResponse:
    """CompleteMultipartUploadResult for the version a Complete made (`status`: the bucket's versioning)."""
    location = f"{ctx.request.scheme}://{ctx.request.host}/{quote(version.bucket)}/{quote(version.key)}"
    body = xml.el("Location", location) + xml.el("Bucket", version.bucket) + xml.el("Key", version.key)
    body += xml.el("ETag", f'"{version.etag}"')
    for algorithm, whole in version.checksums.items():
        body += xml.el(f"Checksum{algorithm}", whole) + xml.el("ChecksumType", version.checksum_type or "")
    # CompleteMultipartUploadOutput has SSE, KMS key id and Bucket Key, no SSE-C headers (botocore model).
    ssec = version.sealing.algorithm == "SSE-C"
    headers = {} if ssec else sse.response_headers(version.sealing)
    return xml_response(xml.document("CompleteMultipartUploadResult", body),
                        headers={**headers, **versioning.version_headers(version, status),
                                 **await lifecycle.expiration_headers(ctx, version)})

