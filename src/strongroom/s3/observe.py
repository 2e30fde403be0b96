"""What every answered S3 request leaves behind: its counts in the metrics and its access-log line.

Called once per request by the dispatcher, after the handler. The hot path's cost is kept small: the
labelled children of the request metrics are looked up once per (operation, status) and kept, and the
access log's line is one dict, encoded by the C JSON encoder and written with one write() (measured
with callgrind: README, Operating strongroom).
"""

from __future__ import annotations

import time

from aiohttp import web

from strongroom import metrics
from strongroom.identity import user_arn
from strongroom.logs import AccessLog
from strongroom.s3 import log_delivery
from strongroom.s3.bucket_logging import KIND as LOGGING
from strongroom.s3.context import Ctx, Services

ERROR_CODE = "strongroom.error_code"  # the S3 error code a failed request was answered with
OPERATION = "strongroom.operation"  # the routed operation's name, set before anything can refuse it
REFUSED = "strongroom.refused"  # the Ctx of a request refused before its handler (authorization, ...)
UNKNOWN = "Unknown"

_counters: dict[tuple[str, int], metrics.Counter] = {}
_durations: dict[str, metrics.Histogram] = {}
_NO_CONFIGS: dict[str, str] = {}


def _counter(operation: str, status: int) -> metrics.Counter:
    child = _counters.get((operation, status))
    if child is None:
        child = _counters[(operation, status)] = metrics.S3_REQUESTS.labels(operation, str(status))
    return child


def _duration(operation: str) -> metrics.Histogram:
    child = _durations.get(operation)
    if child is None:
        child = _durations[operation] = metrics.S3_DURATION.labels(operation)
    return child


def _body_bytes(request: web.Request, response: web.StreamResponse) -> int:
    """The response body's size: its Content-Length (aiohttp's own count, body_length, includes the
    headers); a chunked answer (no length) counts what was written, headers included."""
    if request.method == "HEAD":
        return 0
    length = response.content_length
    if length is not None:
        return length
    return response.body_length


def answered(request: web.Request, services: Services, ctx: Ctx | None, response: web.StreamResponse,
             start: float) -> None:
    duration = time.perf_counter() - start
    # A miss in a web.Request's mapping raises and catches a KeyError: looked up only where it is set.
    operation = request[OPERATION] if ctx is not None else request.get(OPERATION, UNKNOWN)
    status = response.status
    received = request.content.total_bytes
    sent = _body_bytes(request, response)
    _counter(operation, status).inc()
    _duration(operation).observe(duration)
    if received:
        metrics.S3_BYTES_RECEIVED.inc(received)
    if sent:
        metrics.S3_BYTES_SENT.inc(sent)
    access_log: AccessLog | None = services.access_log
    # The bucket's configs were read by authorization: whether it logs into a bucket costs a lookup. A
    # request refused by authorization is recorded too (AWS records denied requests).
    context = ctx if ctx is not None else request.get(REFUSED)
    logged = (context is not None and context.bucket is not None
              and LOGGING in context.configs.get(context.bucket.name, _NO_CONFIGS))
    if access_log is None and not logged:
        return
    headers = response.headers
    sse = headers.get("x-amz-server-side-encryption")
    if sse is None and "x-amz-server-side-encryption-customer-algorithm" in headers:
        sse = "SSE-C"
    user = ctx.principal.user if ctx is not None else None
    line = {
        "time": access_log.now() if access_log is not None else "",
        "request_id": request.get("request_id", ""),
        "remote": request.remote or "",
        "principal": user_arn(services.account_id, user) if user is not None else "",
        "operation": operation,
        "bucket": ctx.bucket_name if ctx is not None else None,
        "key": ctx.key if ctx is not None else None,
        "version_id": headers.get("x-amz-version-id") or (ctx.query.get("versionId") if ctx else None),
        "status": status,
        "error_code": request.get(ERROR_CODE) if status >= 400 else None,
        "bytes_in": received,
        "bytes_out": sent,
        "duration_ms": round(duration * 1000, 3),
        "sse": sse,
        "kms_key_arn": headers.get("x-amz-server-side-encryption-aws-kms-key-id"),
    }
    if access_log is not None:
        access_log.write(line)
    if logged:
        assert context is not None
        log_delivery.add(services.server_access_logs, context, response, line, time.time() - duration)
