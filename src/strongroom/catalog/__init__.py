"""The catalog: S3 metadata (users, buckets, objects, uploads) behind one narrow interface.

`api.Catalog` is the interface and `model` its records; `SqliteCatalog` is the
embedded implementation and `postgres.PostgresCatalog` the shared one, chosen by
`open_catalog(location)`. Most of both is written once (`sql_*` over `statements`);
everything else in this package is private to them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from strongroom.catalog.api import BucketExists, BucketNotEmpty, Catalog, CatalogConflict, NoSuchBucketError
from strongroom.catalog.postgres import PostgresCatalog
from strongroom.catalog.sqlite import SqliteCatalog
from strongroom.db.location import Location, open_at

__all__ = [
    "BucketExists",
    "BucketNotEmpty",
    "Catalog",
    "CatalogConflict",
    "NoSuchBucketError",
    "PostgresCatalog",
    "SqliteCatalog",
    "open_catalog",
]


def open_catalog(location: Location) -> Catalog:
    """The deployment's catalog: the PostgreSQL database at `location.catalog_url` when one is
    set, else the SQLite file at `location.catalog_path` (a `Config` is a location)."""
    sqlite: Callable[[Path], Catalog] = SqliteCatalog.open
    return open_at(location, "catalog", sqlite, PostgresCatalog.open)
