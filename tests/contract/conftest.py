"""The `catalog` fixtures: every Catalog implementation the contract suite runs against.

Add an implementation by adding a param to `catalog_opener` that returns a
picklable zero-argument callable opening a new instance on one fresh, empty
store (tests open several instances, some in other processes).

PostgreSQL: each test gets a schema of its own (`test_<random>`, chosen through
the connection's search_path) in the database at STRONGROOM_TEST_POSTGRES
(default postgresql://postgres@127.0.0.1:5432/test), dropped afterwards. When that
server is not reachable, the postgres params are skipped, saying why.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from strongroom.catalog.api import Catalog
from strongroom.catalog.postgres import PostgresCatalog
from strongroom.catalog.sqlite import SqliteCatalog

Opener = Callable[[], Catalog]

POSTGRES_URL = os.environ.get("STRONGROOM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def with_search_path(url: str, schema: str) -> str:
    """`url` with `options=-csearch_path=<schema>`: the connection's tables live in that schema."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}', safe='')}"


@functools.cache
def postgres_unreachable() -> str | None:
    """Why the test PostgreSQL cannot be used, or None when it can."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as e:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable ({str(e).strip().splitlines()[0]})"
    return None


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A fresh, empty schema for one test; its URL. Dropped (with everything in it) afterwards."""
    reason = postgres_unreachable()
    if reason is not None:
        pytest.skip(reason)
    schema = f"test_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_search_path(POSTGRES_URL, schema)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog_opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    if request.param == "sqlite":
        return functools.partial(SqliteCatalog.open, tmp_path / "catalog.db")
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_schema_url")
        return functools.partial(PostgresCatalog.open, url)
    raise AssertionError(request.param)


@pytest.fixture
def catalog(catalog_opener: Opener) -> Iterator[Catalog]:
    c = catalog_opener()
    yield c
    c.close()


@pytest.fixture
def other_catalog(catalog: Catalog, catalog_opener: Opener) -> Iterator[Catalog]:
    """A second instance on the same store, as another server process or the CLI has."""
    c = catalog_opener()
    yield c
    c.close()
