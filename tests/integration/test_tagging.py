"""Object tags: x-amz-tagging on writes, Get/Put/DeleteObjectTagging, and S3's tag limits."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.helpers import error_code


def tagset(s3, bucket: str, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def test_tags_on_put_get_put_delete(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="team=storage&stage=beta%20one")
    assert tagset(s3, bucket, "k") == {"team": "storage", "stage": "beta one"}
    assert (
        s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"]
        == "2"
    )
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
    assert tagset(s3, bucket, "k") == {"a": "1"}
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"  # data untouched
    s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert tagset(s3, bucket, "k") == {}


def test_copy_keeps_or_replaces_tags(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="a=1")
    s3.copy_object(Bucket=bucket, Key="same", CopySource={"Bucket": bucket, "Key": "src"})
    assert tagset(s3, bucket, "same") == {"a": "1"}
    s3.copy_object(
        Bucket=bucket,
        Key="new",
        CopySource={"Bucket": bucket, "Key": "src"},
        TaggingDirective="REPLACE",
        Tagging="b=2",
    )
    assert tagset(s3, bucket, "new") == {"b": "2"}


def test_multipart_upload_keeps_header_tags(s3, bucket) -> None:
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="x=y")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, Body=b"abc")["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    )
    assert tagset(s3, bucket, "mp") == {"x": "y"}


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ([{"Key": f"k{i}", "Value": "v"} for i in range(11)], "Object tags cannot be greater than 10"),
        (
            [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}],
            "Cannot provide multiple Tags with the same key",
        ),
        ([{"Key": "k" * 129, "Value": "v"}], "The TagKey you have provided is too long, max 128"),
        ([{"Key": "k", "Value": "v" * 257}], "The TagValue you have provided is too long, max 256"),
        ([{"Key": "aws:x", "Value": "v"}], "Your TagKey cannot be prefixed with aws:"),
        ([{"Key": "bad<key>", "Value": "v"}], "The TagKey you have provided is invalid"),
    ],
)
def test_invalid_tags_change_nothing(s3, bucket, tags, message) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="keep=me")
    with pytest.raises(ClientError) as err:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tags})
    assert error_code(err.value) == "InvalidTag"
    assert err.value.response["Error"]["Message"] == message
    assert tagset(s3, bucket, "k") == {"keep": "me"}


def test_bad_tagging_header_and_missing_key(s3, bucket) -> None:
    with pytest.raises(ClientError) as err:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1&a=2")
    assert error_code(err.value) == "InvalidArgument"
    with pytest.raises(ClientError) as err:
        s3.head_object(Bucket=bucket, Key="k")
    assert error_code(err.value) == "404"  # nothing was stored
    with pytest.raises(ClientError) as err:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert error_code(err.value) == "NoSuchKey"
