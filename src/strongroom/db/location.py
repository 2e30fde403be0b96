"""Where a deployment keeps its catalog and KMS store, and how either is opened from there."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

import psycopg

from strongroom.db.postgres import PoolSettings, redact

T = TypeVar("T")


class Location(Protocol):
    """The PostgreSQL database at `catalog_url` when set, reached through a pool of at most
    `db_pool_size` connections per process, else the SQLite file at `catalog_path` (a `Config` is one)."""

    @property
    def catalog_url(self) -> str: ...
    @property
    def catalog_path(self) -> Path: ...
    @property
    def db_pool_size(self) -> int: ...
    @property
    def db_pool_timeout(self) -> float: ...


def open_at(location: Location, what: str, sqlite: Callable[[Path], T], postgres: Callable[..., T]) -> T:
    """`sqlite(path)` or `postgres(url, pool=settings)`, as `location` says; an unreachable PostgreSQL
    ends the process with a message naming `what` and the URL without its password.

    The catalog and the KMS store opened at one location share the process's pool (db/pool.py):
    the first one opened sizes it."""
    if not location.catalog_url:
        return sqlite(location.catalog_path)
    try:
        pool = PoolSettings(location.db_pool_size, location.db_pool_timeout)
        return postgres(location.catalog_url, pool=pool)
    except psycopg.OperationalError as e:
        detail = " ".join(line.strip() for line in str(e).splitlines()) or type(e).__name__
        where = redact(location.catalog_url)
        raise SystemExit(f"strongroom: cannot open the {what} at {where}: {detail}") from e
