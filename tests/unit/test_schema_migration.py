"""The catalog's schema migrations (catalog/schemas.py): an older database is brought to this version in
place, once, in the transaction that opens it; a newer one is refused."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from strongroom.catalog import MetadataSealer, PostgresCatalog, SqliteCatalog, schemas
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

SEALER = MetadataSealer.of([bytes(32)])


def add_note_column(conn, sealer) -> None:  # type: ignore[no-untyped-def]
    conn.execute("ALTER TABLE buckets ADD COLUMN note TEXT NOT NULL DEFAULT 'migrated'")


def test_sqlite_is_migrated_in_place_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "catalog.sqlite3"
    SqliteCatalog.open(path, SEALER).close()  # written at this version
    step = schemas.Step(schemas.SCHEMA_VERSION + 1, add_note_column, add_note_column)
    monkeypatch.setattr(schemas, "STEPS", (*schemas.STEPS, step))
    monkeypatch.setattr(schemas, "SCHEMA_VERSION", step.to)
    for _ in range(2):  # the second open finds it done: the step does not run again
        catalog = SqliteCatalog.open(path, SEALER)
        conn = catalog._conn()
        assert conn.execute("SELECT version FROM schema_version").fetchone() == (step.to,)
        assert "note" in [row[1] for row in conn.execute("PRAGMA table_info(buckets)")]
        catalog.close()


def test_sqlite_of_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    SqliteCatalog.open(path, SEALER).close()
    catalog = SqliteCatalog.open(path, SEALER)
    catalog._conn().execute("UPDATE schema_version SET version = version + 1")
    catalog.close()
    with pytest.raises(RuntimeError, match="a newer release wrote it"):
        SqliteCatalog.open(path, SEALER)


def test_postgres_is_migrated_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    with fresh_schema("migrate") as schema:
        url = with_search_path(POSTGRES_URL, schema)
        PostgresCatalog.open(url, SEALER).close()
        step = schemas.Step(schemas.SCHEMA_VERSION + 1, add_note_column, add_note_column)
        monkeypatch.setattr(schemas, "STEPS", (*schemas.STEPS, step))
        monkeypatch.setattr(schemas, "SCHEMA_VERSION", step.to)
        PostgresCatalog.open(url, SEALER).close()
        PostgresCatalog.open(url, SEALER).close()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT version FROM schema_version").fetchone() == (step.to,)
            columns = conn.execute("SELECT column_name FROM information_schema.columns "
                                   "WHERE table_schema = %s AND table_name = 'buckets'", (schema,)).fetchall()
            assert ("note",) in columns
