"""Bucket versioning through boto3 and the aws cli, on SQLite and PostgreSQL: PutBucketVersioning and
GetBucketVersioning, versions on Enabled buckets, the `null` version on Suspended ones, delete markers,
versionId on reads, deletes, copies and tagging, DeleteObjects' markers, ListObjectVersions, and the IAM
actions a versionId asks for."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import blob_files, error_code, error_of, fails, md5_b64, new_bucket, status_of
from tests.integration.principals import denied, new_user, policy
from tests.integration.server import RunningServer, clean_env
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, start_module_server: ServerFactory) -> Iterator[RunningServer]:
    if request.param == "sqlite":
        yield start_module_server()
        return
    with fresh_schema("versioning") as schema:
        running = start_module_server(env={"STRONGROOM_CATALOG": with_search_path(POSTGRES_URL, schema)})
        yield running
        running.stop()


@pytest.fixture
def versioned(s3) -> str:  # type: ignore[no-untyped-def]
    name = new_bucket(s3, "ver-")
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def versions_of(server: RunningServer, bucket: str) -> list[tuple[str, str, bool, bool]]:
    """(key, version id, is latest, is a marker) in the listing's own order (boto3 splits the two kinds)."""
    resp = server.raw("GET", f"/{bucket}", query={"versions": ""})
    assert resp.status == 200, resp.body
    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    return [(e.findtext(f"{ns}Key") or "", e.findtext(f"{ns}VersionId") or "",
             e.findtext(f"{ns}IsLatest") == "true", e.tag == f"{ns}DeleteMarker")
            for e in ET.fromstring(resp.body) if e.tag in (f"{ns}Version", f"{ns}DeleteMarker")]


def test_get_and_put_bucket_versioning(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    out = s3.get_bucket_versioning(Bucket=bucket)
    assert "Status" not in out and "MFADelete" not in out  # never configured: an empty document
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended",
                                                                     "MFADelete": "Disabled"})
    out = s3.get_bucket_versioning(Bucket=bucket)
    assert (out["Status"], out["MFADelete"]) == ("Suspended", "Disabled")
    err = fails(s3.put_bucket_versioning, Bucket=bucket, MFA="123456 000000",
                VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"})
    assert status_of(err) == 403 and error_code(err) == "AccessDenied"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"  # nothing changed


def test_put_bucket_versioning_refuses_a_bad_document(server: RunningServer, bucket: str) -> None:
    # Raw requests, with Content-MD5 and without: botocore always sends one.
    body = b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>On</Status>' \
           b'</VersioningConfiguration>'
    resp = server.raw("PUT", f"/{bucket}", body, {"Content-MD5": md5_b64(body)}, query={"versioning": ""})
    assert resp.status == 400 and b"<Code>MalformedXML</Code>" in resp.body
    good = body.replace(b"On", b"Enabled")
    resp = server.raw("PUT", f"/{bucket}", good, query={"versioning": ""})
    assert resp.status == 400 and b"Content-MD5 OR x-amz-checksum-*" in resp.body
    resp = server.raw("PUT", f"/{bucket}", good, {"Content-MD5": md5_b64(good)}, query={"versioning": ""})
    assert resp.status == 200


def test_every_write_is_a_version_and_each_reads_back(server: RunningServer, s3, versioned: str) -> None:  # type: ignore[no-untyped-def]
    first = s3.put_object(Bucket=versioned, Key="k", Body=b"first body")["VersionId"]
    second = s3.put_object(Bucket=versioned, Key="k", Body=b"second")["VersionId"]
    assert first != second and len(first) == 32 and "null" not in (first, second)
    got = s3.get_object(Bucket=versioned, Key="k")
    assert got["Body"].read() == b"second" and got["VersionId"] == second
    old = s3.get_object(Bucket=versioned, Key="k", VersionId=first)
    assert old["Body"].read() == b"first body" and old["VersionId"] == first
    ranged = s3.get_object(Bucket=versioned, Key="k", VersionId=first, Range="bytes=6-9")
    assert ranged["Body"].read() == b"body" and ranged["ContentRange"] == "bytes 6-9/10"
    head = s3.head_object(Bucket=versioned, Key="k", VersionId=first, IfMatch=old["ETag"], PartNumber=1)
    assert head["VersionId"] == first and head["ContentLength"] == 10
    assert status_of(fails(s3.head_object, Bucket=versioned, Key="k", VersionId=first,
                           IfMatch=got["ETag"])) == 412
    assert versions_of(server, versioned) == [("k", second, True, False), ("k", first, False, False)]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=versioned)["Contents"]] == ["k"]


