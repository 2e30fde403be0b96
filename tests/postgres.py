"""The test PostgreSQL: where it is, whether it answers, and a fresh schema per test or module.

The database at STRONGROOM_TEST_POSTGRES (default postgresql://postgres@127.0.0.1:5432/test).
A schema of its own (`<prefix>_<random>`, chosen through the connection's search_path) keeps
tests apart; it is dropped with everything in it afterwards. When the server is not
reachable, the test is skipped, saying why.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
import pytest

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


@contextmanager
def fresh_schema(prefix: str = "test") -> Iterator[str]:
    """A new, empty schema's name (skips the test when PostgreSQL is not reachable); dropped after."""
    reason = postgres_unreachable()
    if reason is not None:
        pytest.skip(reason)
    schema = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def catalog_env(schema: str | None) -> dict[str, str]:
    """A server's environment for the catalog in `schema` (the `engine` fixture's value: None, SQLite)."""
    return {} if schema is None else {"STRONGROOM_CATALOG": with_search_path(POSTGRES_URL, schema)}
