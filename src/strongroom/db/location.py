"""Where a deployment keeps its catalog and KMS store, and how either is opened from there."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

import psycopg

from strongroom.db.postgres import redact

T = TypeVar("T")


class Location(Protocol):
    """The PostgreSQL database at `catalog_url` when set, else the SQLite file at `catalog_path`
    (a `Config` is one)."""

    @property
    def catalog_url(self) -> str: ...
    @property
    def catalog_path(self) -> Path: ...


def open_at(location: Location, what: str, sqlite: Callable[[Path], T], postgres: Callable[[str], T]) -> T:
    """`sqlite(path)` or `postgres(url)`, as `location` says; an unreachable PostgreSQL ends the
    process with a message naming `what` and the URL without its password."""
    if not location.catalog_url:
        return sqlite(location.catalog_path)
    try:
        return postgres(location.catalog_url)
    except psycopg.OperationalError as e:
        detail = " ".join(line.strip() for line in str(e).splitlines()) or type(e).__name__
        where = redact(location.catalog_url)
        raise SystemExit(f"strongroom: cannot open the {what} at {where}: {detail}") from e