def test_version_ids_malformed_and_unknown(s3, versioned: str) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=versioned, Key="k", Body=b"x")
    err = fails(s3.get_object, Bucket=versioned, Key="k", VersionId="not-an-id")
    assert error_of(err) == {"status": 400, "Code": "InvalidArgument",
                             "Message": "Invalid version id specified",
                             "ArgumentName": "versionId", "ArgumentValue": "not-an-id"}
    unknown = "A" * 32
    err = fails(s3.get_object, Bucket=versioned, Key="k", VersionId=unknown)
    assert (status_of(err), error_code(err)) == (404, "NoSuchVersion")
    err = fails(s3.delete_object, Bucket=versioned, Key="k", VersionId="bad")
    assert error_code(err) == "InvalidArgument"
    assert s3.get_object(Bucket=versioned, Key="k")["Body"].read() == b"x"


def test_delete_marker_hides_the_key_and_deleting_it_brings_it_back(
        server: RunningServer, s3, versioned: str) -> None:  # type: ignore[no-untyped-def]
    v1 = s3.put_object(Bucket=versioned, Key="k", Body=b"one")["VersionId"]
    out = s3.delete_object(Bucket=versioned, Key="k")
    assert out["DeleteMarker"] is True and len(out["VersionId"]) == 32
    marker = out["VersionId"]
    err = fails(s3.get_object, Bucket=versioned, Key="k")
    assert (status_of(err), error_code(err)) == (404, "NoSuchKey")
    headers = err.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true" and headers["x-amz-version-id"] == marker
    err = fails(s3.head_object, Bucket=versioned, Key="k", VersionId=marker)
    assert status_of(err) == 405
    assert err.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    err = fails(s3.get_object, Bucket=versioned, Key="k", VersionId=marker)
    assert (status_of(err), error_code(err)) == (405, "MethodNotAllowed")
    assert s3.list_objects_v2(Bucket=versioned)["KeyCount"] == 0
    assert s3.list_objects(Bucket=versioned, Delimiter="/").get("Contents") is None
    assert versions_of(server, versioned) == [("k", marker, True, True), ("k", v1, False, False)]
    assert s3.get_object(Bucket=versioned, Key="k", VersionId=v1)["Body"].read() == b"one"
    out = s3.delete_object(Bucket=versioned, Key="k", VersionId=marker)
    assert out["DeleteMarker"] is True and out["VersionId"] == marker
    assert s3.get_object(Bucket=versioned, Key="k")["Body"].read() == b"one"


def test_delete_by_version_id_is_for_good(server: RunningServer, s3, versioned: str) -> None:  # type: ignore[no-untyped-def]
    v1 = s3.put_object(Bucket=versioned, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=versioned, Key="k", Body=b"two")["VersionId"]
    out = s3.delete_object(Bucket=versioned, Key="k", VersionId=v2)
    assert out["VersionId"] == v2 and "DeleteMarker" not in out
    assert s3.get_object(Bucket=versioned, Key="k")["Body"].read() == b"one"
    assert error_code(fails(s3.get_object, Bucket=versioned, Key="k", VersionId=v2)) == "NoSuchVersion"
    s3.delete_object(Bucket=versioned, Key="k", VersionId=v1)
    assert versions_of(server, versioned) == []
    s3.delete_bucket(Bucket=versioned)  # nothing left: not even a marker


def test_a_bucket_with_only_a_marker_is_not_empty(s3, versioned: str) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=versioned, Key="k", Body=b"x")
    s3.delete_object(Bucket=versioned, Key="k")
    assert error_code(fails(s3.delete_bucket, Bucket=versioned)) == "BucketNotEmpty"


def test_objects_written_before_versioning_are_the_null_version(
        server: RunningServer, s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    assert "VersionId" not in s3.put_object(Bucket=bucket, Key="k", Body=b"before")  # never versioned
    assert versions_of(server, bucket) == [("k", "null", True, False)]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    new = s3.put_object(Bucket=bucket, Key="k", Body=b"after")["VersionId"]
    assert versions_of(server, bucket) == [("k", new, True, False), ("k", "null", False, False)]
    got = s3.get_object(Bucket=bucket, Key="k", VersionId="null")
    assert got["Body"].read() == b"before" and got["VersionId"] == "null"


def test_suspended_writes_and_deletes_replace_the_null_version(
        server: RunningServer, s3, versioned: str) -> None:  # type: ignore[no-untyped-def]
    kept = s3.put_object(Bucket=versioned, Key="k", Body=b"kept")["VersionId"]
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket=versioned, Key="k", Body=b"null one")["VersionId"] == "null"
    assert s3.put_object(Bucket=versioned, Key="k", Body=b"null two")["VersionId"] == "null"
    assert versions_of(server, versioned) == [("k", "null", True, False), ("k", kept, False, False)]
    assert s3.get_object(Bucket=versioned, Key="k")["Body"].read() == b"null two"
    out = s3.delete_object(Bucket=versioned, Key="k")
    assert out["DeleteMarker"] is True and out["VersionId"] == "null"
    assert versions_of(server, versioned) == [("k", "null", True, True), ("k", kept, False, False)]
    assert s3.get_object(Bucket=versioned, Key="k", VersionId=kept)["Body"].read() == b"kept"


