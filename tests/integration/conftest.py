"""Fixtures: real servers (one per test module by default, more on demand), clients, unique bucket names.

Every server a test starts through these fixtures is stopped at teardown and its log read then: a
traceback or an undeclared ERROR record fails the test (factory.py, ServerFactory.close).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import new_bucket
from tests.integration.server import RunningServer


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


@pytest.fixture
def s3(server: RunningServer):
    return server.client("s3")


@pytest.fixture
def kms(server: RunningServer):
    return server.client("kms")


@pytest.fixture
def bucket(s3) -> str:
    return new_bucket(s3)


def error_code(exc: BaseException) -> str:
    return exc.response["Error"]["Code"]  # type: ignore[attr-defined]


def status_of(exc: BaseException) -> int:
    return exc.response["ResponseMetadata"]["HTTPStatusCode"]  # type: ignore[attr-defined]
