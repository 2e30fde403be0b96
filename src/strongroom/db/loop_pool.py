"""The event loop's own PostgreSQL connections: a server's point reads without a thread hand-off.

On PostgreSQL a GET's one catalog statement used to run on a database thread (db/pool.py): the loop
handed the call over, the thread woke, took the GIL from the loop, sent the statement, slept on the
socket, took the GIL again and woke the loop. That hand-off cost more CPU than the statement itself:
11 voluntary context switches and about 0.2 ms of a 4 KiB GET's 0.5 ms (bench get-4k-pg1-c8; the
same GET on SQLite, read inline, made none). A `LoopPool` runs the statement on an asynchronous
connection instead: the loop sends it, serves other requests, and reads the answer when the socket
is readable, in the same epoll wait as everything else.

Only single statements run here (db.OneStatement: point reads, and a PutObject that is one statement);
transactions and listings stay on the database threads, where one holds a connection across statements.

The connections count in the process's budget (`--db-pool-size`, README: Connections): `split`
gives the loop its share and the threads' pool the rest. A connection is opened when a read finds
none free and fewer than `size` open; a read that finds all `size` busy waits for one to come back,
up to `timeout`, then fails with `DatabaseBusy` (503 SlowDown), as on the threads' pool. A
connection the server ended while it was idle is found before use and replaced; one that failed or
was interrupted during a statement is closed, never reused; one past `MAX_LIFETIME_S` is closed when
it comes back, and all but one of those unused for `MAX_IDLE_S` are closed at the next read (as
psycopg_pool does for the threads' pool). A connection that cannot be opened (PostgreSQL down) is
`DatabaseBusy` too: the request is refused with a retryable 503, not an internal error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from time import monotonic
from typing import Any, TypeVar

import psycopg

from strongroom.db.database import DatabaseBusy, OneStatement
from strongroom.db.pool import APPLICATION_NAME, CONNECT_TIMEOUT_S, hung_up

T = TypeVar("T")
AsyncConnection = psycopg.AsyncConnection[Any]
MAX_LIFETIME_S = 3600.0  # as psycopg_pool's max_lifetime
MAX_IDLE_S = 600.0  # as psycopg_pool's max_idle


def split(size: int) -> tuple[int, int]:
    """A process's `size` connections as (the database threads' pool, the event loop's): half each,
    the threads' pool taking the odd one; a budget of 1 leaves the loop none (every call on the thread)."""
    loop = size // 2
    return size - loop, loop


