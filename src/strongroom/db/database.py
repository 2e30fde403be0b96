"""`Database`: what the code written once over both engines may ask of a connection pool.

`SqliteDatabase` (db/sqlite.py) and `PostgresDatabase` (db/postgres.py) implement
it; the catalog's and the KMS store's shared classes inherit it and call only
these methods, with statements built once per `dialect`. `Connection` and
`Cursor` are the part of sqlite3's and psycopg's objects that such code uses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from strongroom.db.dialect import Dialect

D = TypeVar("D", bound="Database")
T = TypeVar("T")


class DatabaseBusy(Exception):
    """No connection to the database became free in time: the server is busier than its pool
    (the wire answers 503 SlowDown, a retryable refusal, not an internal error)."""


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Cursor: ...


@dataclass(frozen=True, slots=True)
class OneStatement(Generic[T]):
    """One statement, its own transaction, whose first row (None when it has none) `decode` turns into
    the answer; `refusal` turns a database error it raises into the caller's exception (None: the error
    stands).

    A call written this way runs wherever its caller finds it cheapest: on a thread (`Database.fetch`),
    inline on SQLite (a point read), or on the event loop's own PostgreSQL connections (db/loop_pool.py),
    where it costs no thread hand-off. `sql` is in the database's dialect.
    """

    sql: str
    params: tuple[Any, ...]
    decode: Callable[[Any], T]
    refusal: Callable[[Exception], Exception | None] | None = None

    def refused(self, error: Exception) -> Exception:
        """What to raise for `error`, raised by this statement."""
        mapped = self.refusal(error) if self.refusal is not None else None
        return error if mapped is None else mapped


class Database(ABC):
    """One database, used from many threads."""

    dialect: ClassVar[Dialect]

    @abstractmethod
    def _conn(self) -> Connection:
        """Where to run single statements outside any transaction (each is its own snapshot); inside a
        `_write()` or `_read()` block of this thread, they run in its transaction."""

    @abstractmethod
    def _write(self) -> AbstractContextManager[Connection]:
        """A write transaction: committed when the block ends, rolled back on an error."""

    @abstractmethod
    def _read(self) -> AbstractContextManager[Connection]:
        """A read transaction on one snapshot, for calls that run several queries."""

    @abstractmethod
    def _write_one(self, sql: str, params: Sequence[Any]) -> int:
        """Run one writing statement as a transaction of its own; the number of rows it changed."""

    def fetch(self, statement: OneStatement[T]) -> T:
        """Run a statement here, in this thread (inside a `_read()` or `_write()` block: in it)."""
        try:
            row = self._conn().execute(statement.sql, statement.params).fetchone()
        except Exception as e:
            refused = statement.refused(e)
            if refused is e:
                raise
            raise refused from None
        return statement.decode(row)

    @abstractmethod
    def close(self) -> None:
        """Close (or give back) the connections; the database is unusable afterwards."""


def opened(db: D, setup: Callable[[D], None]) -> D:
    """`db` once `setup(db)` (its schema) has run; closed again, and the error raised, if it fails."""
    try:
        setup(db)
    except BaseException:
        db.close()
        raise
    return db
