"""One PostgreSQL database: statements and transactions on the process's pool (db/pool.py), schema creation.

Several server processes (on one machine or several) share one database, so
nothing is cached here: every call asks the server, and a change committed by
one process is seen by the next statement of any other.

Connections are in autocommit mode: a single statement is its own transaction
(no BEGIN/COMMIT round trips for reads), and `_write()` opens an explicit
transaction for the calls that run several statements. Transactions run at READ
COMMITTED; the calls that decide on what they read lock those rows first
(`FOR UPDATE`, `FOR KEY SHARE`), so a conditional write is atomic across
processes without serialization retries. The catalog and the KMS store share
the database and the process's pool of connections to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from strongroom import metrics
from strongroom.db.database import Database
from strongroom.db.dialect import Dialect
from strongroom.db.pool import Connection, Pool, PoolSettings, acquire, release

POSTGRES = Dialect("postgres", "%s", psycopg.errors.UniqueViolation, for_update=" FOR UPDATE",
                   for_key_share=" FOR KEY SHARE",
                   now="CAST(extract(epoch FROM clock_timestamp()) AS double precision)")

# pg_advisory_xact_lock key taken while the schema is created or checked: processes opening
# a new database at once take turns (concurrent CREATE TABLE IF NOT EXISTS can fail otherwise).
_SCHEMA_LOCK = 0x5354524F4E47  # "STRONG"

__all__ = ["POSTGRES", "Connection", "PoolSettings", "PostgresDatabase", "redact"]


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "<unparsable PostgreSQL URL>"
    info.pop("password", None)
    return psycopg.conninfo.make_conninfo("", **info)


class PostgresDatabase(Database):
    """One PostgreSQL database; used from many threads, through the process's pool for its URL."""

    dialect = POSTGRES

    def __init__(self, url: str, pool: PoolSettings | None = None) -> None:
        self.url = url
        self._pool = acquire(url, pool or PoolSettings())
        self._closed = False

    def _conn(self) -> Pool:
        if self._closed:
            raise RuntimeError(f"database {redact(self.url)} is closed")
        return self._pool

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """One connection for the block (this thread's held one if any), outside any transaction."""
        with self._conn().connection() as conn:
            yield conn

    def close(self) -> None:
        """Give the pool back (the last holder in the process closes it); unusable afterwards."""
        if not self._closed:
            self._closed = True
            release(self._pool)

    # --- transactions ---

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A transaction (READ COMMITTED): committed when the block ends, rolled back on an error."""
        with self._connection() as conn:
            with conn.transaction():
                yield conn
                start = time.perf_counter()  # the commit is the transaction block's end
            metrics.CATALOG_COMMIT.observe(time.perf_counter() - start)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read-only transaction on one snapshot (REPEATABLE READ), for calls that run several queries."""
        with self._connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn

    def _write_one(self, sql: str, params: Sequence[Any]) -> int:
        return self._conn().execute(sql, params).rowcount  # autocommit: its own transaction

    # --- schema ---

    def apply_schema(self, script: str, version: int, upgrade: Callable[[Any], None] | None = None) -> None:
        """Run `script` (statements that are each IF NOT EXISTS), then `upgrade(conn)` (schema
        migrations), in one transaction under an advisory lock, and check the version they leave."""
        with self._connection() as conn, conn.transaction():
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