class LoopPool:
    """At most `size` asynchronous connections to the database at `url`, used from one event loop."""

    def __init__(self, url: str, size: int, timeout: float) -> None:
        if size < 1:
            raise ValueError(f"a loop pool needs at least 1 connection, not {size}")
        self.url, self.size, self.timeout = url, size, timeout
        self._idle: list[tuple[AsyncConnection, float]] = []  # (connection, given back at), last used last
        self._born: dict[int, float] = {}  # id(connection) -> opened at (monotonic)
        self._opened = 0  # connections open or being opened
        self._waiters: deque[asyncio.Future[AsyncConnection | None]] = deque()
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    async def fetch(self, statement: OneStatement[T]) -> T:
        """Run a statement on one of the loop's connections (its own transaction: autocommit)."""
        try:
            row = await self.fetch_one(statement.sql, statement.params)
        except psycopg.Error as e:
            refused = statement.refused(e)
            if refused is e:
                raise
            raise refused from None
        return statement.decode(row)

    async def fetch_one(self, sql: str, params: Sequence[Any]) -> Any:
        conn = await self._take()
        reusable = False
        try:
            # Binary results, as the threads' pool asks for (db/pool.py says why).
            cursor = await conn.execute(sql, params, binary=True)
            row = await cursor.fetchone()
            reusable = True
            return row
        except psycopg.Error:
            reusable = not conn.closed and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            raise
        finally:
            # An interrupted statement (a cancelled request) may have left the connection mid-exchange:
            # it is closed, not given to the next read.
            self._give(conn, reusable)

    # --- taking and giving back ---

    async def _take(self) -> AsyncConnection:
        if self._closed:
            raise RuntimeError("the loop's connections are closed")
        self._close_idle(monotonic())
        deadline = monotonic() + self.timeout
        while True:
            while self._idle:
                conn, _ = self._idle.pop()
                if not hung_up(conn):
                    return conn
                self._discard(conn)
            if self._opened < self.size:
                return await self._open(deadline)
            waiter: asyncio.Future[AsyncConnection | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                conn_or_turn = await asyncio.wait_for(waiter, max(deadline - monotonic(), 0))
            except BaseException as e:
                self._forfeit(waiter)
                if isinstance(e, TimeoutError):
                    raise DatabaseBusy(f"no PostgreSQL connection of the event loop was free within "
                                       f"{self.timeout:g} s ({self.size} of them)") from None
                raise
            if conn_or_turn is not None and not hung_up(conn_or_turn):
                return conn_or_turn
            if conn_or_turn is not None:
                self._discard(conn_or_turn)
            # A connection was closed: there is room to open one (or another took it: wait again).

    async def _open(self, deadline: float) -> AsyncConnection:
        self._opened += 1
        # A request waits for a connection no longer than for a busy one (libpq counts whole seconds, 2 at
        # least): an unreachable database is a 503 within about --db-pool-timeout, not CONNECT_TIMEOUT_S.
        wait = int(max(2.0, min(float(CONNECT_TIMEOUT_S), deadline - monotonic())))
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=wait, fallback_application_name=APPLICATION_NAME)
        except psycopg.OperationalError as e:
            self._opened -= 1
            self._pass_turn()
            reason = " ".join(str(e).split()) or type(e).__name__
            raise DatabaseBusy(f"could not connect to the catalog's PostgreSQL: {reason}") from None
        except BaseException:
            self._opened -= 1
            self._pass_turn()
            raise
        self._born[id(conn)] = monotonic()
        return conn

    def _give(self, conn: AsyncConnection, reusable: bool) -> None:
        now = monotonic()
        if not reusable or conn.closed or now - self._born.get(id(conn), now) > MAX_LIFETIME_S:
            self._discard(conn)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        if self._closed:
            self._discard(conn)
            return
        self._idle.append((conn, now))

    def _forfeit(self, waiter: asyncio.Future[AsyncConnection | None]) -> None:
        """A waiter gave up (timed out, or its request was cancelled): what was handed to it meanwhile,
        a connection or a turn to open one, goes to the next."""
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        if waiter.done() and not waiter.cancelled():
            conn = waiter.result()
            if conn is None:
                self._pass_turn()
            else:
                self._give(conn, True)

    def _discard(self, conn: AsyncConnection) -> None:
        self._born.pop(id(conn), None)
        self._opened -= 1
        if not conn.closed:
            closing = asyncio.get_running_loop().create_task(_close(conn))
            self._closing.add(closing)  # held until done: the loop keeps only a weak reference
            closing.add_done_callback(self._closing.discard)
        self._pass_turn()

    def _pass_turn(self) -> None:
        """A connection fewer: the first waiter may open one."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _close_idle(self, now: float) -> None:
        # Oldest first; the most recently used one always stays.
        while len(self._idle) > 1 and now - self._idle[0][1] > MAX_IDLE_S:
            conn, _ = self._idle.pop(0)
            self._discard(conn)

    async def close(self) -> None:
        """Close the idle connections, and each busy one as it comes back."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            self._born.pop(id(conn), None)
            self._opened -= 1
            await _close(conn)
        if self._closing:
            await asyncio.gather(*self._closing)


async def _close(conn: AsyncConnection) -> None:
    with contextlib.suppress(psycopg.Error):  # it was going away anyway
        await conn.close()
