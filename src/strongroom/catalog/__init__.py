"""The catalog: S3 metadata (users, buckets, objects, uploads) behind one narrow interface.

`api.Catalog` is the interface and `model` its records; `SqliteCatalog` is the
embedded implementation and `postgres.PostgresCatalog` the shared one, chosen by
`open_catalog(config)`. Everything else in this package is private to them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strongroom.catalog.api import BucketExists, BucketNotEmpty, Catalog, CatalogConflict, NoSuchBucketError
from strongroom.catalog.sqlite import SqliteCatalog

if TYPE_CHECKING:
    from strongroom.config import Config

__all__ = [
    "BucketExists",
    "BucketNotEmpty",
    "Catalog",
    "CatalogConflict",
    "NoSuchBucketError",
    "SqliteCatalog",
    "open_catalog",
]


def open_catalog(config: Config) -> Catalog:
    """The deployment's catalog: the PostgreSQL database at `config.catalog_url` when one is
    configured, else the SQLite file in the data directory."""
    if not config.catalog_url:
        return SqliteCatalog.open(config.catalog_path)
    import psycopg  # only a PostgreSQL deployment needs it loaded

    from strongroom.catalog.postgres import PostgresCatalog
    from strongroom.catalog.postgres_db import redact

    try:
        return PostgresCatalog.open(config.catalog_url)
    except psycopg.OperationalError as e:
        detail = " ".join(line.strip() for line in str(e).splitlines()) or type(e).__name__
        where = redact(config.catalog_url)
        raise SystemExit(f"strongroom: cannot open the catalog at {where}: {detail}") from e
