"""The one request handler: name the request, route it, authenticate, authorize, run the handler.

Every response carries x-amz-request-id and x-amz-id-2; every failure becomes
the S3 `<Error>` document (no body for HEAD). Unexpected exceptions are logged
with the request id and answered as InternalError; nothing secret is logged.
"""

from __future__ import annotations

import base64
import logging
import random
from urllib.parse import parse_qsl, unquote

from aiohttp import web
from multidict import MultiDict

from strongroom.errors import S3Error, access_denied, internal_error, no_such_bucket, not_implemented
from strongroom.s3 import xml
from strongroom.s3.auth import authenticate
from strongroom.s3.authorization import authorize
from strongroom.s3.context import Ctx, Services
from strongroom.s3.handlers import HANDLERS, Handler
from strongroom.s3.routing import Operation, route

log = logging.getLogger("strongroom.request")

SERVICES_KEY: web.AppKey[Services] = web.AppKey("services", Services)

# Request ids are not secrets: the random module (reseeded in each forked worker) saves the
# getrandom() system call per request that secrets would make.
def new_request_id() -> str:
    return f"{random.getrandbits(64):016X}"


def split_target(request: web.Request, base_domain: str) -> tuple[str | None, str | None, str]:
    """(bucket, key, raw query) from virtual-hosted-style or path-style addressing."""
    raw_path, _, raw_query = request.raw_path.partition("?")
    host = (request.headers.get("host") or "").rsplit(":", 1)[0].lower()
    if host.startswith("["):  # IPv6 literal
        host = ""
    suffix = "." + base_domain.lower()
    if base_domain and host.endswith(suffix) and len(host) > len(suffix):
        bucket: str | None = host[: -len(suffix)]
        key_part = raw_path[1:]
    else:
        path = raw_path[1:]
        bucket_part, slash, key_part = path.partition("/")
        bucket = unquote(bucket_part) or None
        if not slash:
            key_part = ""
    key = unquote(key_part) if key_part else None
    return bucket, key, raw_query


def error_response(err: S3Error, ctx_resource: str, request_id: str, head: bool) -> web.Response:
    headers = {"x-amz-request-id": request_id, "x-amz-id-2": host_id(), **err.headers}
    if head:
        return web.Response(status=err.status, headers=headers)
    details = "".join(xml.el(k, v) for k, v in err.details.items())
    body = (
        f"{xml.DECLARATION}<Error>{xml.el('Code', err.code)}{xml.el('Message', err.message)}{details}"
        f"{xml.el('Resource', ctx_resource)}{xml.el('RequestId', request_id)}"
        f"{xml.el('HostId', headers['x-amz-id-2'])}"
        "</Error>"
    ).encode()
    return web.Response(status=err.status, body=body, headers=headers, content_type="application/xml")


def host_id() -> str:
    return base64.b64encode(random.randbytes(32)).decode()


async def handle(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES_KEY]
    request_id = request["request_id"] = new_request_id()
    head = request.method == "HEAD"
    resource = request.path
    try:
        bucket_name, key, raw_query = split_target(request, services.config.base_domain)
        query = MultiDict(parse_qsl(raw_query, keep_blank_values=True))
        op = route(request.method, bucket_name is not None, key is not None, query, request.headers)
        if op is None:
            raise not_implemented()
        ctx = Ctx(request, services, op, request_id, bucket_name, key, query)
        resource = ctx.resource
        ctx.secure = request.secure or services.config.behind_tls_proxy
        handler: Handler | None = HANDLERS.get(op)
        if handler is None:
            raise not_implemented()  # handlers.NOT_IMPLEMENTED
        if op is not Operation.PostService and op is not Operation.PostObject:
            await authenticate(ctx)
        if op.scope != "service" and op is not Operation.CreateBucket:
            ctx.bucket = await services.read(services.catalog.get_bucket, bucket_name)
            if ctx.bucket is None:
                raise no_such_bucket(bucket_name or "")
            expected_owner = request.headers.get("x-amz-expected-bucket-owner")
            if expected_owner is not None and expected_owner != services.account_id:
                raise access_denied()  # one account per deployment: every bucket is the account's
        await authorize(ctx)
        response = await handler(ctx)
    except S3Error as err:
        if err.status >= 500:
            log.error("request %s %s %s: %s", request_id, request.method, resource, err.code)
        return error_response(err, resource, request_id, head)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("request %s %s %s failed", request_id, request.method, resource)
        return error_response(internal_error(), resource, request_id, head)
    return response


async def add_request_ids(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response, streamed ones included, carries the request ids."""
    if "x-amz-request-id" not in response.headers:
        response.headers["x-amz-request-id"] = request.get("request_id", "") or new_request_id()
        response.headers["x-amz-id-2"] = host_id()
    # aiohttp has already put its own name and version here by the time this hook runs: replace it.
    response.headers["Server"] = "strongroom"
