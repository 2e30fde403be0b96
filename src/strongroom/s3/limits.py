"""Per-process caps on the wire: request bodies being received at once, open connections; and the
process's readiness (readiness.py: a clock beyond --max-clock-skew answers 503 ServiceUnavailable).

Both are counters read once per request on the event loop (one process is one thread of requests,
so no lock is needed). Beyond a cap the request is answered 503 SlowDown, as S3 answers a client
that asks too much of it; a connection beyond the connection cap is answered that way and closed.
The third limit, the minimum rate of a body, is enforced where bodies are read (s3/body.py).
"""

from __future__ import annotations

from aiohttp import web

from strongroom.config import Config
from strongroom.errors import S3Error
from strongroom.readiness import Readiness


def slow_down() -> S3Error:
    # S3 API reference, Error responses, List of error codes: SlowDown, 503, "Please reduce your
    # request rate."
    return S3Error("SlowDown", 503, "Please reduce your request rate.")


def service_unavailable(why: str) -> S3Error:
    # S3 API reference, Error responses, List of error codes: ServiceUnavailable, 503, "Service is
    # unable to handle request." What is wrong with this server follows: a client may try another.
    return S3Error("ServiceUnavailable", 503, f"Service is unable to handle request: this server is not "
                                              f"ready ({why}).")


class Gate:
    """The counters behind the caps of one server process, and its readiness."""

    __slots__ = ("bodies", "max_bodies", "max_connections", "readiness")

    def __init__(self, config: Config, readiness: Readiness | None = None) -> None:
        self.bodies = 0  # requests whose body is being received, in this process
        self.max_bodies = config.max_request_bodies
        self.max_connections = config.max_connections
        self.readiness = readiness or Readiness()

    def check(self, request: web.Request) -> None:
        """Raise ServiceUnavailable while the process is not ready, SlowDown for a request beyond a cap.
        Called before anything is read or answered (the dispatcher calls it before `100 Continue` too),
        so a refused body is never received."""
        if not self.readiness.ready:
            raise service_unavailable(self.readiness.why)
        if request.body_exists and self.bodies >= self.max_bodies:
            raise slow_down()
        if _over_connection_cap(request, self.max_connections):
            raise slow_down()


def _over_connection_cap(request: web.Request, cap: int) -> bool:
    """Whether this request's connection is beyond the first `cap` open connections of the process.

    aiohttp keeps the open connections of its server in a dict in the order they were made (removed
    when they close); it has no public hook at accept time, so the count is read here, per request.
    The connections made first keep being served; only those beyond the cap are refused, which
    costs a scan of the connections only while the process is over its cap.
    """
    manager = getattr(request.protocol, "_manager", None)
    connections = getattr(manager, "_connections", None)
    if connections is None or len(connections) <= cap:
        return False
    for position, handler in enumerate(connections):
        if handler is request.protocol:
            return position >= cap
    return True
