"""One clock (clock.py), readiness (readiness.py) and the heartbeat that keeps both (servers.py), over a
real SQLite catalog; this process's clock is shifted by replacing the `time.time` clock.py reads."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from strongroom import clock as clock_module
from strongroom.catalog import MetadataSealer, SqliteCatalog
from strongroom.clock import Clock, ClockSkewed, stamp
from strongroom.readiness import Readiness
from strongroom.servers import Heartbeat, Refused, RotationLock, register_server


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[SqliteCatalog]:
    c = SqliteCatalog.open(tmp_path / "catalog.sqlite3", MetadataSealer.of([os.urandom(32)]))
    yield c
    c.close()


def shift(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    real: Callable[[], float] = time.time
    monkeypatch.setattr(clock_module.time, "time", lambda: real() + seconds)


def test_the_offset_is_measured_from_the_middle_of_the_question() -> None:
    clock = Clock()
    answered = clock.measure(lambda: time.time() + 100.0)
    assert answered is not None and clock.offset == pytest.approx(100.0, abs=0.01)
    assert clock.now() == pytest.approx(time.time() + 100.0, abs=0.01)
    assert clock.measure(lambda: None) is None and clock.offset == pytest.approx(100.0, abs=0.01)


def test_a_start_beyond_the_bound_is_refused_with_both_times() -> None:
    clock = Clock(max_skew=300.0, offset=-7200.0)
    with pytest.raises(ClockSkewed) as e:
        clock.check_start()
    message = str(e.value.code)
    assert "refusing to start" in message and "+7200.0 s apart" in message
    assert stamp(0.0) == "1970-01-01T00:00:00.000Z"
    Clock(max_skew=300.0, offset=299.0).check_start()  # within: starts


def test_readiness_holds_while_any_cause_does() -> None:
    readiness = Readiness()
    assert readiness.ready and readiness.why == ""
    assert readiness.fail("clock", "skewed") and not readiness.fail("clock", "still skewed")
    assert readiness.fail("heartbeat", "lost") and not readiness.ready
    assert readiness.why == "still skewed; lost"
    assert readiness.recover("clock") and not readiness.ready
    assert readiness.recover("heartbeat") and readiness.ready and not readiness.recover("heartbeat")


def test_a_server_that_drifts_turns_not_ready_and_back(
        catalog: SqliteCatalog, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(max_skew=300.0)
    registration = register_server(catalog, clock, "http://127.0.0.1:1", 10.0)
    readiness = Readiness()

    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    heartbeat = Heartbeat(registration, readiness, run, lambda: None)
    with caplog.at_level(logging.WARNING, logger="strongroom"):
        shift(monkeypatch, 7200.0)  # SQLite's time is its own clock: ours alone moves
        asyncio.run(heartbeat.tick())
        assert not readiness.ready and "clock skew" in readiness.why
        assert clock.offset == pytest.approx(-7200.0, abs=5)
        assert any(r.levelno == logging.ERROR and "not ready" in r.getMessage() for r in caplog.records)
        monkeypatch.undo()
        asyncio.run(heartbeat.tick())
        assert readiness.ready and abs(clock.offset) < 5
        assert "back within --max-clock-skew" in caplog.text
    asyncio.run(heartbeat.close())
    assert catalog.list_servers()[0] == []  # deregistered


def test_rotation_and_servers_exclude_each_other(catalog: SqliteCatalog) -> None:
    server = register_server(catalog, Clock(), "http://127.0.0.1:1", 10.0)
    with pytest.raises(Refused, match="1 server\\(s\\) are running on this catalog"):
        RotationLock(catalog).acquire()
    assert [s.role for s in catalog.list_servers()[0]] == ["serve"]  # the refused rotation left nothing
    server.close()
    lock = RotationLock(catalog)
    lock.acquire()
    with pytest.raises(Refused, match="a root-key rotation is running"):
        register_server(catalog, Clock(), "http://127.0.0.1:2", 10.0)
    assert [s.role for s in catalog.list_servers()[0]] == ["root-key rotate"]
    lock.release()
    assert catalog.list_servers()[0] == []