def test_copy_restores_an_old_version(server: RunningServer, s3, versioned: str) -> None:  # type: ignore[no-untyped-def]
    v1 = s3.put_object(Bucket=versioned, Key="k", Body=b"good")["VersionId"]
    s3.put_object(Bucket=versioned, Key="k", Body=b"ransomed")
    source = {"Bucket": versioned, "Key": "k", "VersionId": v1}
    out = s3.copy_object(Bucket=versioned, Key="k", CopySource=source)
    assert out["CopySourceVersionId"] == v1 and out["VersionId"] not in (v1, None)
    assert s3.get_object(Bucket=versioned, Key="k")["Body"].read() == b"good"
    assert len(versions_of(server, versioned)) == 3
    marker = s3.delete_object(Bucket=versioned, Key="k")["VersionId"]
    err = fails(s3.copy_object, Bucket=versioned, Key="c",
                CopySource={"Bucket": versioned, "Key": "k", "VersionId": marker})
    assert (status_of(err), error_code(err)) == (400, "InvalidRequest")
    err = fails(s3.copy_object, Bucket=versioned, Key="c", CopySource={"Bucket": versioned, "Key": "k"})
    assert error_code(err) == "NoSuchKey"


def test_upload_part_copy_of_a_version(s3, versioned: str) -> None:  # type: ignore[no-untyped-def]
    v1 = s3.put_object(Bucket=versioned, Key="src", Body=b"old part")["VersionId"]
    s3.put_object(Bucket=versioned, Key="src", Body=b"new")
    upload = s3.create_multipart_upload(Bucket=versioned, Key="mp")["UploadId"]
    part = s3.upload_part_copy(Bucket=versioned, Key="mp", UploadId=upload, PartNumber=1,
                               CopySource={"Bucket": versioned, "Key": "src", "VersionId": v1})
    assert part["CopySourceVersionId"] == v1
    done = s3.complete_multipart_upload(Bucket=versioned, Key="mp", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
    got = s3.get_object(Bucket=versioned, Key="mp", VersionId=done["VersionId"])
    assert got["Body"].read() == b"old part"


def test_tagging_of_an_old_version(s3, versioned: str) -> None:  # type: ignore[no-untyped-def]
    v1 = s3.put_object(Bucket=versioned, Key="k", Body=b"one")["VersionId"]
    s3.put_object(Bucket=versioned, Key="k", Body=b"two")
    tags = [{"Key": "a", "Value": "b"}]
    out = s3.put_object_tagging(Bucket=versioned, Key="k", VersionId=v1, Tagging={"TagSet": tags})
    assert out["VersionId"] == v1
    assert s3.get_object_tagging(Bucket=versioned, Key="k", VersionId=v1)["TagSet"] == tags
    assert s3.get_object_tagging(Bucket=versioned, Key="k")["TagSet"] == []
    attributes = s3.get_object_attributes(Bucket=versioned, Key="k", VersionId=v1,
                                          ObjectAttributes=["ObjectSize"])
    assert (attributes["VersionId"], attributes["ObjectSize"]) == (v1, 3)
    acl = s3.get_object_acl(Bucket=versioned, Key="k", VersionId=v1)
    assert acl["Grants"][0]["Permission"] == "FULL_CONTROL"


def test_delete_objects_reports_markers(s3, versioned: str) -> None:  # type: ignore[no-untyped-def]
    v1 = s3.put_object(Bucket=versioned, Key="a", Body=b"a")["VersionId"]
    s3.put_object(Bucket=versioned, Key="b", Body=b"b")
    out = s3.delete_objects(Bucket=versioned, Delete={"Objects": [{"Key": "a", "VersionId": v1}, {"Key": "b"},
                                                                  {"Key": "c", "VersionId": "bad"}]})
    deleted = {d["Key"]: d for d in out["Deleted"]}
    assert deleted["a"] == {"Key": "a", "VersionId": v1}
    assert deleted["b"]["DeleteMarker"] is True and len(deleted["b"]["DeleteMarkerVersionId"]) == 32
    assert [e["Code"] for e in out["Errors"]] == ["NoSuchVersion"]
    marker = deleted["b"]["DeleteMarkerVersionId"]
    out = s3.delete_objects(Bucket=versioned, Delete={"Objects": [{"Key": "b", "VersionId": marker}]})
    assert out["Deleted"] == [{"Key": "b", "VersionId": marker, "DeleteMarker": True,
                               "DeleteMarkerVersionId": marker}]
    assert s3.get_object(Bucket=versioned, Key="b")["Body"].read() == b"b"


def test_list_object_versions_pages_prefixes_and_url_encoding(s3, versioned: str) -> None:  # type: ignore[no-untyped-def]
    ids: dict[str, list[str]] = {}
    for key in ("a", "d/x", "d/y", "é z"):
        for body in (b"1", b"2"):
            made = s3.put_object(Bucket=versioned, Key=key, Body=body)["VersionId"]
            ids.setdefault(key, []).insert(0, made)
    want = [(k, vid) for k in ("a", "d/x", "d/y", "é z") for vid in ids[k]]
    seen = []
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=versioned,
                                                              PaginationConfig={"PageSize": 3})
    for page in pages:
        assert len(page.get("Versions", [])) <= 3
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
    assert seen == want
    out = s3.list_object_versions(Bucket=versioned, Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["d/"]
    assert [v["Key"] for v in out["Versions"]] == ["a", "a", "é z", "é z"]
    out = s3.list_object_versions(Bucket=versioned, Prefix="d/", MaxKeys=1)
    assert out["IsTruncated"] and (out["NextKeyMarker"], out["NextVersionIdMarker"]) == ("d/x", ids["d/x"][0])
    out = s3.list_object_versions(Bucket=versioned, Prefix="d/", KeyMarker="d/x",
                                  VersionIdMarker=ids["d/x"][0])
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in out["Versions"]] == [
        ("d/x", ids["d/x"][1], False), ("d/y", ids["d/y"][0], True), ("d/y", ids["d/y"][1], False)]
    out = s3.list_object_versions(Bucket=versioned, EncodingType="url", Prefix="é")
    assert unquote_plus(out["Versions"][0]["Key"]) == "é z"  # asked for: boto3 leaves it encoded


