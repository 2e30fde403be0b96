"""Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping

from aiohttp import web

from strongroom.catalog.model import ObjectVersion
from strongroom.errors import (
    S3Error,
    access_denied,
    invalid_argument,
    invalid_request,
    no_such_bucket,
    no_such_key,
)
from strongroom.s3 import lifecycle, object_lock_requests, sse, version_ids, versioning, xml
from strongroom.s3.body import Body
from strongroom.s3.context import Ctx
from strongroom.s3.copy_source import parse_copy_source
from strongroom.s3.documents import xml_response
from strongroom.s3.kms_check import kms_check
from strongroom.s3.object_headers import (
    MAX_SINGLE_PUT,
    NotModified,
    check_conditions,
    check_key,
    check_md5,
    checksum_request,
    content_md5,
    content_type,
    header_tags,
    object_headers,
    parse_range,
    part_number,
    require_announced_checksum,
    response_overrides,
    stored_headers,
    unquoted_etag,
    user_metadata,
)
from strongroom.s3.routing import Operation
from strongroom.vault import Conditions, NewObject, Opened, Written

log = logging.getLogger("strongroom.objects")

def entity_too_large(size: int) -> S3Error:
    return S3Error("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size",
                   ProposedSize=str(size), MaxSizeAllowed=str(MAX_SINGLE_PUT))


def write_conditions(headers: Mapping[str, str]) -> Conditions:
    """A conditional write's headers (PutObject, CopyObject's target; user guide "How to prevent object
    overwrites with conditional writes"): If-None-Match takes only "*" (anything else is 501, as S3
    answers it), If-Match an ETag, against the key's current version."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise S3Error("NotImplemented", 501,
                      "A header you provided implies functionality that is not implemented",
                      Header="If-None-Match")
    return Conditions(if_none_match is not None, unquoted_etag(headers.get("if-match")))


def require_sigv4_for(ctx: Ctx, choice: sse.Choice) -> None:
    if choice.algorithm.startswith("aws:kms"):
        sse.require_sigv4_for_kms(ctx)


async def open_version(ctx: Ctx, version: ObjectVersion,
                       prefix: str = sse.SSEC) -> tuple[Opened, sse.CustomerKey | None]:
    """A stored version opened for reading; SSE-C objects need the customer's key in the request."""
    if ctx.op in (Operation.GetObject, Operation.HeadObject):
        sse.check_no_sse_on_read(ctx)
    customer = sse.customer_key(ctx.headers, prefix)
    if version.sealing.algorithm.startswith("aws:kms"):
        sse.require_sigv4_for_kms(ctx)
    if version.sealing.algorithm == "SSE-C" and customer is not None:
        sse.require_secure_for_sse_c(ctx)
    opened = await ctx.services.vault.open(version, customer.key if customer else None,
                                           kms_check=kms_check(ctx))
    return opened, customer


def check_customer_key(ctx: Ctx, version: ObjectVersion) -> None:
    """What a read of an object's metadata checks without opening it (HeadObject, GetObjectAttributes):
    no SSE request headers, and an SSE-C object's key, as its bytes need it (a wrong one is 403); other
    objects take no SSE-C key."""
    sse.check_no_sse_on_read(ctx)
    customer = sse.customer_key(ctx.headers)
    if version.sealing.algorithm == "SSE-C":
        if customer is None:
            raise invalid_request("The object was stored using a form of Server Side Encryption. "
                                  "The correct parameters must be provided to retrieve the object.")
        sse.require_secure_for_sse_c(ctx)
        ctx.services.vault.check_customer_key(version, customer.key)  # a wrong key is 403 AccessDenied
    elif customer is not None:
        raise invalid_request("The encryption parameters are not applicable to this object.")


