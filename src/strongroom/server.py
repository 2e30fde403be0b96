"""Running the server: N worker processes on one port, TLS, graceful stop."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import socket
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from strongroom import logs, metrics, process
from strongroom.app import create_app
from strongroom.config import Config
from strongroom.deployment import check_deployment

log = logging.getLogger("strongroom")


def ssl_context(config: Config) -> ssl.SSLContext | None:
    if config.tls_cert is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(config.tls_cert), str(config.tls_key) if config.tls_key else None)
    return ctx


def bind(config: Config, listen: bool = True, share: bool = False) -> socket.socket:
    """A socket on the configured port. With `share`, SO_REUSEPORT lets every worker listen on its own
    socket of the same port; a single server never sets it, so a port in use is an error, not a
    second store silently splitting the traffic."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as e:
        sock.close()
        raise SystemExit(f"strongroom: cannot listen on {config.host}:{config.port}: {e.strerror}") from None
    if listen:
        sock.listen(1024)
    return sock


class ClientFaultsAtInfo(logging.Filter):
    """aiohttp logs a request it cannot parse (a client's fault, answered 4xx by aiohttp itself) as an
    ERROR with a traceback: anyone could flood the error log with them. Such a record becomes one INFO
    line; a fault of our own stays an ERROR."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            record.msg = f"{record.getMessage()}: {exc.code} {type(exc).__name__}"
            record.args = ()
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = record.exc_text = None
            return logging.getLogger(record.name).isEnabledFor(logging.INFO)
        return True


def _tune_gc() -> None:
    """The cyclic collector ran for a fifth of a 1000-key listing's catalog time, triggered by the
    short-lived records every request makes (they are freed by reference counting; few cycles form).
    Start-up objects go to the permanent generation, and young collections come ten times rarer."""
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young * 10, middle, old)


def _serve_one(config: Config, sock: socket.socket | None = None,
               ready: Callable[[], None] | None = None) -> None:
    import uvloop

    process.harden()  # again in a spawned worker: exec made it dumpable
    logs.configure(config.log_level, config.log_format)  # a spawned worker starts with no logging
    logging.getLogger("aiohttp.server").addFilter(ClientFaultsAtInfo())

    if sock is None:
        sock = bind(config, share=True)
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    # Registers in the catalog's registry of servers, or refuses to start (a rotation, the clock).
    app = create_app(config, endpoint(config, sock.getsockname()[1]))
    if ready is not None:
        # Said once the app runs: its signal handlers are in place, so a stop at once still deregisters.
        async def say_ready(_app: web.Application) -> None:
            ready()

        app.on_startup.append(say_ready)
    _tune_gc()
    web.run_app(
        app,
        sock=sock,
        ssl_context=ssl_context(config),
        print=None,
        access_log=None,
        handle_signals=True,
        loop=loop,
        shutdown_timeout=5.0,
    )


def serve(config: Config, ready: callable | None = None) -> None:  # type: ignore[valid-type]
    check_deployment(config)  # refuse a data directory or a root key that is not this catalog's
    if config.workers <= 1:
        sock = bind(config)
        port = sock.getsockname()[1]
        _serve_one(config, sock, None if ready is None else lambda: ready(port))
        return
    # The parent only reserves the port (bound, not listening: the kernel gives it no connections);
    # each worker listens on its own SO_REUSEPORT socket and the kernel spreads connections over them.
    if config.port:
        bind(config, listen=False).close()  # the port must be free: no one else's workers may be on it
    reserved = bind(config, listen=False, share=True)
    # Every worker's metrics in one scrape: prometheus_client reads PROMETHEUS_MULTIPROC_DIR when a
    # (spawned) worker first imports it, and keeps that worker's values in files there (metrics.py).
    metrics_dir = Path(tempfile.mkdtemp(prefix="strongroom-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    config = replace(config, port=reserved.getsockname()[1], metrics_dir=metrics_dir)
    if ready is not None:
        ready(config.port)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_serve_one, args=(config,), daemon=False) for _ in range(config.workers)]
    for p in procs:
        p.start()

    asked_to_stop = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal asked_to_stop
        asked_to_stop = True
        for p in procs:
            if p.pid and p.exitcode is None:
                os.kill(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # A worker that ends on its own (it refused to start: a rotation runs, or its clock is off) ends the
    # server: the others are stopped rather than left serving on part of the port's workers.
    failed = 0
    running = list(procs)
    while running:
        ended = multiprocessing.connection.wait([p.sentinel for p in running])
        for p in [p for p in running if p.sentinel in ended]:
            p.join()
            running.remove(p)
            if p.pid is not None:
                metrics.process_ended(metrics_dir, p.pid)
            if p.exitcode and not asked_to_stop and not failed:
                failed = p.exitcode if p.exitcode > 0 else 1
                stop(signal.SIGTERM, None)
    shutil.rmtree(metrics_dir, ignore_errors=True)
    if failed:
        raise SystemExit(failed)


def endpoint(config: Config, port: int) -> str:
    scheme = "https" if config.tls else "http"
    host = f"[{config.host}]" if ":" in config.host else config.host
    return f"{scheme}://{host}:{port}"


def data_dir_of(path: str | Path) -> Path:
    return Path(path).expanduser()
