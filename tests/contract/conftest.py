"""The `catalog` fixtures: every Catalog implementation the contract suite runs against.

Add an implementation by adding a param to `catalog_opener` that returns a
picklable zero-argument callable opening a new instance on one fresh, empty
store (tests open several instances, some in other processes).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from strongroom.catalog.api import Catalog
from strongroom.catalog.sqlite import SqliteCatalog

Opener = Callable[[], Catalog]


@pytest.fixture(params=["sqlite"])
def catalog_opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    if request.param == "sqlite":
        return functools.partial(SqliteCatalog.open, tmp_path / "catalog.db")
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
