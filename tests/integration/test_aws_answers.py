"""Answers strongroom used to give differently from AWS (issue 12, "Answers we get wrong today"), each
checked against AWS's documentation (or, where the docs are silent, AWS's recorded answers), through
boto3 and the aws cli, on SQLite and PostgreSQL where storage is involved:

- bucket names with a dash beside a dot are InvalidBucketName;
- `x-amz-tagging: foo=bar&bar` tags bar with an empty value;
- conditional deletes (user guide, "How to perform conditional deletes"): If-Match with an ETag or `*`
  on DeleteObject (204 when it holds, 412 PreconditionFailed when the ETag differs, 404 NoSuchKey when
  there is no object), and the ETag element of each DeleteObjects entry (a per-entry PreconditionFailed
  <Error>, the others deleted);
- a body sent with `Content-Encoding: gzip` is stored as sent (not inflated), and the `aws-chunked`
  token of an aws-chunked upload is not kept in Content-Encoding;
- SigV2 header signatures from boto3's signature_version='s3' on bucket operations (CreateBucket,
  ListObjects, DeleteObjects, GetBucketAcl...), which botocore signs as `/bucket/`.
"""

from __future__ import annotations

import gzip
import json
import secrets
import urllib.request
from collections.abc import Iterator

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_code, fails, status_of
from tests.integration.principals import new_user
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The server's environment: its SQLite catalog, or a fresh PostgreSQL schema (dropped after)."""
    if request.param == "sqlite":
        yield {}
        return
    with fresh_schema("answers") as schema:
        yield {"STRONGROOM_CATALOG": with_search_path(POSTGRES_URL, schema)}


@pytest.fixture(scope="module")
def server(catalog_env: dict[str, str], start_module_server: ServerFactory) -> Iterator[RunningServer]:
    running = start_module_server(env=catalog_env)
    yield running
    running.stop()  # before its schema is dropped (the factory checks its log at the module's end)


# --- bucket names ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["foo-.bar", "foo.-bar", "a.-b.c", "a-.b"])
def test_a_dash_beside_a_dot_is_an_invalid_bucket_name(s3, name: str) -> None:
    e = fails(s3.create_bucket, Bucket=name)
    assert (status_of(e), error_code(e)) == (400, "InvalidBucketName")
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_dashes_and_dots_apart_are_still_valid(s3) -> None:
    name = f"a-b.c-d.{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]


# --- x-amz-tagging -----------------------------------------------------------------------------------


def test_a_tag_without_equals_has_an_empty_value(server: RunningServer, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="foo=bar&bar")
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"]}
    assert tags == {"foo": "bar", "bar": ""}
    server.aws("s3api", "put-object", "--bucket", bucket, "--key", "cli", "--tagging", "solo&a=b%20c")
    out = json.loads(server.aws("s3api", "get-object-tagging", "--bucket", bucket, "--key", "cli").stdout)
    assert {t["Key"]: t["Value"] for t in out["TagSet"]} == {"solo": "", "a": "b c"}


@pytest.mark.parametrize("value", ["a=1&a=2", "a=1&&b=2", "a=1&a"])
def test_malformed_or_duplicate_tagging_is_still_refused(s3, bucket: str, value: str) -> None:
    e = fails(s3.put_object, Bucket=bucket, Key="k", Body=b"x", Tagging=value)
    assert (status_of(e), error_code(e)) == (400, "InvalidArgument")
    assert fails(s3.head_object, Bucket=bucket, Key="k").response["Error"]["Code"] == "404"


# --- conditional deletes -----------------------------------------------------------------------------


