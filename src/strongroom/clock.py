"""One clock for a deployment: the catalog's time, read without a round trip.

The decisions that destroy or protect data (KMS deletion windows and automatic rotation dates), the
times a client compares (Last-Modified and the conditionals that read it, part and upload dates) and
policy dates (aws:CurrentTime) follow the database's clock, so that one server whose clock is off
cannot shorten a deletion window for everyone or date its writes apart from the others'. `Clock.now()`
is this process's clock plus its offset from the database's, measured at start and at every heartbeat
(servers.py): it costs no catalog call. SQLite's time is the local clock (the file is local), so the
offset there is the measuring noise.

A server whose clock is more than `max_skew` seconds from the database's refuses to start
(`check_start`); one that drifts past it while running turns not-ready (servers.py). The offset still
corrects the time it uses in between, so that a drift within one heartbeat interval is all it can be off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

DEFAULT_MAX_SKEW = 300.0  # seconds: --max-clock-skew


def stamp(t: float) -> str:
    """An epoch time as people read it: 2026-12-07T08:15:02.123Z."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class ClockSkewed(SystemExit):
    """This process's clock is too far from the database's to start."""


class Clock:
    """This process's view of the database's time: the local clock plus the last measured offset."""

    __slots__ = ("max_skew", "offset")

    def __init__(self, max_skew: float = DEFAULT_MAX_SKEW, offset: float = 0.0) -> None:
        self.max_skew = max_skew
        self.offset = offset  # the database's time minus ours, seconds

    def now(self) -> float:
        """The database's time as of now (epoch seconds), without asking it."""
        return time.time() + self.offset

    def measure(self, database_now: Callable[[], float | None]) -> float | None:
        """Ask the database its time (`database_now`, e.g. a heartbeat that returns it) and keep the
        offset from the middle of our clock's reading around the question; returns its answer."""
        before = time.time()
        theirs = database_now()
        after = time.time()
        if theirs is not None:
            self.offset = theirs - (before + after) / 2
        return theirs

    @property
    def in_bound(self) -> bool:
        return abs(self.offset) <= self.max_skew

    def describe(self) -> str:
        ours = time.time()
        return (f"this server's clock reads {stamp(ours)}, the catalog's {stamp(ours + self.offset)}: "
                f"{-self.offset:+.1f} s apart, beyond --max-clock-skew {self.max_skew:g} s")

    def check_start(self) -> None:
        """Refuse to start (ClockSkewed) when the last measured offset is beyond the bound."""
        if not self.in_bound:
            raise ClockSkewed(f"strongroom: refusing to start: {self.describe()}. Set the clock right "
                              "(NTP) on this machine or on the database's, then start again.")
