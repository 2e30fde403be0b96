"""The `kms_engine` fixture: every KmsStore implementation the KMS unit tests run against.

As tests/contract/conftest.py does for the catalog: SQLite in a fresh file, and
PostgreSQL in a schema of its own (`test_<random>`, chosen through the connection's
search_path) in the database at STRONGROOM_TEST_POSTGRES, dropped afterwards; the
postgres params are skipped, saying why, when that server is not reachable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from strongroom.kms.store import KmsStore, SqliteKmsStore
from strongroom.kms.store_postgres import PostgresKmsStore
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

KMS_TABLES = ("kms_keys", "kms_materials", "kms_aliases")


@dataclass(frozen=True)
class KmsEngine:
    name: str
    open: Callable[[], KmsStore]  # a new instance on the test's one store, as another process has
    stored: Callable[[], bytes]  # every byte the engine keeps of the KMS (call after closing the stores)


def _sqlite_files(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file())


def _postgres_rows(url: str) -> bytes:
    # Each row as PostgreSQL renders it (bytea as hex) plus the sealed material's raw bytes.
    with psycopg.connect(url, autocommit=True) as conn:
        parts = [row[0].encode() for t in KMS_TABLES for row in conn.execute(f"SELECT t::text FROM {t} t")]
        parts += [bytes(row[0]) for row in conn.execute("SELECT sealed FROM kms_materials")]
    return b"\n".join(parts)


@pytest.fixture
def postgres_kms_url() -> Iterator[str]:
    """A fresh, empty schema for one test; its URL. Dropped (with everything in it) afterwards."""
    with fresh_schema() as schema:
        yield with_search_path(POSTGRES_URL, schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def kms_engine(request: pytest.FixtureRequest, tmp_path: Path) -> KmsEngine:
    if request.param == "sqlite":
        directory = tmp_path / "sqlite"
        directory.mkdir()
        return KmsEngine("sqlite", functools.partial(SqliteKmsStore.open, directory / "catalog.sqlite3"),
                         functools.partial(_sqlite_files, directory))
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_kms_url")
        return KmsEngine("postgres", functools.partial(PostgresKmsStore.open, url),
                         functools.partial(_postgres_rows, url))
    raise AssertionError(request.param)
