"""An overwrite whose catalog commit succeeded never loses the new object (issue 14), and the replaced
blob is the sweep's to remove (issue 15), on a real server. The PUT no longer deletes the old blob at
all: the commit records it as garbage. When the sweep's delete fails for real (the old blob file is made
immutable with `chattr +i`, so unlink gets EPERM), the record stays and a later round removes the file
once it can; the server keeps serving meanwhile."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import blob_files

GRACE = 1.0


def _chattr(flag: str, path: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


def _until(condition, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_overwrite_survives_a_failed_delete_of_the_replaced_blob(start_server: ServerFactory) -> None:
    server = start_server("--sweep-interval", "0.2", "--sweep-grace", str(GRACE))
    s3 = server.client()
    s3.create_bucket(Bucket="bkt")
    old, new = os.urandom(200_000), os.urandom(300_000)  # both larger than inline: each has a blob
    s3.put_object(Bucket="bkt", Key="k", Body=old)
    (old_blob,) = blob_files(server) - set((server.data_dir / "blobs" / "tmp").glob("*"))
    if not _chattr("+i", old_blob):
        pytest.skip("chattr +i is not possible here (needs root and a filesystem with the immutable flag)")
    try:
        out = s3.put_object(Bucket="bkt", Key="k", Body=new)
        assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert s3.get_object(Bucket="bkt", Key="k")["Body"].read() == new
        # After the grace period the sweep tries, fails (EPERM), says so, and keeps the record.
        assert _until(lambda: "could not remove blob" in server.log())
        assert old_blob.exists()
        assert s3.get_object(Bucket="bkt", Key="k")["Body"].read() == new
    finally:
        _chattr("-i", old_blob)
    assert _until(lambda: not old_blob.exists())  # a later round removes it
    assert s3.get_object(Bucket="bkt", Key="k")["Body"].read() == new
    assert len(blob_files(server)) == 1