async def put_object(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None and ctx.key is not None
    check_key(ctx.key)
    headers = ctx.headers
    body = Body(ctx)
    if body.length is None:
        raise S3Error("MissingContentLength", 411, "You must provide the Content-Length HTTP header.")
    lock = await object_lock_requests.lock_for_write(ctx, headers, has_body=True)
    if body.length > MAX_SINGLE_PUT:
        raise entity_too_large(body.length)
    md5_expected = content_md5(headers)
    wanted = checksum_request(headers)
    require_announced_checksum(wanted)
    metadata = user_metadata(headers)
    tags = header_tags(headers)
    conditions = write_conditions(headers)
    choice = sse.choose(ctx, await sse.bucket_default(ctx))
    require_sigv4_for(ctx, choice)
    status = await versioning.status(ctx)
    target = NewObject(ctx.bucket.name, ctx.key, ctx.principal.user_id or ctx.bucket.owner_id,
                       content_type(headers),
                       stored_headers(headers, streaming=body.mode.startswith("STREAMING-")), metadata, tags,
                       versioned=status == versioning.ENABLED, lock=lock)

    def verify(written: Written) -> None:
        check_md5(md5_expected, written.md5_hex)
        wanted.verify(written.checksums, body.trailers)

    version = await ctx.services.vault.put(
        target, body.chunks(), choice.encryption, kms_check=kms_check(ctx), size_hint=body.length,
        md5=md5_expected is not None, checksums=wanted.algorithms, verify=verify,
        conditions=conditions,
        acl=ctx.object_acl)
    out = {"ETag": f'"{version.etag}"', **versioning.version_headers(version, status),
           **sse.response_headers(version.sealing, choice.customer, context=True)}
    for alg, value in version.checksums.items():
        out[f"x-amz-checksum-{alg.lower()}"] = value
    if version.checksums:
        out["x-amz-checksum-type"] = "FULL_OBJECT"
    out.update(await lifecycle.expiration_headers(ctx, version))
    return web.Response(status=200, headers=out)


_READS_OF_MISSING_KEY_DENIED = frozenset({Operation.GetObject, Operation.HeadObject,
                                          Operation.GetObjectAttributes})


async def current_version(ctx: Ctx) -> ObjectVersion:
    """The version a request on an object names: its versionId's, or the current one."""
    assert ctx.bucket is not None and ctx.key is not None
    version_id = ctx.query.get("versionId")
    if version_id is not None:
        return await named_version(ctx, ctx.bucket.name, ctx.key, version_id)
    version = await ctx.services.point(ctx.services.catalog.object_read(ctx.bucket.name, ctx.key))
    if version is None:
        if ctx.op in _READS_OF_MISSING_KEY_DENIED and not await ctx.access.may("s3:ListBucket", None):
            # GetObject/HeadObject/GetObjectAttributes docs: without s3:ListBucket a missing key is 403, so
            # that a reader cannot learn which keys exist (ctx.access: the decision, made by authorization).
            raise access_denied()
        err = no_such_key(ctx.key)
        latest = await ctx.services.point(ctx.services.catalog.latest_read(ctx.bucket.name, ctx.key))
        if latest is not None and latest.delete_marker:  # S3 says a delete marker hides the key
            err.headers.update(versioning.marker_headers(latest))
        raise err
    return version


async def named_version(ctx: Ctx, bucket: str, key: str, version_id: str) -> ObjectVersion:
    """A version by its id: 400 for an id no version can have, 404 NoSuchVersion for one no version of
    the key has, 405 MethodNotAllowed for a delete marker (with its headers, as S3 answers a GET or HEAD
    of one: "Working with delete markers", S3 user guide)."""
    version_ids.check_shape(version_id)
    version = await ctx.services.point(ctx.services.catalog.version_read(bucket, key, version_id))
    if version is None:
        raise version_ids.no_such_version(key, version_id)
    if version.delete_marker:
        err = S3Error("MethodNotAllowed", 405, "The specified method is not allowed against this resource.",
                      Method=ctx.request.method, ResourceType="DeleteMarker")
        err.headers.update({**versioning.marker_headers(version),
                            "Last-Modified": xml.http_date(version.last_modified)})
        raise err
    return version


def _piece_bounds(version: ObjectVersion, number: int) -> tuple[int, int]:
    if number > max(len(version.pieces), 1):
        raise S3Error("InvalidPartNumber", 416, "The requested partnumber is not satisfiable",
                      PartNumberRequested=str(number), ActualPartCount=str(len(version.pieces)))
    start = sum(p.size for p in version.pieces[: number - 1])
    return start, start + (version.pieces[number - 1].size if version.pieces else 0)


async def get_object(ctx: Ctx) -> web.StreamResponse:
    version = await current_version(ctx)
    head = ctx.op is Operation.HeadObject
    overrides = response_overrides(ctx.query, ctx.principal.anonymous)
    checksum_mode = ctx.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"
    headers = object_headers(version, checksum_mode=checksum_mode)
    if not version.null_version or "versionId" in ctx.query:
        headers["x-amz-version-id"] = version.s3_version_id
    elif await versioning.status(ctx) is not None:
        headers["x-amz-version-id"] = version_ids.NULL
    try:
        check_conditions(ctx.headers, version)
    except NotModified:
        keep = {k: v for k, v in headers.items() if k in ("ETag", "Last-Modified")}
        return web.Response(status=304, headers=keep)
    if head:
        # HEAD reads no byte of the object: S3 asks only s3:GetObject (HeadObject, API reference), not
        # kms:Decrypt on an SSE-KMS object's key, and nothing is unwrapped.
        if version.sealing.algorithm.startswith("aws:kms"):
            sse.require_sigv4_for_kms(ctx)
        check_customer_key(ctx, version)
        opened, customer = None, sse.customer_key(ctx.headers)
    else:
        opened, customer = await open_version(ctx, version)
    headers.update(sse.response_headers(version.sealing, customer))
    headers.update(await object_lock_requests.lock_headers(ctx, version))
    if "versionId" not in ctx.query:  # a rule expires the current version: S3 says when, and which rule
        headers.update(await lifecycle.expiration_headers(ctx, version))
    size = version.size
    number = part_number(ctx.query)
    status = 200
    if number is not None:
        if ctx.headers.get("range"):
            raise invalid_request("Cannot specify both Range header and partNumber query parameter")
        start, end = _piece_bounds(version, number)
        if "-" in version.etag:  # S3 reports PartsCount only when a part is asked for
            headers["x-amz-mp-parts-count"] = str(len(version.pieces))
        # A part is a range, also the one part of a simple object: S3 answers 206 with Content-Range.
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}" if end > start else f"bytes */{size}"
    else:
        rng = parse_range(ctx.headers.get("range"), size)
        if rng is None:
            start, end = 0, size
        else:
            start, end = rng
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    if status == 206:  # a checksum covers the whole object: S3 sends none with part of it
        for name in [h for h in headers if h.startswith("x-amz-checksum-")]:
            del headers[name]
    headers.update(overrides)
    headers["Content-Length"] = str(end - start)
    if opened is None:
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = end - start  # aiohttp sends no body for HEAD but keeps the length
        return response
    return await stream_response(ctx, status, headers, opened.read(start, end, ctx.request_id))


