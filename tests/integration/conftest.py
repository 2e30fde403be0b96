"""Fixtures: real servers (one per test module by default, more on demand), clients, unique bucket names.

Every server a test starts through these fixtures is stopped at teardown and its log read then: a
traceback or an undeclared ERROR record fails the test (factory.py, ServerFactory.close).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import new_bucket
from tests.integration.server import RunningServer
from tests.postgres import catalog_env, fresh_schema


@pytest.fixture
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """Start servers for this test: `start_server("--workers", "2", env={...}, tls=True)`."""
    factory = ServerFactory(lambda: tmp_path_factory.mktemp("srv"))
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def start_module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """As `start_server`, for servers that live as long as the test module."""
    factory = ServerFactory(lambda: tmp_path_factory.mktemp("srv"))
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def server(start_module_server: ServerFactory) -> RunningServer:
    return start_module_server()


@pytest.fixture(scope="module")
def tls_server(start_module_server: ServerFactory) -> tuple[RunningServer, Path]:
    """A second server of the module's, over https with a self-signed certificate: (server, certificate)."""
    running = start_module_server(tls=True)
    assert running.cert is not None
    return running, running.cert


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog_engine(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The environment that puts a server's catalog on each engine: SQLite in its data directory, or a
    fresh PostgreSQL schema (dropped after the module, once its servers have stopped)."""
    if request.param == "sqlite":
        yield catalog_env(None)
        return
    with fresh_schema("engine") as schema:
        yield catalog_env(schema)


@pytest.fixture(scope="module")
def engine_server(catalog_engine: dict[str, str], start_module_server: ServerFactory) -> RunningServer:
    """A server of the module's on each catalog engine in turn (tests using it run once per engine)."""
    return start_module_server(env=catalog_engine)


@pytest.fixture
def s3(server: RunningServer):
    return server.client("s3")


@pytest.fixture
def kms(server: RunningServer):
    return server.client("kms")


@pytest.fixture
def bucket(s3) -> str:
    return new_bucket(s3)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for the SQLite catalog in the data directory, or the name of a fresh PostgreSQL schema
    (`catalog_env(engine)` is the server's environment for it)."""
    if request.param == "sqlite":
        yield None
        return
    with fresh_schema(request.module.__name__.rsplit(".", 1)[-1][:20]) as schema:
        yield schema
