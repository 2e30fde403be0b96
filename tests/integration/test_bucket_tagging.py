"""PutBucketTagging, GetBucketTagging, DeleteBucketTagging: AWS's limits and errors, on both catalog
engines, with boto3, the aws cli and raw requests (for what the SDKs will not send)."""

from __future__ import annotations

import json

import pytest

from tests.integration.helpers import error_of, fails, md5_b64, new_bucket
from tests.integration.server import RunningServer


@pytest.fixture
def s3(engine_server: RunningServer):
    return engine_server.client("s3")


def tag_set(*pairs: tuple[str, str]) -> dict[str, object]:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in pairs]}


def test_put_get_replace_delete(s3) -> None:
    bucket = new_bucket(s3)
    assert error_of(fails(s3.get_bucket_tagging, Bucket=bucket))["Code"] == "NoSuchTagSet"
    tags = tag_set(("team", "blue"), ("empty", ""), ("é ü", "ok"))
    put = s3.put_bucket_tagging(Bucket=bucket, Tagging=tags)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags["TagSet"]
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set(("other", "x")))  # replaces the whole set
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "other", "Value": "x"}]
    assert s3.delete_bucket_tagging(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(fails(s3.get_bucket_tagging, Bucket=bucket))["Code"] == "NoSuchTagSet"
    assert s3.delete_bucket_tagging(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204  # idempotent


def test_an_empty_tag_set_removes_the_tags(s3) -> None:
    bucket = new_bucket(s3)
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set(("a", "1")))
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": []})
    err = fails(s3.get_bucket_tagging, Bucket=bucket)
    assert (error_of(err)["status"], error_of(err)["Code"]) == (404, "NoSuchTagSet")


def test_fifty_tags_and_no_more(s3) -> None:
    bucket = new_bucket(s3)
    fifty = [(f"k{i}", f"v{i}") for i in range(50)]
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set(*fifty))
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 50
    err = fails(s3.put_bucket_tagging, Bucket=bucket, Tagging=tag_set(*fifty, ("k50", "v50")))
    assert error_of(err) == {"status": 400, "Code": "BadRequest",
                             "Message": "Bucket tag count cannot be greater than 50",
                             "ArgumentName": None, "ArgumentValue": None}
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 50  # the refused Put changed nothing


@pytest.mark.parametrize(("pairs", "message"), [
    ([("dup", "1"), ("dup", "2")], "Cannot provide multiple Tags with the same key"),
    ([("k" * 129, "v")], "The TagKey you have provided is too long, max 128"),
    ([("k", "v" * 257)], "The TagValue you have provided is too long, max 256"),
    ([("aws:reserved", "v")], "Your TagKey cannot be prefixed with aws:"),
    ([("AWS:reserved", "v")], "Your TagKey cannot be prefixed with aws:"),
    ([("Key1,Key2", "v")], "The TagKey you have provided is invalid"),
])
def test_invalid_tags(s3, pairs: list[tuple[str, str]], message: str) -> None:
    bucket = new_bucket(s3)
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set(("kept", "yes")))
    err = fails(s3.put_bucket_tagging, Bucket=bucket, Tagging=tag_set(*pairs))
    assert (error_of(err)["status"], error_of(err)["Code"], error_of(err)["Message"]) == (400, "InvalidTag",
                                                                                          message)
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "kept", "Value": "yes"}]


def test_limits_at_the_edge_are_accepted(s3) -> None:
    bucket = new_bucket(s3)
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set(("k" * 128, "v" * 256), ("a:b/c=d.e_f-g+h@i", "")))
    assert len(s3.get_bucket_tagging(Bucket=bucket)["TagSet"]) == 2


def test_documents_and_integrity_headers(engine_server: RunningServer, s3) -> None:
    bucket = new_bucket(s3)
    doc = b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"
    no_md5 = engine_server.raw("PUT", f"/{bucket}?tagging", doc)
    assert (no_md5.status, no_md5.code) == (400, "InvalidRequest")
    wrong_md5 = engine_server.raw("PUT", f"/{bucket}?tagging", doc, {"Content-MD5": md5_b64(b"other")})
    assert (wrong_md5.status, wrong_md5.code) == (400, "BadDigest")
    for bad in (b"<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>",  # no Value
                b"<Tagging><Other/></Tagging>", b"<Tagging>", b"not xml"):
        reply = engine_server.raw("PUT", f"/{bucket}?tagging", bad, {"Content-MD5": md5_b64(bad)})
        assert (reply.status, reply.code) == (400, "MalformedXML"), bad
    assert error_of(fails(s3.get_bucket_tagging, Bucket=bucket))["Code"] == "NoSuchTagSet"  # nothing stored
    ok = engine_server.raw("PUT", f"/{bucket}?tagging", doc, {"Content-MD5": md5_b64(doc)})
    assert ok.status == 204
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "a", "Value": "b"}]


def test_missing_bucket_is_no_such_bucket(s3) -> None:
    for call, kwargs in ((s3.get_bucket_tagging, {}), (s3.delete_bucket_tagging, {}),
                         (s3.put_bucket_tagging, {"Tagging": tag_set(("a", "b"))})):
        err = fails(call, Bucket="no-such-bucket-tagging", **kwargs)
        assert (error_of(err)["status"], error_of(err)["Code"]) == (404, "NoSuchBucket")


def test_aws_cli_and_restart(engine_server: RunningServer) -> None:
    s3 = engine_server.client("s3")
    bucket = new_bucket(s3)
    engine_server.aws("s3api", "put-bucket-tagging", "--bucket", bucket,
                      "--tagging", "TagSet=[{Key=env,Value=prod},{Key=owner,Value=ops}]")
    got = json.loads(engine_server.aws("s3api", "get-bucket-tagging", "--bucket", bucket).stdout)
    assert got == {"TagSet": [{"Key": "env", "Value": "prod"}, {"Key": "owner", "Value": "ops"}]}
    engine_server.aws("s3api", "delete-bucket-tagging", "--bucket", bucket)
    missing = engine_server.aws("s3api", "get-bucket-tagging", "--bucket", bucket, check=False)
    assert "(NoSuchTagSet)" in missing.stderr, missing.stderr
