"""The one request handler: name the request, route it, authenticate, authorize, run the handler.

Every response carries x-amz-request-id and x-amz-id-2; every failure becomes
the S3 `<Error>` document (no body for HEAD). Unexpected exceptions are logged
with the request id and answered as InternalError; nothing secret is logged.
Refused requests (4xx, and 501 for what strongroom does not implement) are logged
at INFO: anyone can send them, and they must not flood the error log.

`prepare` is everything before the handler (routing, the per-process caps,
authentication, the bucket, authorization). It runs once per request: for a request
with `Expect: 100-continue` it runs before `100 Continue` is sent, so a request it
refuses gets its error instead and its body is never received.
"""

from __future__ import annotations

import base64
import logging
import random
import time
from urllib.parse import parse_qsl, unquote_to_bytes

from aiohttp import HttpVersion11, web
from multidict import MultiDict

from strongroom.db.database import DatabaseBusy
from strongroom.errors import (
    OutOfSpace,
    S3Error,
    access_denied,
    internal_error,
    no_such_bucket,
    not_implemented,
    storage_full,
)
from strongroom.s3 import audit_trail, cors_requests, observe, probes, xml
from strongroom.s3.auth import authenticate
from strongroom.s3.authorization import authorize
from strongroom.s3.context import Ctx, Services
from strongroom.s3.handlers import HANDLERS, Handler
from strongroom.s3.limits import Gate, slow_down
from strongroom.s3.routing import Operation, route

log = logging.getLogger("strongroom.request")

SERVICES_KEY: web.AppKey[Services] = web.AppKey("services", Services)
GATE_KEY: web.AppKey[Gate] = web.AppKey("gate", Gate)
_PREPARED = "strongroom.prepared"  # the request's (Ctx, handler), when the Expect handler prepared it
_CORS = "strongroom.cors"  # the CORS headers of a request with an Origin, added to whatever it is answered
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


# Request ids are not secrets: the random module (reseeded in each forked worker) saves the
# getrandom() system call per request that secrets would make.
_REFUSALS_OF_NEW_WORK = frozenset({"SlowDown", "StorageFull", "ServiceUnavailable"})


def new_request_id() -> str:
    return f"{random.getrandbits(64):016X}"


def invalid_uri() -> S3Error:
    # S3 API reference, Error responses, List of error codes: InvalidURI, 400, "Couldn't parse the
    # specified URI." AWS's exact answer to a key or bucket name that is not UTF-8 is not in the
    # documentation (keys are "a sequence of Unicode characters whose UTF-8 encoding is at most 1,024
    # bytes long": S3 user guide, Naming Amazon S3 objects); this is the documented code for a URI
    # that cannot be parsed, and the one AWS is recorded answering for such keys (Apache Ozone,
    # HDDS-15958).
    return S3Error("InvalidURI", 400, "Couldn't parse the specified URI.")


def _text(encoded: str) -> str:
    """A percent-encoded path segment as text; bytes that are not UTF-8 are InvalidURI (never
    replaced: `%FF` and `%FE` must not both become U+FFFD and so one object)."""
    if encoded.isascii() and "%" not in encoded:
        return encoded  # nothing to decode (most keys): it is its own text
    try:
        return unquote_to_bytes(encoded).decode("utf-8")
    except UnicodeError:  # not UTF-8, or a raw byte aiohttp kept as a lone surrogate
        raise invalid_uri() from None


def _utf8(text: str) -> str:
    """`text` if it is text: a header byte that is not UTF-8 reaches us as a lone surrogate."""
    try:
        text.encode()
    except UnicodeError:
        raise invalid_uri() from None
    return text


