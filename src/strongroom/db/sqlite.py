"""One SQLite file: connections (one per thread), transactions, group commit, durability settings.

The catalog and the built-in KMS's store live in the same file. Several server
processes and the `strongroom user` and `strongroom kms` commands open it at
once, so nothing is cached here: every call reads the database, and a change
committed by one process is seen by the next statement of any other.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from strongroom import metrics
from strongroom.db.database import Database
from strongroom.db.dialect import Dialect
from strongroom.db.group_commit import GroupCommitter
from strongroom.errors import OutOfSpace

T = TypeVar("T")

SQLITE = Dialect("sqlite", "?", sqlite3.IntegrityError, for_update="", for_key_share="",
                 now="((julianday('now') - 2440587.5) * 86400.0)")

# How long a writer waits for another process's write transaction before failing.
BUSY_TIMEOUT_S = 10.0
# Page cache per connection (one per thread). SQLite's default, 2 MiB, is too small
# to keep a listed page hot: re-listing 1000 keys of a 300k-key bucket took 1.6 ms of
# SQL at p50 with it, 1.25 ms with 8 MiB; 32 MiB gained nothing more.
CACHE_KIB = 8 * 1024



def _is_full(exc: BaseException) -> bool:
    """SQLITE_FULL: the file's filesystem is full (raised as `OutOfSpace`, which the server answers
    with 503 StorageFull)."""
    return isinstance(exc, sqlite3.OperationalError) and exc.sqlite_errorcode == sqlite3.SQLITE_FULL


# Bumped in a forked child; cheaper to compare per call than os.getpid(), a system call that
# was 3% of a small GET.
_fork_generation = 0


def _after_fork_in_child() -> None:
    global _fork_generation
    _fork_generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


class SqliteDatabase(Database):
    """One database file; used from many threads, one sqlite3 connection each."""

    dialect = SQLITE

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        self._generation = _fork_generation
        self._committer: GroupCommitter | None = None

    # --- connections ---

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; we issue BEGIN/COMMIT ourselves.
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False,
            cached_statements=256,
        )
        # FULL: the WAL is fsynced at every commit, so an acknowledged write survives a
        # machine crash (NORMAL would only survive a process crash).
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        return conn

    def _conn(self) -> sqlite3.Connection:
        if self._generation != _fork_generation:
            self._forget_parent_connections()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError(f"database {self.path} is closed")
                conn = self._connect()
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    def _forget_parent_connections(self) -> None:
        # A SQLite connection must not be used across fork() (the child would share the
        # parent's file locks and state, which corrupts the file). A server that opened the
        # catalog before forking its workers gets fresh connections in each worker; the
        # inherited ones are dropped unclosed, as closing them could disturb the parent.
        with self._lock:
            if self._generation != _fork_generation:
                self._local = threading.local()
                self._connections = []
                self._committer = None  # its thread did not survive the fork
                self._generation = _fork_generation

    def close(self) -> None:
        """Close every thread's connection; the database is unusable afterwards."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
            committer, self._committer = self._committer, None
        if committer is not None:
            committer.stop()
        for conn in connections:
            conn.close()

    # --- transactions ---

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction. IMMEDIATE takes the write lock up front, so the reads that
        decide a conditional write (if-none-match, does the bucket exist) see the state the
        write commits against, across processes; and a writer never has to upgrade a read
        lock, which in SQLite fails with SQLITE_BUSY instead of waiting."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            start = time.perf_counter()
            conn.execute("COMMIT")
            metrics.CATALOG_COMMIT.observe(time.perf_counter() - start)
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if _is_full(exc):
                raise OutOfSpace(f"the catalog's file has no room: {exc}") from exc
            raise

    def _grouped(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run `job(conn)` in a write transaction shared with other threads' concurrent jobs
        (group_commit.py): for the hot, small writes (PutObject, DeleteObject)."""
        if self._generation != _fork_generation:
            self._forget_parent_connections()
        committer = self._committer
        if committer is None:
            with self._lock:
                if self._closed:
                    raise RuntimeError(f"database {self.path} is closed")
                if self._committer is None:
                    lock = self.path.with_name(self.path.name + ".commit-lock")
                    self._committer = GroupCommitter(self._connect, self.path.name, lock)
                committer = self._committer
        try:
            return committer.run(job)
        except sqlite3.OperationalError as exc:
            if _is_full(exc):
                raise OutOfSpace(f"the catalog's file has no room: {exc}") from exc
            raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one snapshot for calls that run several queries."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def _write_one(self, sql: str, params: Sequence[Any]) -> int:
        with self._write() as conn:
            return conn.execute(sql, params).rowcount

    # --- schema ---

    def apply_schema(self, script: str, upgrade: Callable[[Any], None] | None = None) -> None:
        """Run `script` (CREATE ... IF NOT EXISTS statements), then `upgrade(conn)` (schema migrations),
        in one IMMEDIATE transaction: processes opening a file at once take turns, and the second one
        finds everything in place."""
        conn = self._conn()
        # Persistent in the file; a no-op once set. WAL lets readers run beside the writer.
        conn.execute("PRAGMA journal_mode = WAL")
        try:
            # executescript adds no transaction control of its own: the transaction stays open.
            conn.executescript(f"BEGIN IMMEDIATE;\n{script}")
            if upgrade is not None:
                upgrade(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
