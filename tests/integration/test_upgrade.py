"""A data directory written by release 1 (commit 7db862d) opens with this code and reads back whole.

tests/fixtures/release-1.tar.gz holds what that release's server wrote (SSE-S3 objects inline and in
blobs, SSE-KMS with and without a Bucket Key, metadata and tags, an upload in progress, a user, a
KMS key and alias) with its root key and a manifest of what is in it. Every change to the catalog
schema or the on-disk format must keep this test passing: it migrates the directory in place
(catalog/schemas.py) and proves nothing stored was lost. tests/fixtures/release-1-postgres.tar.gz is
the same with release 1's PostgreSQL catalog (a dump of its schema, and the blobs), made by
tests/fixtures/make_release_postgres.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import psycopg
import pytest
from botocore.exceptions import ClientError

from strongroom.catalog.schemas import SCHEMA_VERSION
from tests.integration.factory import ServerFactory
from tests.integration.server import RunningServer, clean_env
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

FIXTURE = Path(__file__).parent.parent / "fixtures" / "release-1.tar.gz"


def unpack(into: Path) -> dict:  # type: ignore[type-arg]
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(into, filter="data")
    return json.loads((into / "manifest.json").read_text())  # type: ignore[no-any-return]


def in_clear(data: Path, manifest: dict) -> list[str]:  # type: ignore[type-arg]
    """Which of the fixture's private values the catalog file or its WAL holds in clear."""
    raw = b"".join(p.read_bytes() for p in data.glob("catalog.sqlite3*"))
    secrets = {"blue", "text/plain", "gold"} | {o["etag"].strip('"') for o in manifest["objects"]}
    return sorted(s for s in secrets if s.encode() in raw)