def test_iam_actions_of_versions(server: RunningServer, s3, versioned: str) -> None:  # type: ignore[no-untyped-def]
    v1 = s3.put_object(Bucket=versioned, Key="k", Body=b"one")["VersionId"]
    bob = new_user(server, "bob")
    s3.put_bucket_policy(Bucket=versioned, Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": bob.arn}, "Action": ["s3:GetObject", "s3:DeleteObject"],
        "Resource": f"arn:aws:s3:::{versioned}/*"}))
    client = bob.client()
    assert client.get_object(Bucket=versioned, Key="k")["Body"].read() == b"one"
    denied(client.get_object, Bucket=versioned, Key="k", VersionId=v1)  # needs s3:GetObjectVersion
    denied(client.delete_object, Bucket=versioned, Key="k", VersionId=v1)  # s3:DeleteObjectVersion
    denied(client.list_object_versions, Bucket=versioned)  # s3:ListBucketVersions
    denied(client.put_bucket_versioning, Bucket=versioned, VersioningConfiguration={"Status": "Suspended"})
    assert client.delete_object(Bucket=versioned, Key="k")["DeleteMarker"] is True  # s3:DeleteObject
    s3.put_bucket_policy(Bucket=versioned, Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": bob.arn},
        "Action": ["s3:GetObjectVersion", "s3:ListBucketVersions"],
        "Resource": [f"arn:aws:s3:::{versioned}/*", f"arn:aws:s3:::{versioned}"]}))
    assert client.get_object(Bucket=versioned, Key="k", VersionId=v1)["Body"].read() == b"one"
    assert len(client.list_object_versions(Bucket=versioned)["Versions"]) == 1


def test_aws_cli_list_object_versions_and_s3_rm(server: RunningServer, s3, versioned: str) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=versioned, Key="dir/a", Body=b"1")
    s3.put_object(Bucket=versioned, Key="dir/a", Body=b"2")
    out = json.loads(server.aws("s3api", "list-object-versions", "--bucket", versioned).stdout)
    assert [v["IsLatest"] for v in out["Versions"]] == [True, False]
    server.aws("s3", "rm", f"s3://{versioned}/dir/a")
    out = json.loads(server.aws("s3api", "list-object-versions", "--bucket", versioned).stdout)
    assert len(out["Versions"]) == 2 and out["DeleteMarkers"][0]["IsLatest"] is True
    assert "dir/a" not in server.aws("s3", "ls", f"s3://{versioned}/dir/", check=False).stdout
    version = out["Versions"][1]["VersionId"]
    server.aws("s3api", "get-object", "--bucket", versioned, "--key", "dir/a", "--version-id", version,
               str(server.data_dir.parent / "restored"))
    assert (server.data_dir.parent / "restored").read_bytes() == b"1"


