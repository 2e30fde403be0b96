"""Bounded PostgreSQL connections (issue 15): each server process holds at most --db-pool-size.

Real servers on the PostgreSQL at STRONGROOM_TEST_POSTGRES (tests/postgres.py), each under
an application_name of its own (given in the catalog URL, as an operator may), so that
pg_stat_activity counts each one's connections while other tests share the database.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from botocore.exceptions import ClientError

from strongroom.catalog.postgres import PostgresCatalog
from strongroom.catalog.sealer import MetadataSealer
from strongroom.db.database import DatabaseBusy
from strongroom.db.pool import PoolSettings, acquire, release
from strongroom.kms.store_postgres import PostgresKmsStore
from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_of, new_bucket
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

pytestmark = pytest.mark.postgres

NO_RETRIES = {"retries": {"total_max_attempts": 1}}  # to see each answer, not boto3's retry of it


@pytest.fixture
def schema() -> Iterator[str]:
    with fresh_schema("pool") as name:
        yield name


def named(schema: str, name: str) -> str:
    """The catalog URL with an application_name of its own: `<schema>_<name>`."""
    return f"{with_search_path(POSTGRES_URL, schema)}&application_name={schema}_{name}"


def connections_by_name(schema: str) -> dict[str, int]:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        rows = conn.execute("SELECT application_name, count(*) FROM pg_stat_activity "
                            "WHERE application_name LIKE %s GROUP BY 1", (f"{schema}\\_%",)).fetchall()
    return {name.removeprefix(f"{schema}_"): n for name, n in rows}


class Peaks:
    """The most connections each application_name had at once, sampled while the block runs."""

    def __init__(self, schema: str) -> None:
        self.schema, self.peak, self._stop = schema, dict[str, int](), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for name, n in connections_by_name(self.schema).items():
                self.peak[name] = max(self.peak.get(name, 0), n)
            time.sleep(0.02)

    def __enter__(self) -> Peaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def load(server: RunningServer, bucket: str, kms_key: str, seconds: float, threads: int = 8) -> list[str]:
    """PUTs (SSE-S3 and SSE-KMS), GETs and listings from `threads` clients; the failures, as text."""
    failures: list[str] = []
    deadline = time.monotonic() + seconds

    def client_loop(n: int) -> None:
        s3 = server.client("s3")
        i = 0
        while time.monotonic() < deadline:
            key = f"t{n}/k{i % 20}"
            try:
                if i % 3 == 2:
                    s3.put_object(Bucket=bucket, Key=key, Body=b"x" * 4096, ServerSideEncryption="aws:kms",
                                  SSEKMSKeyId=kms_key)
                else:
                    s3.put_object(Bucket=bucket, Key=key, Body=b"y" * 4096)
                assert len(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == 4096
                if i % 5 == 0:
                    s3.list_objects_v2(Bucket=bucket, Prefix=f"t{n}/", Delimiter="/")
            except ClientError as e:
                failures.append(f"{server.port}: {error_of(e)}")
            i += 1

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(client_loop, range(threads)))
    return failures


def test_servers_stay_within_their_pools_and_others_still_connect(
        schema: str, start_server: ServerFactory) -> None:
    # Three servers on one catalog: two of one process with a pool of 2, one of two worker
    # processes with a pool of 2 each; 8 clients each.
    a = start_server("--db-pool-size", "2", env={"STRONGROOM_CATALOG": named(schema, "a")})
    b = start_server("--db-pool-size", "2", like=a, env={"STRONGROOM_CATALOG": named(schema, "b")})
    c = start_server("--db-pool-size", "2", "--workers", "2", like=a,
                     env={"STRONGROOM_CATALOG": named(schema, "c")})
    s3 = a.client("s3")
    buckets = {server.port: new_bucket(s3, "pool-") for server in (a, b, c)}
    kms_key = a.client("kms").create_key(Description="pool test")["KeyMetadata"]["KeyId"]

    failures: list[str] = []
    meanwhile: dict[str, object] = {}

    def others_connect() -> None:
        time.sleep(1.0)  # under load by now
        with psycopg.connect(POSTGRES_URL, connect_timeout=5) as conn:  # psql's way in
            meanwhile["psql"] = conn.execute("SELECT 1").fetchone()
        cli_env = dict(a.env, STRONGROOM_CATALOG=named(schema, "cli"))
        listed = subprocess.run([sys.executable, "-m", "strongroom", "user", "list"], env=cli_env,
                                capture_output=True, text=True, timeout=60)
        meanwhile["cli"] = (listed.returncode, listed.stderr)
        d = start_server(like=a, env={"STRONGROOM_CATALOG": named(schema, "d")})
        meanwhile["fourth"] = d.client("s3").head_bucket(Bucket=buckets[a.port])["ResponseMetadata"][
            "HTTPStatusCode"]

    with Peaks(schema) as peaks, ThreadPoolExecutor(4) as pool:
        others = pool.submit(others_connect)
        runs = [pool.submit(load, server, buckets[server.port], kms_key, 6.0) for server in (a, b, c)]
        for run in runs:
            failures += run.result()
        others.result()

    assert failures == []
    assert meanwhile == {"psql": (1,), "cli": (0, ""), "fourth": 200}
    # Every process kept to its pool; they did use it (the load needs more than one connection).
    assert peaks.peak.get("a", 0) <= 2 and peaks.peak.get("b", 0) <= 2, peaks.peak
    assert peaks.peak.get("c", 0) <= 2 * 2, peaks.peak
    assert peaks.peak.get("cli", 0) <= 2 and peaks.peak.get("d", 0) <= 4, peaks.peak
    assert peaks.peak["a"] == 2 and peaks.peak["c"] >= 2, peaks.peak


def test_a_pool_too_small_for_the_load_answers_slow_down(schema: str, start_server: ServerFactory) -> None:
    url = named(schema, "small")
    server = start_server("--db-pool-size", "1", "--db-pool-timeout", "0.5", env={"STRONGROOM_CATALOG": url})
    s3 = server.client("s3", **NO_RETRIES)
    bucket = new_bucket(s3, "small-", keys=["k"])
    with psycopg.connect(with_search_path(POSTGRES_URL, schema)) as blocker:
        # The server's one connection waits for this lock on its first query; what comes after waits
        # for the connection, beyond --db-pool-timeout. (The object's rows: the bucket's own the
        # server has cached.)
        blocker.execute("LOCK TABLE versions IN ACCESS EXCLUSIVE MODE")
        with ThreadPoolExecutor(6) as pool:
            first = pool.submit(s3.get_object, Bucket=bucket, Key="k")
            wait_until_blocked(blocker.info.backend_pid)
            started = time.monotonic()
            later = [pool.submit(outcome, lambda: s3.get_object(Bucket=bucket, Key="k")) for _ in range(5)]
            refused = [f.result(timeout=30) for f in later]
            waited = time.monotonic() - started
            blocker.rollback()
            assert first.result(timeout=30)["Body"].read() == b"k"  # it ran: it is answered in full
    assert [{k: r.get(k) for k in ("status", "Code", "Message")} for r in refused] == [
        {"status": 503, "Code": "SlowDown", "Message": "Please reduce your request rate."}] * 5
    assert waited < 10  # refused about the timeout after they came, not when the lock went
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"k"  # and served again at once
    assert "Traceback" not in server.log()


def test_connections_the_database_ends_are_replaced_without_failing_requests(
        schema: str, start_server: ServerFactory) -> None:
    server = start_server("--db-pool-size", "3", env={"STRONGROOM_CATALOG": named(schema, "ended")})
    s3 = server.client("s3", **NO_RETRIES)
    bucket = new_bucket(s3, "ended-", keys=["k"])
    with ThreadPoolExecutor(6) as pool:  # enough at once for the pool to open all its connections
        list(pool.map(lambda _: s3.get_object(Bucket=bucket, Key="k")["Body"].read(), range(60)))
    for _ in range(3):  # a PostgreSQL restart, or an administrator, ends every one of them
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            ended = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                 "WHERE application_name = %s", (f"{schema}_ended",)).fetchone()
        assert ended is not None and ended[0] >= 1
        time.sleep(0.3)  # the goodbyes reach the server's sockets
        with ThreadPoolExecutor(6) as pool:
            bodies = list(pool.map(lambda _: s3.get_object(Bucket=bucket, Key="k")["Body"].read(), range(30)))
        assert bodies == [b"k"] * 30
        s3.put_object(Bucket=bucket, Key="k2", Body=b"after")
    assert s3.get_object(Bucket=bucket, Key="k2")["Body"].read() == b"after"
    assert 1 <= connections_by_name(schema).get("ended", 0) <= 3


def outcome(call: Callable[[], object]) -> dict[str, object]:
    try:
        call()
    except ClientError as e:
        return error_of(e)
    return {"status": 200}


def wait_until_blocked(pid: int) -> None:
    """Until some backend waits for a lock that the backend `pid` holds."""
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        for _ in range(500):
            if conn.execute("SELECT 1 FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                            (pid,)).fetchone():
                return
            time.sleep(0.01)
    raise AssertionError("nobody waited")


# --- the pool itself, below the servers ---


def test_the_catalog_and_the_kms_store_share_one_pool_per_process(schema: str) -> None:
    url = with_search_path(POSTGRES_URL, schema)
    catalog = PostgresCatalog.open(url, MetadataSealer.of([bytes(32)]), PoolSettings(size=1, timeout=0.3))
    store = PostgresKmsStore.open(url, PoolSettings(size=5))  # the pool exists: its settings stay
    try:
        assert store._conn() is catalog._conn() and catalog._conn().settings.size == 1
        with catalog._write() as conn:  # the one connection, held by this thread
            # Statements of the same thread join its transaction (no second connection, no deadlock)...
            conn.execute("CREATE TABLE held (x int)")
            assert catalog._conn().execute("SELECT count(*) FROM held").fetchone() == (0,)
            assert store.get_key("nope") is None
            # ...while another thread waits for the connection, then gives up.
            with ThreadPoolExecutor(1) as other, pytest.raises(DatabaseBusy, match="within 0.3 s"):
                other.submit(catalog.get_bucket, "b").result()
        assert catalog.get_bucket("b") is None  # given back: usable again
    finally:
        catalog.close()
    assert store.get_key("nope") is None  # the store still holds the pool
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.get_key("nope")
    fresh = PostgresKmsStore.open(url, PoolSettings(size=3))  # the last holder closed it: a new one
    try:
        assert fresh._conn().settings.size == 3
    finally:
        fresh.close()


def test_pool_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PoolSettings(size=0)
    with pytest.raises(ValueError, match="positive"):
        PoolSettings(timeout=0)


def test_statements_with_parameters_read_binary_results_that_load_as_text_ones_do(schema: str) -> None:
    url = with_search_path(POSTGRES_URL, schema)
    pool = acquire(url, PoolSettings(size=1))
    body = bytes(range(256)) * 16  # a 4 KiB inline body, every byte value
    row_sql = ("SELECT %s::bytea, %s::text, %s::bigint, %s::double precision, %s::json, %s::integer IS NULL, "
               "CAST(extract(epoch FROM clock_timestamp()) AS double precision) > 0")
    params = (body, "k\u00e9y/\U0001f600", 2**40, 0.5, '{"a": [1]}', None)
    try:
        cur = pool.execute(row_sql, params)
        # The body came as its 4096 bytes, not as 8 KiB of hex for libpq to decode.
        assert cur.pgresult is not None and cur.pgresult.fformat(0) == 1
        with psycopg.connect(url, autocommit=True) as text:  # psycopg's default: text results
            assert text.execute(row_sql, params).pgresult.fformat(0) == 0  # type: ignore[union-attr]
            assert cur.fetchone() == text.execute(row_sql, params).fetchone() == (
                body, params[1], 2**40, 0.5, {"a": [1]}, True, True)
        # Without parameters: the simple protocol as before, where a script may hold several statements.
        with pool.connection() as conn:
            conn.execute("CREATE TABLE scripted (x int); INSERT INTO scripted VALUES (7)")
        assert pool.execute("SELECT x FROM scripted").fetchone() == (7,)
    finally:
        release(pool)


def test_a_connection_given_back_goes_to_whoever_waits_and_never_with_a_transaction_open(schema: str) -> None:
    url = with_search_path(POSTGRES_URL, schema)
    pool = acquire(url, PoolSettings(size=1, timeout=3))
    try:
        pool.execute("CREATE TABLE t (x int)")
        # Given back while another thread waits: handed to it (not kept aside for a later call).
        conn = pool.checkout()
        with ThreadPoolExecutor(1) as other:
            started = time.monotonic()
            waiter = other.submit(lambda: pool.execute("SELECT 1").fetchone())
            time.sleep(0.3)
            assert not waiter.done()  # the one connection is out
            pool.checkin(conn)
            assert waiter.result() == (1,) and time.monotonic() - started < 2
        # Given back inside a transaction (a caller's bug, or a block cut short): rolled back before
        # anyone uses it again, not kept aside for the next call to run inside it.
        conn = pool.checkout()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t VALUES (1)")
        pool.checkin(conn)
        assert pool.execute("SELECT count(*) FROM t").fetchone() == (0,)
        with pool.connection() as again:
            assert again.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    finally:
        release(pool)
