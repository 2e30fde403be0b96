"""progress.py: plain lines every interval when stderr is not a terminal, with share, rate and time left."""

from __future__ import annotations

import io

from strongroom.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_come_every_interval_with_share_rate_and_time_left() -> None:
    out, clock = io.StringIO(), Clock()
    with Progress("verify", 4 * 1024 * 1024, stream=out, interval=10, clock=clock) as progress:
        for _ in range(3):
            clock.now += 4
            progress.advance(1024 * 1024)
    lines = out.getvalue().splitlines()
    # the start, one line after 12 s (the first advance past 10 s), and the end
    assert lines == [
        "verify: 0 B of 4.0 MiB (0%)",
        "verify: 3.0 MiB of 4.0 MiB (75%), 256.0 KiB/s, about 4 s left",
        "verify done: 3.0 MiB of 4.0 MiB (75%), 256.0 KiB/s, about 4 s left",
    ]


def test_counts_of_things_and_an_unknown_total() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress("root-key rotate", None, "objects", stream=out, interval=1, clock=clock)
    clock.now = 2
    progress.advance(10)
    progress.close()
    assert out.getvalue().splitlines() == [
        "root-key rotate: 0 objects",
        "root-key rotate: 10 objects, 5 objects/s",
        "root-key rotate done: 10 objects, 5 objects/s",
    ]
