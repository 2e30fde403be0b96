"""Real servers on a PostgreSQL catalog: S3 over it, and two server processes sharing it.

Both servers use one schema of their own in the test database (STRONGROOM_TEST_POSTGRES,
default postgresql://postgres@127.0.0.1:5432/test) and one data directory for blobs,
as two servers behind one load balancer would. Skipped when PostgreSQL is not reachable.
The built-in KMS keeps its keys in that database too: a key made through one server (or
`strongroom kms` on a third machine) serves SSE-KMS on the other.

Below them, what only PostgreSQL has (the Catalog contract itself runs in tests/contract):
lock waits across transactions, a connection the server ended, the skip-scan listing chain.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError

from strongroom.catalog.api import CatalogConflict
from strongroom.catalog.listing import key_successor
from strongroom.catalog.model import Bucket, ObjectVersion, Piece, Sealing
from strongroom.catalog.postgres import PostgresCatalog
from strongroom.catalog.postgres_listing import KeyWalk, range_sql
from strongroom.catalog.sealer import MetadataSealer
from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_code, new_bucket
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

pytestmark = pytest.mark.postgres

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def schema() -> Iterator[str]:
    with fresh_schema("it") as name:
        yield name


@pytest.fixture(scope="module")
def catalog_url(schema: str) -> str:
    return with_search_path(POSTGRES_URL, schema)


@pytest.fixture(scope="module")
def servers(catalog_url: str, start_module_server: ServerFactory) -> tuple[RunningServer, RunningServer]:
    """Two server processes on different ports: one catalog (PostgreSQL), one blob directory."""
    first = start_module_server(env={"STRONGROOM_CATALOG": catalog_url})
    # Same data directory, root key, credentials and catalog: only the process and port differ.
    second = start_module_server(like=first)
    return first, second


@pytest.fixture
def a(servers: tuple[RunningServer, RunningServer]):
    return servers[0].client("s3")


@pytest.fixture
def b(servers: tuple[RunningServer, RunningServer]):
    return servers[1].client("s3")


def keys_in_postgres(schema: str, bucket: str) -> list[str]:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        rows = conn.execute(f"SELECT key FROM {schema}.current WHERE bucket = %s ORDER BY key", (bucket,))
        return [k for (k,) in rows]


def test_put_get_list_multipart(a, schema: str) -> None:
    bucket = new_bucket(a, "pg-")
    body = secrets.token_bytes(100_000)
    put = a.put_object(Bucket=bucket, Key="dir/ünï 😀", Body=body, Metadata={"m": "1"})
    got = a.get_object(Bucket=bucket, Key="dir/ünï 😀")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"] and got["Metadata"] == {"m": "1"}
    for key in ["a", "dir/x", "dir/y/z", "e"]:
        a.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listing = a.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in listing["Contents"]] == ["a", "e"]
    assert [p["Prefix"] for p in listing["CommonPrefixes"]] == ["dir/"]
    listing = a.list_objects_v2(Bucket=bucket, Prefix="dir/")
    assert [o["Key"] for o in listing["Contents"]] == ["dir/x", "dir/y/z", "dir/ünï 😀"]  # UTF-8 byte order

    parts = [secrets.token_bytes(5 * MIB), secrets.token_bytes(1234)]
    upload_id = a.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    assert [u["UploadId"] for u in a.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [upload_id]
    etags = [a.upload_part(Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=n, Body=data)["ETag"]
             for n, data in enumerate(parts, 1)]
    a.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})
    got = a.get_object(Bucket=bucket, Key="big")
    assert got["Body"].read() == b"".join(parts)
    assert got["ETag"].endswith('-2"')
    assert "Uploads" not in a.list_multipart_uploads(Bucket=bucket)

    # The metadata is in PostgreSQL, not in a SQLite file beside the blobs.
    assert keys_in_postgres(schema, bucket) == ["a", "big", "dir/x", "dir/y/z", "dir/ünï 😀", "e"]


def test_two_servers_see_each_others_writes(a, b, schema: str) -> None:
    bucket = new_bucket(a, "pg-")
    assert bucket in [x["Name"] for x in b.list_buckets()["Buckets"]]
    a.put_object(Bucket=bucket, Key="k", Body=b"from a")
    assert b.get_object(Bucket=bucket, Key="k")["Body"].read() == b"from a"
    b.put_object(Bucket=bucket, Key="k2", Body=b"b's own")
    assert keys_in_postgres(schema, bucket) == ["k", "k2"]  # both servers write to PostgreSQL
    b.delete_object(Bucket=bucket, Key="k2")
    b.put_object(Bucket=bucket, Key="k", Body=b"from b")
    assert a.get_object(Bucket=bucket, Key="k")["Body"].read() == b"from b"
    b.delete_object(Bucket=bucket, Key="k")
    with pytest.raises(ClientError) as e:
        a.get_object(Bucket=bucket, Key="k")
    assert error_code(e.value) == "NoSuchKey"

    # A conditional create on one server sees the other's object.
    a.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        b.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert error_code(e.value) == "PreconditionFailed"
    assert b.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"

    # A multipart upload started on one server, fed and completed through the other.
    upload_id = a.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = b.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"part")["ETag"]
    assert [p["ETag"] for p in a.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)["Parts"]] == [etag]
    a.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id,
                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert b.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"part"
    assert [o["Key"] for o in b.list_objects_v2(Bucket=bucket)["Contents"]] == ["mp", "once"]

    # Bucket configuration written through one server governs the other.
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
    b.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule]})
    # The other server hears of the change within milliseconds (its cache of bucket configs: README,
    # Scaling out).
    deadline = time.monotonic() + 1
    while not a.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0].get(
            "BucketKeyEnabled"):
        assert time.monotonic() < deadline, "the other server's bucket configuration did not change"
        time.sleep(0.01)
    for key in ("mp", "once"):
        a.delete_object(Bucket=bucket, Key=key)
    b.delete_bucket(Bucket=bucket)
    # The other server hears of the deletion within milliseconds (its cache of buckets: README, Scaling out).
    assert status_once_refused(lambda: a.head_bucket(Bucket=bucket), within=1.0) == 404


def status_once_refused(call, within: float) -> int:  # type: ignore[no-untyped-def]
    """The HTTP status `call` fails with, retried while it succeeds for at most `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            call()
        except ClientError as e:
            return int(e.response["ResponseMetadata"]["HTTPStatusCode"])
        assert time.monotonic() < deadline, f"still answered after {within} s"
        time.sleep(0.01)


def test_concurrent_writes_through_both_servers(a, b) -> None:
    # Conditional creates of the same keys, racing through two processes: each key has one winner.
    bucket = new_bucket(a, "pg-")
    keys = [f"race-{i}" for i in range(20)]

    def create_all(client, tag: str) -> list[str]:
        won = []
        for key in keys:
            try:
                client.put_object(Bucket=bucket, Key=key, Body=tag.encode(), IfNoneMatch="*")
                won.append(key)
            except ClientError as e:
                assert error_code(e) == "PreconditionFailed", e
        return won

    with ThreadPoolExecutor(2) as pool:
        won_a, won_b = pool.map(create_all, [a, b], ["a", "b"])
    assert set(won_a).isdisjoint(won_b)
    for key in keys:
        winner = "a" if key in won_a else "b"
        assert key in won_a or key in won_b
        assert a.get_object(Bucket=bucket, Key=key)["Body"].read() == winner.encode()


def kms_keys_in_postgres(schema: str) -> dict[str, str]:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        return dict(conn.execute(f"SELECT key_id, state FROM {schema}.kms_keys").fetchall())


def kms_cli_elsewhere(server: RunningServer, tmp_path: Path, catalog_url: str, *args: str) -> str:
    """`strongroom kms ...` as run on another machine: its own (empty) data directory, the shared
    root key and `--catalog`; nothing of the servers' data directory."""
    data_dir = tmp_path / "elsewhere"
    data_dir.mkdir(mode=0o700, exist_ok=True)
    env = {k: v for k, v in server.env.items() if k not in ("STRONGROOM_CATALOG", "STRONGROOM_DATA_DIR")}
    result = subprocess.run(
        [sys.executable, "-m", "strongroom", "kms", *args, "--data-dir", str(data_dir),
         "--root-key-file", str(server.key_file), "--catalog", catalog_url],
        env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_kms_key_made_on_one_server_serves_sse_kms_on_the_other(
        servers: tuple[RunningServer, RunningServer], a, b, schema: str, catalog_url: str,
        tmp_path: Path) -> None:
    made = servers[0].client("kms").create_key(Description="shared key")["KeyMetadata"]
    key_id, arn = made["KeyId"], made["Arn"]
    assert kms_keys_in_postgres(schema).get(key_id) == "Enabled"
    # Server B's KMS knows it, through its own KMS API ...
    assert servers[1].client("kms").describe_key(KeyId=arn)["KeyMetadata"]["Description"] == "shared key"
    bucket = new_bucket(a, "pg-")
    body = secrets.token_bytes(70_000)
    for key, bucket_key in (("kms", False), ("kms-bucket-key", True)):
        # ... and SSE-KMS on B seals under it; A reads the object back (A's KMS decrypts).
        put = b.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="aws:kms",
                           SSEKMSKeyId=key_id, BucketKeyEnabled=bucket_key)
        assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms", arn)
        got = a.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == body
        assert (got["ServerSideEncryption"], got["SSEKMSKeyId"]) == ("aws:kms", arn)

    # `strongroom kms list --catalog ...` on a third machine lists it.
    listed = {line.split("\t")[0]: line.split("\t") for line in
              kms_cli_elsewhere(servers[0], tmp_path, catalog_url, "list").splitlines()}
    assert listed[key_id][1:] == ["Enabled", "CUSTOMER", "-", "2 objects", "shared key"]  # it seals both

    # A key disabled there is disabled for both servers at their next request.
    assert kms_cli_elsewhere(servers[0], tmp_path, catalog_url, "disable", key_id).split() == [key_id,
                                                                                                "Disabled"]
    for client in (a, b):
        with pytest.raises(ClientError) as e:
            client.get_object(Bucket=bucket, Key="kms")
        assert error_code(e.value) == "KMS.DisabledException"
        with pytest.raises(ClientError) as e:
            client.put_object(Bucket=bucket, Key="new", Body=b"x", ServerSideEncryption="aws:kms",
                              SSEKMSKeyId=key_id)
        assert error_code(e.value) == "KMS.DisabledException"
    servers[1].client("kms").enable_key(KeyId=key_id)
    assert a.get_object(Bucket=bucket, Key="kms")["Body"].read() == body

    # The AWS managed key (aws/s3) is one key for both servers, created by whichever came first.
    first = a.put_object(Bucket=bucket, Key="default-a", Body=b"a", ServerSideEncryption="aws:kms")
    second = b.put_object(Bucket=bucket, Key="default-b", Body=b"b", ServerSideEncryption="aws:kms")
    assert first["SSEKMSKeyId"] == second["SSEKMSKeyId"] != arn
    assert b.get_object(Bucket=bucket, Key="default-a")["Body"].read() == b"a"
    assert a.get_object(Bucket=bucket, Key="default-b")["Body"].read() == b"b"

    # A key policy set through one server is the key's policy on the other (kms_key_policies).
    account = servers[0].client("sts").get_caller_identity()["Account"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "shared", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "kms:*", "Resource": "*"}]})
    servers[0].client("kms").put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy)
    assert servers[1].client("kms").get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == policy
    managed = [k for k, v in kms_keys_in_postgres(schema).items() if k != key_id]
    assert len(managed) == 1 and first["SSEKMSKeyId"].endswith("/" + managed[0])
    # No KMS key lives in a SQLite file in the shared data directory.
    assert not (servers[0].data_dir / "catalog.sqlite3").exists()


def test_unusable_catalog_url_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    base = [sys.executable, "-m", "strongroom", "serve", "--data-dir", str(tmp_path / "d"), "--port", "0"]
    bad = subprocess.run([*base, "--catalog", "mysql://localhost/x"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode != 0 and "--catalog must be a postgresql:// URL" in bad.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was created
    down = subprocess.run([*base, "--catalog", "postgresql://postgres:hunter2@127.0.0.1:1/x"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert down.returncode != 0
    assert "cannot open the catalog at" in down.stderr and "Connection refused" in down.stderr
    assert "hunter2" not in down.stderr + down.stdout  # the password is never shown


# --- the catalog itself, below the servers ---

SEALER = MetadataSealer.of([bytes(range(32))])


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[PostgresCatalog]:
    c = PostgresCatalog.open(catalog_url, SEALER)
    yield c
    c.close()


def record(bucket: str, key: str, tag: str = "e") -> ObjectVersion:
    piece = Piece(1, 1, tag, b"k", blob_id=None, inline=b"x")
    return ObjectVersion(bucket, key, f"v-{bucket}-{key}-{tag}", 1, tag, 0.0, "o" * 64, Sealing("AES256"),
                         (piece,))


def wait_until_blocked_by(pid: int) -> None:
    """Until some backend waits for a lock that the backend `pid` holds."""
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        for _ in range(200):
            if conn.execute("SELECT 1 FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                            (pid,)).fetchone():
                return
            time.sleep(0.01)
    raise AssertionError("nobody waited")


def test_a_write_that_waited_for_another_sees_what_it_committed(catalog: PostgresCatalog, catalog_url: str
                                                                ) -> None:
    # A put holds the key's row; a conditional put and a delete wait for it. When it commits,
    # they must act on the version it wrote (which their first snapshot did not hold).
    catalog.create_bucket(Bucket("pg-race", "o" * 64, "us-east-1", 0.0))
    catalog.put_object(record("pg-race", "k", "one"))
    writer = PostgresCatalog.open(catalog_url, SEALER)
    try:
        waiting_calls = [
            ("two", lambda: catalog.put_object(record("pg-race", "k", "three"), if_match="two")),
            ("four", lambda: catalog.delete_object("pg-race", "k")),
        ]
        for tag, waiting in waiting_calls:
            with ThreadPoolExecutor(1) as pool:
                with writer._write() as conn:
                    assert writer._lock_bucket(conn, "pg-race")
                    writer._put_current(conn, record("pg-race", "k", tag), if_none_match=False,
                                        if_match=None, acl=None, fresh=False)
                    result = pool.submit(waiting)
                    wait_until_blocked_by(conn.info.backend_pid)
                assert result.result(timeout=10) == record("pg-race", "k", tag)
        assert catalog.get_object("pg-race", "k") is None
        catalog.delete_bucket("pg-race")  # no version left behind
    finally:
        writer.close()


def test_two_creators_of_a_key_meet_at_its_row(catalog: PostgresCatalog, catalog_url: str, schema: str
                                               ) -> None:
    # A new key has no row to lock: a put that creates it while another creator's is not committed yet
    # waits for it (the key's advisory lock), then decides on what that one wrote.
    catalog.create_bucket(Bucket("pg-create", "o" * 64, "us-east-1", 0.0))
    writer = PostgresCatalog.open(catalog_url, SEALER)
    try:
        waiting_calls = [
            ("a", lambda: catalog.put_object(record("pg-create", "a", "second")),
             record("pg-create", "a", "a")),
            ("b", lambda: catalog.put_object(record("pg-create", "b", "second"), if_none_match=True), None),
        ]
        for key, waiting, replaced in waiting_calls:
            with ThreadPoolExecutor(1) as pool:
                with writer._write() as conn:
                    assert writer._lock_bucket(conn, "pg-create")
                    assert writer._put_current(conn, record("pg-create", key, key), if_none_match=True,
                                               if_match=None, acl=None, fresh=False) is None
                    result = pool.submit(waiting)
                    wait_until_blocked_by(conn.info.backend_pid)
                if replaced is None:
                    with pytest.raises(CatalogConflict):
                        result.result(timeout=10)
                else:
                    assert result.result(timeout=10) == replaced
        assert [catalog.get_object("pg-create", k) for k in "ab"] == [
            record("pg-create", "a", "second"), record("pg-create", "b", "b")]
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:  # no version left without its key
            (versions,) = conn.execute(f"SELECT count(*) FROM {schema}.versions WHERE bucket = 'pg-create'"
                                       ).fetchone()
        assert versions == 2
    finally:
        writer.close()


def test_catalog_reconnects_after_the_server_ends_its_connection(catalog: PostgresCatalog) -> None:
    catalog.create_bucket(Bucket("pg-reconnect", "o" * 64, "us-east-1", 0.0))
    with catalog._connection() as held:
        pid = held.info.backend_pid
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    time.sleep(0.2)  # the goodbye reaches our socket
    assert catalog.get_bucket("pg-reconnect") is not None  # on a new connection, not an error
    with catalog._connection() as held:
        assert held.info.backend_pid != pid


KEYS = {  # rows of KeyWalk's first call: keys alone
    (inc, bnd): range_sql("SELECT c.key FROM current c", inc, bnd)
    for inc in (True, False) for bnd in (True, False)
}


def recording(fetch: KeyWalk) -> list[tuple[str, bool]]:
    """The (lo, inclusive) of every chain query `fetch` makes from now on."""
    queries: list[tuple[str, bool]] = []
    real = fetch._query
    fetch._query = lambda *args: (queries.append(args[:2]), real(*args))[1]  # type: ignore[method-assign]
    return queries


def take_until_common_prefix(rows: Iterator[Any], delimiter: str) -> list[str]:
    """What walk does with a fetch: read rows until one lies under a common prefix."""
    keys = []
    for (key,) in rows:
        keys.append(key)
        if delimiter in key:
            break
    return keys


def test_key_walk_follows_the_seeks_of_walk(catalog: PostgresCatalog) -> None:
    # KeyWalk serves walk's seeks from one server-side chain while they are the chain's own, and
    # queries again when they are not or when the chain stopped at its depth limit.
    catalog.create_bucket(Bucket("pg-walk", "o" * 64, "us-east-1", 0.0))
    keys = ["a/1", "a/2", "b", "c/1", "d/1", "d/2", "e", "f/\U0010ffff", "f\U0010ffff/1", "g/1"]
    catalog.bulk_put_objects([record("pg-walk", k) for k in keys])

    fetch = KeyWalk(catalog._conn(), KEYS, "pg-walk", "", "/")
    queries = recording(fetch)
    assert take_until_common_prefix(fetch("", True, None, 10), "/") == ["a/1"]  # a plain range query
    assert take_until_common_prefix(fetch(key_successor("a/"), True, None, 5), "/") == ["b", "c/1"]
    assert queries == [("a0", True)]  # a chain of 5 steps: b, c/1, d/1, e, f/U+10FFFF
    rows = fetch(key_successor("c/"), True, None, 4)  # the chain's own seek: served from it ...
    assert [key for (key,) in rows] == ["d/1", "e", "f/\U0010ffff", "f\U0010ffff/1"]
    assert queries == [("a0", True), ("f0", True)]  # ... and extended past its depth limit

    # A common prefix ending in U+10FFFF has its successor computed by listing.key_successor (a
    # carry): the chain stops there and walk's next seek starts a new one.
    fetch = KeyWalk(catalog._conn(), KEYS, "pg-walk", "", "\U0010ffff")
    queries = recording(fetch)
    assert next(iter(fetch("", True, None, 10))) == ("a/1",)
    rows = take_until_common_prefix(fetch("a/1", False, None, 10), "\U0010ffff")
    assert rows == ["a/2", "b", "c/1", "d/1", "d/2", "e", "f/\U0010ffff"]
    assert [key for (key,) in fetch(key_successor("f/\U0010ffff"), True, None, 10)] == ["f\U0010ffff/1"]
    assert [key for (key,) in fetch(key_successor("f\U0010ffff"), True, None, 10)] == ["g/1"]
    assert queries == [("a/1", False), ("f0", True), ("g", True)]
