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
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from strongroom.catalog.api import Catalog
from strongroom.catalog.postgres import PostgresCatalog
from strongroom.catalog.sealer import MetadataSealer
from strongroom.catalog.sqlite import SqliteCatalog
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

Opener = Callable[[], Catalog]
# The catalog's sealer in these tests: a fixed root key (the contract is the same under any).
ROOT_KEY = bytes(range(32))
SEALER = MetadataSealer.of([ROOT_KEY])

@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A fresh, empty schema for one test; its URL. Dropped (with everything in it) afterwards."""
    with fresh_schema() as schema:
        yield with_search_path(POSTGRES_URL, schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog_opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    if request.param == "sqlite":
        return functools.partial(SqliteCatalog.open, tmp_path / "catalog.db", SEALER)
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_schema_url")
        return functools.partial(PostgresCatalog.open, url, SEALER)
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
