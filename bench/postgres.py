"""The PostgreSQL side of the PostgreSQL-mode rows: a schema of their own, and what its backends cost.

The rows run strongroom with `--catalog` on the local PostgreSQL (STRONGROOM_BENCH_POSTGRES,
default postgresql://postgres@127.0.0.1:5432/test, as tests/postgres.py), in a fresh schema
chosen through the connection's search_path and dropped afterwards. Every connection of the
servers carries the schema's name as its `application_name`, so `pg_stat_activity` names the
backend processes serving them, and their CPU (utime + stime from /proc: the benchmark runs
on the database's machine, as root or as its user) is the PostgreSQL share of a request.
"""

from __future__ import annotations

import os
import secrets
from urllib.parse import quote

import psycopg

POSTGRES_URL = os.environ.get("STRONGROOM_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def unreachable() -> str | None:
    """Why the benchmark cannot use PostgreSQL, or None when it can."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as e:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable ({str(e).strip().splitlines()[0]})"
    return None


class Schema:
    """A fresh schema in the benchmark database (`create`), its URL for `strongroom serve --catalog`,
    the backends serving it (`backends`), and `drop`."""

    def __init__(self, prefix: str = "bench") -> None:
        self.name = f"{prefix}_{secrets.token_hex(5)}"
        options = quote(f"-csearch_path={self.name}", safe="")
        sep = "&" if "?" in POSTGRES_URL else "?"
        self.url = f"{POSTGRES_URL}{sep}application_name={self.name}&options={options}"

    def _execute(self, sql: str, params: tuple[object, ...] | None = None) -> list[tuple[object, ...]]:
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=10) as conn:
            cur = conn.execute(sql.encode(), params)
            return cur.fetchall() if cur.description else []

    def create(self) -> Schema:
        self._execute(f"CREATE SCHEMA {self.name}")
        return self

    def drop(self) -> None:
        self._execute(f"DROP SCHEMA IF EXISTS {self.name} CASCADE")

    def backends(self) -> list[int]:
        """The pids of the backends serving this schema's servers now."""
        rows = self._execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (self.name,))
        return [int(str(pid)) for (pid,) in rows]
