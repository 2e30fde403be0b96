"""`strongroom root-key rotate`: every object stays readable under a new root key; data is not rewritten."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import new_user
from tests.integration.server import RunningServer


def _blob_digests(server: RunningServer) -> dict[str, str]:
    out = {}
    for root, _, files in os.walk(server.data_dir / "blobs"):
        for name in files:
            path = os.path.join(root, name)
            out[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return out


@pytest.fixture
def populated(start_server: ServerFactory):
    server = start_server()
    s3 = server.client()
    s3.create_bucket(Bucket="keep")
    objects = {"small": os.urandom(100), "large": os.urandom(300_000), "empty": b""}
    for key, body in objects.items():
        s3.put_object(Bucket="keep", Key=key, Body=body, Metadata={"colour": "blue"}, Tagging="tier=gold")
    # SSE-KMS objects depend on the built-in KMS's key material, itself sealed under the root key
    kms_key = server.client("kms").create_key()["KeyMetadata"]["KeyId"]
    objects["kms"] = os.urandom(70_000)
    s3.put_object(
        Bucket="keep", Key="kms", Body=objects["kms"], ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key
    )
    objects["kms-default"] = os.urandom(10)
    s3.put_object(
        Bucket="keep", Key="kms-default", Body=objects["kms-default"], ServerSideEncryption="aws:kms"
    )
    upload = s3.create_multipart_upload(Bucket="keep", Key="mp")["UploadId"]
    part = os.urandom(5 * 1024 * 1024)
    etag = s3.upload_part(Bucket="keep", Key="mp", UploadId=upload, PartNumber=1, Body=part)["ETag"]
    ak, sk = new_user(server, "carol")
    return server, objects, (upload, etag, part), (ak, sk)


def test_rotate_reseals_everything_without_rewriting_data(populated) -> None:
    server, objects, (upload, etag, part), (ak, sk) = populated
    s3 = server.client()  # a noncurrent version is re-sealed too
    s3.create_bucket(Bucket="history")
    s3.put_bucket_versioning(Bucket="history", VersioningConfiguration={"Status": "Enabled"})
    old_body = os.urandom(200_000)
    old_version = s3.put_object(Bucket="history", Key="k", Body=old_body)["VersionId"]
    s3.put_object(Bucket="history", Key="k", Body=b"new")
    old_key = server.key_file.read_text()
    refused = server.cli("root-key", "rotate", check=False)
    # never while a server is registered alive in the catalog (test_deployment.py has the rest)
    assert refused.returncode != 0 and "1 server(s) are running on this catalog" in refused.stderr
    assert server.endpoint in refused.stderr and server.key_file.read_text() == old_key
    server.stop()
    blobs_before = _blob_digests(server)
    out = server.cli("root-key", "rotate").stdout
    assert "re-sealed" in out and "9 metadata rows" in out  # 7 versions, the upload and its part
    new_key = server.key_file.read_text()
    assert new_key != old_key and len(new_key.strip().splitlines()) == 1
    assert len(base64.b64decode(new_key.strip())) == 32
    assert _blob_digests(server) == blobs_before  # data untouched: only sealed keys changed
    server = server.restart()
    try:
        s3 = server.client()
        for key, body in objects.items():
            assert s3.get_object(Bucket="keep", Key=key)["Body"].read() == body
        assert s3.get_object(Bucket="history", Key="k", VersionId=old_version)["Body"].read() == old_body
        for key in ("small", "large", "empty"):  # their sealed metadata was re-sealed under the new key
            assert s3.head_object(Bucket="keep", Key=key)["Metadata"] == {"colour": "blue"}
            tags = s3.get_object_tagging(Bucket="keep", Key=key)["TagSet"]
            assert tags == [{"Key": "tier", "Value": "gold"}]
        s3.complete_multipart_upload(
            Bucket="keep",
            Key="mp",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
        )
        assert s3.get_object(Bucket="keep", Key="mp")["Body"].read() == part
        carol = server.client(access_key=ak, secret_key=sk)
        carol.create_bucket(Bucket="carols")  # the user's secret was re-sealed too
        # the old root key alone opens nothing any more: a server given only the old key cannot read
    finally:
        server.stop()
    server.key_file.write_text(old_key)
    # The catalog records the new key: a server given only the old one refuses to start (issue 14),
    # where it used to start and fail every read of what is sealed under the new key.
    with pytest.raises(RuntimeError, match="is not the one this catalog's data is sealed under"):
        server.restart()


def test_interrupted_rotation_is_finished_by_a_rerun(populated) -> None:
    server, objects, _, _ = populated
    server.stop()
    old = server.key_file.read_text().strip()
    # the state an interruption leaves: a new key in front, the old one still there, nothing re-sealed
    new = base64.b64encode(os.urandom(32)).decode()
    server.key_file.write_text(f"{new}\n{old}\n")
    with pytest.raises(RuntimeError, match="rotation has not finished"):  # nothing sealed under `new` yet
        server.restart()
    out = server.cli("root-key", "rotate").stdout
    assert "interrupted" in out
    assert server.key_file.read_text().strip() == new
    server = server.restart()
    try:
        for key, body in objects.items():
            assert server.client().get_object(Bucket="keep", Key=key)["Body"].read() == body
    finally:
        server.stop()


def _damage_sealed_key(server: RunningServer, key: str) -> None:
    """Flip one byte of the sealed piece key of `key` in the catalog file (a raw UPDATE)."""
    db = sqlite3.connect(server.data_dir / "catalog.sqlite3")
    try:
        row_id, pieces = db.execute("SELECT id, pieces FROM versions WHERE key = ?", (key,)).fetchone()
        items = json.loads(pieces)
        sealed = bytearray(base64.b64decode(items[0][3]))
        sealed[len(sealed) // 2] ^= 0x01
        items[0][3] = base64.b64encode(bytes(sealed)).decode()
        db.execute("UPDATE versions SET pieces = ? WHERE id = ?", (json.dumps(items), row_id))
        db.commit()
    finally:
        db.close()


def test_a_damaged_object_stops_rotation_unless_skipped(populated) -> None:
    """Issue 14: rotation used to abort on a key it could not unseal, every time it was run again."""
    server, objects, _, _ = populated
    server.stop()
    _damage_sealed_key(server, "large")
    refused = server.cli("root-key", "rotate", check=False)
    assert refused.returncode == 1
    assert "object keep/large" in refused.stderr and "--skip-damaged" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert len(server.key_file.read_text().split()) == 2  # both keys kept: the rotation can be finished
    out = server.cli("root-key", "rotate", "--skip-damaged").stdout
    assert "skipped 1 damaged record(s)" in out and "object keep/large" in out
    assert len(server.key_file.read_text().split()) == 1
    server = server.restart()
    try:
        s3 = server.client()
        for key, body in objects.items():
            if key != "large":
                assert s3.get_object(Bucket="keep", Key=key)["Body"].read() == body
        s3.delete_object(Bucket="keep", Key="large")  # a damaged object can still be removed
    finally:
        server.stop()
