"""The catalog: S3 metadata (users, buckets, objects, uploads) behind one narrow interface.

`api.Catalog` is the interface and `model` its records; `SqliteCatalog` is the
embedded implementation and `postgres.PostgresCatalog` the shared one, chosen by
`open_catalog(location, sealer)`. Most of both is written once (`sql_*` over `statements`);
everything else in this package is private to them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from strongroom.catalog.api import BucketExists, BucketNotEmpty, Catalog, CatalogConflict, NoSuchBucketError
from strongroom.catalog.postgres import PostgresCatalog
from strongroom.catalog.sealer import MetadataSealer
from strongroom.catalog.sqlite import SqliteCatalog
from strongroom.db.location import Location, open_at

__all__ = [
    "BucketExists",
    "BucketNotEmpty",
    "Catalog",
    "CatalogConflict",
    "MetadataSealer",
    "NoSuchBucketError",
    "PostgresCatalog",
    "SqliteCatalog",
    "open_catalog",
]


def open_catalog(location: Location, sealer: MetadataSealer) -> Catalog:
    """The deployment's catalog: the PostgreSQL database at `location.catalog_url` when one is
    set, else the SQLite file at `location.catalog_path` (a `Config` is a location). `sealer`
    (`MetadataSealer.of(config.root_keys)`) seals and unseals its rows' private fields."""
    sqlite: Callable[[Path], Catalog] = functools.partial(SqliteCatalog.open, sealer=sealer)
    return open_at(location, "catalog", sqlite, functools.partial(PostgresCatalog.open, sealer=sealer))