async def stream_response(ctx: Ctx, status: int, headers: dict[str, str],
                          chunks: AsyncIterator[bytes]) -> web.StreamResponse:
    """Send a body as it is decrypted. The first chunk is produced before the status goes out, so that a
    failure to decrypt the start of an object is still a clean error response."""
    iterator = chunks.__aiter__()
    try:
        first = await iterator.__anext__()
    except StopAsyncIteration:
        first = b""
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = int(headers["Content-Length"])
    await response.prepare(ctx.request)
    try:
        if first:
            await response.write(first)
        async for data in iterator:
            await response.write(data)
    except S3Error:
        # Headers are gone: the only honest signal left is to cut the connection short of Content-Length.
        log.error("request %s: aborting a response mid-body", ctx.request_id)
        if ctx.request.transport is not None:
            ctx.request.transport.close()
        return response
    await response.write_eof()
    return response


async def load_copy_source(ctx: Ctx) -> ObjectVersion:
    """The source of a copy, with its bucket's access checked like a GetObject."""
    bucket_name, key, version_id = parse_copy_source(ctx.headers)
    bucket = await ctx.services.read(ctx.services.catalog.get_bucket, bucket_name)
    if bucket is None:
        raise no_such_bucket(bucket_name)
    if version_id is not None:
        version_ids.check_shape(version_id)
        source = await ctx.services.point(ctx.services.catalog.version_read(bucket_name, key, version_id))
        if source is None:
            raise version_ids.no_such_version(key, version_id)
        if source.delete_marker:
            raise invalid_request("The source of a copy request may not specifically refer to a delete "
                                  "marker by version id.")
    else:
        source = await ctx.services.point(ctx.services.catalog.object_read(bucket_name, key))
        if source is None:
            raise no_such_key(key)
    check_conditions(ctx.headers, source, prefix="x-amz-copy-source-if-", copy_source=True)
    return source


