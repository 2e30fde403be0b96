"""The catalog: S3 metadata (users, buckets, objects, uploads) behind one narrow interface.

`api.Catalog` is the interface and `model` its records; `SqliteCatalog` is the
embedded implementation and `postgres.PostgresCatalog` the shared one, chosen by
`open_catalog(location)`. Most of both is written once (`sql_*` over `statements`);
everything else in this package is private to them.
"""

from __future__ import annotations

import psycopg

from strongroom.catalog.api import BucketExists, BucketNotEmpty, Catalog, CatalogConflict, NoSuchBucketError
from strongroom.catalog.postgres import PostgresCatalog
from strongroom.catalog.sqlite import SqliteCatalog
from strongroom.db import Location
from strongroom.db.postgres import unreachable

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
    if not location.catalog_url:
        return SqliteCatalog.open(location.catalog_path)
    try:
        return PostgresCatalog.open(location.catalog_url)
    except psycopg.OperationalError as e:
        raise unreachable("catalog", location.catalog_url, e) from e