def reads_back(server: RunningServer, manifest: dict) -> None:  # type: ignore[type-arg]
    """Every object of the fixture with its body, ETag, SSE, content type, metadata and tags; the
    listing, the upload in progress (completed now), the user and the KMS key and alias."""
    ak, sk = manifest["root"]
    s3 = server.client(access_key=ak, secret_key=sk)
    for expected in manifest["objects"]:
        got = s3.get_object(Bucket="kept", Key=expected["key"])
        body = got["Body"].read()
        assert hashlib.sha256(body).hexdigest() == expected["sha256"], expected["key"]
        assert got["ETag"] == expected["etag"]
        assert got["ServerSideEncryption"] == expected["sse"]
        assert got["ContentType"] == expected["content_type"]
        assert got["Metadata"] == expected["metadata"]
        tags = s3.get_object_tagging(Bucket="kept", Key=expected["key"])["TagSet"]
        assert {t["Key"]: t["Value"] for t in tags} == expected["tags"]
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="kept")["Contents"]]
    assert listed == sorted(o["key"] for o in manifest["objects"])
    upload = manifest["upload"]
    parts = s3.list_parts(Bucket="kept", Key=upload["key"], UploadId=upload["upload_id"])["Parts"]
    s3.complete_multipart_upload(Bucket="kept", Key=upload["key"], UploadId=upload["upload_id"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": parts[0]["ETag"]}]})
    assert len(s3.get_object(Bucket="kept", Key=upload["key"])["Body"].read()) == 1000
    alice_ak, alice_sk = manifest["users"]["alice"]
    assert server.client("sts", access_key=alice_ak, secret_key=alice_sk).get_caller_identity()["Arn"] \
        == f"arn:aws:iam::{manifest['account']}:user/alice"
    kms = server.client("kms", access_key=ak, secret_key=sk)
    assert kms.describe_key(KeyId="alias/fixture")["KeyMetadata"]["KeyId"] == manifest["kms_key"]


def writes_beside_and_restarts(server: RunningServer, manifest: dict) -> RunningServer:  # type: ignore[type-arg]
    """New writes land beside the old ones, and both read back after a restart (returned). A multipart
    upload completed before the restart is still recognized after it: its retried Complete answers with
    the same ETag."""
    ak, sk = manifest["root"]
    before = server.client(access_key=ak, secret_key=sk)
    before.put_object(Bucket="kept", Key="written-after-upgrade", Body=b"new")
    upload = before.create_multipart_upload(Bucket="kept", Key="multipart-after-upgrade")["UploadId"]
    part = before.upload_part(Bucket="kept", Key="multipart-after-upgrade", UploadId=upload, PartNumber=1,
                              Body=b"one part")
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    done = before.complete_multipart_upload(Bucket="kept", Key="multipart-after-upgrade", UploadId=upload,
                                            MultipartUpload=parts)
    again = server.restart()
    s3 = again.client(access_key=ak, secret_key=sk)
    assert s3.get_object(Bucket="kept", Key="written-after-upgrade")["Body"].read() == b"new"
    retried = s3.complete_multipart_upload(Bucket="kept", Key="multipart-after-upgrade", UploadId=upload,
                                           MultipartUpload=parts)
    assert retried["ETag"] == done["ETag"]
    large = next(o["sha256"] for o in manifest["objects"] if o["key"] == "large.bin")
    assert hashlib.sha256(s3.get_object(Bucket="kept", Key="large.bin")["Body"].read()).hexdigest() == large
    # Schema step 7 (on PostgreSQL a PUT is one statement, a server-side function): an overwrite
    # replaces a version release 1 wrote (a row of the migrated table) and leaves no other.
    small = next(o["key"] for o in manifest["objects"] if o["key"] != "large.bin")
    s3.put_object(Bucket="kept", Key=small, Body=b"overwritten")
    assert s3.get_object(Bucket="kept", Key=small)["Body"].read() == b"overwritten"
    listed = s3.list_object_versions(Bucket="kept", Prefix=small)["Versions"]
    assert [(v["Key"], v["VersionId"]) for v in listed if v["Key"] == small] == [(small, "null")]
    # Schema step 6: what release 1 wrote is the `null` version; versioning keeps it under newer versions.
    listed = s3.list_object_versions(Bucket="kept", Prefix="large.bin")["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [("null", True)]
    s3.put_bucket_versioning(Bucket="kept", VersioningConfiguration={"Status": "Enabled"})
    newer = s3.put_object(Bucket="kept", Key="large.bin", Body=b"newer")["VersionId"]
    listed = s3.list_object_versions(Bucket="kept", Prefix="large.bin")["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [(newer, True), ("null", False)]
    old = s3.get_object(Bucket="kept", Key="large.bin", VersionId="null")["Body"].read()
    assert hashlib.sha256(old).hexdigest() == large
    return locks_what_release_1_wrote(again, manifest)


def locks_what_release_1_wrote(server: RunningServer, manifest: dict) -> RunningServer:  # type: ignore[type-arg]
    """Schema step 7: Object Lock enabled on the migrated (now versioned) bucket locks release 1's `null`
    version, which then cannot be deleted, and stays locked across a restart (returned)."""
    ak, sk = manifest["root"]
    s3 = server.client(access_key=ak, secret_key=sk)
    s3.put_object_lock_configuration(Bucket="kept", ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    s3.put_object_legal_hold(Bucket="kept", Key="large.bin", VersionId="null", LegalHold={"Status": "ON"})
    for restart in (False, True):
        if restart:
            server = server.restart()
        client = server.client(access_key=ak, secret_key=sk)
        with pytest.raises(ClientError) as denied:
            client.delete_object(Bucket="kept", Key="large.bin", VersionId="null")
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        assert client.get_object_legal_hold(Bucket="kept", Key="large.bin", VersionId="null")["LegalHold"] \
            == {"Status": "ON"}
    return server


def test_release_1_data_directory_opens_migrates_and_reads_back(tmp_path: Path,
                                                                start_server: ServerFactory) -> None:
    manifest = unpack(tmp_path)
    data = tmp_path / "data"
    (tmp_path / "data.root-key").chmod(0o600)
    ak, sk = manifest["root"]
    env = {"STRONGROOM_ROOT_ACCESS_KEY": ak, "STRONGROOM_ROOT_SECRET_KEY": sk,
           "STRONGROOM_ACCOUNT_ID": manifest["account"]}
    # Release 1 made its data directory 0755; this release refuses it until its owner closes it (the
    # upgrade step the README names), and says how.
    data.chmod(0o755)
    serve = [sys.executable, "-m", "strongroom", "serve", "--port", "0", "--data-dir", str(data),
             "--root-key-file", str(tmp_path / "data.root-key")]
    refused = subprocess.run(serve, env=clean_env(**env), capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and f"chmod 700 {data}" in refused.stderr
    os.chmod(data, 0o700)
    # Another root key is refused before the upgrade seals anything under it: the catalog stays as it was.
    other_key = tmp_path / "other.root-key"
    other_key.write_text(base64.b64encode(bytes(range(32))).decode() + "\n")
    other_key.chmod(0o600)
    wrong = subprocess.run([*serve[:-1], str(other_key)], env=clean_env(**env), capture_output=True,
                           text=True, timeout=60)
    assert wrong.returncode != 0 and "is not the one this catalog's data is sealed under" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    # Release 1 kept metadata, tags, content types and MD5 ETags in clear (the fixture shows it) ...
    assert in_clear(data, manifest) == sorted({"blue", "text/plain", "gold"}
                                              | {o["etag"].strip('"') for o in manifest["objects"]})
    server = start_server(env=env, data_dir=data)
    assert len((data / "deployment-id").read_text().strip()) == 32  # the deployment got its id at this start
    # ... and the upgrade sealed them in place (schema step 3), the WAL included, saying how far it was.
    assert in_clear(data, manifest) == []
    assert "catalog upgrade: sealing metadata done: " in server.log()
    reads_back(server, manifest)
    assert "verify: " in server.cli("verify").stdout  # release 1's objects authenticate, and match
    writes_beside_and_restarts(server, manifest)
    assert in_clear(data, manifest) == []


PG_FIXTURE = Path(__file__).parent.parent / "fixtures" / "release-1-postgres.tar.gz"


@pytest.mark.postgres
def test_release_1_postgres_catalog_migrates_and_reads_back(tmp_path: Path,
                                                            start_server: ServerFactory) -> None:
    """The same with release 1's PostgreSQL catalog (tests/fixtures/make_release_postgres.py made it):
    its schema is loaded into a fresh one, and this release's server migrates it in place."""
    with tarfile.open(PG_FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    data = tmp_path / "data"
    data.chmod(0o700)
    (tmp_path / "data.root-key").chmod(0o600)
    ak, sk = manifest["root"]
    with fresh_schema("release1") as schema:
        script = (tmp_path / "catalog.sql").read_text().replace("@SCHEMA@", schema)
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(script.encode())  # plain statements, sent as one simple query
        env = {"STRONGROOM_ROOT_ACCESS_KEY": ak, "STRONGROOM_ROOT_SECRET_KEY": sk,
               "STRONGROOM_ACCOUNT_ID": manifest["account"],
               "STRONGROOM_CATALOG": with_search_path(POSTGRES_URL, schema)}
        server = start_server(env=env, data_dir=data)
        with psycopg.connect(with_search_path(POSTGRES_URL, schema)) as conn:
            version = conn.execute("SELECT version FROM schema_version").fetchone()
            unsealed = conn.execute("SELECT count(*) FROM versions WHERE listed IS NULL").fetchone()
        assert version == (SCHEMA_VERSION,) and unsealed == (0,)  # migrated, and sealed in place
        assert "catalog upgrade: sealing metadata done: " in server.log()
        reads_back(server, manifest)
        assert "verify: " in server.cli("verify").stdout  # release 1's objects authenticate, and match
        writes_beside_and_restarts(server, manifest).stop()
