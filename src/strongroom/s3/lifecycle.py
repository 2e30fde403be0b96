"""Lifecycle handlers: Put/GetBucketLifecycleConfiguration, DeleteBucketLifecycle, and the
`x-amz-expiration` header of PUT, GET and HEAD of an object a rule will expire.

The document is `lifecycle_wire`'s; the rules and their day arithmetic `strongroom.lifecycle`'s; the worker
that applies them `vault/lifecycle.py`'s. A bucket's configuration is the catalog config kind "lifecycle".
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from strongroom import lifecycle
from strongroom.catalog.model import ObjectVersion
from strongroom.errors import malformed_xml
from strongroom.s3 import lifecycle_wire as wire
from strongroom.s3 import xml
from strongroom.s3.body import Body
from strongroom.s3.context import Ctx
from strongroom.s3.documents import verify_document_digest, xml_response
from strongroom.s3.object_headers import require_integrity_header

MAX_DOCUMENT = 1024 * 1024  # a thousand rules with filters and actions
MINIMUM_SIZE_HEADER = "x-amz-transition-default-minimum-object-size"


async def put_bucket_lifecycle_configuration(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    require_integrity_header(ctx.headers)  # requestChecksumRequired (API reference, botocore's model)
    minimum = wire.minimum_object_size(ctx.headers.get(MINIMUM_SIZE_HEADER))
    body = Body(ctx)
    data = await body.read_all(MAX_DOCUMENT, malformed_xml())
    verify_document_digest(ctx, data, body.trailers)
    stored = wire.parse(data, minimum)
    await ctx.services.write(ctx.services.catalog.put_bucket_config, ctx.bucket.name, lifecycle.KIND, stored)
    return web.Response(status=200, headers={MINIMUM_SIZE_HEADER: minimum})


async def get_bucket_lifecycle_configuration(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    stored = (await ctx.bucket_configs(ctx.bucket.name)).get(lifecycle.KIND)
    if stored is None:
        raise wire.no_such_lifecycle_configuration(ctx.bucket.name)
    body, minimum = wire.render(stored)
    return xml_response(body, headers={MINIMUM_SIZE_HEADER: minimum})


async def delete_bucket_lifecycle(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    await ctx.services.write(ctx.services.catalog.put_bucket_config, ctx.bucket.name, lifecycle.KIND, None)
    return web.Response(status=204)


async def expiration_headers(ctx: Ctx, version: ObjectVersion) -> dict[str, str]:
    """x-amz-expiration for a current version a rule will expire (S3 API reference, GetObject: "It includes
    the expiry-date and rule-id key-value pairs ... The value of the rule-id is URL-encoded"). The bucket's
    configs are read once per request already: a bucket without lifecycle costs one dict lookup."""
    assert ctx.bucket is not None
    stored = (await ctx.bucket_configs(ctx.bucket.name)).get(lifecycle.KIND)
    if stored is None or version.delete_marker:
        return {}
    found = lifecycle.expiration(lifecycle.rules_of(stored), version.key, version.size, version.tags,
                                 version.last_modified, ctx.services.config.lifecycle_day_seconds)
    if found is None:
        return {}
    when, rule_id = found
    return {"x-amz-expiration": f'expiry-date="{xml.http_date(when)}", rule-id="{quote(rule_id, safe="")}"'}
