"""How far a long job has come (`verify`, `report encryption`, `root-key rotate`, schema migrations at
start-up), on stderr: a bar with rate and ETA on a terminal, and a plain line every `interval` seconds
when stderr is not one (a log file, journald, a pipe), so that a log gets readable lines rather than
carriage returns, and a person at a terminal does not wait blind.

The bar is tqdm's: one small pure-Python package with no dependencies of its own, that does the bar,
the rate, the ETA and the terminal's width; rich would bring a text-rendering stack (pygments,
markdown-it) for one bar. Nothing here is printed to stdout: that is the job's report.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

from tqdm import tqdm

PLAIN_INTERVAL = 10.0  # seconds between plain lines


def _amount(value: float, unit: str) -> str:
    if unit != "B":
        return f"{int(value)} {unit}"
    for name in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or name == "TiB":
            return f"{value:.0f} {name}" if name == "B" else f"{value:.1f} {name}"
        value /= 1024
    raise AssertionError("unreachable")


class Progress:
    """`advance(n)` as the job goes (n in `unit`: "B" for bytes, or a noun: "objects"); `close()` at the
    end (or use it as a context manager). `total` None: the total is not known (no percentage, no ETA)."""

    def __init__(
        self,
        what: str,
        total: float | None,
        unit: str = "B",
        *,
        stream: TextIO | None = None,
        interval: float = PLAIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what, self.total, self.unit = what, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.interval, self.clock = interval, clock
        self.done = 0.0
        self.started = self.last = clock()
        self._bar: Any = None
        if self.stream.isatty():
            self._bar = tqdm(total=total, desc=what, unit=unit, unit_scale=unit == "B",
                             unit_divisor=1024 if unit == "B" else 1000, file=self.stream, leave=True)
        elif total != 0:  # an empty job says nothing
            self._line()

    def advance(self, n: float = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self.clock() - self.last >= self.interval:
            self._line()

    def _line(self) -> None:
        now = self.clock()
        self.last = now
        elapsed = now - self.started
        text = f"{self.what}: {_amount(self.done, self.unit)}"
        if self.total is not None:
            share = 100.0 * self.done / self.total if self.total else 100.0
            text += f" of {_amount(self.total, self.unit)} ({share:.0f}%)"
        if elapsed > 0 and self.done:
            rate = self.done / elapsed
            text += f", {_amount(rate, self.unit)}/s"
            if self.total is not None and self.done < self.total:
                text += f", about {(self.total - self.done) / rate:.0f} s left"
        print(text, file=self.stream, flush=True)

    def close(self, outcome: str = "done") -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.done or self.total:
            self.what += f" {outcome}"
            self._line()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close("done" if exc is None else "stopped")
