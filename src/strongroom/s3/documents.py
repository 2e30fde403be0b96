"""Small XML and JSON documents in and out: the configuration bodies of access-control and encryption
Puts (read whole, size-capped, checked against Content-MD5 or an x-amz-checksum-*), and XML responses."""

from __future__ import annotations

import hashlib

from aiohttp import web

from strongroom import checksums
from strongroom.errors import S3Error
from strongroom.s3.body import Body
from strongroom.s3.context import Ctx
from strongroom.s3.object_headers import check_md5, checksum_request, content_md5


def xml_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=body, headers=headers, content_type="application/xml")


def verify_document_digest(ctx: Ctx, data: bytes, trailers: dict[str, str]) -> None:
    """Content-MD5 or an x-amz-checksum-* over a small document body."""
    md5 = content_md5(ctx.headers)
    if md5 is not None:
        check_md5(md5, hashlib.md5(data, usedforsecurity=False).hexdigest())
    wanted = checksum_request(ctx.headers)
    computed = {}
    for alg in wanted.algorithms:
        h = checksums.new(alg)
        h.update(data)
        computed[alg] = h.b64digest()
    wanted.verify(computed, trailers)


async def read_document(ctx: Ctx, limit: int, too_large: S3Error) -> bytes:
    """The body of an access-control Put*, checked against Content-MD5 or an x-amz-checksum-* when the
    request has one. None is required: botocore marks these operations requestChecksumRequired, but
    s3cmd, which works against AWS, sends PutBucketPolicy and PutObjectAcl bodies without either
    (S3/S3.py set_policy, set_acl), unlike the operations where AWS insists (set_cors, set_lifecycle)."""
    body = Body(ctx)
    data = await body.read_all(limit, too_large)
    verify_document_digest(ctx, data, body.trailers)
    return data
