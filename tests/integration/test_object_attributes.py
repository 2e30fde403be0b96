"""GetObjectAttributes through boto3's get_object_attributes, as the S3 API reference describes it:
only the attributes x-amz-object-attributes names, ObjectParts for multipart objects (parts listed
when the object has an additional checksum, paged by x-amz-max-parts / x-amz-part-number-marker),
the SSE-C key for SSE-C objects, s3:GetObject + s3:GetObjectAttributes, and the header's errors."""

from __future__ import annotations

import base64
import json
import re
import secrets

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import KEY1, error_code, fails, md5_b64, ssec, status_of
from tests.integration.server import RunningServer
from tests.integration.test_sse_c import NEEDS_KEY, NOT_APPLICABLE, SECURE

ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
PART = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def server(start_module_server: ServerFactory) -> RunningServer:
    return start_module_server(*SECURE)


def test_a_simple_object(s3, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"hello attributes", ChecksumAlgorithm="CRC32")
    got = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=ALL)
    assert got["ETag"] == put["ETag"].strip('"')  # unquoted, as the API reference shows it
    assert got["ObjectSize"] == 16
    assert got["StorageClass"] == "STANDARD"
    assert got["Checksum"] == {"ChecksumCRC32": put["ChecksumCRC32"], "ChecksumType": "FULL_OBJECT"}
    assert "ObjectParts" not in got  # not a multipart object
    head = s3.head_object(Bucket=bucket, Key="k")
    assert got["LastModified"] == head["LastModified"]


def test_only_the_named_attributes(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"12345")
    got = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectSize"])
    assert got["ObjectSize"] == 5
    assert not {"ETag", "Checksum", "ObjectParts", "StorageClass"} & set(got)
    got = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["Checksum", "ETag"])
    assert set(got) & set(ALL) == {"Checksum", "ETag"}  # boto3 sends a CRC32 by default: it is kept


def _multipart(s3, bucket: str, key: str, parts: int, **create: object) -> dict:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    extra = {"ChecksumAlgorithm": create["ChecksumAlgorithm"]} if "ChecksumAlgorithm" in create else {}
    done = []
    for number in range(1, parts + 1):
        body = secrets.token_bytes(PART if number < parts else 1000)
        made = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body, **extra)
        part = {"PartNumber": number, "ETag": made["ETag"]}
        if extra:
            part["ChecksumCRC32"] = made["ChecksumCRC32"]
        done.append(part)
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                        MultipartUpload={"Parts": done})


def test_object_parts_of_a_multipart_object(s3, bucket: str) -> None:
    _multipart(s3, bucket, "plain", 3)
    got = s3.get_object_attributes(Bucket=bucket, Key="plain", ObjectAttributes=["ObjectParts", "ObjectSize"])
    assert got["ObjectParts"] == {"TotalPartsCount": 3}  # no additional checksum: the count only
    assert got["ObjectSize"] == 2 * PART + 1000
    _multipart(s3, bucket, "checked", 3, ChecksumAlgorithm="CRC32")
    got = s3.get_object_attributes(Bucket=bucket, Key="checked", ObjectAttributes=["ObjectParts"])
    parts = got["ObjectParts"]
    assert parts["TotalPartsCount"] == 3 and parts["IsTruncated"] is False
    assert [(p["PartNumber"], p["Size"]) for p in parts["Parts"]] == [(1, PART), (2, PART), (3, 1000)]
    assert all(p["ChecksumCRC32"] for p in parts["Parts"])
    page = s3.get_object_attributes(Bucket=bucket, Key="checked", ObjectAttributes=["ObjectParts"],
                                    MaxParts=1, PartNumberMarker=1)["ObjectParts"]
    assert [p["PartNumber"] for p in page["Parts"]] == [2]
    assert page["IsTruncated"] is True and page["NextPartNumberMarker"] == 2 and page["MaxParts"] == 1


def test_a_missing_key(s3, bucket: str) -> None:
    e = fails(s3.get_object_attributes, Bucket=bucket, Key="nothing", ObjectAttributes=["ETag"])
    assert (status_of(e), error_code(e)) == (404, "NoSuchKey")


