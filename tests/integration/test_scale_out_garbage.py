"""Issue 15's "Done means", garbage part: three servers on one PostgreSQL catalog and one blob directory,
each restarted and killed (kill -9) in turn while boto3 clients on threads write, overwrite, upload
multipart and read through all three. Every acknowledged object reads back intact from every server, no
request answers 500, and once the (short) grace period has passed no orphan remains: the blob
directory holds exactly the blobs the catalog references, and no blob record is left.

Meanwhile a fourth server started with its clock two hours ahead (Debian's faketime, which
`python3 dev.py test` installs) refuses to start, and disturbs nothing.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from strongroom.catalog import codec
from tests.integration.factory import ServerFactory
from tests.integration.helpers import files_under
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

pytestmark = pytest.mark.postgres

GRACE = 2.0
SWEEP = ("--sweep-interval", "0.3", "--sweep-grace", str(GRACE))
SIZES = (4 * 1024, 200 * 1024)  # inline and blob-backed
PART = 5 << 20  # S3's smallest part but the last


def body_for(key: str, n: int, size: int) -> bytes:
    head = f"{key}#{n}#".encode() + os.urandom(max(size - 64, 1))
    return head + hashlib.sha256(head).digest()


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def intact(key: str, body: bytes) -> bool:
    return hashlib.sha256(body[:-32]).digest() == body[-32:] and body.startswith(f"{key}#".encode())


class Cluster:
    """Three servers on one catalog and one data directory; the one at index i may be replaced."""

    def __init__(self, servers: list[RunningServer]) -> None:
        self.servers = servers
        self._clients: dict[int, Any] = {}
        self._lock = threading.Lock()

    def client(self, i: int) -> Any:
        server = self.servers[i]
        with self._lock:
            if server.port not in self._clients:
                self._clients[server.port] = server.client(
                    retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=32,
                    connect_timeout=5, read_timeout=30)
            return self._clients[server.port]

    def any(self) -> Any:
        return self.client(random.randrange(len(self.servers)))


class Outcomes:
    """What the clients saw: acknowledged bodies per key, attempts never acknowledged, and failures."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: dict[str, str] = {}
        self.unacked: defaultdict[str, set[str]] = defaultdict(set)
        self.statuses: Counter[str] = Counter()
        self.broken: list[str] = []

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """The call's result, or None when the server was down (connection refused or cut); an S3 error
        is counted by status and re-raised."""
        try:
            result = fn(*args, **kwargs)
        except ClientError as e:
            with self.lock:
                self.statuses[str(e.response["ResponseMetadata"]["HTTPStatusCode"])] += 1
            raise
        except (ConnectionError, HTTPClientError):
            with self.lock:
                self.statuses["down"] += 1
            return None
        with self.lock:
            self.statuses["ok"] += 1
        return result


def _writer(cluster: Cluster, seen: Outcomes, name: str, stop: threading.Event) -> None:
    keys = [f"{name}-{j}" for j in range(5)]
    n = 0
    while not stop.is_set():
        key, n = random.choice(keys), n + 1
        body = body_for(key, n, random.choice(SIZES))
        try:
            done = seen.call(cluster.any().put_object, Bucket="shared", Key=key, Body=body)
        except ClientError:
            done = None
        with seen.lock:
            if done is None:
                seen.unacked[key].add(digest(body))
            else:
                seen.acked[key] = digest(body)


def _multipart(cluster: Cluster, seen: Outcomes, stop: threading.Event) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        key = f"mp-{n}"
        body = body_for(key, n, PART + 100 * 1024)
        upload = None
        try:
            created = seen.call(cluster.any().create_multipart_upload, Bucket="shared", Key=key)
            if created is None:
                continue
            upload = created["UploadId"]
            etags = []
            for number, chunk in ((1, body[:PART]), (2, body[PART:])):  # each part through any server
                part = seen.call(cluster.any().upload_part, Bucket="shared", Key=key, UploadId=upload,
                                 PartNumber=number, Body=chunk)
                if part is None:
                    raise ConnectionError(error="down")
                etags.append(part["ETag"])
            parts = {"Parts": [{"PartNumber": i, "ETag": e} for i, e in enumerate(etags, 1)]}
            done = seen.call(cluster.any().complete_multipart_upload, Bucket="shared", Key=key,
                             UploadId=upload, MultipartUpload=parts)
        except (ClientError, ConnectionError):
            done = None
        with seen.lock:
            if done is None:
                seen.unacked[key].add(digest(body))
            else:
                seen.acked[key] = digest(body)