def test_delete_object_if_match(server: RunningServer, s3, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"first")["ETag"]
    e = fails(s3.delete_object, Bucket=bucket, Key="k", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert (status_of(e), error_code(e)) == (412, "PreconditionFailed")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"first"  # nothing was deleted
    s3.delete_object(Bucket=bucket, Key="k", IfMatch=etag)
    assert fails(s3.head_object, Bucket=bucket, Key="k").response["Error"]["Code"] == "404"
    e = fails(s3.delete_object, Bucket=bucket, Key="k", IfMatch=etag)  # no object: 404 with If-Match
    assert (status_of(e), error_code(e)) == (404, "NoSuchKey")
    s3.delete_object(Bucket=bucket, Key="k")  # without a condition, deleting nothing is still 204
    # "*": any current version; the aws cli too, with the ETag unquoted as users copy it
    s3.put_object(Bucket=bucket, Key="star", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="star", IfMatch="*")
    e = fails(s3.delete_object, Bucket=bucket, Key="star", IfMatch="*")
    assert (status_of(e), error_code(e)) == (404, "NoSuchKey")
    bare = s3.put_object(Bucket=bucket, Key="cli", Body=b"y")["ETag"].strip('"')
    failed = server.aws("s3api", "delete-object", "--bucket", bucket, "--key", "cli", "--if-match",
                        "0" * 32, check=False)
    assert failed.returncode != 0 and "PreconditionFailed" in failed.stderr
    server.aws("s3api", "delete-object", "--bucket", bucket, "--key", "cli", "--if-match", bare)
    assert fails(s3.head_object, Bucket=bucket, Key="cli").response["Error"]["Code"] == "404"


def test_delete_objects_with_etags(s3, bucket: str) -> None:
    tags = {k: s3.put_object(Bucket=bucket, Key=k, Body=k.encode())["ETag"] for k in ("a", "b", "c")}
    got = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "a", "ETag": tags["a"]},
        {"Key": "b", "ETag": tags["a"]},  # another object's ETag: this entry fails alone
        {"Key": "c"},
        {"Key": "gone", "ETag": tags["a"]},
    ]})
    assert sorted(d["Key"] for d in got["Deleted"]) == ["a", "c"]
    errors = {e["Key"]: e["Code"] for e in got["Errors"]}
    assert errors == {"b": "PreconditionFailed", "gone": "NoSuchKey"}
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])] == ["b"]


def test_a_conditional_delete_with_an_etag_needs_get_object(server: RunningServer, s3, bucket: str) -> None:
    """User guide, "How to perform conditional deletes": with an ETag, s3:DeleteObject and s3:GetObject."""
    carol = new_user(server, "carol")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": carol.arn}, "Action": "s3:DeleteObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    theirs = carol.client()
    etags = {k: s3.put_object(Bucket=bucket, Key=k, Body=b"x")["ETag"] for k in ("a", "b", "c", "d")}
    e = fails(theirs.delete_object, Bucket=bucket, Key="a", IfMatch=etags["a"])
    assert (status_of(e), error_code(e)) == (403, "AccessDenied")
    theirs.delete_object(Bucket=bucket, Key="a", IfMatch="*")  # existence only: s3:DeleteObject
    theirs.delete_object(Bucket=bucket, Key="b")
    got = theirs.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c", "ETag": etags["c"]},
                                                                   {"Key": "d"}]})
    assert [d["Key"] for d in got["Deleted"]] == ["d"]
    assert [(x["Key"], x["Code"]) for x in got["Errors"]] == [("c", "AccessDenied")]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["c"]


def test_directory_bucket_conditions_are_refused_not_ignored(s3, bucket: str) -> None:
    """x-amz-if-match-last-modified-time and x-amz-if-match-size (DeleteObject; LastModifiedTime and Size
    in DeleteObjects) are directory-bucket conditions (API reference DeleteObject): strongroom does not
    evaluate them, so a delete naming one is refused (501 NotImplemented) and deletes nothing."""
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"12345")
    head = s3.head_object(Bucket=bucket, Key="k")
    e = fails(s3.delete_object, Bucket=bucket, Key="k", IfMatchSize=5)
    assert (status_of(e), error_code(e)) == (501, "NotImplemented")
    assert e.response["Error"]["Header"] == "x-amz-if-match-size"
    e = fails(s3.delete_object, Bucket=bucket, Key="k", IfMatchLastModifiedTime=head["LastModified"])
    assert (status_of(e), error_code(e)) == (501, "NotImplemented")
    got = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k", "Size": 5, "ETag": put["ETag"]}]})
    assert [(x["Key"], x["Code"]) for x in got["Errors"]] == [("k", "NotImplemented")]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"12345"


# --- Content-Encoding --------------------------------------------------------------------------------


def test_a_gzip_body_is_stored_as_sent(s3, bucket: str) -> None:
    packed = gzip.compress(b"hello " * 1000)
    s3.put_object(Bucket=bucket, Key="z", Body=packed, ContentEncoding="gzip")
    head = s3.head_object(Bucket=bucket, Key="z")
    assert head["ContentEncoding"] == "gzip" and head["ContentLength"] == len(packed)
    assert s3.get_object(Bucket=bucket, Key="z")["Body"].read() == packed
    # bytes that are not gzip at all, sent with that label, are stored too: S3 does not look inside
    s3.put_object(Bucket=bucket, Key="raw", Body=b"not gzip", ContentEncoding="gzip")
    assert s3.get_object(Bucket=bucket, Key="raw")["Body"].read() == b"not gzip"