def test_the_sweep_keeps_noncurrent_versions_and_removes_deleted_ones(start_server: ServerFactory) -> None:
    """Only the blobs of versions really removed are garbage: an overwrite on an Enabled bucket keeps the
    old version's blob past the sweep's grace; a delete by version id and a Suspended overwrite of the
    null version give theirs up."""
    server = start_server("--sweep-interval", "0.2", "--sweep-grace", "0.5")
    s3 = server.client()
    s3.create_bucket(Bucket="sweep")
    s3.put_bucket_versioning(Bucket="sweep", VersioningConfiguration={"Status": "Enabled"})
    bodies = [bytes([i]) * 300_000 for i in range(3)]  # blob-backed, not inline
    ids = [s3.put_object(Bucket="sweep", Key="k", Body=body)["VersionId"] for body in bodies]
    assert len(blob_files(server)) == 3
    s3.delete_object(Bucket="sweep", Key="k")  # a marker: nothing is garbage
    time.sleep(2)
    assert len(blob_files(server)) == 3
    for version_id, body in zip(ids, bodies, strict=True):
        assert s3.get_object(Bucket="sweep", Key="k", VersionId=version_id)["Body"].read() == body
    s3.delete_object(Bucket="sweep", Key="k", VersionId=ids[1])
    assert _until(lambda: len(blob_files(server)) == 2)
    s3.put_bucket_versioning(Bucket="sweep", VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket="sweep", Key="k", Body=bodies[0])  # the null version: a new blob
    s3.put_object(Bucket="sweep", Key="k", Body=bodies[1])  # replaces it: its blob is garbage
    assert _until(lambda: len(blob_files(server)) == 3)
    assert s3.get_object(Bucket="sweep", Key="k", VersionId=ids[2])["Body"].read() == bodies[2]


def _until(condition, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_existing_object_tag_is_the_named_versions(server: RunningServer, s3, versioned: str) -> None:  # type: ignore[no-untyped-def]
    public = s3.put_object(Bucket=versioned, Key="k", Body=b"public", Tagging="class=public")["VersionId"]
    secret = s3.put_object(Bucket=versioned, Key="k", Body=b"secret")["VersionId"]
    dave = new_user(server, "dave")
    s3.put_bucket_policy(Bucket=versioned, Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": dave.arn}, "Action": "s3:GetObjectVersion",
        "Resource": f"arn:aws:s3:::{versioned}/*",
        "Condition": {"StringEquals": {"s3:ExistingObjectTag/class": "public"}}}))
    client = dave.client()
    assert client.get_object(Bucket=versioned, Key="k", VersionId=public)["Body"].read() == b"public"
    denied(client.get_object, Bucket=versioned, Key="k", VersionId=secret)


RESTIC = shutil.which("restic")


@pytest.mark.skipif(RESTIC is None, reason="restic is not on PATH (Debian's package)")
def test_restic_backs_up_to_a_versioned_bucket_and_restores(server: RunningServer, s3, versioned: str,  # type: ignore[no-untyped-def]
                                                            tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "sub").mkdir(parents=True)
    files = {"a.bin": os.urandom(300_000), "sub/b.txt": b"hello " * 1000, "empty": b""}
    for name, data in files.items():
        (source / name).write_bytes(data)
    env = clean_env(AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret_key,
                    RESTIC_PASSWORD="correct horse", RESTIC_REPOSITORY=f"s3:{server.endpoint}/{versioned}")

    def restic(*args: str) -> str:
        done = subprocess.run([str(RESTIC), "--no-cache", *args], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    restic("init")
    restic("backup", str(source))
    (source / "a.bin").write_bytes(b"changed")
    restic("backup", str(source))  # restic deletes its lock files: delete markers here
    snapshots = json.loads(restic("snapshots", "--json"))
    assert len(snapshots) == 2
    restic("restore", snapshots[0]["short_id"], "--target", str(tmp_path / "out"))
    restored = tmp_path / "out" / source.relative_to("/")
    assert {name: (restored / name).read_bytes() for name in files} == files
    markers = s3.list_object_versions(Bucket=versioned, Prefix="locks/").get("DeleteMarkers", [])
    assert markers and s3.list_objects_v2(Bucket=versioned, Prefix="locks/")["KeyCount"] == 0
