"""Buckets through a real server: naming rules, creation conflicts, location constraints, HeadBucket,
ListBuckets, DeleteBucket, GetBucketLocation, and another user's view of a bucket that is not theirs."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_code, new_user, status_of
from tests.integration.server import RunningServer

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture(scope="module")
def bob(server: RunningServer) -> tuple[str, str]:
    return new_user(server, "bob")


@pytest.fixture
def bob_s3(server: RunningServer, bob: tuple[str, str]):
    return server.client("s3", access_key=bob[0], secret_key=bob[1])


def user_id(server: RunningServer, name: str) -> str:
    for line in server.cli("user", "list").stdout.splitlines():
        fields = line.split("\t")
        if fields[0] == name:
            return fields[1]
    raise AssertionError(f"no user {name}")


# --- naming ---------------------------------------------------------------------------------------

INVALID_NAMES = [
    "ab",  # too short
    "a" * 64,  # too long
    "UpperCase",
    "under_score",
    "-starts-with-hyphen",
    "ends-with-hyphen-",
    ".starts-with-dot",
    "ends-with-dot.",
    "two..dots",
    "192.168.5.4",  # formatted as an IP address
    "has space",
    "ünicode",
    "xn--punycode",
    "sthree-reserved",
    "sthree-configurator-x",
    "amzn-s3-demo-bucket",
    "access-point-s3alias",
    "object-lambda--ol-s3",
    "multi-region.mrap",
    "directory-bucket--x-s3",
]
VALID_NAMES = ["abc", "a" * 63, "my.dotted.bucket-1", "1-2-3", "192.168.5", "xn-not-quite"]


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_invalid_bucket_names(server: RunningServer, name: str) -> None:
    reply = server.raw("PUT", "/" + quote(name, safe=""))
    assert reply.status == 400, (name, reply.body)
    assert reply.code == "InvalidBucketName", name
    assert reply.detail("Message") == "The specified bucket is not valid."
    assert reply.detail("BucketName") == name
    assert server.raw("HEAD", "/" + quote(name, safe="")).status in (400, 404)  # and nothing was made


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_bucket_names(server: RunningServer, s3, name: str) -> None:
    reply = server.raw("PUT", "/" + name)  # the module's server is fresh: the names are free
    assert reply.status == 200, reply.body
    assert reply.headers["location"] == "/" + name
    s3.head_bucket(Bucket=name)
    s3.delete_bucket(Bucket=name)


# --- creation conflicts and location --------------------------------------------------------------


def test_recreating_your_own_bucket_in_us_east_1_is_200(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    # S3's legacy answer in us-east-1 (BucketAlreadyOwnedByYou elsewhere): 200, and nothing is reset.
    assert s3.create_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"x"


def test_another_users_bucket_name_is_taken(bob_s3, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        bob_s3.create_bucket(Bucket=bucket)
    assert error_code(caught.value) == "BucketAlreadyExists"
    assert status_of(caught.value) == 409


def test_location_constraint_in_us_east_1(s3) -> None:
    name = "loc-" + secrets.token_hex(5)
    with pytest.raises(ClientError) as caught:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    assert error_code(caught.value) == "InvalidLocationConstraint"
    assert caught.value.response["Error"]["Message"] == "The specified location-constraint is not valid"
    with pytest.raises(ClientError) as caught:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert error_code(caught.value) == "IllegalLocationConstraintException"
    assert status_of(caught.value) == 400
    assert "The eu-west-1 location constraint is incompatible" in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=name)
    s3.create_bucket(Bucket=name)
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None  # us-east-1 is the empty element
    assert (
        s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    )


def test_create_bucket_with_a_malformed_configuration(server: RunningServer) -> None:
    name = "badconf-" + secrets.token_hex(4)
    reply = server.raw("PUT", f"/{name}", b"<CreateBucketConfiguration><LocationConstraint>")
    assert reply.status == 400
    assert reply.code == "MalformedXML"
    assert server.raw("HEAD", f"/{name}").status == 404


@pytest.fixture(scope="module")
def eu_server(start_module_server: ServerFactory) -> RunningServer:
    return start_module_server("--region", "eu-west-1")


def test_another_region(eu_server: RunningServer) -> None:
    s3 = eu_server.client("s3", region="eu-west-1")  # the scope names the server's region
    name = "eu-" + secrets.token_hex(5)
    with pytest.raises(ClientError) as caught:
        s3.create_bucket(Bucket=name)  # no constraint: only us-east-1 takes that
    assert error_code(caught.value) == "IllegalLocationConstraintException"
    assert caught.value.response["Error"]["Message"] == (
        "The unspecified location constraint is incompatible for the region specific endpoint "
        "this request was sent to."
    )
    with pytest.raises(ClientError) as caught:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    assert error_code(caught.value) == "IllegalLocationConstraintException"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    assert (
        s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"
    )
    assert [b["BucketRegion"] for b in s3.list_buckets(Prefix=name)["Buckets"]] == ["eu-west-1"]
    with pytest.raises(ClientError) as caught:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert error_code(caught.value) == "BucketAlreadyOwnedByYou"
    assert status_of(caught.value) == 409


# --- HeadBucket, ListBuckets, DeleteBucket --------------------------------------------------------


def test_head_bucket(server: RunningServer, s3, bob_s3, bucket: str) -> None:
    found = s3.head_bucket(Bucket=bucket)
    assert found["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert found["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    missing = server.raw("HEAD", "/missing-" + secrets.token_hex(4))
    assert (missing.status, missing.body) == (404, b"")
    assert missing.headers["x-amz-request-id"]
    with pytest.raises(ClientError) as caught:
        bob_s3.head_bucket(Bucket=bucket)
    assert status_of(caught.value) == 403


def test_list_buckets_names_the_owner(server: RunningServer, s3, bob_s3, bucket: str) -> None:
    listed = s3.list_buckets()
    assert bucket in [b["Name"] for b in listed["Buckets"]]
    assert listed["Owner"]["ID"] == user_id(server, "root")
    entry = next(b for b in listed["Buckets"] if b["Name"] == bucket)
    # BucketRegion only answers a request that pages (AWS 2024-10-16: "For ListBuckets requests that
    # express pagination, Amazon S3 will now return both the bucket names and associated AWS regions").
    assert "BucketRegion" not in entry
    assert entry["CreationDate"].year >= 2025
    raw = server.raw("GET", "/")
    root = ET.fromstring(raw.body)
    assert root.tag == f"{S3_NS}ListAllMyBucketsResult"
    assert [c.tag for c in root.find(f"{S3_NS}Owner")] == [f"{S3_NS}ID"]  # no DisplayName since 2025-11-21
    # bob sees his own buckets only, with himself as the owner
    mine = "bobs-" + secrets.token_hex(4)
    bob_s3.create_bucket(Bucket=mine)
    bobs = bob_s3.list_buckets()
    assert [b["Name"] for b in bobs["Buckets"]] == [mine]
    assert bobs["Owner"]["ID"] == user_id(server, "bob")
    prefixed = s3.list_buckets(Prefix=bucket)
    assert [(b["Name"], b["BucketRegion"]) for b in prefixed["Buckets"]] == [(bucket, "us-east-1")]


def test_delete_bucket(server: RunningServer, s3) -> None:
    name = "del-" + secrets.token_hex(5)
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="occupant", Body=b"x")
    with pytest.raises(ClientError) as caught:
        s3.delete_bucket(Bucket=name)
    assert error_code(caught.value) == "BucketNotEmpty"
    assert status_of(caught.value) == 409
    assert caught.value.response["Error"]["BucketName"] == name
    s3.delete_object(Bucket=name, Key="occupant")
    assert s3.delete_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert server.raw("HEAD", f"/{name}").status == 404
    with pytest.raises(ClientError) as caught:
        s3.delete_bucket(Bucket=name)
    assert error_code(caught.value) == "NoSuchBucket"
    assert status_of(caught.value) == 404
    # the name is free again
    s3.create_bucket(Bucket=name)
    assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 0


def test_missing_bucket_everywhere(s3) -> None:
    name = "gone-" + secrets.token_hex(5)
    for call in (
        lambda: s3.list_objects_v2(Bucket=name),
        lambda: s3.get_bucket_location(Bucket=name),
        lambda: s3.put_object(Bucket=name, Key="k", Body=b"x"),
        lambda: s3.delete_object(Bucket=name, Key="k"),
        lambda: s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "k"}]}),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert error_code(caught.value) == "NoSuchBucket"
        assert caught.value.response["Error"]["BucketName"] == name


# --- another user ---------------------------------------------------------------------------------


def test_another_user_is_denied_everything(server: RunningServer, s3, bob_s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="private", Body=b"root's")
    denied = [
        lambda: bob_s3.get_object(Bucket=bucket, Key="private"),
        lambda: bob_s3.put_object(Bucket=bucket, Key="private", Body=b"bob's"),
        lambda: bob_s3.put_object(Bucket=bucket, Key="new", Body=b"bob's"),
        lambda: bob_s3.delete_object(Bucket=bucket, Key="private"),
        lambda: bob_s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "private"}]}),
        lambda: bob_s3.list_objects_v2(Bucket=bucket),
        lambda: bob_s3.get_bucket_location(Bucket=bucket),
        lambda: bob_s3.delete_bucket(Bucket=bucket),
        lambda: bob_s3.copy_object(
            Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "private"}
        ),
    ]
    for call in denied:
        with pytest.raises(ClientError) as caught:
            call()
        assert error_code(caught.value) == "AccessDenied"
        assert status_of(caught.value) == 403
    with pytest.raises(ClientError) as caught:
        bob_s3.head_object(Bucket=bucket, Key="private")
    assert status_of(caught.value) == 403
    # nor can bob copy root's object into his own bucket
    mine = "bob-copy-" + secrets.token_hex(4)
    bob_s3.create_bucket(Bucket=mine)
    with pytest.raises(ClientError) as caught:
        bob_s3.copy_object(Bucket=mine, Key="stolen", CopySource={"Bucket": bucket, "Key": "private"})
    assert error_code(caught.value) == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="private")["Body"].read() == b"root's"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["private"]
    s3.head_bucket(Bucket=bucket)


def test_anonymous_is_denied(server: RunningServer, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x")
    for method, path in (
        ("GET", "/"),
        ("PUT", "/anon-" + secrets.token_hex(4)),
        ("GET", f"/{bucket}"),
        ("GET", f"/{bucket}/obj"),
        ("PUT", f"/{bucket}/obj"),
        ("DELETE", f"/{bucket}/obj"),
    ):
        reply = server.raw(method, path, b"" if method == "PUT" else None, sign=False)
        assert reply.status == 403, (method, path)
        assert reply.code == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == b"x"