def split_target(request: web.Request, base_domain: str) -> tuple[str | None, str | None, str]:
    """(bucket, key, raw query) from virtual-hosted-style or path-style addressing."""
    raw_path, _, raw_query = request.raw_path.partition("?")
    host = (request.headers.get("host") or "").rsplit(":", 1)[0].lower()
    if host.startswith("["):  # IPv6 literal
        host = ""
    suffix = "." + base_domain.lower()
    if base_domain and host.endswith(suffix) and len(host) > len(suffix):
        bucket: str | None = _utf8(host[: -len(suffix)])  # a Host header is not percent-encoded
        key_part = raw_path[1:]
    else:
        path = raw_path[1:]
        bucket_part, slash, key_part = path.partition("/")
        bucket = _text(bucket_part) or None
        if not slash:
            key_part = ""
    key = _text(key_part) if key_part else None
    return bucket, key, raw_query


def error_response(err: S3Error, ctx_resource: str, request_id: str, head: bool) -> web.Response:
    headers = {"x-amz-request-id": request_id, "x-amz-id-2": host_id(), **err.headers}
    if head:
        return web.Response(status=err.status, headers=headers)
    details = "".join(xml.el(k, v) for k, v in err.details.items())
    resource = xml.el("Resource", ctx_resource) if ctx_resource else ""  # S3's CORS answers name none
    body = (
        f"{xml.DECLARATION}<Error>{xml.el('Code', err.code)}{xml.el('Message', err.message)}{details}"
        f"{resource}{xml.el('RequestId', request_id)}"
        f"{xml.el('HostId', headers['x-amz-id-2'])}"
        "</Error>"
    ).encode()
    return web.Response(status=err.status, body=body, headers=headers, content_type="application/xml")


def host_id() -> str:
    return base64.b64encode(random.randbytes(32)).decode()


def _failed(request: web.Request, exc: Exception, resource: str) -> web.Response:
    """The answer to a request that raised `exc`; web.HTTPException is aiohttp's and passes through."""
    if isinstance(exc, web.HTTPException):
        raise exc
    request_id = request["request_id"]
    if isinstance(exc, OutOfSpace):  # the catalog's filesystem filled under a write (SQLite)
        exc = storage_full()
    elif isinstance(exc, DatabaseBusy):  # every catalog connection busy for --db-pool-timeout: not now
        exc = slow_down()
    if isinstance(exc, S3Error):
        err = exc
        request[observe.ERROR_CODE] = err.code
        # A server fault is an ERROR; a refusal (4xx) or an operation not implemented (501) is not,
        # and our own refusals of new work (SlowDown beyond a cap, StorageFull at the free-space
        # reserve, ServiceUnavailable while not ready: servers.py logs the cause once as an ERROR)
        # are WARNINGs: each is one per request anyone can send, and none may flood the
        # error log.
        level = (logging.INFO if err.status < 500 or err.status == 501
                 else logging.WARNING if err.code in _REFUSALS_OF_NEW_WORK else logging.ERROR)
        log.log(level, "request %s %s %s: %s", request_id, request.method, resource, err.code)
    else:
        err = internal_error()
        request[observe.ERROR_CODE] = err.code
        log.error("request %s %s %s failed", request_id, request.method, resource, exc_info=exc)
    response = error_response(err, resource, request_id, request.method == "HEAD")
    if err.code in ("SlowDown", "RequestTimeout"):
        response.force_close()  # a connection over its cap, or a body too slow: not kept for more
    return response


