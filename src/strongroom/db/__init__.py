"""SQL plumbing shared by the catalog and the KMS store: connections, transactions, group commit.

- `database.Database`: what code written once over both engines may use.
- `dialect.Dialect`: the per-statement differences (placeholders, unique violation, row locks).
- `sqlite.SqliteDatabase` (with `group_commit`) and `postgres.PostgresDatabase`: the two engines.
- `Location`: where a deployment keeps them (a `Config` is one), so that opening a
  store needs no configuration module.

Imports nothing of ours above it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Location(Protocol):
    """The PostgreSQL database at `catalog_url` when set, else the SQLite file at `catalog_path`."""

    @property
    def catalog_url(self) -> str: ...
    @property
    def catalog_path(self) -> Path: ...
