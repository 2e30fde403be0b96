"""Group commit: concurrent small writes share one SQLite transaction and one fsync.

With `synchronous = FULL` every COMMIT fsyncs the WAL, and SQLite lets one
writer in at a time: eight PUTs from eight threads took turns at the write lock
(the losers sleeping in SQLite's busy handler, up to 100 ms at a time) and paid
eight fsyncs. Here one thread per process runs the queued writes instead: it
takes whatever has queued, runs each job inside its own SAVEPOINT (a job that
fails is rolled back alone and gets its exception), commits once, and only then
answers every caller. An acknowledged write is still on disk; the jobs of one
batch are simply serialised in one transaction, as they would have been by the
lock.

Between processes (`--workers N` on one catalog file) the committers take turns
through an flock on a file beside the catalog before BEGIN: a blocked flock wakes
the moment the holder lets go, where SQLite's busy handler sleeps 1 to 100 ms
between tries (two workers' PUTs had a p99 of 58 ms with it).
"""

from __future__ import annotations

import fcntl
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from strongroom import metrics

T = TypeVar("T")
log = logging.getLogger("strongroom.catalog")  # the catalog is its one user

# A batch is cut here so that one slow batch cannot hold a growing queue's callers for long.
MAX_BATCH = 64

Job = Callable[[sqlite3.Connection], Any]


class GroupCommitter:
    """Runs write jobs on its own thread and connection, several per transaction."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], name: str, lock_path: Path | None = None
                 ) -> None:
        self._connect = connect
        self._lock_path = lock_path
        self._queue: queue.SimpleQueue[tuple[Job, Future[Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"strongroom-commit-{name}", daemon=True)
        self._started = False
        self._lock = threading.Lock()

    def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run `job(conn)` inside a write transaction; return once that transaction is committed."""
        if not self._started:
            with self._lock:
                if not self._started:
                    self._thread.start()
                    self._started = True
        done: Future[T] = Future()
        self._queue.put((job, done))
        return done.result()

    def stop(self) -> None:
        if self._started:
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        conn = self._connect()
        lock = None if self._lock_path is None else open(self._lock_path, "a+b")  # noqa: SIM115
        try:
            while (batch := self._take()) is not None:
                if lock is not None:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    self._commit(conn, batch)
                finally:
                    if lock is not None:
                        fcntl.flock(lock, fcntl.LOCK_UN)
        finally:
            conn.close()
            if lock is not None:
                lock.close()

    def _take(self) -> list[tuple[Job, Future[Any]]] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:  # stop after this batch
                self._queue.put(None)
                break
            batch.append(item)
        return batch

    @staticmethod
    def _commit(conn: sqlite3.Connection, batch: list[tuple[Job, Future[Any]]]) -> None:
        outcomes: list[tuple[Future[Any], Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, done in batch:
                conn.execute("SAVEPOINT job")
                try:
                    result = job(conn)
                except Exception as exc:  # the job's own failure: undo it alone
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((done, None, exc))
                else:
                    conn.execute("RELEASE job")
                    outcomes.append((done, result, None))
            start = time.perf_counter()
            conn.execute("COMMIT")
            metrics.CATALOG_COMMIT.observe(time.perf_counter() - start)
        except Exception as exc:  # BEGIN or COMMIT failed (disk full, locked too long): nothing landed
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("rolling back a failed group commit")
            for _, done in batch:
                done.set_exception(exc)
            return
        for done, result, error in outcomes:
            if error is None:
                done.set_result(result)
            else:
                done.set_exception(error)