async def prepare(request: web.Request) -> tuple[Ctx, Handler] | web.Response:
    """Everything before the handler; an error response when the request is refused."""
    services = request.app[SERVICES_KEY]
    request["request_id"] = request_id = new_request_id()
    resource = request.path
    ctx: Ctx | None = None
    try:
        bucket_name, key, raw_query = split_target(request, services.config.base_domain)
        if request.method == "OPTIONS":  # a CORS preflight: unauthenticated, answered from the rules alone
            resource = ""
            request.app[GATE_KEY].check(request)
            return await cors_requests.preflight(services, bucket_name, key is not None, request.headers)
        origin = request.headers.get("origin")
        if origin is not None and bucket_name is not None:  # from a browser: its answer carries CORS headers
            request[_CORS] = await cors_requests.actual_headers(services, bucket_name, request.method, origin)
        query = MultiDict(parse_qsl(raw_query, keep_blank_values=True))
        op = route(request.method, bucket_name is not None, key is not None, query, request.headers)
        if op is None:
            raise not_implemented()
        request[observe.OPERATION] = op._name_  # Enum's documented attribute: `name` is a slower property
        ctx = Ctx(request, services, op, request_id, bucket_name, key, query)
        resource = ctx.resource
        ctx.secure = request.secure or services.config.behind_tls_proxy
        handler: Handler | None = HANDLERS.get(op)
        if handler is None:
            raise not_implemented()  # handlers.NOT_IMPLEMENTED
        request.app[GATE_KEY].check(request)
        if op is not Operation.PostService and op is not Operation.PostObject:
            await authenticate(ctx)
        if op.scope != "service" and op is not Operation.CreateBucket:
            ctx.bucket = await services.bucket(bucket_name or "")
            if ctx.bucket is None:
                raise no_such_bucket(bucket_name or "")
            expected_owner = request.headers.get("x-amz-expected-bucket-owner")
            if expected_owner is not None and expected_owner != services.account_id:
                raise access_denied()  # one account per deployment: every bucket is the account's
        await authorize(ctx)
    except Exception as exc:
        if ctx is not None:
            request[observe.REFUSED] = ctx  # its server access log record (observe.answered)
        return _failed(request, exc, resource)
    return ctx, handler


async def expect_continue(request: web.Request) -> web.StreamResponse | None:
    """aiohttp's Expect handler: `100 Continue` only for a request `prepare` accepts; otherwise its
    error, on a connection then closed (the client never sends the body it announced)."""
    if request.version != HttpVersion11 or request.headers.get("expect", "").lower() != "100-continue":
        return None  # HTTP/1.0 has no interim responses; another expectation is left to the handler
    start = time.perf_counter()
    prepared = await prepare(request)
    if isinstance(prepared, web.StreamResponse):
        # The client holds its body back until told to send it: answer, then close at once rather
        # than linger (aiohttp's default, 10 s) for a body that is not coming.
        prepared.force_close()
        await prepared.prepare(request)
        await prepared.write_eof()
        request.protocol.force_close()
        observe.answered(request, request.app[SERVICES_KEY], None, prepared, start)  # the request ends here
        return prepared
    request[_PREPARED] = prepared
    await request.writer.write(_CONTINUE)
    request.writer.output_size = 0  # the response proper has not started
    return None


async def handle(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES_KEY]
    if request.path in probes.PATHS and probes.is_probe(request, services.config.base_domain):
        return await probes.answer(request, services)  # not an S3 request: neither counted nor logged
    start = time.perf_counter()
    # Only a request with an Expect header can have been prepared already (a miss in a web.Request's
    # mapping raises and catches a KeyError: about 2 us a request).
    prepared = (request.get(_PREPARED) if "expect" in request.headers else None) or await prepare(request)
    if isinstance(prepared, web.StreamResponse):
        observe.answered(request, services, None, prepared, start)
        return prepared
    ctx, handler = prepared
    gate = request.app[GATE_KEY]
    receiving = request.body_exists
    if receiving:
        gate.bodies += 1
    try:
        if services.audit is not None and ctx.op in audit_trail.AUDITED:
            was = await audit_trail.before(ctx)
            response = await handler(ctx)
            if response.status < 300:
                await audit_trail.after(ctx, was)
        else:
            response = await handler(ctx)
    except Exception as exc:
        response = _failed(request, exc, ctx.resource)
    finally:
        if receiving:
            gate.bodies -= 1
    observe.answered(request, services, ctx, response, start)
    return response


async def add_request_ids(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response, streamed ones included, carries the request ids."""
    if "x-amz-request-id" not in response.headers:
        response.headers["x-amz-request-id"] = request.get("request_id", "") or new_request_id()
        response.headers["x-amz-id-2"] = host_id()
    if "origin" in request.headers:
        response.headers.update(request.get(_CORS) or {})
    # aiohttp has already put its own name and version here by the time this hook runs: replace it.
    response.headers["Server"] = "strongroom"
