"""The registry of live processes: every serving process and every `root-key rotate` registers in the
catalog (table servers), heartbeats on the database's clock, and deregisters when it stops cleanly.

A process counts as alive while its heartbeat is younger than `Server.ALIVE_INTERVALS` of its own
interval; one killed with -9 counts until then. `strongroom servers` lists them from any machine that
can reach the catalog. Each heartbeat also measures this process's clock against the database's
(clock.py): a serving process whose clock has drifted past --max-clock-skew turns not-ready
(readiness.py) until it is back in bound, and so does one that could not heartbeat for as long as
others would take it for dead.

A root-key rotation and the servers exclude each other through the registry: each side registers
first and then looks for the other (the rotation for live servers, a server for a live rotation),
so that of a server and a rotation starting at the same moment at least one sees the other and
gives up; neither can slip past the other.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from strongroom import __version__
from strongroom.catalog.api import Catalog
from strongroom.catalog.model import Server, ServerRole
from strongroom.clock import Clock, stamp
from strongroom.periodic import Background
from strongroom.readiness import Readiness

log = logging.getLogger("strongroom")

DEFAULT_HEARTBEAT = 10.0  # seconds: --heartbeat-interval
ROTATION_HEARTBEAT = 5.0  # a rotation's own heartbeat (it has no option)
SERVE: ServerRole = "serve"
ROTATE: ServerRole = "root-key rotate"


class Refused(SystemExit):
    """A server that may not start while a rotation runs, or a rotation while servers run."""


class CutOff(Exception):
    """A server that was cut off from the catalog while a root-key rotation ran: it must not serve."""


def describe(server: Server, now: float) -> str:
    at = f", {server.address}" if server.address else ""
    return (f"{server.role} on {server.host} (pid {server.pid}{at}, since {stamp(server.started)}, "
            f"last heartbeat {max(0.0, now - server.heartbeat):.0f} s ago)")


def listing(catalog: Catalog, dead_too: bool = False) -> list[str]:
    """`strongroom servers`: one line per registered process (tab-separated: id, alive or dead,
    address, version, description), the dead ones only with `dead_too`."""
    servers, now = catalog.list_servers()
    return [f"{s.server_id}\t{'alive' if s.alive(now) else 'dead'}\t{s.address or '-'}\t{s.version}\t"
            f"{describe(s, now)}" for s in servers if dead_too or s.alive(now)]


def alive(catalog: Catalog, role: ServerRole, but: str = "") -> tuple[list[Server], float]:
    """The live processes of `role` (except the one with id `but`), and the database's time."""
    servers, now = catalog.list_servers()
    return [s for s in servers if s.role == role and s.alive(now) and s.server_id != but], now


class Registration:
    """This process's row in the registry."""

    def __init__(self, catalog: Catalog, role: ServerRole, address: str, interval: float,
                 clock: Clock) -> None:
        self.catalog, self.clock = catalog, clock
        self.record = Server(uuid.uuid4().hex, role, socket.gethostname(), os.getpid(), address, __version__,
                             0.0, 0.0, interval)
        self.last_beat = 0.0  # time.monotonic() of the last heartbeat the catalog took

    @property
    def server_id(self) -> str:
        return self.record.server_id

    def register(self) -> None:
        self.clock.measure(lambda: self.catalog.register_server(self.record))
        self.last_beat = time.monotonic()

    def beat(self) -> bool:
        """One heartbeat (it measures the clock's offset too); False if the row is gone (then it is
        added again: the caller decides whether the process may go on)."""
        if self.clock.measure(lambda: self.catalog.heartbeat(self.server_id)) is None:
            self.register()
            return False
        self.last_beat = time.monotonic()
        return True

    def stale(self) -> bool:
        """Whether others may already take this process for dead (no heartbeat taken for that long)."""
        return time.monotonic() - self.last_beat >= Server.ALIVE_INTERVALS * self.record.interval

    def close(self) -> None:
        try:
            self.catalog.deregister_server(self.server_id)
        except Exception as e:  # noqa: BLE001 - the row expires by itself
            log.warning("could not deregister from the catalog (%s); the registration expires by itself",
                        type(e).__name__)


def _rotation_running(catalog: Catalog, but: str = "") -> str | None:
    rotations, now = alive(catalog, ROTATE, but)
    return None if not rotations else "; ".join(describe(r, now) for r in rotations)


