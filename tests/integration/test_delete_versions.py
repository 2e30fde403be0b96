"""A versionId on a delete or a read of strongroom's unversioned buckets (issue 14: "no other object is
touched"). Only `null` names the current object. DeleteObject of any other id is 400 InvalidArgument;
in DeleteObjects such an entry gets a per-key <Error> NoSuchVersion, as S3 answers there; either way
nothing is deleted. A read of another id is 404 NoSuchVersion, or 400 InvalidArgument when the id is
not shaped like an S3 version id."""

from __future__ import annotations

import json

import pytest

from tests.integration.helpers import error_of, fails

WELL_FORMED = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH"  # 32 characters, as S3's version ids are
INVALID = {
    "status": 400,
    "Code": "InvalidArgument",
    "Message": "Invalid version id specified",
    "ArgumentName": "versionId",
}


@pytest.mark.parametrize("version_id", [WELL_FORMED, "abc", "1"])
def test_delete_object_with_another_version_id_deletes_nothing(s3, bucket: str, version_id: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"keep me")
    err = fails(s3.delete_object, Bucket=bucket, Key="k", VersionId=version_id)
    assert error_of(err) == {**INVALID, "ArgumentValue": version_id}
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"keep me"


def test_delete_object_null_version_deletes_it(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    out = s3.delete_object(Bucket=bucket, Key="k", VersionId="null")
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204 and out["VersionId"] == "null"
    assert fails(s3.head_object, Bucket=bucket, Key="k").response["Error"]["Code"] == "404"


def test_delete_objects_with_version_ids(s3, bucket: str) -> None:
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    out = s3.delete_objects(
        Bucket=bucket,
        Delete={
            "Objects": [
                {"Key": "a", "VersionId": WELL_FORMED},
                {"Key": "b", "VersionId": "null"},
                {"Key": "c"},
            ]
        },
    )
    assert out["Errors"] == [
        {
            "Key": "a",
            "VersionId": WELL_FORMED,
            "Code": "NoSuchVersion",
            "Message": "The specified version does not exist.",
        }
    ]
    assert sorted(out["Deleted"], key=lambda d: d["Key"]) == [{"Key": "b", "VersionId": "null"}, {"Key": "c"}]
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"a"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])] == ["a"]


def test_aws_cli_delete_with_version_id(server, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"keep")
    result = server.aws(
        "s3api", "delete-object", "--bucket", bucket, "--key", "k", "--version-id", WELL_FORMED, check=False
    )
    assert result.returncode != 0 and "InvalidArgument" in result.stderr
    assert "Invalid version id specified" in result.stderr
    result = server.aws(
        "s3api",
        "delete-objects",
        "--bucket",
        bucket,
        "--delete",
        json.dumps({"Objects": [{"Key": "k", "VersionId": "abc"}]}),
    )
    assert json.loads(result.stdout)["Errors"][0]["Code"] == "NoSuchVersion"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"keep"
    server.aws("s3api", "delete-object", "--bucket", bucket, "--key", "k", "--version-id", "null")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_reads_with_another_version_id(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"x"
    err = fails(s3.get_object, Bucket=bucket, Key="k", VersionId=WELL_FORMED)
    assert error_of(err)["status"] == 404 and error_of(err)["Code"] == "NoSuchVersion"
    assert err.response["Error"]["VersionId"] == WELL_FORMED
    err = fails(s3.get_object, Bucket=bucket, Key="k", VersionId="abc")
    assert error_of(err) == {**INVALID, "ArgumentValue": "abc"}
    assert error_of(fails(s3.head_object, Bucket=bucket, Key="k", VersionId="abc"))["status"] == 400
    assert error_of(fails(s3.head_object, Bucket=bucket, Key="k", VersionId=WELL_FORMED))["status"] == 404
    err = fails(s3.get_object_tagging, Bucket=bucket, Key="k", VersionId="abc")
    assert error_of(err) == {**INVALID, "ArgumentValue": "abc"}
    err = fails(
        s3.copy_object,
        Bucket=bucket,
        Key="copy",
        CopySource={"Bucket": bucket, "Key": "k", "VersionId": WELL_FORMED},
    )
    assert error_of(err)["Code"] == "NoSuchVersion"
    err = fails(
        s3.copy_object,
        Bucket=bucket,
        Key="copy",
        CopySource={"Bucket": bucket, "Key": "k", "VersionId": "abc"},
    )
    assert error_of(err) == {**INVALID, "ArgumentValue": "abc"}
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k", "VersionId": "null"})
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"x"