async def copy_object(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None and ctx.key is not None
    check_key(ctx.key)
    source = await load_copy_source(ctx)
    opened, _ = await open_version(ctx, source, sse.COPY_SSEC)
    headers = ctx.headers
    lock = await object_lock_requests.lock_for_write(ctx, headers, has_body=False)
    directive = headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise invalid_argument("Unknown metadata directive.", "x-amz-metadata-directive", directive)
    choice = sse.choose(ctx, await sse.bucket_default(ctx))
    same_place = source.bucket == ctx.bucket.name and source.key == ctx.key
    changes_encryption = any(h in headers for h in (sse.SSE, sse.SSEC + "algorithm", sse.SSE_KMS_KEY))
    # Copying a named version onto its own key restores it (S3 user guide, "Restoring previous versions").
    restores = parse_copy_source(headers)[2] is not None
    if same_place and directive == "COPY" and not changes_encryption and not restores \
            and "x-amz-storage-class" not in headers:
        raise invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing "
            "the object's metadata, storage class, website redirect location or encryption attributes.")
    if source.size > MAX_SINGLE_PUT:
        raise invalid_request("The specified copy source is larger than the maximum allowable size for a "
                              "copy source: 5368709120")
    require_sigv4_for(ctx, choice)
    if directive == "COPY":
        ctype, stored, metadata = source.content_type, dict(source.headers), dict(source.metadata)
    else:
        ctype, stored, metadata = content_type(headers), stored_headers(headers), user_metadata(headers)
    tags = (dict(source.tags) if headers.get("x-amz-tagging-directive", "COPY").upper() == "COPY"
            else header_tags(headers))
    status = await versioning.status(ctx)
    target = NewObject(ctx.bucket.name, ctx.key, ctx.principal.user_id or ctx.bucket.owner_id, ctype, stored,
                       metadata, tags, versioned=status == versioning.ENABLED,
                       lock=lock)
    version = await ctx.services.vault.copy(opened, target, choice.encryption, kms_check=kms_check(ctx),
                                            request_id=ctx.request_id, acl=ctx.object_acl,
                                            conditions=write_conditions(headers))
    checks = "".join(xml.el(f"Checksum{alg}", v) for alg, v in version.checksums.items())
    body = xml.document("CopyObjectResult", xml.el("LastModified", xml.timestamp(version.last_modified))
                        + xml.el("ETag", f'"{version.etag}"') + checks)
    out = {**sse.response_headers(version.sealing, choice.customer, context=True),
           **versioning.version_headers(version, status), **copy_source_version(ctx, source),
           **await lifecycle.expiration_headers(ctx, version)}
    return xml_response(body, headers=out)


def copy_source_version(ctx: Ctx, source: ObjectVersion) -> dict[str, str]:
    """x-amz-copy-source-version-id: the version copied, once it is more than an unversioned `null`."""
    if source.null_version and not parse_copy_source(ctx.headers)[2]:
        return {}
    return {"x-amz-copy-source-version-id": source.s3_version_id}