def register_server(catalog: Catalog, clock: Clock, address: str, interval: float) -> Registration:
    """Register a serving process; refuse (Refused, ClockSkewed), deregistered again, when its clock is
    beyond --max-clock-skew or a root-key rotation is running."""
    registration = Registration(catalog, SERVE, address, interval, clock)
    registration.register()
    try:
        clock.check_start()
        rotating = _rotation_running(catalog)
        if rotating:
            raise Refused(f"strongroom: a root-key rotation is running on this catalog ({rotating}): "
                          "start the server once it has finished")
    except BaseException:
        registration.close()
        raise
    return registration


class RotationLock:
    """The registry entry of a running `root-key rotate`, kept alive by a thread of its own."""

    def __init__(self, catalog: Catalog) -> None:
        self.registration = Registration(catalog, ROTATE, "", ROTATION_HEARTBEAT, Clock())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="strongroom-rotation-heartbeat", daemon=True)

    def acquire(self) -> None:
        """Register, then refuse (Refused) if any server or another rotation is alive."""
        catalog = self.registration.catalog
        self.registration.register()
        try:
            others = _rotation_running(catalog, but=self.registration.server_id)
            if others:
                raise Refused(f"strongroom: another root-key rotation is running ({others})")
            serving, now = alive(catalog, SERVE)
            if serving:
                names = "\n".join(f"  {describe(s, now)}" for s in serving)
                raise Refused(
                    f"strongroom: {len(serving)} server(s) are running on this catalog:\n{names}\n"
                    "Stop them all, rotate, and start them again (a server that was killed counts as "
                    f"running until its heartbeat is {Server.ALIVE_INTERVALS} intervals old)."
                )
        except BaseException:
            self.registration.close()
            raise
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.registration.record.interval):
            try:
                self.registration.beat()
            except Exception as e:  # noqa: BLE001 - the next beat tries again
                log.warning("the rotation's heartbeat failed (%s)", type(e).__name__)

    def release(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.registration.close()


class Heartbeat:
    """A serving process's heartbeat task: stamps the registration every interval, and keeps the
    process's readiness as its clock and its registration say.

    `run` runs a blocking call off the event loop; `still_valid` is called when the process comes
    back after others may have taken it for dead (a rotation may have run meanwhile): it raises
    SystemExit when this process must not serve any more."""

    def __init__(self, registration: Registration, readiness: Readiness,
                 run: Callable[..., Awaitable[Any]], still_valid: Callable[[], None]) -> None:
        self.registration, self.readiness = registration, readiness
        self.run, self.still_valid = run, still_valid
        self._task = Background()

    async def start(self, _app: object = None) -> None:
        self._task.start(self._loop)

    async def close(self, _app: object = None) -> None:
        await self._task.stop()
        await self.run(self.registration.close)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.registration.record.interval)
            await self.tick()

    async def tick(self) -> None:
        was_stale = self.registration.stale()
        # A catalog that does not answer must not stop the judging below: after as long as others take
        # this server for dead, it turns not-ready even while the call still hangs.
        patience = Server.ALIVE_INTERVALS * self.registration.record.interval
        try:
            kept = await asyncio.wait_for(self.run(self.registration.beat), patience)
            if not kept or was_stale:
                await self.run(self._rejoin)
        except CutOff as e:  # cut off while the root key changed: never ready again
            if self.readiness.fail("root key", str(e)):
                log.error("not ready: %s", e)
        except Exception as e:  # noqa: BLE001 - judged below: a registration that goes stale
            log.warning("heartbeat to the catalog failed (%s: %s)", type(e).__name__, e)
        self.judge()

    def _rejoin(self) -> None:
        rotating = _rotation_running(self.registration.catalog)
        if rotating:
            raise CutOff(f"a root-key rotation started while this server was cut off from the catalog "
                         f"({rotating}): restart this server once it has finished")
        try:
            self.still_valid()
        except SystemExit as e:
            raise CutOff(f"{e.code}; restart this server") from None

    def judge(self) -> None:
        """Readiness from the last measurements; an ERROR when the process turns not-ready."""
        clock = self.registration.clock
        if not clock.in_bound:
            if self.readiness.fail("clock", f"clock skew: {clock.describe()}"):
                log.error("not ready: %s; answering 503 until it is back in bound", clock.describe())
        elif self.readiness.recover("clock"):
            log.warning("the clock is back within --max-clock-skew of the catalog's: ready again")
        if self.registration.stale():
            why = "the catalog has not taken this server's heartbeat for as long as others take it for dead"
            if self.readiness.fail("heartbeat", why):
                log.error("not ready: %s; answering 503 until it has", why)
        elif self.readiness.recover("heartbeat"):
            log.warning("the catalog takes this server's heartbeat again: ready again")
