"""Objects through a real server: Put/Get/Head/Delete/DeleteObjects/CopyObject as S3 answers them.

Round trips of edge sizes, stored headers and metadata, ranges, conditional reads and writes,
response-* overrides, partNumber, copies and their directives and conditions, Content-MD5 and the
additional checksums, key edge cases, and the errors for each (status, Code, headers, body). Every
failed write is checked to leave the stored object as it was.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from botocore.exceptions import ClientError

from strongroom import checksums
from tests.integration.helpers import assert_absent, error_code, md5_b64, status_of
from tests.integration.raw import request_head, status_line
from tests.integration.server import RunningServer


def etag_of(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def read(s3, bucket: str, key: str, **kwargs) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key, **kwargs)["Body"].read()


def http_date(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


# --- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 1024 * 1024, 10 * 1024 * 1024])
def test_put_get_head_round_trip(s3, bucket: str, size: int) -> None:
    payload = secrets.token_bytes(size)
    put = s3.put_object(Bucket=bucket, Key="obj", Body=payload)
    assert put["ETag"] == etag_of(payload)
    got = s3.get_object(Bucket=bucket, Key="obj")
    assert got["Body"].read() == payload
    assert got["ContentLength"] == size
    assert got["ETag"] == etag_of(payload)
    assert got["ContentType"] == "binary/octet-stream"
    assert got["AcceptRanges"] == "bytes"
    head = s3.head_object(Bucket=bucket, Key="obj")
    assert head["ContentLength"] == size
    assert head["ETag"] == etag_of(payload)
    assert head["ServerSideEncryption"] == "AES256"


def test_metadata_and_stored_headers_round_trip(s3, bucket: str) -> None:
    expires = datetime(2037, 1, 2, 3, 4, 5, tzinfo=UTC)
    s3.put_object(
        Bucket=bucket,
        Key="meta",
        Body=b"x",
        Metadata={"Color": "blue", "empty-ish": " spaced value "},
        ContentType="text/plain; charset=utf-8",
        ContentEncoding="identity",
        ContentDisposition='attachment; x="a b"',
        CacheControl="max-age=60",
        ContentLanguage="fr",
        Expires=expires,
    )
    for response in (s3.head_object(Bucket=bucket, Key="meta"), s3.get_object(Bucket=bucket, Key="meta")):
        headers = response["ResponseMetadata"]["HTTPHeaders"]
        assert response["Metadata"] == {"color": "blue", "empty-ish": "spaced value"}  # names lower-cased
        assert response["ContentType"] == "text/plain; charset=utf-8"
        assert response["ContentEncoding"] == "identity"
        assert response["ContentDisposition"] == 'attachment; x="a b"'
        assert response["CacheControl"] == "max-age=60"
        assert response["ContentLanguage"] == "fr"
        assert headers["expires"] == "Fri, 02 Jan 2037 03:04:05 GMT"


def test_metadata_over_2_kib_is_metadata_too_large(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="fat-meta", Body=b"x", Metadata={"k": "v" * 2100})
    assert error_code(caught.value) == "MetadataTooLarge"
    assert status_of(caught.value) == 400
    assert_absent(s3, bucket, "fat-meta")


@pytest.mark.parametrize(
    "key",
    [
        "ünïcödé/ключ/鍵",
        "with space",
        "a+b",
        "100%",
        "a//b",
        "dir/",
        "q?x=1&y",
        "~tilde",
        "#hash",
        " leading",
    ],
)
def test_awkward_keys_round_trip(s3, bucket: str, key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert read(s3, bucket, key) == key.encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])]
    assert listed == [key]
    s3.delete_object(Bucket=bucket, Key=key)
    assert_absent(s3, bucket, key)


def test_key_of_1025_bytes_is_key_too_long(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k" * 1024, Body=b"fits")
    assert read(s3, bucket, "k" * 1024) == b"fits"
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"too long")
    assert error_code(caught.value) == "KeyTooLongError"
    assert status_of(caught.value) == 400


# --- missing things -------------------------------------------------------------------------------


def test_missing_key_and_bucket(server: RunningServer, s3, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="nope")
    assert error_code(caught.value) == "NoSuchKey"
    assert status_of(caught.value) == 404
    assert caught.value.response["Error"]["Key"] == "nope"
    head = server.raw("HEAD", f"/{bucket}/nope")
    assert head.status == 404 and head.body == b""  # HEAD errors have no body
    assert head.headers["x-amz-request-id"]
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket="no-such-bucket-" + secrets.token_hex(4), Key="k")
    assert error_code(caught.value) == "NoSuchBucket"
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket="no-such-bucket-" + secrets.token_hex(4), Key="k", Body=b"x")
    assert error_code(caught.value) == "NoSuchBucket"
    assert status_of(caught.value) == 404


# --- ranges ---------------------------------------------------------------------------------------


def test_ranges(s3, bucket: str) -> None:
    payload = secrets.token_bytes(200_000)
    s3.put_object(Bucket=bucket, Key="ranged", Body=payload)
    cases = {
        "bytes=0-9": (0, 10),
        "bytes=65530-65545": (65530, 65546),  # across a 64 KiB segment edge
        "bytes=-100": (len(payload) - 100, len(payload)),
        "bytes=199990-": (199990, len(payload)),
        "bytes=199990-999999999": (199990, len(payload)),  # clipped to the end
        "bytes=0-": (0, len(payload)),
    }
    for header, (start, end) in cases.items():
        got = s3.get_object(Bucket=bucket, Key="ranged", Range=header)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206, header
        assert got["ContentRange"] == f"bytes {start}-{end - 1}/{len(payload)}", header
        assert got["ContentLength"] == end - start
        assert got["Body"].read() == payload[start:end], header


def test_unsatisfiable_range_is_416_invalid_range(server: RunningServer, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="short", Body=b"0123456789")
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="short", Range="bytes=10-20")
    assert error_code(caught.value) == "InvalidRange"
    assert status_of(caught.value) == 416
    assert caught.value.response["ResponseMetadata"]["HTTPHeaders"]["content-range"] == "bytes */10"
    reply = server.raw("GET", f"/{bucket}/short", headers={"range": "bytes=10-20"})
    assert reply.detail("RangeRequested") == "bytes=10-20"
    assert reply.detail("ActualObjectSize") == "10"


# --- conditional reads ----------------------------------------------------------------------------


@pytest.fixture
def conditional(s3, bucket: str) -> tuple[str, str, datetime]:
    s3.put_object(Bucket=bucket, Key="cond", Body=b"conditional body")
    head = s3.head_object(Bucket=bucket, Key="cond")
    return bucket, head["ETag"], head["LastModified"]


def cond_status(s3, bucket: str, method: str = "get", **conditions: object) -> int:
    call = s3.get_object if method == "get" else s3.head_object
    try:
        response = call(Bucket=bucket, Key="cond", **conditions)
    except ClientError as e:
        return status_of(e)
    if method == "get":
        assert response["Body"].read() == b"conditional body"
    return response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize("method", ["get", "head"])
def test_conditional_reads(s3, conditional: tuple[str, str, datetime], method: str) -> None:
    bucket, etag, modified = conditional
    past, future = modified - timedelta(days=1), modified + timedelta(days=1)
    expected = [
        ({"IfMatch": etag}, 200),
        ({"IfMatch": etag.strip('"')}, 200),
        ({"IfMatch": '"0123"'}, 412),
        ({"IfMatch": "*"}, 200),
        ({"IfNoneMatch": etag}, 304),
        ({"IfNoneMatch": '"0123"'}, 200),
        ({"IfModifiedSince": past}, 200),
        ({"IfModifiedSince": future}, 304),
        ({"IfUnmodifiedSince": future}, 200),
        ({"IfUnmodifiedSince": past}, 412),
        # The GetObject reference: If-Match true + If-Unmodified-Since false -> 200 and the data;
        # If-None-Match false + If-Modified-Since true -> 304.
        ({"IfMatch": etag, "IfUnmodifiedSince": past}, 200),
        ({"IfNoneMatch": etag, "IfModifiedSince": past}, 304),
        ({"IfMatch": '"0123"', "IfNoneMatch": etag}, 412),
    ]
    for conditions, status in expected:
        assert cond_status(s3, bucket, method, **conditions) == status, conditions


def test_precondition_failed_and_not_modified_bodies(server: RunningServer, conditional) -> None:
    bucket, etag, modified = conditional
    failed = server.raw("GET", f"/{bucket}/cond", headers={"if-match": '"nope"'})
    assert failed.status == 412
    assert failed.code == "PreconditionFailed"
    assert failed.detail("Condition") == "If-Match"
    failed = server.raw(
        "GET", f"/{bucket}/cond", headers={"if-unmodified-since": http_date(modified - timedelta(days=1))}
    )
    assert failed.detail("Condition") == "If-Unmodified-Since"
    not_modified = server.raw("GET", f"/{bucket}/cond", headers={"if-none-match": etag})
    assert not_modified.status == 304
    assert not_modified.body == b""
    assert not_modified.headers["etag"] == etag
    assert "last-modified" in not_modified.headers


# --- conditional writes ---------------------------------------------------------------------------


def test_put_if_none_match_star(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert error_code(caught.value) == "PreconditionFailed"
    assert status_of(caught.value) == 412
    assert caught.value.response["Error"]["Condition"] == "If-None-Match"
    assert read(s3, bucket, "once") == b"first"


def test_put_if_match(s3, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="cas", Body=b"v1")["ETag"]
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="cas", Body=b"v2", IfMatch='"00000000000000000000000000000000"')
    assert error_code(caught.value) == "PreconditionFailed"
    assert caught.value.response["Error"]["Condition"] == "If-Match"
    assert read(s3, bucket, "cas") == b"v1"
    etag2 = s3.put_object(Bucket=bucket, Key="cas", Body=b"v2", IfMatch=etag)["ETag"]
    s3.put_object(Bucket=bucket, Key="cas", Body=b"v3", IfMatch=etag2.strip('"'))  # S3 takes it unquoted too
    assert read(s3, bucket, "cas") == b"v3"
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="cas-missing", Body=b"x", IfMatch=etag)
    assert error_code(caught.value) == "NoSuchKey"
    assert status_of(caught.value) == 404


# --- response overrides and partNumber ------------------------------------------------------------


def test_response_overrides(server: RunningServer, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="over", Body=b"override me", ContentType="text/plain")
    got = s3.get_object(
        Bucket=bucket,
        Key="over",
        ResponseContentType="application/x-over",
        ResponseContentLanguage="de",
        ResponseCacheControl="no-store",
        ResponseContentDisposition="attachment; filename=o.bin",
        ResponseContentEncoding="identity",
        ResponseExpires=datetime(2030, 1, 1, tzinfo=UTC),
    )
    assert got["Body"].read() == b"override me"
    assert got["ContentType"] == "application/x-over"
    assert got["ContentLanguage"] == "de"
    assert got["CacheControl"] == "no-store"
    assert got["ContentDisposition"] == "attachment; filename=o.bin"
    assert got["ContentEncoding"] == "identity"
    assert got["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Tue, 01 Jan 2030 00:00:00 GMT"
    # Nothing is stored: a plain GET has the object's own headers again.
    assert s3.get_object(Bucket=bucket, Key="over")["ContentType"] == "text/plain"
    # Anonymous: refused (the object is private, so access is decided first).
    anonymous = server.raw("GET", f"/{bucket}/over?response-content-type=text%2Fevil", sign=False)
    assert anonymous.status == 403
    assert anonymous.code == "AccessDenied"


def test_part_number_one_of_a_simple_object(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="simple", Body=b"0123456789")
    got = s3.get_object(Bucket=bucket, Key="simple", PartNumber=1)
    # S3 treats partNumber as a range over the (single) part: 206 with Content-Range, no PartsCount.
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == "bytes 0-9/10"
    assert got["Body"].read() == b"0123456789"
    assert "PartsCount" not in got
    head = s3.head_object(Bucket=bucket, Key="simple", PartNumber=1)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert head["ContentLength"] == 10
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="simple", PartNumber=2)
    assert error_code(caught.value) == "InvalidPartNumber"
    assert status_of(caught.value) == 416
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="simple", PartNumber=0)
    assert error_code(caught.value) == "InvalidArgument"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=bucket, Key="simple", PartNumber=1, Range="bytes=0-1")
    assert status_of(caught.value) == 400


# --- deletes --------------------------------------------------------------------------------------


def test_delete_object_is_204_also_for_missing_keys(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="doomed", Body=b"x")
    assert s3.delete_object(Bucket=bucket, Key="doomed")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert_absent(s3, bucket, "doomed")
    assert s3.delete_object(Bucket=bucket, Key="doomed")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="never-was")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_delete_objects_verbose_and_quiet(s3, bucket: str) -> None:
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"multi/{i}", Body=b"x")
    verbose = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "multi/0"}, {"Key": "multi/1"}, {"Key": "multi/never"}]}
    )
    assert sorted(d["Key"] for d in verbose["Deleted"]) == ["multi/0", "multi/1", "multi/never"]
    assert "Errors" not in verbose
    quiet = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "multi/2"}, {"Key": "multi/3"}], "Quiet": True}
    )
    assert "Deleted" not in quiet and "Errors" not in quiet
    left = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="multi/")["Contents"]]
    assert left == ["multi/4"]


def test_delete_objects_over_1000_keys_is_malformed_xml(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="survivor", Body=b"x")
    with pytest.raises(ClientError) as caught:
        s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": "survivor"}] + [{"Key": f"k{i}"} for i in range(1000)]}
        )
    assert error_code(caught.value) == "MalformedXML"
    assert status_of(caught.value) == 400
    assert read(s3, bucket, "survivor") == b"x"


def test_delete_objects_needs_a_digest(server: RunningServer, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    document = b"<Delete><Object><Key>kept</Key></Object></Delete>"
    reply = server.raw("POST", f"/{bucket}?delete", document)
    assert reply.status == 400
    assert reply.code == "InvalidRequest"
    assert reply.body.count(b"Missing required header for this request: Content-MD5 OR x-amz-checksum-*") == 1
    bad = server.raw("POST", f"/{bucket}?delete", document, {"content-md5": md5_b64(b"other")})
    assert bad.status == 400 and bad.code == "BadDigest"
    assert read(s3, bucket, "kept") == b"x"
    good = server.raw("POST", f"/{bucket}?delete", document, {"content-md5": md5_b64(document)})
    assert good.status == 200, good.body
    assert_absent(s3, bucket, "kept")


# --- copies ---------------------------------------------------------------------------------------


def test_copy_directives(s3, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket,
        Key="src",
        Body=b"copy me",
        ContentType="text/plain",
        Metadata={"a": "1"},
        CacheControl="max-age=5",
    )
    result = s3.copy_object(Bucket=bucket, Key="dst-copy", CopySource={"Bucket": bucket, "Key": "src"})
    assert result["CopyObjectResult"]["ETag"] == etag_of(b"copy me")
    head = s3.head_object(Bucket=bucket, Key="dst-copy")
    assert (head["ContentType"], head["Metadata"], head["CacheControl"]) == (
        "text/plain",
        {"a": "1"},
        "max-age=5",
    )
    assert read(s3, bucket, "dst-copy") == b"copy me"

    s3.copy_object(
        Bucket=bucket,
        Key="dst-replace",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        ContentType="application/json",
        Metadata={"b": "2"},
    )
    head = s3.head_object(Bucket=bucket, Key="dst-replace")
    assert (head["ContentType"], head["Metadata"]) == ("application/json", {"b": "2"})
    assert "CacheControl" not in head
    assert read(s3, bucket, "dst-replace") == b"copy me"


def test_copy_onto_itself(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="self", Body=b"me", Metadata={"v": "1"})
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"})
    assert error_code(caught.value) == "InvalidRequest"
    assert status_of(caught.value) == 400
    assert "copy an object to itself" in caught.value.response["Error"]["Message"]
    s3.copy_object(
        Bucket=bucket,
        Key="self",
        CopySource={"Bucket": bucket, "Key": "self"},
        MetadataDirective="REPLACE",
        Metadata={"v": "2"},
    )
    assert s3.head_object(Bucket=bucket, Key="self")["Metadata"] == {"v": "2"}
    assert read(s3, bucket, "self") == b"me"


def test_copy_source_conditions(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="csrc", Body=b"source")
    head = s3.head_object(Bucket=bucket, Key="csrc")
    etag, modified = head["ETag"], head["LastModified"]
    source = {"Bucket": bucket, "Key": "csrc"}
    failing = [
        {"CopySourceIfMatch": '"0000"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": modified + timedelta(days=1)},
        {"CopySourceIfUnmodifiedSince": modified - timedelta(days=1)},
    ]
    for conditions in failing:
        with pytest.raises(ClientError) as caught:
            s3.copy_object(Bucket=bucket, Key="cdst", CopySource=source, **conditions)
        assert error_code(caught.value) == "PreconditionFailed", conditions
        assert status_of(caught.value) == 412
    assert_absent(s3, bucket, "cdst")
    s3.copy_object(
        Bucket=bucket,
        Key="cdst",
        CopySource=source,
        CopySourceIfMatch=etag,
        CopySourceIfUnmodifiedSince=modified - timedelta(days=1),
    )  # If-Match true wins, as for GET
    assert read(s3, bucket, "cdst") == b"source"


def test_copy_from_missing_source(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "not-there"})
    assert error_code(caught.value) == "NoSuchKey"
    assert status_of(caught.value) == 404
    with pytest.raises(ClientError) as caught:
        s3.copy_object(
            Bucket=bucket, Key="x", CopySource={"Bucket": "no-bucket-" + secrets.token_hex(4), "Key": "k"}
        )
    assert error_code(caught.value) == "NoSuchBucket"


# --- Content-MD5 and checksums --------------------------------------------------------------------


def test_content_md5(server: RunningServer, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="md5", Body=b"original")
    good = server.raw("PUT", f"/{bucket}/md5", b"new", {"content-md5": md5_b64(b"new")})
    assert good.status == 200
    invalid = server.raw("PUT", f"/{bucket}/md5", b"newer", {"content-md5": "not-base64!"})
    assert invalid.status == 400
    assert invalid.code == "InvalidDigest"
    assert invalid.detail("Message") == "The Content-MD5 you specified was invalid."
    wrong = server.raw("PUT", f"/{bucket}/md5", b"newer", {"content-md5": md5_b64(b"something else")})
    assert wrong.status == 400
    assert wrong.code == "BadDigest"
    assert wrong.detail("Message") == "The Content-MD5 you specified did not match what we received."
    assert wrong.detail("ExpectedDigest") == hashlib.md5(b"something else").hexdigest()
    assert wrong.detail("CalculatedDigest") == md5_b64(b"newer")
    assert read(s3, bucket, "md5") == b"new"
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"newest", ContentMD5=md5_b64(b"not newest"))
    assert error_code(caught.value) == "BadDigest"
    assert read(s3, bucket, "md5") == b"new"


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_checksum_algorithms_are_verified_stored_and_returned(s3, bucket: str, algorithm: str) -> None:
    payload = secrets.token_bytes(100_000)
    hasher = checksums.new(algorithm)
    hasher.update(payload)
    expected = hasher.b64digest()
    put = s3.put_object(Bucket=bucket, Key=f"sum-{algorithm}", Body=payload, ChecksumAlgorithm=algorithm)
    assert put[f"Checksum{algorithm}"] == expected
    got = s3.get_object(Bucket=bucket, Key=f"sum-{algorithm}", ChecksumMode="ENABLED")
    assert got["Body"].read() == payload
    assert got[f"Checksum{algorithm}"] == expected
    assert got["ChecksumType"] == "FULL_OBJECT"
    head = s3.head_object(Bucket=bucket, Key=f"sum-{algorithm}", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == expected


def test_wrong_checksum_is_bad_digest(server: RunningServer, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="wrong-sum", Body=b"keep")
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="wrong-sum", Body=b"replace", ChecksumSHA256=wrong)
    assert error_code(caught.value) == "BadDigest"
    assert (
        caught.value.response["Error"]["Message"]
        == "The SHA256 you specified did not match the calculated checksum."
    )
    assert read(s3, bucket, "wrong-sum") == b"keep"
    reply = server.raw("PUT", f"/{bucket}/wrong-sum", b"replace", {"x-amz-checksum-crc32": "bad"})
    assert reply.status == 400
    assert reply.code == "InvalidRequest"
    assert reply.detail("Message") == "Value for x-amz-checksum-crc32 header is invalid."
    reply = server.raw("PUT", f"/{bucket}/wrong-sum", b"replace", {"x-amz-sdk-checksum-algorithm": "CRC32"})
    assert reply.status == 400 and reply.code == "InvalidRequest"
    reply = server.raw(
        "PUT",
        f"/{bucket}/wrong-sum",
        b"replace",
        {"x-amz-checksum-crc32": "AAAAAA==", "x-amz-checksum-sha1": "AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
    )
    assert reply.status == 400 and reply.code == "InvalidRequest"
    assert read(s3, bucket, "wrong-sum") == b"keep"


# --- size limits ----------------------------------------------------------------------------------


def test_entity_too_large_is_refused_before_the_body(server: RunningServer, bucket: str) -> None:
    path = f"/{bucket}/huge"
    headers = server.sign("PUT", path, content_sha256="UNSIGNED-PAYLOAD")
    headers.update({"host": f"127.0.0.1:{server.port}", "content-length": str(5 * 1024**3 + 1)})
    # Nothing of the body is sent: the answer must come anyway, and at once.
    raw = server.exchange(request_head("PUT", path, headers), b"", close_write=False, timeout=5)
    assert status_line(raw) == 400, raw[:300]
    assert b"<Code>EntityTooLarge</Code>" in raw
    assert b"<MaxSizeAllowed>5368709120</MaxSizeAllowed>" in raw


def test_missing_content_length_is_411(server: RunningServer, bucket: str) -> None:
    path = f"/{bucket}/no-length"
    headers = server.sign("PUT", path, content_sha256="UNSIGNED-PAYLOAD")
    headers.update(
        {"host": f"127.0.0.1:{server.port}", "transfer-encoding": "chunked", "connection": "close"}
    )
    raw = server.exchange(request_head("PUT", path, headers), b"5\r\nhello\r\n0\r\n\r\n", close_write=False)
    assert status_line(raw) == 411, raw[:300]
    assert b"<Code>MissingContentLength</Code>" in raw
