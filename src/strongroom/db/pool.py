"""The process's PostgreSQL connections: one bounded pool per database, for the catalog and the KMS store.

Every server process (each `--workers` process too) and every admin command holds at most
`PoolSettings.size` connections to one database, so the operator can size PostgreSQL's
`max_connections` (README, Scaling out): before, each process kept one connection per
thread of the catalog and of the KMS store, up to 34, for good. A call that finds every
connection busy waits for one, up to `PoolSettings.timeout`, then fails with
`DatabaseBusy` (the wire's 503 SlowDown), never with a connection error.

`acquire(url, settings)` hands out the process's pool for `url`, made at the first call
(its settings win) and closed when the last holder releases it. `Pool.execute` runs one
statement (autocommit: its own transaction) on a connection taken for that statement
only; `Pool.connection()` holds one for a block (a transaction, a listing's several
queries). Both are re-entrant per thread: inside a held block a thread's statements use
the connection it holds, so they join its transaction and a thread never waits for a
second connection while holding one (a pool of 1 cannot deadlock).

Connections are taken from psycopg_pool's pool, which opens them in the background, keeps
`min_size` of them, closes the ones idle for long and replaces those past `max_lifetime`.
A connection given back while nobody waits for one is kept aside instead (`_spare`, last in first
out) for the next call of any thread: taking it is a lock and a list pop, where psycopg_pool's
getconn and putconn cost about 14 us of CPU per catalog call more on a busy server (in-process,
two threads at c=8). Each kept connection still goes back through psycopg_pool every
`_SPARE_ROUND_S` (so its lifetime and idle rules still apply), and one kept unused for that long
goes back for good; a caller that must wait for psycopg_pool gets the next connection given back.
Results come back in PostgreSQL's binary format whenever a statement has parameters (it goes over
the extended protocol then anyway; `_BinaryResults`): a 4 KiB inline body is read as its bytes, not
as 8 KiB of hex the server encodes and libpq decodes (about 100k instructions of a 4 KiB GET's 1.5M).
Kept from the per-thread design: a connection the server hung up on while idle (a
restart, pg_terminate_backend, an idle timeout) is found before use and replaced, so the
call succeeds; a forked child never uses or closes its parent's connections.
"""

from __future__ import annotations

import os
import select
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from time import monotonic
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from strongroom.db.database import DatabaseBusy

Connection = psycopg.Connection[Any]
# What pg_stat_activity shows for our connections, unless the URL names one (application_name=...).
APPLICATION_NAME = "strongroom"
CONNECT_TIMEOUT_S = 10
# How many connections stay open while idle, at most: the pool grows to its size under load,
# and psycopg_pool closes one unused connection above this every `max_idle` seconds.
_MIN_OPEN = 1
# How long a connection stays out of psycopg_pool's hands, kept aside between calls, at most (seconds).
_SPARE_ROUND_S = 5.0


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """How many connections a process may hold to one database, and how long a call waits for one."""

    size: int = 2
    timeout: float = 5.0  # seconds; then DatabaseBusy
    # Called on each new connection before it is used (session settings: e.g. prepare_threshold).
    configure: Callable[[Connection], None] | None = None

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"a connection pool needs at least 1 connection, not {self.size}")
        if not self.timeout > 0:
            raise ValueError(f"a connection pool's timeout must be positive, not {self.timeout}")


def hung_up(conn: Connection | psycopg.AsyncConnection[Any]) -> bool:
    """Whether the server has ended this idle connection (restart, termination, idle timeout).

    Between our statements the server sends nothing, unless it is saying goodbye: then the
    socket is readable. Found before use, the connection is replaced and the call succeeds;
    found by the statement, the call would fail. (A rare asynchronous parameter report makes
    a healthy connection look hung up; it is replaced too, at the cost of one connect.)
    """
    if conn.closed:
        return True
    poller = select.poll()  # not select.select: a busy server's descriptors pass FD_SETSIZE
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class _BinaryResults(psycopg.Cursor[Any]):
    """A cursor that asks for binary results when the statement has parameters.

    Such a statement is sent with the extended protocol whatever the format, so only the results'
    encoding changes: values load as the same Python objects (bytea as bytes, text as str, numbers,
    json, timestamps), but bytea travels as its bytes, not hex. A statement without parameters keeps
    the text format and the simple protocol, where a script of several statements is allowed.
    """

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None,
                binary: bool | None = None) -> _BinaryResults:
        if binary is None and params:
            binary = True
        super().execute(query, params, prepare=prepare, binary=binary)
        return self


