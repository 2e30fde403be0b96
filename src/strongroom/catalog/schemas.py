"""The catalog's schema scripts (schema/sqlite.sql, schema/postgres.sql) and the version this code knows.

The PostgreSQL script also holds the built-in KMS's tables, so the KMS store runs it too.
"""

from __future__ import annotations

from importlib import resources

SCHEMA_VERSION = 1


def script(engine: str) -> str:
    """The schema script of `engine` ("sqlite" or "postgres")."""
    return resources.files("strongroom.catalog").joinpath(f"schema/{engine}.sql").read_text("utf-8")