def test_aws_chunked_is_not_a_content_coding(tls_server) -> None:
    """boto3 over https sends PutObject aws-chunked with a trailing checksum and `Content-Encoding:
    gzip,aws-chunked`: the object's coding is `gzip` alone. (The coding is not storage: one engine.)"""
    running, cert = tls_server
    s3 = running.client("s3", verify=str(cert))
    bucket = "chunked-" + secrets.token_hex(4)
    s3.create_bucket(Bucket=bucket)
    packed = gzip.compress(b"chunked " * 1000)
    sent: list[bytes] = []
    s3.meta.events.register("before-send.s3.PutObject",
                            lambda request, **_: sent.append(request.headers.get("Content-Encoding")))
    s3.put_object(Bucket=bucket, Key="c", Body=packed, ContentEncoding="gzip")
    assert sent and b"aws-chunked" in sent[0]  # the case this test is about
    head = s3.head_object(Bucket=bucket, Key="c")
    assert head["ContentEncoding"] == "gzip"
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == packed


# --- SigV2 ---------------------------------------------------------------------------------------------


def test_sigv2_header_signatures_on_bucket_operations(server: RunningServer) -> None:
    v2 = server.client("s3", signature_version="s3")
    name = "v2-" + secrets.token_hex(4)
    v2.create_bucket(Bucket=name)
    assert v2.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    v2.put_object(Bucket=name, Key="a b", Body=b"x")
    assert [o["Key"] for o in v2.list_objects(Bucket=name)["Contents"]] == ["a b"]
    assert [o["Key"] for o in v2.list_objects_v2(Bucket=name)["Contents"]] == ["a b"]
    assert v2.get_bucket_acl(Bucket=name)["Grants"]
    assert v2.get_bucket_location(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert v2.list_multipart_uploads(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    deleted = v2.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "a b"}]})
    assert [d["Key"] for d in deleted["Deleted"]] == ["a b"]
    v2.delete_bucket(Bucket=name)
    assert name not in [b["Name"] for b in v2.list_buckets()["Buckets"]]


def test_a_sigv2_presigned_bucket_listing(server: RunningServer) -> None:
    """boto3 presigns with SigV2 in us-east-1 by default; a bucket-level URL is signed as `/bucket/` too."""
    s3 = server.client()
    name = "v2p-" + secrets.token_hex(4)
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="listed", Body=b"x")
    url = server.client("s3", signature_version="s3").generate_presigned_url(
        "list_objects", Params={"Bucket": name}, ExpiresIn=300)
    assert "Signature=" in url and "AWSAccessKeyId=" in url
    with urllib.request.urlopen(url, timeout=30) as reply:
        assert reply.status == 200 and b"<Key>listed</Key>" in reply.read()


def test_a_wrong_sigv2_signature_on_a_bucket_is_still_refused(server: RunningServer) -> None:
    bad = server.client("s3", secret_key="wrong" * 8, signature_version="s3", retries={"max_attempts": 1})
    name = "v2-" + secrets.token_hex(4)
    e = fails(bad.create_bucket, Bucket=name)
    assert (status_of(e), error_code(e)) == (403, "SignatureDoesNotMatch")
    assert name not in [b["Name"] for b in server.client().list_buckets()["Buckets"]]


# --- a retried CompleteMultipartUpload -----------------------------------------------------------------


def _upload(s3, bucket: str, key: str, **create: object) -> tuple[str, list[dict[str, object]]]:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    extra = {"ChecksumAlgorithm": create["ChecksumAlgorithm"]} if "ChecksumAlgorithm" in create else {}
    parts: list[dict[str, object]] = []
    for number, size in ((1, 5 * 1024 * 1024), (2, 1000)):
        made = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                              Body=secrets.token_bytes(size), **extra)
        part: dict[str, object] = {"PartNumber": number, "ETag": made["ETag"]}
        if extra:
            part["ChecksumSHA256"] = made["ChecksumSHA256"]
        parts.append(part)
    return upload, parts