def test_the_attributes_header_is_required_and_checked(server: RunningServer, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    reply = server.raw("GET", f"/{bucket}/k?attributes")
    status, body = reply.status, reply.body
    assert status == 400 and b"<Code>InvalidRequest</Code>" in body
    assert b"x-amz-object-attributes header specifying the attributes to be retrieved" in body
    reply = server.raw("GET", f"/{bucket}/k?attributes", headers={"x-amz-object-attributes": "ETag,Owner"})
    status, body = reply.status, reply.body
    assert status == 400 and b"<Code>InvalidArgument</Code>" in body
    assert b"<ArgumentValue>Owner</ArgumentValue>" in body
    reply = server.raw("GET", f"/{bucket}/k?attributes",
                       headers={"x-amz-object-attributes": "ObjectSize", "x-amz-max-parts": "many"})
    status, body = reply.status, reply.body
    assert status == 200 and b"<ObjectSize>1</ObjectSize>" in body  # an unreadable max-parts is ignored
    assert re.search(rb"<GetObjectAttributesResponse xmlns=", body)


def attributes_ssec(key: bytes = KEY1) -> dict[str, object]:
    """botocore base64-encodes the SSE-C key of GetObject, not of GetObjectAttributes: done here."""
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": base64.b64encode(key).decode(),
            "SSECustomerKeyMD5": md5_b64(key)}


def test_an_sse_c_object_needs_its_key(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="secret", Body=b"customer data", **ssec())
    e = fails(s3.get_object_attributes, Bucket=bucket, Key="secret", ObjectAttributes=["ObjectSize"])
    assert (status_of(e), e.response["Error"]["Message"]) == (400, NEEDS_KEY)
    e = fails(s3.get_object_attributes, Bucket=bucket, Key="secret", ObjectAttributes=["ObjectSize"],
              **attributes_ssec(bytes(32)))
    assert status_of(e) == 403
    got = s3.get_object_attributes(Bucket=bucket, Key="secret", ObjectAttributes=["ObjectSize"],
                                    **attributes_ssec())
    assert got["ObjectSize"] == 13
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    e = fails(s3.get_object_attributes, Bucket=bucket, Key="plain", ObjectAttributes=["ObjectSize"],
              **attributes_ssec())
    assert (status_of(e), e.response["Error"]["Message"]) == (400, NOT_APPLICABLE)


def test_permissions(server: RunningServer, s3, bucket: str) -> None:
    """s3:GetObject and s3:GetObjectAttributes both; a missing key is 403 without s3:ListBucket."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    name = "attr-" + secrets.token_hex(3)
    made = server.cli("user", "add", name).stdout
    access, secret = re.search(r"access key: (\S+)", made), re.search(r"secret key: (\S+)", made)
    assert access and secret, made
    theirs = server.client("s3", access_key=access.group(1), secret_key=secret.group(1),
                           retries={"max_attempts": 1})
    account = server.client("sts").get_caller_identity()["Account"]

    def grant(*actions: str) -> None:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:user/{name}"},
            "Action": list(actions), "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))

    def size_of(key: str) -> int:
        got = theirs.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=["ObjectSize"])
        return int(got["ObjectSize"])

    for alone in ("s3:GetObjectAttributes", "s3:GetObject"):  # either one alone is refused
        grant(alone)
        e = fails(size_of, key="k")
        assert (status_of(e), error_code(e)) == (403, "AccessDenied"), alone
    grant("s3:GetObject", "s3:GetObjectAttributes")
    assert size_of("k") == 1
    e = fails(size_of, key="missing")
    assert (status_of(e), error_code(e)) == (403, "AccessDenied")  # may not list: 403, not 404
    grant("s3:GetObject", "s3:GetObjectAttributes", "s3:ListBucket")
    e = fails(size_of, key="missing")
    assert (status_of(e), error_code(e)) == (404, "NoSuchKey")
