"""An overwrite whose catalog commit succeeded never loses the new object (issue 14), on a real server:
the deletion of the replaced blob fails for real (the old blob file is made immutable with `chattr +i`,
so unlink gets EPERM), and still the PUT succeeds, the new object reads back, and the old blob is left
for the sweep, which removes it at the next start once it can."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import blob_files


def _chattr(flag: str, path: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


def test_overwrite_survives_a_failed_delete_of_the_replaced_blob(start_server: ServerFactory) -> None:
    server = start_server()
    s3 = server.client()
    s3.create_bucket(Bucket="bkt")
    old, new = os.urandom(200_000), os.urandom(300_000)  # both larger than inline: each has a blob
    s3.put_object(Bucket="bkt", Key="k", Body=old)
    (old_blob,) = blob_files(server) - set((server.data_dir / "blobs" / "tmp").glob("*"))
    if not _chattr("+i", old_blob):
        pytest.skip("chattr +i is not possible here (needs root and a filesystem with the immutable flag)")
    try:
        out = s3.put_object(Bucket="bkt", Key="k", Body=new)  # the delete of old_blob fails with EPERM
        assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert s3.get_object(Bucket="bkt", Key="k")["Body"].read() == new
        assert old_blob.exists()  # left behind, for the sweep
        assert "the sweep will" in server.log()
        # A start-up sweep that cannot remove it either does not keep the server from starting.
        server = server.restart()
        assert server.client().get_object(Bucket="bkt", Key="k")["Body"].read() == new
        assert old_blob.exists()
    finally:
        _chattr("-i", old_blob)
    server = server.restart()  # now the sweep can remove the orphan
    assert not old_blob.exists()
    assert server.client().get_object(Bucket="bkt", Key="k")["Body"].read() == new
