"""Where the built-in KMS keeps its keys, sealed material and aliases: `open_kms_store(location)`.

The store lives beside the deployment's catalog: in its SQLite file
(`SqliteKmsStore`), or in its PostgreSQL database (`PostgresKmsStore`) when the
catalog is PostgreSQL, since several servers on several machines must see the same
keys. Both are `store_sql.SqlKmsStore`, the one implementation of `KmsStore`.
"""

from __future__ import annotations

from strongroom.db.location import Location, open_at
from strongroom.kms.store_api import AliasConflict, KmsStore, Update
from strongroom.kms.store_postgres import PostgresKmsStore
from strongroom.kms.store_sqlite import SqliteKmsStore

__all__ = ["AliasConflict", "KmsStore", "PostgresKmsStore", "SqliteKmsStore", "Update", "open_kms_store"]


def open_kms_store(location: Location) -> KmsStore:
    """The built-in KMS's store: in the PostgreSQL database at `location.catalog_url` when set,
    else in the catalog's SQLite file (a `Config` is a location)."""
    return open_at(location, "KMS store", SqliteKmsStore.open, PostgresKmsStore.open)
