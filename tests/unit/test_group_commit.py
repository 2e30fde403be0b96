"""The SQLite group committer: jobs that queue together share a transaction, yet fail alone."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from threading import Event
from typing import Any

import pytest

from strongroom.db.group_commit import GroupCommitter


def _committer(path: Path, statements: list[str], timeout: float = 5.0) -> GroupCommitter:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY)")
    conn.close()

    def connect() -> sqlite3.Connection:
        c = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=timeout)
        c.set_trace_callback(statements.append)
        return c

    return GroupCommitter(connect, "t")


def _keys(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [k for (k,) in conn.execute("SELECT k FROM t ORDER BY k")]


def _run_queued_together(committer: GroupCommitter, jobs: list[Callable[[sqlite3.Connection], Any]]
                         ) -> list[Any]:
    """Hold the committer with one job while `jobs` queue up behind it, so they form one batch."""
    running, gate = Event(), Event()

    def hold(conn: sqlite3.Connection) -> None:
        running.set()
        gate.wait(10)

    def outcome(future: Future[Any]) -> Any:
        try:
            return future.result(10)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(len(jobs) + 1) as pool:
        held = pool.submit(committer.run, hold)
        assert running.wait(10)
        futures = [pool.submit(committer.run, job) for job in jobs]
        deadline = time.monotonic() + 10
        while committer._queue.qsize() < len(jobs) and time.monotonic() < deadline:  # noqa: SLF001
            time.sleep(0.005)
        gate.set()
        held.result(10)
        return [outcome(f) for f in futures]


def _insert(key: str, fail: bool = False) -> Callable[[sqlite3.Connection], str]:
    def job(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO t VALUES (?)", (key,))
        if fail:  # after writing: its row must not land
            raise ValueError(key)
        return key

    return job


def test_jobs_queued_together_share_one_commit(tmp_path: Path) -> None:
    statements: list[str] = []
    committer = _committer(tmp_path / "db", statements)
    results = _run_queued_together(committer, [_insert(f"k{i}") for i in range(8)])
    committer.stop()
    assert results == [f"k{i}" for i in range(8)]
    assert _keys(tmp_path / "db") == [f"k{i}" for i in range(8)]
    assert statements.count("COMMIT") == 2  # the holding job's, then one for all eight


def test_a_failing_job_is_undone_alone_and_the_batch_commits(tmp_path: Path) -> None:
    statements: list[str] = []
    committer = _committer(tmp_path / "db", statements)
    results = _run_queued_together(committer, [_insert(f"k{i}", fail=i % 3 == 0) for i in range(9)])
    committer.stop()
    assert [str(r) for r in results] == [f"k{i}" for i in range(9)]
    assert [type(r) for r in results] == [ValueError if i % 3 == 0 else str for i in range(9)]
    assert _keys(tmp_path / "db") == [f"k{i}" for i in range(9) if i % 3]
    assert statements.count("COMMIT") == 2


def test_a_failed_commit_fails_every_job_of_the_batch_and_the_next_batch_works(tmp_path: Path) -> None:
    committer = _committer(tmp_path / "db", [], timeout=0.1)
    blocker = sqlite3.connect(tmp_path / "db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock past the busy timeout
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        committer.run(_insert("x"))
    blocker.execute("ROLLBACK")
    assert committer.run(_insert("y")) == "y"
    committer.stop()
    assert _keys(tmp_path / "db") == ["y"]
