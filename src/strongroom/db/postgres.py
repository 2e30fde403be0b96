"""One PostgreSQL database: connections (one per thread), transactions, schema creation.

Several server processes (on one machine or several) share one database, so
nothing is cached here: every call asks the server, and a change committed by
one process is seen by the next statement of any other.

Connections are in autocommit mode: a single statement is its own transaction
(no BEGIN/COMMIT round trips for reads), and `_write()` opens an explicit
transaction for the calls that run several statements. Transactions run at READ
COMMITTED; the calls that decide on what they read lock those rows first
(`FOR UPDATE`, `FOR KEY SHARE`), so a conditional write is atomic across
processes without serialization retries. The catalog and the KMS store share
the database.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from strongroom.db.database import Database
from strongroom.db.dialect import Dialect

POSTGRES = Dialect("postgres", "%s", psycopg.errors.UniqueViolation, for_update=" FOR UPDATE",
                   for_key_share=" FOR KEY SHARE",
                   now="CAST(extract(epoch FROM clock_timestamp()) AS double precision)")

# pg_advisory_xact_lock key taken while the schema is created or checked: processes opening
# a new database at once take turns (concurrent CREATE TABLE IF NOT EXISTS can fail otherwise).
_SCHEMA_LOCK = 0x5354524F4E47  # "STRONG"
CONNECT_TIMEOUT_S = 10

Connection = psycopg.Connection[Any]


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparsable PostgreSQL URL>"
    info.pop("password", None)
    return psycopg.conninfo.make_conninfo("", **info)


def _hung_up(conn: Connection) -> bool:
    """Whether the server has ended this idle connection (restart, termination, idle timeout).

    Between our statements the server sends nothing, unless it is saying goodbye: then the
    socket is readable. Found before use, the connection is replaced and the call succeeds;
    found by the statement, the call would fail. (A rare asynchronous parameter report makes
    a healthy connection look hung up; it is replaced too, at the cost of one connect.)
    """
    poller = select.poll()  # not select.select: a busy server's descriptors pass FD_SETSIZE
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class PostgresDatabase(Database):
    """One PostgreSQL database; used from many threads, one connection each."""

    dialect = POSTGRES

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[Connection] = []
        self._closed = False
        self._pid = os.getpid()

    # --- connections ---

    def _connect(self, **kwargs: Any) -> Connection:
        return psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S, **kwargs)

    def _conn(self) -> Connection:
        if self._pid != os.getpid():
            self._forget_parent_connections()
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed and _hung_up(conn):
            conn.close()
        if conn is None or conn.closed:  # closed: the server went away; connect again
            with self._lock:
                if self._closed:
                    raise RuntimeError(f"database {redact(self.url)} is closed")
                if conn is not None and conn in self._connections:
                    self._connections.remove(conn)
                conn = self._connect(autocommit=True)
                self._connections.append(conn)
            self._local.conn = conn
        return conn

    def _forget_parent_connections(self) -> None:
        # A connection must not be used across fork(): the child would talk on the parent's
        # socket. Nor may the child close it the normal way, since libpq's goodbye message
        # would end the parent's session. So the child's copy of each socket is replaced by
        # /dev/null first; closing then sends the goodbye nowhere.
        with self._lock:
            if self._pid == os.getpid():
                return
            devnull = os.open(os.devnull, os.O_RDWR)
            try:
                for conn in self._connections:
                    if not conn.closed:
                        os.dup2(devnull, conn.fileno())
                        conn.close()
            finally:
                os.close(devnull)
            self._local = threading.local()
            self._connections = []
            self._pid = os.getpid()

    def close(self) -> None:
        """Close every thread's connection; the database is unusable afterwards."""
        if self._pid != os.getpid():
            self._forget_parent_connections()  # inherited across fork: detached, never closed normally
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    # --- transactions ---

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A transaction (READ COMMITTED): committed when the block ends, rolled back on an error."""
        conn = self._conn()
        with conn.transaction():
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read-only transaction on one snapshot (REPEATABLE READ), for calls that run several queries."""
        conn = self._conn()
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn

    def _write_one(self, sql: str, params: Sequence[Any]) -> int:
        return self._conn().execute(sql, params).rowcount  # autocommit: its own transaction

    # --- schema ---

    def apply_schema(self, script: str, version: int, upgrade: Callable[[Any], None] | None = None) -> None:
        """Run `script` (statements that are each IF NOT EXISTS), then `upgrade(conn)` (schema
        migrations), in one transaction under an advisory lock, and check the version they leave."""
        conn = self._conn()
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            # The script runs at every open, so a table added to it later appears in an
            # existing database; its "already exists" notices are muted.
            conn.execute("SET LOCAL client_min_messages = warning")
            conn.execute(script.encode())  # several statements: sent as one simple query
            if upgrade is not None:
                upgrade(conn)
            row = conn.execute("SELECT version FROM schema_version").fetchone()
        if row is None or row[0] != version:
            raise RuntimeError(
                f"catalog {redact(self.url)} has schema version {row and row[0]}; "
                f"this strongroom knows {version}"
            )
