"""Fixtures: one real server per test module (fresh data directory), clients, unique bucket names."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.integration.server import RunningServer, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("srv") / "data"
    running = start_server(data_dir)
    yield running
    running.stop()


@pytest.fixture
def s3(server: RunningServer):
    return server.client("s3")


@pytest.fixture
def bucket(s3) -> str:
    name = "b-" + secrets.token_hex(6)
    s3.create_bucket(Bucket=name)
    return name


def error_code(exc: BaseException) -> str:
    return exc.response["Error"]["Code"]  # type: ignore[attr-defined]


def status_of(exc: BaseException) -> int:
    return exc.response["ResponseMetadata"]["HTTPStatusCode"]  # type: ignore[attr-defined]
