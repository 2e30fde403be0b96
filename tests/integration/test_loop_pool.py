"""The event loop's PostgreSQL connections (db/loop_pool.py): point reads without a thread hand-off.

The pool itself on the real PostgreSQL (STRONGROOM_TEST_POSTGRES), and a server whose GETs go through it:
bounded, refusing with 503 SlowDown when it stays busy, replacing connections the database ended, and
never holding up the rest of the server while a read waits.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from strongroom.db.database import DatabaseBusy, OneStatement
from strongroom.db.loop_pool import LoopPool, split
from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_of, fails, new_bucket
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

pytestmark = pytest.mark.postgres

NO_RETRIES = {"retries": {"total_max_attempts": 1}}


@pytest.fixture
def schema() -> Iterator[str]:
    with fresh_schema("loop") as name:
        yield name


def backends(name: str) -> set[int]:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                            (name,)).fetchall()
    return {pid for (pid,) in rows}


def url_named(schema: str, name: str) -> str:
    return f"{with_search_path(POSTGRES_URL, schema)}&application_name={name}"


def test_a_budget_is_split_between_the_threads_and_the_loop() -> None:
    assert [split(n) for n in (1, 2, 3, 4, 5, 16)] == [(1, 0), (1, 1), (2, 1), (2, 2), (3, 2), (8, 8)]
    with pytest.raises(ValueError, match="at least 1"):
        LoopPool("postgresql://x", 0, 1.0)


def test_reads_share_at_most_size_connections_and_wait_for_them(schema: str) -> None:
    name = f"{schema}_bounded"

    async def scenario() -> None:
        pool = LoopPool(url_named(schema, name), 2, timeout=5.0)
        try:
            read = OneStatement("SELECT pg_backend_pid(), pg_sleep(0.2)::text, %s::int", (7,),
                                lambda row: row)
            started = time.monotonic()
            rows = await asyncio.gather(*(pool.fetch(read) for _ in range(6)))
            took = time.monotonic() - started
            assert [row[2] for row in rows] == [7] * 6
            assert len({row[0] for row in rows}) == 2  # two connections, each used three times
            assert 0.55 < took < 3  # three rounds of two, not six at once, nor one by one
            assert {row[0] for row in rows} == backends(name)  # both kept open for the next reads
            assert await pool.fetch(OneStatement("SELECT 1 WHERE false", (), lambda row: row)) is None
        finally:
            await pool.close()
        assert backends(name) == set()

    asyncio.run(scenario())


def test_a_read_that_finds_every_connection_busy_too_long_is_refused(schema: str) -> None:
    async def scenario() -> None:
        pool = LoopPool(url_named(schema, f"{schema}_busy"), 1, timeout=0.3)
        try:
            slow = asyncio.ensure_future(pool.fetch_one("SELECT pg_sleep(%s)", (1.0,)))
            await asyncio.sleep(0.1)
            started = time.monotonic()
            with pytest.raises(DatabaseBusy, match="within 0.3 s"):
                await pool.fetch_one("SELECT %s::int", (1,))
            assert 0.2 < time.monotonic() - started < 0.9
            await slow  # the slow one was not disturbed
            assert await pool.fetch_one("SELECT %s::int", (2,)) == (2,)
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_connections_the_database_ends_are_replaced_and_a_failed_statement_costs_none(schema: str) -> None:
    name = f"{schema}_ended"

    async def scenario() -> None:
        pool = LoopPool(url_named(schema, name), 2, timeout=3.0)
        try:
            await asyncio.gather(*(pool.fetch_one("SELECT pg_sleep(%s)", (0.1,)) for _ in range(2)))
            first = backends(name)
            assert len(first) == 2
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:  # a restart, or an administrator
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE application_name = %s", (name,))
            await asyncio.sleep(0.3)  # the goodbyes reach the sockets
            assert await pool.fetch_one("SELECT %s::int", (3,)) == (3,)
            assert backends(name).isdisjoint(first)
            # A statement PostgreSQL refuses fails alone: its connection stays, the next read uses it.
            before = backends(name)
            with pytest.raises(psycopg.errors.DivisionByZero):
                await pool.fetch_one("SELECT 1 / %s::int", (0,))
            assert await pool.fetch_one("SELECT %s::int", (4,)) == (4,)
            # A statement's own refusal turns the database's error into the caller's.
            def by_zero(error: Exception) -> Exception | None:
                return ValueError("by zero") if isinstance(error, psycopg.errors.DivisionByZero) else None

            with pytest.raises(ValueError, match="by zero"):
                await pool.fetch(OneStatement("SELECT 1 / %s::int", (0,), lambda row: row, by_zero))
            assert backends(name) == before
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_an_interrupted_read_closes_its_connection(schema: str) -> None:
    name = f"{schema}_cut"

    async def scenario() -> None:
        pool = LoopPool(url_named(schema, name), 1, timeout=3.0)
        try:
            slow = asyncio.ensure_future(pool.fetch_one("SELECT pg_sleep(%s)", (5.0,)))
            await asyncio.sleep(0.2)
            cut = backends(name)
            slow.cancel()  # e.g. the request's client went away
            with pytest.raises(asyncio.CancelledError):
                await slow
            started = time.monotonic()
            assert await pool.fetch_one("SELECT %s::int", (5,)) == (5,)  # at once, on a new connection
            assert time.monotonic() - started < 2
            await asyncio.sleep(0.2)
            assert backends(name).isdisjoint(cut)
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_an_unreachable_database_is_a_retryable_refusal_in_about_the_pool_timeout() -> None:
    # A refused port, and one that accepts the connection but never answers (a hung server, a black hole):
    # each is DatabaseBusy (503 SlowDown), the hung one after libpq's shortest connect timeout (2 s), not 10.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # never accepted: the handshake completes, the startup packet is never answered

    async def scenario() -> None:
        for port in (1, silent.getsockname()[1]):
            pool = LoopPool(f"postgresql://postgres@127.0.0.1:{port}/test", 1, timeout=0.5)
            started = time.monotonic()
            with pytest.raises(DatabaseBusy, match="could not connect"):
                await pool.fetch_one("SELECT 1", ())
            assert time.monotonic() - started < 4
            await pool.close()

    try:
        asyncio.run(scenario())
    finally:
        silent.close()


def test_a_server_answers_while_its_reads_wait_and_refuses_them_when_the_wait_is_too_long(
        schema: str, start_server: ServerFactory) -> None:
    # --db-pool-size 2: one connection for the threads, one for the loop's point reads.
    server = start_server("--db-pool-size", "2", "--db-pool-timeout", "0.5",
                          env={"STRONGROOM_CATALOG": url_named(schema, f"{schema}_srv")})
    s3 = server.client("s3", **NO_RETRIES)
    bucket = new_bucket(s3, "loop-", keys=["k"])
    with psycopg.connect(with_search_path(POSTGRES_URL, schema)) as blocker:
        blocker.execute("LOCK TABLE versions IN ACCESS EXCLUSIVE MODE")
        with ThreadPoolExecutor(4) as pool:
            first = pool.submit(s3.get_object, Bucket=bucket, Key="k")
            time.sleep(0.3)
            # The loop is not held up: what needs no catalog row answers at once (the bucket is cached)...
            started = time.monotonic()
            assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
            assert time.monotonic() - started < 0.5
            # ...and a read finding the loop's one connection busy beyond the timeout is refused.
            refused = error_of(fails(s3.get_object, Bucket=bucket, Key="k"))
            blocker.rollback()
            assert first.result(timeout=30)["Body"].read() == b"k"
    assert {k: refused.get(k) for k in ("status", "Code")} == {"status": 503, "Code": "SlowDown"}
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"k"
    assert "Traceback" not in server.log()
