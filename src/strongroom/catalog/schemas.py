"""The catalog's schema (schema/sqlite.sql, schema/postgres.sql): created, or checked, when a database opens.

The PostgreSQL script also holds the built-in KMS's tables, so the KMS store runs it too.
"""

from __future__ import annotations

from importlib import resources

from strongroom.db.postgres import PostgresDatabase
from strongroom.db.sqlite import SqliteDatabase

SCHEMA_VERSION = 1


def _script(engine: str) -> str:
    return resources.files("strongroom.catalog").joinpath(f"schema/{engine}.sql").read_text("utf-8")


def create_sqlite(db: SqliteDatabase) -> None:
    """Create the schema in `db` if needed; refuse a file of another schema version."""
    db.apply_schema(_script("sqlite"))
    (version,) = db._conn().execute("SELECT version FROM schema_version").fetchone()
    if version != SCHEMA_VERSION:
        raise RuntimeError(f"catalog {db.path} has schema version {version}; "
                           f"this strongroom knows {SCHEMA_VERSION}")


def create_postgres(db: PostgresDatabase) -> None:
    """Create the schema (and the KMS's tables) in `db` if needed; refuse one of another schema version."""
    db.apply_schema(_script("postgres"), SCHEMA_VERSION)
