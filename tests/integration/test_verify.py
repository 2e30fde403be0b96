"""`strongroom verify`, `strongroom report encryption` and `kms list`'s counts, on a live server's data.

A store is filled through boto3 with every kind of object (SSE-S3 inline, in a blob, empty, with a
checksum; SSE-KMS with and without an S3 Bucket Key; DSSE-KMS; SSE-C; multipart, SSE-S3 with a COMPOSITE
checksum and SSE-KMS), on SQLite and on PostgreSQL; verify passes on it beside the running server. Then
one bit of one blob is flipped, one inline ciphertext is changed in the catalog and one blob is
truncated: after each, verify fails naming exactly the objects damaged so far, and why.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pty
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import KEY1, blob_files, ssec
from tests.integration.scrapes import Samples, scrape, value
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, catalog_env

BUCKET = "vault"
PART = 5 * 1024 * 1024


@dataclass
class Store:
    server: RunningServer
    schema: str | None  # the PostgreSQL schema, or None for SQLite
    kms_key: str  # the key id of the customer managed KMS key
    blobs: dict[str, Path]  # object key -> its blob file, for the objects kept in one blob
    sizes: dict[str, int]


def _put(server: RunningServer, store_blobs: dict[str, Path], key: str, **kwargs: object) -> None:
    before = blob_files(server)
    server.client().put_object(Bucket=BUCKET, Key=key, **kwargs)
    new = blob_files(server) - before
    if new:
        store_blobs[key] = new.pop()


@pytest.fixture
def store(engine: str | None, start_server: ServerFactory) -> Store:
    server = start_server("--behind-tls-proxy", "--allow-sse-c-new-buckets", env=catalog_env(engine))
    s3 = server.client()
    s3.create_bucket(Bucket=BUCKET)
    kms_key = server.client("kms").create_key()["KeyMetadata"]["KeyId"]
    blobs: dict[str, Path] = {}
    bodies = {
        "sse-s3/inline": os.urandom(100),
        "sse-s3/blob": os.urandom(300_000),  # five segments
        "sse-s3/empty": b"",
        "sse-s3/crc32": os.urandom(70_000),
        "kms/own": os.urandom(200_000),
        "kms/bucket-key": os.urandom(1000),
        "kms/dsse": os.urandom(140_000),
        "ssec/blob": os.urandom(150_000),
        "ssec/inline": os.urandom(10),
    }
    extra: dict[str, dict[str, object]] = {
        "sse-s3/crc32": {"ChecksumAlgorithm": "CRC32"},
        "kms/own": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key},
        "kms/bucket-key": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key,
                           "BucketKeyEnabled": True},
        "kms/dsse": {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": kms_key},
        "ssec/blob": ssec(KEY1),
        "ssec/inline": ssec(KEY1),
    }
    for key, body in bodies.items():
        _put(server, blobs, key, Body=body, **extra.get(key, {}))
    sizes = {k: len(b) for k, b in bodies.items()}
    for key, options in (("multipart/sse-s3", {"ChecksumAlgorithm": "CRC32"}),
                         ("multipart/kms", {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key})):
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, **options)["UploadId"]
        parts = []
        for number, body in enumerate((os.urandom(PART), os.urandom(1000)), start=1):
            checksum = {"ChecksumAlgorithm": "CRC32"} if "ChecksumAlgorithm" in options else {}
            made = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=body,
                                  **checksum)
            parts.append({"PartNumber": number, "ETag": made["ETag"],
                          **({"ChecksumCRC32": made["ChecksumCRC32"]} if checksum else {})})
        s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload,
                                     MultipartUpload={"Parts": parts})
        sizes[key] = PART + 1000
    return Store(server, engine, kms_key, blobs, sizes)


def verify(store: Store, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    done = store.server.cli("verify", "--json", *args, check=False)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def failed(report: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {f["key"]: " ".join(f["reasons"]) for f in report["findings"] if f["status"] == "failed"}


def _change_inline(store: Store, key: str) -> None:
    """Flip one bit in the middle of an object's inline ciphertext, in the catalog itself."""
    select = "SELECT id, inline FROM versions WHERE id = (SELECT version FROM current WHERE bucket = {0} " \
             "AND key = {0})"
    update = "UPDATE versions SET inline = {0} WHERE id = {0}"
    if store.schema is None:
        with sqlite3.connect(store.server.data_dir / "catalog.sqlite3") as conn:
            row_id, inline = conn.execute(select.format("?"), (BUCKET, key)).fetchone()
            changed = bytearray(inline)
            changed[len(changed) // 2] ^= 0x01
            conn.execute(update.format("?"), (bytes(changed), row_id))
        return
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {store.schema}")
        row = conn.execute(select.format("%s"), (BUCKET, key)).fetchone()
        assert row is not None
        changed = bytearray(row[1])
        changed[len(changed) // 2] ^= 0x01
        conn.execute(update.format("%s"), (bytes(changed), row[0]))


def test_verify_passes_then_names_each_damaged_object(store: Store) -> None:
    code, report = verify(store)
    assert code == 0 and report["passed"], report["findings"]
    total = report["total"]
    assert total["objects"] == len(store.sizes) and total["bytes"] == sum(store.sizes.values())
    assert total["failed"] == total["not_verified"] == 0
    assert total["structure_only"] == 2 and total["verified"] == len(store.sizes) - 2  # the SSE-C ones
    groups = {(g["encryption"], g["key"].split(":")[0]): g for g in report["groups"]}
    assert groups[("SSE-C", "customer-provided key")]["verified"] == 0
    assert groups[("aws:kms", "arn")]["verified"] == 3 and groups[("aws:kms:dsse", "arn")]["verified"] == 1
    assert all(g["key"].endswith("key/" + store.kms_key) for g in report["groups"]
               if g["encryption"].startswith("aws:kms"))
    text = store.server.cli("verify").stdout
    assert "verify: 11 of 11 object(s)" in text and "2 SSE-C object(s): structure only" in text

    # one bit of one blob
    blob = store.blobs["sse-s3/blob"]
    data = bytearray(blob.read_bytes())
    data[100_000] ^= 0x10
    blob.write_bytes(bytes(data))
    code, report = verify(store)
    assert code == 1 and not report["passed"]
    assert set(failed(report)) == {"sse-s3/blob"}
    assert "segment 1 failed authentication" in failed(report)["sse-s3/blob"]
    assert report["total"]["verified"] == len(store.sizes) - 3

    # one inline ciphertext, in the catalog
    _change_inline(store, "sse-s3/inline")
    code, report = verify(store)
    assert code == 1 and set(failed(report)) == {"sse-s3/blob", "sse-s3/inline"}
    assert "the inline ciphertext: segment 0 failed authentication" in failed(report)["sse-s3/inline"]

    # one blob truncated at a segment boundary (header + 1 segment), and an SSE-C one by one byte
    for key, size in (("kms/own", 8 + 65536 + 16), ("ssec/blob", None)):
        with store.blobs[key].open("r+b") as f:
            f.truncate(size if size is not None else store.blobs[key].stat().st_size - 1)
    code, report = verify(store)
    reasons = failed(report)
    assert code == 1 and set(reasons) == {"sse-s3/blob", "sse-s3/inline", "kms/own", "ssec/blob"}
    assert all("(truncated or extended)" in reasons[key] for key in ("kms/own", "ssec/blob"))
    text = store.server.cli("verify", check=False).stdout
    for key in reasons:
        assert f"FAILED: {BUCKET}/{key} " in text
    assert "4 FAILED" in text

    # the scope: a bucket that does not exist is refused, not reported on as if all were well ...
    for command in (("verify",), ("report", "encryption")):
        missing = store.server.cli(*command, "--bucket", "no-such-bucket", check=False)
        assert missing.returncode == 2 and "there is no bucket no-such-bucket" in missing.stderr
    # ... and a prefix holding no damaged object passes
    code, report = verify(store, "--bucket", BUCKET, "--prefix", "multipart/")
    assert code == 0 and report["total"]["objects"] == 2


def test_a_disabled_kms_key_leaves_its_objects_not_verified(store: Store) -> None:
    store.server.cli("kms", "disable", store.kms_key)
    code, report = verify(store)
    assert code == 1 and report["total"]["failed"] == 0
    unverified = {f["key"]: f["reasons"][0] for f in report["findings"]}
    assert set(unverified) == {"kms/own", "kms/bucket-key", "kms/dsse", "multipart/kms"}
    assert all("KMS.DisabledException" in r for r in unverified.values())
    assert "NOT VERIFIED: vault/kms/own" in store.server.cli("verify", check=False).stdout


def test_report_encryption_and_kms_list(store: Store) -> None:
    report = json.loads(store.server.cli("report", "encryption", "--json").stdout)
    keys = {k["key"]: k for k in report["keys"]}
    arn = next(k for k in keys if k.endswith("key/" + store.kms_key))
    root = next(k for k in keys if k.startswith("root key "))
    rows = {(g["bucket"], g["encryption"], g["key"]): g["objects"] for g in report["groups"]}
    assert rows == {(BUCKET, "AES256", root): 5, (BUCKET, "aws:kms", arn): 3,
                    (BUCKET, "aws:kms:dsse", arn): 1, (BUCKET, "SSE-C", "customer-provided key"): 2}
    assert keys[arn]["objects"] == 4 and keys[arn]["state"] == "Enabled"
    assert keys[arn]["encryption"] == ["aws:kms", "aws:kms:dsse"]
    kms_bytes = sum(store.sizes[k] for k in ("kms/own", "kms/bucket-key", "kms/dsse", "multipart/kms"))
    assert keys[arn]["if_disabled"] == {"unreadable_objects": 4, "unreadable_bytes": kms_bytes,
                                        "buckets": [BUCKET], "uploads_in_progress": 0}
    assert keys[arn]["oldest"]["key"] == "kms/own"  # the first written under it
    assert "if_disabled" not in keys["customer-provided key"] and "if_disabled" not in keys[root]
    text = store.server.cli("report", "encryption").stdout
    assert f"{arn} (Enabled): if disabled, 4 object(s), {kms_bytes} bytes, in {BUCKET} could not" in text
    listed = [line.split("\t") for line in store.server.cli("kms", "list").stdout.splitlines()]
    assert next(row for row in listed if row[0] == store.kms_key)[4] == "4 objects"
    assert {row[4] for row in listed if row[0] != store.kms_key} <= {"0 objects"}


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_elsewhere(store: Store) -> None:
    plain = store.server.cli("verify")
    first, *_, last = plain.stderr.strip().splitlines()
    assert first.startswith("verify (11 objects): 0 B of ") and "(0%)" in first
    assert last.startswith("verify (11 objects) done: ") and "(100%)" in last
    assert "\r" not in plain.stderr
    # on a terminal: tqdm's bar with its rate, on stderr; stdout (the report) is untouched
    main, other = pty.openpty()
    fcntl.ioctl(other, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal has a size
    try:
        done = subprocess.run([sys.executable, "-m", "strongroom", "verify"], env=store.server.env,
                              stdout=subprocess.PIPE, stderr=other, timeout=120, check=False)
        os.close(other)
        seen = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(main)
    assert done.returncode == 0
    assert b"100%|" in seen and b"B/s]" in seen
    assert b"verify: 11 of 11" in done.stdout and b"%|" not in done.stdout


LAST_RUN = "verify.last_run"  # the one setting a full verify writes, for the metrics (inventory.py)


def _catalog_digest(store: Store) -> tuple[str, bool]:
    """Every row of every table of the catalog but verify's summary, hashed (equal digests, equal
    contents), and whether that summary is stored."""
    digest, summary = hashlib.sha256(), False
    if store.schema is None:
        with sqlite3.connect(store.server.data_dir / "catalog.sqlite3") as conn:
            for line in conn.iterdump():
                if LAST_RUN in line:
                    summary = True
                else:
                    digest.update(line.encode())
        return digest.hexdigest(), summary
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        tables = [t for (t,) in conn.execute("SELECT table_name FROM information_schema.tables WHERE "
                                             "table_schema = %s ORDER BY table_name", (store.schema,))]
        for table in tables:
            rows = conn.execute(f'SELECT t::text FROM "{store.schema}"."{table}" t ORDER BY 1').fetchall()
            summary = summary or any(LAST_RUN in row for (row,) in rows)
            digest.update(f"{table}:{[row for row in rows if LAST_RUN not in row[0]]}".encode())
    return digest.hexdigest(), summary


def _blob_digests(store: Store) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in blob_files(store.server)}


def test_verify_and_report_change_nothing(store: Store) -> None:
    """Read-only: with the server stopped (its heartbeat writes), the catalog's rows and every blob are
    the same after verify and report as before, but for the summary a full verify stores for the
    metrics; the damage found is reported, never repaired."""
    blob = store.blobs["sse-s3/blob"]
    with blob.open("r+b") as f:
        f.truncate(blob.stat().st_size - 16)
    store.server.stop()
    (catalog, summary), blobs = _catalog_digest(store), _blob_digests(store)
    assert not summary
    assert verify(store, "--bucket", BUCKET)[0] == 1
    store.server.cli("report", "encryption")
    assert _catalog_digest(store) == (catalog, False)  # a scoped run records nothing
    assert verify(store)[0] == 1
    assert verify(store, "--workers", "8")[0] == 1  # more workers than the default connection pool
    assert _catalog_digest(store) == (catalog, True) and _blob_digests(store) == blobs


def test_verify_beside_a_server_that_replaces_and_deletes_as_it_runs(engine: str | None,
                                                                     start_server: ServerFactory) -> None:
    """Objects replaced and deleted while verify runs, their old blobs swept at once: verify never calls
    that a failure (a version gone since it was read is counted as changed), and the writes go on."""
    server = start_server("--sweep-grace", "0.05", "--sweep-interval", "0.05", env=catalog_env(engine))
    s3 = server.client()
    s3.create_bucket(Bucket=BUCKET)
    keys = [f"churn/{i}" for i in range(20)]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=os.urandom(100_000))
    stop = threading.Event()
    writes = [0]

    def churn() -> None:
        writer = server.client()
        while not stop.is_set():
            key = keys[writes[0] % len(keys)]
            if writes[0] % 5 == 4:
                writer.delete_object(Bucket=BUCKET, Key=key)
            else:
                writer.put_object(Bucket=BUCKET, Key=key, Body=os.urandom(100_000))
            writes[0] += 1

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        reports = [verify(Store(server, engine, "", {}, {}), "--workers", "4") for _ in range(4)]
    finally:
        stop.set()
        thread.join()
    assert writes[0] > 0
    for code, report in reports:
        assert code == 0 and report["total"]["failed"] == 0, report["findings"]


def _scrape_until(server: RunningServer, ready: Callable[[Samples], bool]) -> Samples:
    """A scrape once the inventory's next round shows what `ready` waits for (or the last one, to fail)."""
    deadline = time.monotonic() + 15
    while not ready(samples := scrape(server)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return samples


def test_a_full_verify_run_shows_in_the_metrics(engine: str | None, start_server: ServerFactory) -> None:
    server = start_server("--metrics-interval", "0.3", env=catalog_env(engine))
    s3 = server.client()
    s3.create_bucket(Bucket=BUCKET)
    before = blob_files(server)
    s3.put_object(Bucket=BUCKET, Key="blob", Body=os.urandom(200_000))
    (blob,) = blob_files(server) - before
    s3.put_object(Bucket=BUCKET, Key="inline", Body=b"small")
    last_run = "strongroom_verify_last_run_timestamp_seconds"
    failed_objects = "strongroom_verify_failed_objects"
    # Before any run both are 0: a timestamp of 0 is "never verified" (the stale alert fires).
    samples = _scrape_until(server, lambda found: value(found, "strongroom_objects", bucket=BUCKET,
                                                        encryption="AES256") == 2)
    assert samples[(last_run, ())] == 0 and samples[(failed_objects, ())] == 0

    started = time.time()
    assert server.cli("verify").returncode == 0
    samples = _scrape_until(server, lambda found: value(found, last_run) > 0)
    assert value(samples, failed_objects) == 0
    first = value(samples, last_run)
    assert started - 5 <= first <= time.time() + 5  # the catalog's clock: this machine's, give or take

    data = bytearray(blob.read_bytes())
    data[100_000] ^= 0x01
    blob.write_bytes(bytes(data))
    assert server.cli("verify", check=False).returncode == 1
    samples = _scrape_until(server, lambda found: value(found, failed_objects) == 1)
    assert value(samples, failed_objects) == 1 and value(samples, last_run) >= first

    # A run over part of the store records nothing: its clean result must not hide the failure.
    s3.create_bucket(Bucket="clean")
    assert server.cli("verify", "--bucket", "clean").returncode == 0
    recorded = value(samples, last_run)
    time.sleep(1)  # three inventory rounds
    samples = scrape(server)
    assert value(samples, failed_objects) == 1 and value(samples, last_run) == recorded
