"""The SSE-S3 promises, through real requests against a real server.

Objects follow the bucket default; nothing plaintext reaches the disk (blobs, the
SQLite catalog, its WAL and shm); a flipped bit is an error, never wrong bytes;
range reads are byte-exact around the 64 KiB segment edges; the ETag of a
single-part SSE-S3 object is the MD5 of its plaintext.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.integration.helpers import (
    assert_absent,
    blob_files,
    distinctive,
    error_code,
    files_under,
    status_of,
)
from tests.integration.server import RunningServer

SEGMENT = 64 * 1024
MISSING_KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000"


# --- helpers --------------------------------------------------------------------------------------


def signed_get(
    server: RunningServer, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes, bool]:
    """A signed GET read to the end: (status, headers, body, complete). complete is False when the server
    cut the connection short of Content-Length."""
    reply = server.raw("GET", path, headers=headers, allow_incomplete=True)
    return reply.status, reply.headers, reply.body, reply.complete


def set_default(s3, bucket: str, algorithm: str, key: str | None = None) -> None:
    default: dict = {"SSEAlgorithm": algorithm}
    if key is not None:
        default["KMSMasterKeyID"] = key
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": default}]},
    )


def kms_available(server: RunningServer) -> bool:
    try:
        server.client("kms", retries={"total_max_attempts": 1}).list_keys()
    except Exception:
        return False
    return True


# --- objects follow the bucket default -------------------------------------------------------------


def test_no_header_means_aes256_everywhere(s3, bucket: str) -> None:
    assert s3.put_object(Bucket=bucket, Key="a", Body=b"abc")["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="a")
    assert (got["ServerSideEncryption"], got["Body"].read()) == ("AES256", b"abc")
    assert s3.head_object(Bucket=bucket, Key="a")["ServerSideEncryption"] == "AES256"
    copied = s3.copy_object(Bucket=bucket, Key="b", CopySource={"Bucket": bucket, "Key": "a"})
    assert copied["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="b")["ServerSideEncryption"] == "AES256"
    assert "SSEKMSKeyId" not in got and "BucketKeyEnabled" not in got


def test_explicit_aes256_wins_over_a_kms_default(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    set_default(s3, bucket, "aws:kms", MISSING_KEY_ARN)
    put = s3.put_object(Bucket=bucket, Key="a", Body=b"explicit", ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="a")
    assert (got["ServerSideEncryption"], got["Body"].read()) == ("AES256", b"explicit")
    copied = s3.copy_object(
        Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "src"}, ServerSideEncryption="AES256"
    )
    assert copied["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"source"


@pytest.mark.parametrize("value", ["AES512", "aes256", "aws:fsx-nope", ""])
def test_invalid_sse_header(s3, bucket: str, value: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="a", Body=b"x", ServerSideEncryption=value)
    assert (status_of(e.value), error_code(e.value)) == (400, "InvalidArgument")
    with pytest.raises(ClientError) as e:
        s3.copy_object(
            Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "src"}, ServerSideEncryption=value
        )
    assert (status_of(e.value), error_code(e.value)) == (400, "InvalidArgument")
    assert_absent(s3, bucket, "a")
    assert_absent(s3, bucket, "c")


@pytest.mark.parametrize("key_id", [None, MISSING_KEY_ARN])
def test_kms_default_without_a_usable_kms_stores_nothing(
    server: RunningServer, s3, bucket: str, key_id: str | None
) -> None:
    if key_id is None and kms_available(server):
        pytest.skip("a KMS is configured: aws:kms without a key id uses the aws/s3 key")
    s3.put_object(Bucket=bucket, Key="kept", Body=b"old bytes")
    blobs_before = blob_files(server)
    set_default(s3, bucket, "aws:kms", key_id)
    for key in ("new", "kept"):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key=key, Body=os.urandom(100_000))
        assert error_code(e.value) in ("NotImplemented", "KMS.NotFoundException")
        assert status_of(e.value) in (400, 501)
        assert e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "kept"})
    assert error_code(e.value) in ("NotImplemented", "KMS.NotFoundException")
    assert_absent(s3, bucket, "new")
    assert_absent(s3, bucket, "copy")
    got = s3.get_object(Bucket=bucket, Key="kept")
    assert (got["Body"].read(), got["ServerSideEncryption"]) == (b"old bytes", "AES256")
    assert blob_files(server) == blobs_before  # nothing left behind on disk either


def test_changing_the_default_affects_only_new_objects(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="before", Body=b"written under SSE-S3")
    set_default(s3, bucket, "aws:kms", MISSING_KEY_ARN)
    head = s3.head_object(Bucket=bucket, Key="before")
    assert head["ServerSideEncryption"] == "AES256" and "SSEKMSKeyId" not in head
    assert s3.get_object(Bucket=bucket, Key="before")["Body"].read() == b"written under SSE-S3"
    with pytest.raises(ClientError):  # new objects get the new default (and there is no such key)
        s3.put_object(Bucket=bucket, Key="after", Body=b"x")
    s3.delete_bucket_encryption(Bucket=bucket)
    assert s3.put_object(Bucket=bucket, Key="after", Body=b"x")["ServerSideEncryption"] == "AES256"


# --- no plaintext on disk -------------------------------------------------------------------------


def test_no_plaintext_on_disk(server: RunningServer, s3, bucket: str) -> None:
    written = []
    for size in (1000, 100 * 1024, 3 * 1024 * 1024):
        data, marker = distinctive(size)
        s3.put_object(Bucket=bucket, Key=f"secret-{size}", Body=data)
        assert s3.get_object(Bucket=bucket, Key=f"secret-{size}")["Body"].read() == data
        written.append((data, marker))
    files = files_under(server.data_dir)
    names = {p.name for p in files}
    assert any(n.endswith("-wal") for n in names), names  # the WAL is among what is searched
    for path in files:
        content = path.read_bytes()
        for data, marker in written:
            for needle in (marker, data[:64], data[len(data) // 2 : len(data) // 2 + 64], data[-64:]):
                assert needle not in content, f"plaintext found in {path}"


# --- tampering ------------------------------------------------------------------------------------


def flip_bit(path: Path, offset: int) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x10]))


def put_and_find_blob(server: RunningServer, s3, bucket: str, key: str, data: bytes) -> Path:
    before = blob_files(server)
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    [blob] = blob_files(server) - before
    assert blob.stat().st_size > len(data)
    return blob


def test_flipped_bit_in_a_blob_is_an_error(server: RunningServer, s3, bucket: str) -> None:
    server.expect_log_errors(
        r"failed authentication \(blob \w+\): stored data is damaged",
        r"aborting a response mid-body",
        r": InternalError$",
    )
    data = os.urandom(200 * 1024)
    blob = put_and_find_blob(server, s3, bucket, "big", data)
    flip_bit(blob, 1000)
    status, headers, body, _ = signed_get(server, f"/{bucket}/big")
    assert status == 500
    assert b"<Code>InternalError</Code>" in body and data[:1000] not in body
    assert headers["x-amz-request-id"] in server.log()
    # a range that lies in the damaged segment fails too
    status, _, body, _ = signed_get(server, f"/{bucket}/big", {"Range": "bytes=10-20"})
    assert status == 500


def test_flipped_bit_past_the_first_segments(server: RunningServer, s3, bucket: str) -> None:
    server.expect_log_errors(
        r"failed authentication \(blob \w+\): stored data is damaged",
        r"aborting a response mid-body",
        r": InternalError$",
    )
    data = os.urandom(3 * 1024 * 1024)
    blob = put_and_find_blob(server, s3, bucket, "huge", data)
    flip_bit(blob, blob.stat().st_size - SEGMENT // 2)
    status, headers, body, complete = signed_get(server, f"/{bucket}/huge")
    assert headers["x-amz-request-id"] in server.log()
    if status == 200:  # the status was gone before the damage was met: the connection is cut short
        assert not complete and len(body) < len(data)
        assert body == data[: len(body)]  # what was sent is right
    else:
        assert status == 500
    # the undamaged start still reads back exactly
    status, _, body, complete = signed_get(server, f"/{bucket}/huge", {"Range": "bytes=0-65535"})
    assert (status, complete, body) == (206, True, data[:SEGMENT])


def test_flipped_bit_in_inline_ciphertext_is_an_error(server: RunningServer, s3, bucket: str) -> None:
    server.expect_log_errors(
        r"failed authentication \(blob \w+\): stored data is damaged",
        r"aborting a response mid-body",
        r": InternalError$",
    )
    data = os.urandom(5000)
    s3.put_object(Bucket=bucket, Key="small", Body=data)
    db = sqlite3.connect(server.data_dir / "catalog.sqlite3", timeout=10)
    try:
        [(inline,)] = db.execute(
            "SELECT inline FROM versions WHERE bucket = ? AND key = ?", (bucket, "small")
        ).fetchall()
        assert inline is not None and len(inline) > len(data)
        damaged = bytearray(inline)
        damaged[len(damaged) // 2] ^= 0x01
        with db:
            db.execute(
                "UPDATE versions SET inline = ? WHERE bucket = ? AND key = ?",
                (bytes(damaged), bucket, "small"),
            )
    finally:
        db.close()
    status, headers, body, _ = signed_get(server, f"/{bucket}/small")
    assert status == 500 and b"<Code>InternalError</Code>" in body
    assert data[:64] not in body
    assert headers["x-amz-request-id"] in server.log()


# --- ranges ---------------------------------------------------------------------------------------

SIZE = 300 * 1024
EDGES = [
    (0, 0),
    (0, 65535),
    (0, 65536),
    (65534, 65535),
    (65535, 65535),
    (65535, 65536),
    (65535, 65537),
    (65536, 65536),
    (65536, 131071),
    (65536, 131072),
    (65537, 131070),
    (131071, 131072),
    (131071, 196608),
    (65534, 196609),
    (196607, 262145),
    (262143, SIZE - 1),
    (SIZE - 1, SIZE - 1),
    (1, SIZE - 2),
    (0, SIZE - 1),
    (300_000, 400_000),
]


@pytest.fixture(scope="module")
def ranged(server: RunningServer) -> tuple[str, bytes]:
    s3 = server.client()
    name = "ranges-" + secrets.token_hex(4)
    s3.create_bucket(Bucket=name)
    data = os.urandom(SIZE)
    s3.put_object(Bucket=name, Key="obj", Body=data)
    return name, data


@pytest.mark.parametrize("first,last", EDGES)
def test_bounded_ranges(s3, ranged: tuple[str, bytes], first: int, last: int) -> None:
    name, data = ranged
    got = s3.get_object(Bucket=name, Key="obj", Range=f"bytes={first}-{last}")
    end = min(last, SIZE - 1)
    assert got["ContentRange"] == f"bytes {first}-{end}/{SIZE}"
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == data[first : end + 1]


@pytest.mark.parametrize(
    "spec,start",
    [
        ("-1", SIZE - 1),
        ("-65536", SIZE - 65536),
        ("-65537", SIZE - 65537),
        ("-131073", SIZE - 131073),
        (f"-{SIZE}", 0),
        ("-400000", 0),
        ("0-", 0),
        ("65535-", 65535),
        ("65536-", 65536),
        ("65537-", 65537),
        (f"{SIZE - 1}-", SIZE - 1),
    ],
)
def test_suffix_and_open_ranges(s3, ranged: tuple[str, bytes], spec: str, start: int) -> None:
    name, data = ranged
    got = s3.get_object(Bucket=name, Key="obj", Range=f"bytes={spec}")
    assert got["ContentRange"] == f"bytes {start}-{SIZE - 1}/{SIZE}"
    assert got["Body"].read() == data[start:]


@pytest.mark.parametrize("spec", [f"{SIZE}-", f"{SIZE}-{SIZE + 10}", "400000-500000"])
def test_range_past_the_end(s3, ranged: tuple[str, bytes], spec: str) -> None:
    name, _ = ranged
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=name, Key="obj", Range=f"bytes={spec}")
    assert (status_of(e.value), error_code(e.value)) == (416, "InvalidRange")


# --- ETag -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, SIZE])
def test_etag_is_md5_of_plaintext(s3, bucket: str, size: int) -> None:
    data = os.urandom(size)
    md5 = f'"{hashlib.md5(data).hexdigest()}"'
    assert s3.put_object(Bucket=bucket, Key="e", Body=data)["ETag"] == md5
    assert s3.head_object(Bucket=bucket, Key="e")["ETag"] == md5
    got = s3.get_object(Bucket=bucket, Key="e")
    assert (got["ETag"], got["Body"].read()) == (md5, data)
