"""Garbage is decided by the catalog (issue 15), on a real server with a SQLite catalog: reads racing
overwrites never fail, replaced blobs go once the grace period has passed (and not before), a slow
writer is spared, and orphan files (no record names them) are swept only when older than the grace.

A killed write's pending record and temporary file are swept after the grace too:
test_server.py::test_crash_mid_upload_leaves_nothing.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.integration.factory import ServerFactory
from tests.integration.helpers import files_under
from tests.integration.server import RunningServer

GRACE = 2.0
SWEEP = ("--sweep-interval", "0.2", "--sweep-grace", str(GRACE))
BODY = 200 * 1024  # larger than inline (64 KiB): every version has a blob


def checked_body(key: str, n: int, size: int = BODY) -> bytes:
    """A body that says which key and write it is, and whose last 32 bytes are the SHA-256 of the rest."""
    head = f"{key}#{n}#".encode() + os.urandom(size - 64)
    return head + hashlib.sha256(head).digest()


def intact(key: str, body: bytes) -> bool:
    head, digest = body[:-32], body[-32:]
    return hashlib.sha256(head).digest() == digest and head.startswith(f"{key}#".encode())


def blob_ids(server: RunningServer) -> set[str]:
    """The committed blob files (not temporary ones), by id."""
    root = server.data_dir / "blobs"
    return {p.name for p in files_under(root) if p.parent != root / "tmp"}


def until(condition, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def no_retries(server: RunningServer):  # type: ignore[no-untyped-def]
    return server.client(retries={"max_attempts": 1, "mode": "standard"}, max_pool_connections=16)


def test_reads_racing_overwrites_never_fail_and_replaced_blobs_go_after_the_grace(
        start_server: ServerFactory) -> None:
    server = start_server(*SWEEP)
    writer, reader = no_retries(server), no_retries(server)  # two clients: other connections
    writer.create_bucket(Bucket="race")
    keys = [f"k{i}" for i in range(4)]
    for key in keys:
        writer.put_object(Bucket="race", Key=key, Body=checked_body(key, 0))
    stop = threading.Event()
    outcomes: Counter[str] = Counter()
    broken: list[str] = []

    def overwrite() -> None:
        n = 1
        while not stop.is_set():
            key = keys[n % len(keys)]
            writer.put_object(Bucket="race", Key=key, Body=checked_body(key, n))
            n += 1

    def read() -> None:
        while not stop.is_set():
            key = secrets.choice(keys)
            try:
                body = reader.get_object(Bucket="race", Key=key)["Body"].read()
            except ClientError as e:
                outcomes[str(e.response["ResponseMetadata"]["HTTPStatusCode"])] += 1
                continue
            outcomes["200"] += 1
            if not intact(key, body):
                broken.append(key)

    threads = [threading.Thread(target=overwrite)] + [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(4)
    stop.set()
    for t in threads:
        t.join()
    assert outcomes["200"] > 50 and set(outcomes) == {"200"}, outcomes  # never a 500 (nor anything else)
    assert broken == []

    # A reader that looked the version up before it was replaced and deleted reads it whole: a multipart
    # object, whose second part's blob is opened only once the first part has been sent.
    big = checked_body("big", 0, (5 << 20) + BODY)
    upload = writer.create_multipart_upload(Bucket="race", Key="big")["UploadId"]
    parts = [writer.upload_part(Bucket="race", Key="big", UploadId=upload, PartNumber=n, Body=chunk)["ETag"]
             for n, chunk in ((1, big[:5 << 20]), (2, big[5 << 20:]))]
    writer.complete_multipart_upload(Bucket="race", Key="big", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(parts, 1)]})
    slow = reader.get_object(Bucket="race", Key="big")["Body"]
    first = slow.read(64 * 1024)
    writer.put_object(Bucket="race", Key="big", Body=checked_body("big", 1, 300 * 1024))
    writer.delete_object(Bucket="race", Key="big")
    assert first + slow.read() == big

    # Within the grace period the replaced blobs are still there; after it, only the current ones.
    current = len(keys)
    assert len(blob_ids(server)) > current
    assert until(lambda: len(blob_ids(server)) == current), len(blob_ids(server))
    for key in keys:
        assert intact(key, reader.get_object(Bucket="race", Key=key)["Body"].read())
    assert files_under(server.data_dir / "blobs" / "tmp") == []


def test_garbage_waits_for_the_grace_period(start_server: ServerFactory) -> None:
    """Deleted objects, aborted uploads and replaced parts: their blobs stay until the grace has passed."""
    server = start_server("--sweep-interval", "0.2", "--sweep-grace", "4")
    s3 = server.client()
    s3.create_bucket(Bucket="wait")
    s3.put_object(Bucket="wait", Key="gone", Body=os.urandom(BODY))
    upload = s3.create_multipart_upload(Bucket="wait", Key="mp")["UploadId"]
    for _ in range(2):  # the second upload of part 1 replaces the first
        s3.upload_part(Bucket="wait", Key="mp", UploadId=upload, PartNumber=1, Body=os.urandom(BODY))
    s3.delete_object(Bucket="wait", Key="gone")
    s3.abort_multipart_upload(Bucket="wait", Key="mp", UploadId=upload)
    dropped = time.monotonic()
    assert len(blob_ids(server)) == 3
    time.sleep(2)
    assert len(blob_ids(server)) == 3  # half the grace period: all still there
    assert until(lambda: not blob_ids(server))
    assert time.monotonic() - dropped >= 3.5


def test_a_slow_writer_is_spared(start_server: ServerFactory) -> None:
    """A PUT that takes longer than the grace period, its temporary file growing all along: its pending
    record is older than the grace, but its file is not, and the sweep leaves it be."""
    server = start_server("--sweep-interval", "0.2", "--sweep-grace", "1.5")
    s3 = server.client()
    s3.create_bucket(Bucket="slow")
    chunk, chunks = 512 * 1024, 16
    body = os.urandom(chunk * chunks)
    path = "/slow/k"
    headers = server.sign("PUT", path, content_sha256="UNSIGNED-PAYLOAD")
    conn = server.connection(timeout=60)
    conn.putrequest("PUT", path, skip_host=True)
    headers = {**headers, "host": f"127.0.0.1:{server.port}", "content-length": str(len(body))}
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    started = time.monotonic()
    for i in range(chunks):
        conn.send(body[i * chunk:(i + 1) * chunk])
        time.sleep(0.25)
    response = conn.getresponse()
    assert response.status == 200, response.read()
    conn.close()
    assert time.monotonic() - started > 2 * 1.5
    assert s3.get_object(Bucket="slow", Key="k")["Body"].read() == body


def _plant(root: Path, blob_id: str, age: float, tmp: bool = False) -> Path:
    path = root / "tmp" / f"{blob_id}.tmp" if tmp else root / blob_id[:2] / blob_id[2:4] / blob_id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(100))
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_orphans_older_than_the_grace_are_swept_and_younger_ones_are_not(start_server: ServerFactory) -> None:
    """Files no record names (left by a release before blob records, or by a record removed while its
    file could not be): the orphan scan at start removes those older than the grace period only."""
    sweep = ("--sweep-interval", "0.2", "--sweep-grace", "30")
    server = start_server(*sweep)
    s3 = server.client()
    s3.create_bucket(Bucket="orph")
    kept = os.urandom(BODY)
    s3.put_object(Bucket="orph", Key="kept", Body=kept)
    root = server.data_dir / "blobs"
    (kept_id,) = blob_ids(server)
    os.utime(root / kept_id[:2] / kept_id[2:4] / kept_id, (time.time() - 3600,) * 2)  # old, but referenced
    server.stop()
    old = [_plant(root, secrets.token_hex(16), 3600), _plant(root, secrets.token_hex(16), 3600, tmp=True)]
    young = [_plant(root, secrets.token_hex(16), 0), _plant(root, secrets.token_hex(16), 0, tmp=True)]
    server = server.restart(*sweep)
    assert until(lambda: not any(p.exists() for p in old))
    time.sleep(1)  # a few more rounds
    assert all(p.exists() for p in young)
    assert server.client().get_object(Bucket="orph", Key="kept")["Body"].read() == kept
    assert "no catalog record names" in server.log()


@pytest.mark.parametrize("flag", ["--sweep-interval", "--sweep-grace"])
def test_sweep_options_must_be_positive(start_server: ServerFactory, flag: str) -> None:
    with pytest.raises(RuntimeError, match="a number of seconds above 0"):
        start_server(flag, "0")


def test_a_write_that_outlives_the_grace_is_refused_clearly(start_server: ServerFactory) -> None:
    """A body that trickles in for longer than the grace period without its file growing (it is kept
    in memory until a 1 MiB batch fills) is given up by the sweep: the PUT answers 400 RequestTimeout,
    never a 500, and nothing is stored or left behind."""
    server = start_server("--sweep-interval", "0.2", "--sweep-grace", "1")
    s3 = server.client()
    s3.create_bucket(Bucket="late")
    body = os.urandom(300 * 1024)
    path = "/late/k"
    headers = server.sign("PUT", path, content_sha256="UNSIGNED-PAYLOAD")
    conn = server.connection(timeout=60)
    conn.putrequest("PUT", path, skip_host=True)
    headers = {**headers, "host": f"127.0.0.1:{server.port}", "content-length": str(len(body))}
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    step = len(body) // 20
    for i in range(0, len(body), step):
        conn.send(body[i:i + step])
        time.sleep(0.2)
    response = conn.getresponse()
    text = response.read()
    conn.close()
    assert response.status == 400 and b"<Code>RequestTimeout</Code>" in text, text
    with pytest.raises(ClientError):
        s3.head_object(Bucket="late", Key="k")
    assert until(lambda: files_under(server.data_dir / "blobs") == [])
