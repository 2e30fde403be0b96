"""Disk full (issue 14): a server whose filesystem fills keeps a free-space reserve (--min-free-space),
refuses new data early with a clean 503 StorageFull, and deletes keep working, also after a restart;
nothing acknowledged is lost. Tested on a small tmpfs the test mounts (the tests run as root), never by
filling the machine's disk."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_of

SIZE = "48m"
RESERVE = "8MiB"
OBJECT = 1 << 20


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small"
    mount_point.mkdir(mode=0o700)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_a_full_disk_refuses_new_data_and_keeps_deleting(
    small_filesystem: Path, start_server: ServerFactory
) -> None:
    # (small_filesystem first: it is unmounted after the servers are stopped and their logs read)
    data_dir = small_filesystem / "data"
    # The reserve by environment (STRONGROOM_MIN_FREE_SPACE): a restart keeps it.
    server = start_server(data_dir=data_dir, env={"STRONGROOM_MIN_FREE_SPACE": RESERVE})
    s3 = server.client(retries={"max_attempts": 1})  # a 503 is retried by default: not here
    s3.create_bucket(Bucket="full")
    stored: dict[str, bytes] = {}
    refusal = None
    for i in range(100):  # 48 MiB cannot hold 100 objects of 1 MiB
        body = os.urandom(OBJECT)
        try:
            s3.put_object(Bucket="full", Key=f"o{i:03}", Body=body)
        except ClientError as e:
            refusal = e
            break
        stored[f"o{i:03}"] = body
    assert refusal is not None and stored, "the filesystem never filled"
    assert error_of(refusal)["status"] == 503 and error_of(refusal)["Code"] == "StorageFull"
    assert "storage is full" in str(error_of(refusal)["Message"])
    assert _free(small_filesystem) >= 7 << 20  # refused before eating into the reserve
    # Small objects (kept in the catalog) are refused too once they would eat into the reserve.
    for i in range(200):
        try:
            s3.put_object(Bucket="full", Key=f"small{i:03}", Body=os.urandom(60_000))
        except ClientError as e:
            assert error_of(e)["Code"] == "StorageFull"
            break
    else:
        raise AssertionError("small objects were never refused")
    assert _free(small_filesystem) >= 7 << 20
    # Metadata-only operations and deletes work.
    s3.put_object_tagging(Bucket="full", Key="o000", Tagging={"TagSet": [{"Key": "t", "Value": "v"}]})
    upload = s3.create_multipart_upload(Bucket="full", Key="mp")["UploadId"]
    s3.abort_multipart_upload(Bucket="full", Key="mp", UploadId=upload)
    s3.delete_object(Bucket="full", Key="o000")
    del stored["o000"]
    server = server.restart()
    s3 = server.client(retries={"max_attempts": 1})  # a 503 is retried by default: not here
    s3.delete_object(Bucket="full", Key="o001")
    del stored["o001"]
    s3.delete_objects(Bucket="full", Delete={"Objects": [{"Key": "o002"}]})
    del stored["o002"]
    for key, body in stored.items():  # nothing acknowledged is lost
        assert s3.get_object(Bucket="full", Key=key)["Body"].read() == body
    # With room again, new data is taken again.
    s3.put_object(Bucket="full", Key="again", Body=os.urandom(OBJECT))


def test_a_disk_that_fills_during_a_write_answers_storage_full(
    small_filesystem: Path, start_server: ServerFactory
) -> None:
    """The reserve is checked before the body arrives; a disk that fills meanwhile (another process,
    concurrent uploads) makes the blob write fail with ENOSPC: still a clean 503 StorageFull, the
    partial blob is gone, and the server goes on."""
    server = start_server(data_dir=small_filesystem / "data", env={"STRONGROOM_MIN_FREE_SPACE": "0"})
    s3 = server.client(retries={"max_attempts": 1})
    s3.create_bucket(Bucket="full")
    size, first = 24 << 20, 2 << 20
    body = os.urandom(size)
    headers = server.sign(
        "PUT", "/full/big", {"Content-Length": str(size)}, content_sha256="UNSIGNED-PAYLOAD"
    )
    conn = server.connection()
    conn.putrequest("PUT", "/full/big", skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(body[:first])  # the reserve check passed: 24 MiB fit when the request came
    time.sleep(0.5)
    filler = small_filesystem / "filler"
    with open(filler, "wb") as f:  # another process takes all but 1 MiB
        f.write(b"\0" * (_free(small_filesystem) - (1 << 20)))
    try:
        with contextlib.suppress(OSError):  # the server may stop reading once it has answered
            conn.send(body[first:])
        response = conn.getresponse()
        answer = response.read()
    finally:
        conn.close()
    assert response.status == 503 and b"<Code>StorageFull</Code>" in answer
    filler.unlink()
    assert not list((small_filesystem / "data" / "blobs" / "tmp").iterdir())  # the partial blob is gone
    s3.put_object(Bucket="full", Key="after", Body=b"fine")
    assert s3.get_object(Bucket="full", Key="after")["Body"].read() == b"fine"


def test_a_catalog_write_on_a_full_disk_answers_storage_full(
    small_filesystem: Path, start_server: ServerFactory
) -> None:
    """Without a reserve (--min-free-space 0), the SQLite catalog itself can find no room: its
    SQLITE_FULL is a 503 StorageFull too, never an InternalError, nothing acknowledged is lost, and
    the server works again once there is room."""
    server = start_server(data_dir=small_filesystem / "data", env={"STRONGROOM_MIN_FREE_SPACE": "0"})
    s3 = server.client(retries={"max_attempts": 1})
    s3.create_bucket(Bucket="full")
    s3.put_object(Bucket="full", Key="kept", Body=b"kept")
    filler = small_filesystem / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:  # every byte the filesystem has left
        for size in (65536, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    refusal = None
    for _ in range(200):  # metadata only: no reserve check stands before the catalog's write
        tags = {"TagSet": [{"Key": f"k{j}", "Value": os.urandom(120).hex()} for j in range(10)]}
        try:
            s3.put_object_tagging(Bucket="full", Key="kept", Tagging=tags)
            s3.put_bucket_tagging(Bucket="full", Tagging=tags)
        except ClientError as e:
            refusal = e
            break
    assert refusal is not None, "the catalog never ran out of room"
    assert error_of(refusal)["status"] == 503 and error_of(refusal)["Code"] == "StorageFull"
    filler.unlink()
    assert s3.get_object(Bucket="full", Key="kept")["Body"].read() == b"kept"
    s3.put_object(Bucket="full", Key="after", Body=b"fine")
    assert s3.get_object(Bucket="full", Key="after")["Body"].read() == b"fine"