class Pool:
    """At most `settings.size` connections to the database at `url`, for the threads of this process."""

    def __init__(self, url: str, settings: PoolSettings) -> None:
        self.url = url
        self.settings = settings
        self._held = threading.local()  # .conn: the connection this thread holds, if any
        self._lock = threading.Lock()  # guards _spare, _taken and _waiting
        self._spare: list[Connection] = []  # taken from psycopg_pool, unused: the next call's first
        self._taken: dict[int, float] = {}  # id(conn) -> when psycopg_pool handed it out (monotonic)
        self._waiting = 0  # callers inside psycopg_pool's getconn: a connection given back is theirs
        self._opened: weakref.WeakSet[Connection] = weakref.WeakSet()  # every connection made
        # Connecting once now reports an unreachable or misconfigured server to whoever opens
        # the catalog (db/location.py), with libpq's reason; the pool itself would only log it
        # and retry in the background.
        psycopg.connect(url, **self._connect_kwargs()).close()
        self._pool = self._new_pool()
        ref = weakref.ref(self)

        def after_fork_in_child() -> None:
            pool = ref()
            if pool is not None:
                pool._forget_parent()

        os.register_at_fork(after_in_child=after_fork_in_child)

    def _connect_kwargs(self) -> dict[str, Any]:
        # autocommit: a single statement is its own transaction, with no BEGIN/COMMIT round trips.
        return {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S,
                "fallback_application_name": APPLICATION_NAME}

    def _new_pool(self) -> ConnectionPool[Connection]:
        size = self.settings.size
        return ConnectionPool(self.url, kwargs=self._connect_kwargs(), min_size=min(_MIN_OPEN, size),
                              max_size=size, timeout=self.settings.timeout, configure=self._configure,
                              name=APPLICATION_NAME, num_workers=min(2, size), open=True)

    def _configure(self, conn: Connection) -> None:
        self._opened.add(conn)
        conn.cursor_factory = _BinaryResults
        if self.settings.configure is not None:
            self.settings.configure(conn)

    # --- taking and giving back ---

    def checkout(self) -> Connection:
        """A connection of this caller's own until `checkin`; waits while all are busy (DatabaseBusy
        after the timeout). Not re-entrant: for a generator that holds one across its yields."""
        deadline = monotonic() + self.settings.timeout
        while True:
            with self._lock:
                conn = self._spare.pop() if self._spare else None
                if conn is None:
                    self._waiting += 1
            if conn is None:
                try:
                    conn = self._pool.getconn(timeout=deadline - monotonic())
                except PoolTimeout:
                    raise _busy(self.settings) from None
                finally:
                    with self._lock:
                        self._waiting -= 1
                with self._lock:
                    self._taken[id(conn)] = monotonic()
            if not hung_up(conn):
                return conn
            # psycopg_pool sees it closed when it comes back, drops it and opens another in the
            # background; the next connection may be fine already.
            conn.close()
            self._give_back(conn)

    def checkin(self, conn: Connection) -> None:
        """Give back a connection of `checkout`: kept aside for the next call when it is idle (no
        transaction left open), nobody waits in psycopg_pool and its round is not over; else to
        psycopg_pool, which rolls back what a failed block left open and replaces a broken one."""
        now = monotonic()
        with self._lock:
            keep = (not self._waiting and not conn.closed
                    and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
                    and now - self._taken.get(id(conn), now) < _SPARE_ROUND_S)
            if keep:
                self._spare.append(conn)
                # The least recently used one, kept unused for a whole round, goes back: psycopg_pool
                # then closes it when idle for long, as if it had never been kept.
                oldest = self._spare[0]
                if now - self._taken.get(id(oldest), now) < _SPARE_ROUND_S or oldest is conn:
                    return
                conn = self._spare.pop(0)
        self._give_back(conn)

    def _give_back(self, conn: Connection) -> None:
        with self._lock:
            self._taken.pop(id(conn), None)
        self._pool.putconn(conn)

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection for the block: this thread's held one if it holds one, else one taken for it."""
        held: Connection | None = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        conn = self.checkout()
        self._held.conn = conn
        try:
            yield conn
        finally:
            self._held.conn = None
            self.checkin(conn)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        """Run one statement (its own transaction, or within the thread's held block); its cursor.

        The cursor is client-side: psycopg has received every row before `execute` returns, so
        the connection goes back to the pool at once and the rows are read afterwards.
        """
        held: Connection | None = getattr(self._held, "conn", None)
        if held is not None:
            return held.execute(sql, params)
        conn = self.checkout()
        try:
            return conn.execute(sql, params)
        finally:
            self.checkin(conn)

    # --- the end, and fork ---

    def close(self) -> None:
        with self._lock:
            spare, self._spare = self._spare, []
        for conn in spare:
            self._give_back(conn)
        self._pool.close()

    def _forget_parent(self) -> None:
        # In a forked child. A connection must not be used across fork(): the child would talk
        # on the parent's socket. Nor may the child close it the normal way, since libpq's
        # goodbye message would end the parent's session. So the child's copy of each socket is
        # replaced by /dev/null first; closing then sends the goodbye nowhere. The parent's pool
        # is left behind unclosed (its threads and their locks did not survive the fork) and
        # marked closed so that its finalizer does nothing; the child gets a pool of its own.
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            for conn in list(self._opened):
                if not conn.closed:
                    os.dup2(devnull, conn.fileno())
                    conn.close()
        finally:
            os.close(devnull)
        self._pool._closed = True  # psycopg_pool's own flag: __del__ would stop threads that are gone
        self._opened = weakref.WeakSet()
        self._held = threading.local()
        self._lock = threading.Lock()  # another thread may have held it at the fork
        self._spare, self._taken, self._waiting = [], {}, 0
        self._pool = self._new_pool()


def _busy(settings: PoolSettings) -> DatabaseBusy:
    return DatabaseBusy(f"no connection to the catalog's PostgreSQL was free within {settings.timeout:g} s "
                        f"(--db-pool-size {settings.size})")


# --- one pool per database per process ---

_lock = threading.Lock()
_pools: dict[str, tuple[Pool, int]] = {}  # url -> (pool, holders)


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork; none is left to free it


os.register_at_fork(after_in_child=_after_fork_in_child)


def acquire(url: str, settings: PoolSettings) -> Pool:
    """The process's pool for `url`, made now with `settings` if it has none; `release` it when done."""
    with _lock:
        pool, holders = _pools.get(url) or (None, 0)
        if pool is None:
            pool = Pool(url, settings)
        _pools[url] = (pool, holders + 1)
        return pool


def release(pool: Pool) -> None:
    """One holder less; the last one closes the pool."""
    with _lock:
        current, holders = _pools.get(pool.url) or (None, 0)
        if current is not pool:
            pool.close()
            return
        if holders > 1:
            _pools[pool.url] = (pool, holders - 1)
            return
        del _pools[pool.url]
    pool.close()
