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
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from strongroom.catalog.api import Catalog
from strongroom.catalog.model import ObjectVersion, Part, Piece
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


class Writer:
    """A catalog used as the vault uses it: every blob a write commits was recorded pending first
    (`record_pending`, before its file would be created). Everything else goes to the catalog as is."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def __getattr__(self, name: str) -> Any:
        return getattr(self._catalog, name)

    def put_object(self, version: ObjectVersion, **kw: Any) -> ObjectVersion | None:
        self._pending(version.pieces)
        return self._catalog.put_object(version, **kw)

    def put_part(self, part: Part) -> Part | None:
        self._pending([part.piece])
        return self._catalog.put_part(part)

    def _pending(self, pieces: Iterable[Piece]) -> None:
        for p in pieces:
            if p.blob_id:
                self._catalog.record_pending(p.blob_id)


def _writer(open_catalog: Opener) -> Catalog:
    return cast(Catalog, Writer(open_catalog()))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog_opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    if request.param == "sqlite":
        path = tmp_path / "catalog.db"
        return functools.partial(_writer, functools.partial(SqliteCatalog.open, path, SEALER))
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_schema_url")
        return functools.partial(_writer, functools.partial(PostgresCatalog.open, url, SEALER))
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
