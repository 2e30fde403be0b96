"""`PostgresKmsStore`: the built-in KMS's keys, sealed material and aliases in the catalog's PostgreSQL.

With `--catalog postgresql://...` several servers (on several machines) and the
`strongroom kms` command share one database, so the KMS keeps its tables there too
(schema/postgres.sql, created with the catalog's) and a key made through one server
is usable through every other. Connections (the process's one pool, shared with the
catalog), transactions and fork safety are db/postgres.py's and db/pool.py's; the
statements are store_sql's, as for SQLite.

Unlike SQLite's secure_delete, PostgreSQL keeps a deleted row's bytes until VACUUM
reuses the space; what it keeps is only sealed material, useless without the root key.
"""

from __future__ import annotations

from strongroom.catalog import schemas
from strongroom.db.database import opened
from strongroom.db.postgres import POSTGRES, PoolSettings, PostgresDatabase, redact
from strongroom.kms.store_sql import KmsStatements, SqlKmsStore


class PostgresKmsStore(SqlKmsStore, PostgresDatabase):
    """Implements `strongroom.kms.store.KmsStore` in the catalog's PostgreSQL database."""

    _sql = KmsStatements(POSTGRES)

    @classmethod
    def open(cls, url: str, pool: PoolSettings | None = None) -> PostgresKmsStore:
        """Connect to the catalog database at `url` (through the process's pool, which the catalog
        shares); its schema (with the KMS tables) is created if needed."""
        return opened(cls(url, pool), schemas.create_postgres)

    def __repr__(self) -> str:
        return f"PostgresKmsStore({redact(self.url)!r})"
