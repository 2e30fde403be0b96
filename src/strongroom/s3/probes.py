"""The operator's endpoints on the S3 port: the health probes and the Prometheus scrape (issue 13).

- `GET|HEAD /health/live` (and `/minio/health/live`): 200 while the process serves requests.
- `GET|HEAD /health/ready` (and `/minio/health/ready`): 200 when every check below passes, else 503 with
  a JSON body naming each check that failed and why.
- `GET /metrics`: the Prometheus text format; behind a bearer token when one is configured.

None is authenticated as S3 is, and none touches object data. They must not take a bucket's requests:
a request is one of these only when its path is one of them, it is path-style (its Host is not
`<bucket>.<base domain>`: a virtual-hosted request always names a bucket, so a bucket named `health`,
`minio` or `metrics` keeps all its keys there), and it carries no S3 signature (no AWS Authorization
header, no presigned query). So an unsigned path-style GET of `/health/live` is the probe even if a
bucket `health` holds a public key `live`; every signed request, and every virtual-hosted one, is S3's.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import sqlite3
import stat
from collections.abc import Awaitable, Callable

from aiohttp import web

from strongroom import metrics
from strongroom.deployment import key_ids, recorded_root_keys
from strongroom.s3.context import Services

log = logging.getLogger("strongroom")

LIVE = frozenset({"/health/live", "/minio/health/live"})
READY = frozenset({"/health/ready", "/minio/health/ready"})
METRICS = "/metrics"
PATHS = LIVE | READY | {METRICS}
CHECK_TIMEOUT = 5.0  # seconds a check may take before it counts as failed (a hung catalog or KMS)
_JSON = "application/json"


def is_probe(request: web.Request, base_domain: str) -> bool:
    """Whether a request whose path is in PATHS is ours rather than S3's (the module's rule)."""
    if request.method not in ("GET", "HEAD"):
        return False
    host = (request.headers.get("host") or "").rsplit(":", 1)[0].lower()
    if base_domain and host.endswith("." + base_domain.lower()):
        return False  # virtual-hosted: the bucket's
    authorization = request.headers.get("authorization", "")
    if authorization and not authorization.startswith("Bearer "):
        return False  # signed (SigV4 or SigV2): an S3 request
    query = request.query
    return "X-Amz-Signature" not in query and "Signature" not in query


async def answer(request: web.Request, services: Services) -> web.Response:
    path = request.path
    if path in LIVE:
        return _json(request, 200, {"status": "live"})
    if path in READY:
        failed = await readiness_failures(services)
        metrics.READY.set(0 if failed else 1)
        if failed:
            return _json(request, 503, {"status": "not ready", "failed": failed})
        return _json(request, 200, {"status": "ready"})
    return scrape(request, services)


def scrape(request: web.Request, services: Services) -> web.Response:
    token = services.config.metrics_token
    if token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return web.Response(status=401, text="a bearer token is required\n",
                                headers={"WWW-Authenticate": 'Bearer realm="strongroom metrics"'})
    body, content_type = metrics.exposition(services.config.metrics_dir)
    response = web.Response(status=200, body=b"" if request.method == "HEAD" else body)
    response.headers["Content-Type"] = content_type
    return response


def _json(request: web.Request, status: int, document: dict[str, object]) -> web.Response:
    body = b"" if request.method == "HEAD" else json.dumps(document).encode() + b"\n"
    response = web.Response(status=status, body=body)
    response.headers["Content-Type"] = _JSON
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the readiness checks ------------------------------------------------------------------------------


class ReadyGauge:
    """Runs the readiness checks every `interval` seconds, so that strongroom_ready (which an alert
    watches) is current even where nothing probes /health/ready."""

    def __init__(self, services: Services, interval: float) -> None:
        self.services, self.interval = services, interval
        self._task: asyncio.Task[None] | None = None

    async def start(self, _app: object = None) -> None:
        self._task = asyncio.get_running_loop().create_task(self._forever())

    async def close(self, _app: object = None) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _forever(self) -> None:
        was_ready = True
        while True:
            failed = await readiness_failures(self.services)
            metrics.READY.set(0 if failed else 1)
            if was_ready and failed:  # said once when it turns, not at every round
                log.warning("readiness checks fail: %s", "; ".join(f"{k}: {v}" for k, v in failed.items()))
            elif failed == {} and not was_ready:
                log.info("readiness checks pass again")
            was_ready = not failed
            await asyncio.sleep(self.interval)


async def readiness_failures(services: Services) -> dict[str, str]:
    """{check: why} for each check that failed; empty when the process is ready."""
    checks: dict[str, Callable[[], Awaitable[None]]] = {
        "catalog": lambda: services.run(_catalog_answers, services),
        "blobs": lambda: services.run(services.blobs.check_writable),
        "root_key": lambda: services.run(_root_key_matches, services),
        "kms": services.kms.ping,
    }
    names = list(checks)
    outcomes = await asyncio.gather(*(asyncio.wait_for(checks[n](), CHECK_TIMEOUT) for n in names),
                                    return_exceptions=True)
    failed = {name: _why(outcome) for name, outcome in zip(names, outcomes, strict=True)
              if isinstance(outcome, BaseException)}
    if not services.readiness.ready:  # the process's own causes: its clock, its registration
        failed["server"] = services.readiness.why
    return failed


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {CHECK_TIMEOUT:g} s"
    text = str(exc) or type(exc).__name__
    return text.removeprefix("strongroom: ")


def _catalog_answers(services: Services) -> None:
    """The SQLite catalog is read through a fresh read-only connection (the process's own connections
    stay open on a file that was removed or replaced); PostgreSQL answers a query on the pool."""
    if services.config.catalog_url:
        services.catalog.catalog_time()
        return
    path = services.config.catalog_path
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & 0o600 != 0o600:  # root would still open it; no other account of the server could
            raise sqlite3.OperationalError(f"its mode is {mode:03o}, not readable and writable by its owner")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=CHECK_TIMEOUT)
        try:
            conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()
        finally:
            conn.close()
    except (OSError, sqlite3.Error) as e:
        raise RuntimeError(f"the catalog {path} cannot be read: {e}") from None


def _root_key_matches(services: Services) -> None:
    recorded = recorded_root_keys(services.catalog)
    current = key_ids(services.config.root_keys)[0]
    if recorded is None or current not in recorded:
        raise RuntimeError(f"the root key (id {current}) is not the one the catalog records")