def _reader(cluster: Cluster, seen: Outcomes, stop: threading.Event) -> None:
    while not stop.is_set():
        with seen.lock:
            keys = list(seen.acked)
        if not keys:
            time.sleep(0.05)
            continue
        key = random.choice(keys)
        try:
            got = seen.call(cluster.any().get_object, Bucket="shared", Key=key)
            body = None if got is None else got["Body"].read()
        except ClientError:
            continue  # counted by status (a 404 of an acknowledged key fails the test below)
        except (ConnectionError, HTTPClientError):
            continue  # the server went down while it sent the body
        if body is not None and not intact(key, body):
            with seen.lock:
                seen.broken.append(key)


def _chaos(cluster: Cluster, stop: threading.Event) -> None:
    """Each server in turn killed (kill -9), then each restarted (SIGTERM): a new process takes its place."""
    for sig in (signal.SIGKILL, signal.SIGTERM):
        for i in range(len(cluster.servers)):
            time.sleep(1.5)
            old = cluster.servers[i]
            old.stop(sig)
            time.sleep(0.3)
            cluster.servers[i] = old.restart(*SWEEP)
    time.sleep(1.5)
    stop.set()


def _referenced(url: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = [*conn.execute("SELECT pieces FROM versions"), *conn.execute("SELECT piece FROM parts")]
        return {blob_id for (pieces,) in rows for blob_id in codec.blob_ids_in(pieces)}


def _records(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [tuple(r) for r in conn.execute("SELECT blob_id, state FROM blob_records")]


def _shifted_server_refuses(like: RunningServer) -> None:
    if shutil.which("faketime") is None:  # the clock's own tests (test_clock.py) say why they skip
        return
    started = subprocess.run(
        ["faketime", "-f", "+2h", sys.executable, "-m", "strongroom", "serve", "--port", "0", *SWEEP],
        env=like.env, capture_output=True, text=True, timeout=60,
    )
    assert started.returncode != 0 and "--max-clock-skew" in started.stderr, started.stderr


def test_three_servers_restarted_and_killed_lose_nothing_and_leave_no_orphan(
        start_server: ServerFactory) -> None:
    with fresh_schema("garbage") as schema:
        url = with_search_path(POSTGRES_URL, schema)
        first = start_server(*SWEEP, env={"STRONGROOM_CATALOG": url})
        cluster = Cluster([first, start_server(*SWEEP, like=first), start_server(*SWEEP, like=first)])
        cluster.client(0).create_bucket(Bucket="shared")
        seen, stop = Outcomes(), threading.Event()
        workers = [threading.Thread(target=_writer, args=(cluster, seen, f"w{i}", stop)) for i in range(3)]
        workers += [threading.Thread(target=_multipart, args=(cluster, seen, stop))]
        workers += [threading.Thread(target=_reader, args=(cluster, seen, stop)) for _ in range(2)]
        for t in workers:
            t.start()
        try:
            _shifted_server_refuses(first)
            _chaos(cluster, stop)
        finally:
            stop.set()
            for t in workers:
                t.join()

        assert seen.broken == []
        assert set(seen.statuses) <= {"ok", "down"}, seen.statuses  # no 500, no 404 of an acknowledged key
        assert seen.statuses["ok"] > 100 and any(k.startswith("mp-") for k in seen.acked), seen.statuses
        for i in range(3):  # every acknowledged object, intact, from every server
            s3 = cluster.client(i)
            for key, acked in seen.acked.items():
                body = s3.get_object(Bucket="shared", Key=key)["Body"].read()
                assert intact(key, body) and digest(body) in {acked} | seen.unacked[key], (i, key)

        blobs = first.data_dir / "blobs"

        def on_disk() -> set[str]:
            return {p.name.removesuffix(".tmp") for p in files_under(blobs)}

        deadline = time.monotonic() + 20
        while (on_disk() != _referenced(url) or _records(url)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert on_disk() == _referenced(url), on_disk() ^ _referenced(url)  # no orphan, nothing missing
        assert _records(url) == []
        for running in cluster.servers:
            running.stop()