def test_a_retried_complete_answers_as_the_first(server: RunningServer, s3, bucket: str, tmp_path) -> None:
    upload, parts = _upload(s3, bucket, "big", ChecksumAlgorithm="SHA256")
    first = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload,
                                         MultipartUpload={"Parts": parts})
    again = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload,
                                         MultipartUpload={"Parts": parts})
    fields = ("ETag", "ChecksumSHA256", "ChecksumType", "Bucket", "Key", "ServerSideEncryption")
    assert [again.get(f) for f in fields] == [first.get(f) for f in fields]
    assert first["ETag"].endswith('-2"') and first["ChecksumSHA256"]
    # the aws cli's retry too, its parts given as a file
    document = tmp_path / "parts.json"
    document.write_text(json.dumps({"Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"],
                                               "ChecksumSHA256": p["ChecksumSHA256"]} for p in parts]}))
    out = json.loads(server.aws("s3api", "complete-multipart-upload", "--bucket", bucket, "--key", "big",
                                "--upload-id", upload, "--multipart-upload", f"file://{document}").stdout)
    assert out["ETag"] == first["ETag"]
    assert s3.head_object(Bucket=bucket, Key="big")["ETag"] == first["ETag"]  # one object, unchanged
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_a_retried_complete_with_other_parts_or_after_a_change_is_no_such_upload(s3, bucket: str) -> None:
    upload, parts = _upload(s3, bucket, "k")
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload, MultipartUpload={"Parts": parts})
    e = fails(s3.complete_multipart_upload, Bucket=bucket, Key="k", UploadId=upload,
              MultipartUpload={"Parts": parts[:1]})
    assert (status_of(e), error_code(e)) == (404, "NoSuchUpload")
    e = fails(s3.complete_multipart_upload, Bucket=bucket, Key="other", UploadId=upload,
              MultipartUpload={"Parts": parts})
    assert (status_of(e), error_code(e)) == (404, "NoSuchUpload")  # the id under another key
    s3.put_object(Bucket=bucket, Key="k", Body=b"replaced")
    e = fails(s3.complete_multipart_upload, Bucket=bucket, Key="k", UploadId=upload,
              MultipartUpload={"Parts": parts})
    assert (status_of(e), error_code(e)) == (404, "NoSuchUpload")  # what it made is gone
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"replaced"
    e = fails(s3.complete_multipart_upload, Bucket=bucket, Key="k", UploadId="made-up",
              MultipartUpload={"Parts": parts})
    assert (status_of(e), error_code(e)) == (404, "NoSuchUpload")


# --- conditional writes: If-Match / If-None-Match on PutObject, CompleteMultipartUpload, CopyObject ----


def test_if_match_on_writes(server: RunningServer, s3, bucket: str, tmp_path) -> None:
    upload, parts = _upload(s3, bucket, "w")
    made = s3.complete_multipart_upload(Bucket=bucket, Key="w", UploadId=upload,
                                        MultipartUpload={"Parts": parts})["ETag"]
    # a multipart object's ETag ("...-2") matches, quoted as S3 returns it or bare as the aws cli takes it
    etag = s3.put_object(Bucket=bucket, Key="w", Body=b"one", IfMatch=made)["ETag"]
    body = tmp_path / "b"
    body.write_bytes(b"two")
    out = json.loads(server.aws("s3api", "put-object", "--bucket", bucket, "--key", "w", "--body", str(body),
                                "--if-match", etag.strip('"')).stdout)
    assert s3.get_object(Bucket=bucket, Key="w")["Body"].read() == b"two"
    e = fails(s3.put_object, Bucket=bucket, Key="w", Body=b"three", IfMatch=etag)  # no longer current
    assert (status_of(e), error_code(e)) == (412, "PreconditionFailed")
    e = fails(s3.put_object, Bucket=bucket, Key="none", Body=b"x", IfMatch=etag)
    assert (status_of(e), error_code(e)) == (404, "NoSuchKey")
    # CompleteMultipartUpload: a mismatch leaves the upload as it was, a match completes it
    upload, parts = _upload(s3, bucket, "w")
    e = fails(s3.complete_multipart_upload, Bucket=bucket, Key="w", UploadId=upload,
              MultipartUpload={"Parts": parts}, IfMatch=etag)
    assert (status_of(e), error_code(e)) == (412, "PreconditionFailed")
    s3.complete_multipart_upload(Bucket=bucket, Key="w", UploadId=upload, MultipartUpload={"Parts": parts},
                                 IfMatch=out["ETag"])
    assert s3.head_object(Bucket=bucket, Key="w")["ContentLength"] == 5 * 1024 * 1024 + 1000


def test_conditional_copy_targets(s3, bucket: str) -> None:
    """CopyObject's If-None-Match / If-Match (botocore's model: IfNoneMatch, IfMatch) hold against the
    target key, as on PutObject; the source's conditions are the x-amz-copy-source-if-* ones."""
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    target = s3.put_object(Bucket=bucket, Key="dst", Body=b"target")["ETag"]
    source = {"Bucket": bucket, "Key": "src"}
    e = fails(s3.copy_object, Bucket=bucket, Key="dst", CopySource=source, IfNoneMatch="*")
    assert (status_of(e), error_code(e)) == (412, "PreconditionFailed")
    e = fails(s3.copy_object, Bucket=bucket, Key="dst", CopySource=source, IfMatch='"' + "0" * 32 + '"')
    assert (status_of(e), error_code(e)) == (412, "PreconditionFailed")
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"target"
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, IfMatch=target)
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"source"
    s3.copy_object(Bucket=bucket, Key="new", CopySource=source, IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="new")["Body"].read() == b"source"
