"""Multipart uploads against a real server: boto3 at its defaults and the aws cli.

Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts and ListMultipartUploads,
with the errors S3 answers, the ETag and checksum rules, ranges across part boundaries,
and what is (and is not) left on disk.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import sqlite3
import time
import zlib
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_code, status_of
from tests.integration.server import RunningServer

MiB = 1024 * 1024
PART = 5 * MiB


@pytest.fixture(scope="module")
def server(start_module_server: ServerFactory) -> RunningServer:
    """The module's server, with a short grace period: what replaced or dropped blobs leave on disk is
    checked once the sweep has removed them."""
    return start_module_server("--sweep-interval", "0.2", "--sweep-grace", "2")


def swept(server: RunningServer) -> set[str]:
    """The blob ids on disk once the catalog records no blob as pending or garbage (the sweep is done)."""
    deadline = time.monotonic() + 15
    with contextlib.closing(sqlite3.connect(server.data_dir / "catalog.sqlite3")) as db:
        while db.execute("SELECT count(*) FROM blob_records").fetchone()[0]:
            assert time.monotonic() < deadline, "the sweep did not remove what the catalog records"
            time.sleep(0.1)
    return blob_ids(server)


def blob_ids(server: RunningServer) -> set[str]:
    """Committed blob files (ciphertext) under the data directory."""
    root = server.data_dir / "blobs"
    return {p.name for p in root.rglob("*") if p.is_file() and re.fullmatch(r"[0-9a-f]{32}", p.name)}


def md5_etag(*parts: bytes) -> str:
    joined = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(joined).hexdigest()}-{len(parts)}"'


def upload_parts(s3, bucket: str, key: str, upload_id: str, parts: list[bytes], **extra) -> list[dict]:
    done = []
    for number, data in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data, **extra)
        done.append({"PartNumber": number, "ETag": r["ETag"]})
    return done


def complete(s3, bucket: str, key: str, upload_id: str, parts: list[dict], **extra) -> dict:
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                        MultipartUpload={"Parts": parts}, **extra)


def raw_error(server: RunningServer, method: str, path: str, body: bytes = b"",
              headers: dict[str, str] | None = None) -> tuple[int, str]:
    reply = server.raw(method, path, body, headers)
    return reply.status, reply.code or ""


def fails(code: str, call, *args, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    assert error_code(info.value) == code, info.value.response["Error"]
    return info.value


@pytest.fixture(scope="module")
def four_parts() -> list[bytes]:
    return [os.urandom(PART) for _ in range(3)] + [os.urandom(1000)]


# --- round trips with the high-level clients -----------------------------------------------------


def test_aws_cli_cp_100_mib_round_trip(server: RunningServer, s3, bucket: str, tmp_path: Path) -> None:
    src, back = tmp_path / "big.bin", tmp_path / "back.bin"
    data = os.urandom(100 * MiB)
    src.write_bytes(data)
    server.aws("s3", "cp", str(src), f"s3://{bucket}/big.bin")
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == len(data)
    assert re.fullmatch(r'"[0-9a-f]{32}-\d+"', head["ETag"]) and not head["ETag"].endswith('-1"')
    assert head["ServerSideEncryption"] == "AES256"
    server.aws("s3", "cp", f"s3://{bucket}/big.bin", str(back))
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_boto3_upload_file_and_download_file(s3, bucket: str, tmp_path: Path) -> None:
    src, back = tmp_path / "f.bin", tmp_path / "g.bin"
    data = os.urandom(2 * PART + 12345)
    src.write_bytes(data)
    config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART)
    s3.upload_file(str(src), bucket, "f.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="f.bin", ChecksumMode="ENABLED")
    chunks = [data[:PART], data[PART:2 * PART], data[2 * PART:]]
    assert head["ETag"] == md5_etag(*chunks)
    # s3transfer creates the upload with ChecksumAlgorithm=CRC32: a COMPOSITE checksum of the part CRCs
    crcs = b"".join(zlib.crc32(c).to_bytes(4, "big") for c in chunks)
    assert head["ChecksumCRC32"] == base64.b64encode(zlib.crc32(crcs).to_bytes(4, "big")).decode() + "-3"
    assert head["ChecksumType"] == "COMPOSITE"
    s3.download_file(bucket, "f.bin", str(back), Config=config)
    assert back.read_bytes() == data


# --- the explicit API ------------------------------------------------------------------------------


def test_create_upload_complete_and_read_back(server: RunningServer, s3, bucket: str,
                                              four_parts: list[bytes]) -> None:
    created = s3.create_multipart_upload(Bucket=bucket, Key="obj", ContentType="text/x-test",
                                         Metadata={"color": "blue"}, CacheControl="max-age=9")
    assert created["ServerSideEncryption"] == "AES256"
    upload_id = created["UploadId"]
    assert len(upload_id) >= 32
    assert upload_id != s3.create_multipart_upload(Bucket=bucket, Key="obj")["UploadId"]
    parts = []
    for number, data in enumerate(four_parts, 1):
        r = s3.upload_part(Bucket=bucket, Key="obj", UploadId=upload_id, PartNumber=number, Body=data)
        assert r["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
        assert r["ServerSideEncryption"] == "AES256"
        parts.append({"PartNumber": number, "ETag": r["ETag"]})
    done = complete(s3, bucket, "obj", upload_id, parts)
    assert done["ETag"] == md5_etag(*four_parts)
    assert done["ETag"].endswith('-4"')
    assert (done["Bucket"], done["Key"]) == (bucket, "obj")
    assert done["Location"].endswith(f"/{bucket}/obj")
    assert done["ServerSideEncryption"] == "AES256"

    whole = b"".join(four_parts)
    got = s3.get_object(Bucket=bucket, Key="obj")
    assert got["Body"].read() == whole
    assert (got["ContentType"], got["Metadata"], got["CacheControl"]) == ("text/x-test", {"color": "blue"},
                                                                          "max-age=9")
    assert got["ETag"] == done["ETag"] and got["ContentLength"] == len(whole)
    for number, data in enumerate(four_parts, 1):
        part = s3.get_object(Bucket=bucket, Key="obj", PartNumber=number)
        assert part["PartsCount"] == 4
        assert part["Body"].read() == data
    fails("InvalidPartNumber", s3.get_object, Bucket=bucket, Key="obj", PartNumber=5)
    # the upload is gone once completed
    fails("NoSuchUpload", s3.list_parts, Bucket=bucket, Key="obj", UploadId=upload_id)


def test_ranges_across_part_boundaries(s3, bucket: str, four_parts: list[bytes]) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="r")["UploadId"]
    complete(s3, bucket, "r", upload_id, upload_parts(s3, bucket, "r", upload_id, four_parts))
    whole = b"".join(four_parts)
    for boundary in (PART, 2 * PART, 3 * PART):
        for first, last in ((boundary - 1, boundary - 1), (boundary, boundary), (boundary + 1, boundary + 1),
                            (boundary - 1, boundary), (boundary - 1, boundary + 1),
                            (boundary - 70000, boundary + 70000)):
            last = min(last, len(whole) - 1)
            got = s3.get_object(Bucket=bucket, Key="r", Range=f"bytes={first}-{last}")
            assert got["ContentRange"] == f"bytes {first}-{last}/{len(whole)}"
            assert got["Body"].read() == whole[first:last + 1], (first, last)
    tail = s3.get_object(Bucket=bucket, Key="r", Range="bytes=-1500")["Body"].read()
    assert tail == whole[-1500:]


def test_complete_errors_leave_the_upload_intact(s3, bucket: str) -> None:
    data = [os.urandom(PART), os.urandom(100_000), os.urandom(PART), os.urandom(10)]
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="e")["UploadId"]
    parts = upload_parts(s3, bucket, "e", upload_id, data)
    err = fails("InvalidPartOrder", complete, s3, bucket, "e", upload_id, [parts[2], parts[0]])
    assert status_of(err) == 400
    fails("InvalidPartOrder", complete, s3, bucket, "e", upload_id, [parts[0], parts[0]])
    missing = {"PartNumber": 9, "ETag": '"ab"'}
    err = fails("InvalidPart", complete, s3, bucket, "e", upload_id, [parts[0], missing])
    assert err.response["Error"]["PartNumber"] == "9"
    wrong = {"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}
    fails("InvalidPart", complete, s3, bucket, "e", upload_id, [wrong, parts[2]])
    err = fails("EntityTooSmall", complete, s3, bucket, "e", upload_id, [parts[0], parts[1], parts[2]])
    details = err.response["Error"]
    assert (details["ProposedSize"], details["MinSizeAllowed"]) == ("100000", str(PART))
    assert details["PartNumber"] == "2"
    fails("MalformedXML", complete, s3, bucket, "e", upload_id, [])
    fails("NoSuchKey", s3.get_object, Bucket=bucket, Key="e")
    # every part still there; a valid subset completes (parts need not be contiguous)
    listed = s3.list_parts(Bucket=bucket, Key="e", UploadId=upload_id)["Parts"]
    assert [p["PartNumber"] for p in listed] == [1, 2, 3, 4]
    done = complete(s3, bucket, "e", upload_id, [parts[0], parts[2], parts[3]])
    assert done["ETag"] == md5_etag(data[0], data[2], data[3])
    assert s3.get_object(Bucket=bucket, Key="e")["Body"].read() == data[0] + data[2] + data[3]


def test_a_single_small_part_is_a_valid_upload(s3, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="tiny")["UploadId"]
    done = complete(s3, bucket, "tiny", upload_id, upload_parts(s3, bucket, "tiny", upload_id, [b"abc"]))
    assert done["ETag"] == md5_etag(b"abc")
    assert s3.get_object(Bucket=bucket, Key="tiny")["Body"].read() == b"abc"


def test_abort_then_everything_is_no_such_upload(server: RunningServer, s3, bucket: str) -> None:
    before = swept(server)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="a")["UploadId"]
    parts = upload_parts(s3, bucket, "a", upload_id, [os.urandom(300_000), os.urandom(300_000)])
    assert len(blob_ids(server) - before) == 2
    assert s3.abort_multipart_upload(Bucket=bucket, Key="a", UploadId=upload_id)[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    assert swept(server) == before
    err = fails("NoSuchUpload", s3.upload_part, Bucket=bucket, Key="a", UploadId=upload_id, PartNumber=1,
                Body=b"x")
    assert status_of(err) == 404 and err.response["Error"]["UploadId"] == upload_id
    fails("NoSuchUpload", complete, s3, bucket, "a", upload_id, parts)
    fails("NoSuchUpload", s3.list_parts, Bucket=bucket, Key="a", UploadId=upload_id)
    fails("NoSuchUpload", s3.abort_multipart_upload, Bucket=bucket, Key="a", UploadId=upload_id)
    fails("NoSuchUpload", s3.upload_part, Bucket=bucket, Key="a", UploadId="made-up", PartNumber=1, Body=b"x")
    # an upload id is bound to its key
    other = s3.create_multipart_upload(Bucket=bucket, Key="b")["UploadId"]
    fails("NoSuchUpload", s3.upload_part, Bucket=bucket, Key="a", UploadId=other, PartNumber=1, Body=b"x")
    fails("NoSuchKey", s3.get_object, Bucket=bucket, Key="a")


def test_reuploaded_part_replaces_the_old_one(server: RunningServer, s3, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="re")["UploadId"]
    before = swept(server)
    first, second = os.urandom(200_000), os.urandom(200_000)
    upload_parts(s3, bucket, "re", upload_id, [first])
    after_first = blob_ids(server)
    parts = upload_parts(s3, bucket, "re", upload_id, [second])
    after_second = swept(server)
    assert len(after_first - before) == 1 and len(after_second - before) == 1 and after_first != after_second
    listed = s3.list_parts(Bucket=bucket, Key="re", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed] == [(1, parts[0]["ETag"], 200_000)]
    fails("InvalidPart", complete, s3, bucket, "re", upload_id,
          [{"PartNumber": 1, "ETag": f'"{hashlib.md5(first).hexdigest()}"'}])
    complete(s3, bucket, "re", upload_id, parts)
    assert s3.get_object(Bucket=bucket, Key="re")["Body"].read() == second
    assert swept(server) == after_second  # the object owns the part's blob now


@pytest.fixture
def s3_once(server: RunningServer):
    """boto3 without retries: it retries BadDigest (as S3 asks), re-sending the body with back-off."""
    return server.client("s3", retries={"total_max_attempts": 1})


def test_upload_part_validation(s3, s3_once, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="v")["UploadId"]
    for number in (0, 10001):
        err = fails("InvalidArgument", s3.upload_part, Bucket=bucket, Key="v", UploadId=upload_id,
                    PartNumber=number, Body=b"x")
        assert err.response["Error"]["ArgumentName"] == "partNumber"
    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    fails("BadDigest", s3_once.upload_part, Bucket=bucket, Key="v", UploadId=upload_id, PartNumber=1,
          Body=b"data", ContentMD5=wrong_md5)
    fails("BadDigest", s3_once.upload_part, Bucket=bucket, Key="v", UploadId=upload_id, PartNumber=1,
          Body=b"data", ChecksumCRC32="AAAAAA==")
    assert "Parts" not in s3.list_parts(Bucket=bucket, Key="v", UploadId=upload_id)
    good = base64.b64encode(hashlib.md5(b"data").digest()).decode()
    r = s3.upload_part(Bucket=bucket, Key="v", UploadId=upload_id, PartNumber=10000, Body=b"data",
                       ContentMD5=good)
    assert r["ETag"] == f'"{hashlib.md5(b"data").hexdigest()}"'


def test_list_parts_paging(s3, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="lp", ChecksumAlgorithm="CRC32")["UploadId"]
    data = [os.urandom(100 + n) for n in range(5)]
    for number, chunk in enumerate(data, 1):
        s3.upload_part(Bucket=bucket, Key="lp", UploadId=upload_id, PartNumber=number, Body=chunk,
                       ChecksumAlgorithm="CRC32")
    seen, marker, pages = [], 0, 0
    while True:
        page = s3.list_parts(Bucket=bucket, Key="lp", UploadId=upload_id, MaxParts=2, PartNumberMarker=marker)
        pages += 1
        assert page["MaxParts"] == 2 and page["PartNumberMarker"] == marker
        assert page["StorageClass"] == "STANDARD" and page["Initiator"]["ID"] == page["Owner"]["ID"]
        assert (page["ChecksumAlgorithm"], page["ChecksumType"]) == ("CRC32", "COMPOSITE")
        seen += page["Parts"]
        assert page["NextPartNumberMarker"] == page["Parts"][-1]["PartNumber"]
        if not page["IsTruncated"]:
            break
        marker = page["NextPartNumberMarker"]
    assert pages == 3
    assert [p["PartNumber"] for p in seen] == [1, 2, 3, 4, 5]
    assert [p["Size"] for p in seen] == [len(d) for d in data]
    assert [p["ETag"] for p in seen] == [f'"{hashlib.md5(d).hexdigest()}"' for d in data]
    assert [p["ChecksumCRC32"] for p in seen] == [
        base64.b64encode(zlib.crc32(d).to_bytes(4, "big")).decode() for d in data]
    assert "Parts" not in s3.list_parts(Bucket=bucket, Key="lp", UploadId=upload_id, PartNumberMarker=5)


def test_list_multipart_uploads(s3, bucket: str) -> None:
    ids = {}
    for key in ("a/1", "a/2", "b/1", "c", "c", "d"):
        ids.setdefault(key, []).append(s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"])
    everything = [(k, u) for k in ("a/1", "a/2", "b/1", "c", "d") for u in ids[k]]

    listing = s3.list_multipart_uploads(Bucket=bucket)
    assert [(u["Key"], u["UploadId"]) for u in listing["Uploads"]] == everything
    assert listing["IsTruncated"] is False and listing["MaxUploads"] == 1000
    assert all(u["StorageClass"] == "STANDARD" and u["Initiator"]["ID"] for u in listing["Uploads"])

    grouped = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["a/", "b/"]
    assert [u["Key"] for u in grouped["Uploads"]] == ["c", "c", "d"]
    prefixed = s3.list_multipart_uploads(Bucket=bucket, Prefix="a/")
    assert [u["Key"] for u in prefixed["Uploads"]] == ["a/1", "a/2"] and prefixed["Prefix"] == "a/"

    seen, kwargs = [], {}
    while True:
        page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2, **kwargs)
        assert len(page.get("Uploads", [])) <= 2
        seen += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    assert seen == everything

    after_c = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="c")
    assert [u["Key"] for u in after_c["Uploads"]] == ["d"]
    within_c = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="c", UploadIdMarker=ids["c"][0])
    assert [u["UploadId"] for u in within_c["Uploads"]] == [ids["c"][1], ids["d"][0]]
    fails("InvalidArgument", s3.list_multipart_uploads, Bucket=bucket, KeyMarker="c", UploadIdMarker="nope")
    # completed and aborted uploads leave the listing
    s3.abort_multipart_upload(Bucket=bucket, Key="d", UploadId=ids["d"][0])
    assert "d" not in [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]]


def test_upload_part_copy_with_ranges(s3, bucket: str) -> None:
    source = os.urandom(PART + 300_000)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    copy = {"Bucket": bucket, "Key": "dst", "UploadId": upload_id,
            "CopySource": {"Bucket": bucket, "Key": "src"}}
    parts = []
    for number, (first, last) in ((1, (0, PART - 1)), (3, (PART - 7, PART + 99_999))):
        r = s3.upload_part_copy(PartNumber=number, CopySourceRange=f"bytes={first}-{last}", **copy)
        assert r["CopyPartResult"]["ETag"] == f'"{hashlib.md5(source[first:last + 1]).hexdigest()}"'
        assert r["ServerSideEncryption"] == "AES256"
        parts.append({"PartNumber": number, "ETag": r["CopyPartResult"]["ETag"]})
    r = s3.upload_part_copy(PartNumber=2, **copy)  # no range: the whole source
    parts.insert(1, {"PartNumber": 2, "ETag": r["CopyPartResult"]["ETag"]})
    assert parts[1]["ETag"] == f'"{hashlib.md5(source).hexdigest()}"'

    size = len(source)
    for bad in ("bytes=5-2", "0-5", "bytes=0-", "bytes=-5", "bytes=a-b", "bytes=0-1,3-4"):
        err = fails("InvalidArgument", s3.upload_part_copy, PartNumber=4, CopySourceRange=bad, **copy)
        assert err.response["Error"]["ArgumentName"] == "x-amz-copy-source-range"
    err = fails("InvalidRange", s3.upload_part_copy, PartNumber=4, CopySourceRange=f"bytes=0-{size}",
                **copy)
    assert status_of(err) == 416 and err.response["Error"]["ActualObjectSize"] == str(size)
    fails("InvalidRequest", s3.upload_part_copy, PartNumber=4, CopySourceRange=f"bytes={size + 5}-{size + 9}",
          **copy)
    err = fails("PreconditionFailed", s3.upload_part_copy, PartNumber=4, CopySourceIfMatch='"nope"', **copy)
    assert status_of(err) == 412
    fails("NoSuchKey", s3.upload_part_copy, Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=4,
          CopySource={"Bucket": bucket, "Key": "missing"})
    listed = s3.list_parts(Bucket=bucket, Key="dst", UploadId=upload_id)["Parts"]
    assert [p["PartNumber"] for p in listed] == [1, 2, 3]

    complete(s3, bucket, "dst", upload_id, parts)
    whole = source[:PART] + source + source[PART - 7:PART + 100_000]
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == whole
    for boundary in (PART, 2 * PART + 300_000):
        for first, last in ((boundary - 1, boundary - 1), (boundary, boundary), (boundary + 1, boundary + 1),
                            (boundary - 3, boundary + 3)):
            got = s3.get_object(Bucket=bucket, Key="dst", Range=f"bytes={first}-{last}")["Body"].read()
            assert got == whole[first:last + 1], (first, last)


def test_copy_of_a_multipart_source(s3, bucket: str, four_parts: list[bytes]) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp-src")["UploadId"]
    complete(s3, bucket, "mp-src", upload_id, upload_parts(s3, bucket, "mp-src", upload_id, four_parts))
    whole = b"".join(four_parts)
    target = s3.create_multipart_upload(Bucket=bucket, Key="mp-dst")["UploadId"]
    first, last = PART - 10, 2 * PART + 10  # spans three source parts
    r = s3.upload_part_copy(Bucket=bucket, Key="mp-dst", UploadId=target, PartNumber=1,
                            CopySource=f"{bucket}/mp-src", CopySourceRange=f"bytes={first}-{last}")
    complete(s3, bucket, "mp-dst", target, [{"PartNumber": 1, "ETag": r["CopyPartResult"]["ETag"]}])
    assert s3.get_object(Bucket=bucket, Key="mp-dst")["Body"].read() == whole[first:last + 1]


def test_checksums(s3, s3_once, bucket: str) -> None:
    data = [os.urandom(PART), os.urandom(4321)]
    whole = b"".join(data)

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    # COMPOSITE (the default for SHA256): the checksum of the part checksums, "-N"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="sha", ChecksumAlgorithm="SHA256")["UploadId"]
    parts = []
    for number, chunk in enumerate(data, 1):
        r = s3.upload_part(Bucket=bucket, Key="sha", UploadId=upload_id, PartNumber=number, Body=chunk,
                           ChecksumAlgorithm="SHA256")
        assert r["ChecksumSHA256"] == b64(hashlib.sha256(chunk).digest())
        parts.append({"PartNumber": number, "ETag": r["ETag"], "ChecksumSHA256": r["ChecksumSHA256"]})
    fails("InvalidRequest", complete, s3, bucket, "sha", upload_id,
          [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in parts])
    fails("InvalidPart", complete, s3, bucket, "sha", upload_id,
          [parts[0], {**parts[1], "ChecksumSHA256": b64(hashlib.sha256(b"x").digest())}])
    fails("InvalidRequest", s3.upload_part, Bucket=bucket, Key="sha", UploadId=upload_id, PartNumber=3,
          Body=b"x", ChecksumAlgorithm="CRC32")
    done = complete(s3, bucket, "sha", upload_id, parts)
    composite = b64(hashlib.sha256(b"".join(hashlib.sha256(c).digest() for c in data)).digest()) + "-2"
    assert (done["ChecksumSHA256"], done["ChecksumType"]) == (composite, "COMPOSITE")
    head = s3.head_object(Bucket=bucket, Key="sha", ChecksumMode="ENABLED")
    assert (head["ChecksumSHA256"], head["ChecksumType"]) == (composite, "COMPOSITE")

    # FULL_OBJECT CRC32: the CRC of the whole object, combined from the parts
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="crc", ChecksumAlgorithm="CRC32",
                                           ChecksumType="FULL_OBJECT")["UploadId"]
    parts = upload_parts(s3, bucket, "crc", upload_id, data, ChecksumAlgorithm="CRC32")
    full = b64(zlib.crc32(whole).to_bytes(4, "big"))
    fails("BadDigest", complete, s3_once, bucket, "crc", upload_id, parts, ChecksumCRC32="AAAAAA==",
          ChecksumType="FULL_OBJECT")
    done = complete(s3, bucket, "crc", upload_id, parts, ChecksumCRC32=full, ChecksumType="FULL_OBJECT")
    assert (done["ChecksumCRC32"], done["ChecksumType"]) == (full, "FULL_OBJECT")
    head = s3.head_object(Bucket=bucket, Key="crc", ChecksumMode="ENABLED")
    assert (head["ChecksumCRC32"], head["ChecksumType"]) == (full, "FULL_OBJECT")

    # CRC64NVME is FULL_OBJECT by default; COMPOSITE is refused for it, FULL_OBJECT for SHA
    created = s3.create_multipart_upload(Bucket=bucket, Key="nv", ChecksumAlgorithm="CRC64NVME")
    assert (created["ChecksumAlgorithm"], created["ChecksumType"]) == ("CRC64NVME", "FULL_OBJECT")
    fails("InvalidRequest", s3.create_multipart_upload, Bucket=bucket, Key="x", ChecksumAlgorithm="CRC64NVME",
          ChecksumType="COMPOSITE")
    fails("InvalidRequest", s3.create_multipart_upload, Bucket=bucket, Key="x", ChecksumAlgorithm="SHA1",
          ChecksumType="FULL_OBJECT")

    # an upload without an algorithm refuses part checksums in the Complete document
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="none")["UploadId"]
    r = s3.upload_part(Bucket=bucket, Key="none", UploadId=upload_id, PartNumber=1, Body=b"abc",
                       ChecksumAlgorithm="CRC32")
    fails("InvalidPart", complete, s3, bucket, "none", upload_id,
          [{"PartNumber": 1, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]}])
    done = complete(s3, bucket, "none", upload_id, [{"PartNumber": 1, "ETag": r["ETag"]}])
    assert "ChecksumType" not in done and "ChecksumCRC32" not in done


def test_conditional_complete(s3, bucket: str) -> None:
    def start(key: str) -> tuple[str, list[dict]]:
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        return upload_id, upload_parts(s3, bucket, key, upload_id, [b"new"])

    upload_id, parts = start("cond")
    fails("NoSuchKey", complete, s3, bucket, "cond", upload_id, parts, IfMatch='"abc"')
    s3.put_object(Bucket=bucket, Key="cond", Body=b"old")
    err = fails("PreconditionFailed", complete, s3, bucket, "cond", upload_id, parts, IfNoneMatch="*")
    assert status_of(err) == 412
    fails("PreconditionFailed", complete, s3, bucket, "cond", upload_id, parts, IfMatch='"abc"')
    assert s3.get_object(Bucket=bucket, Key="cond")["Body"].read() == b"old"
    current = s3.head_object(Bucket=bucket, Key="cond")["ETag"]
    complete(s3, bucket, "cond", upload_id, parts, IfMatch=current)
    assert s3.get_object(Bucket=bucket, Key="cond")["Body"].read() == b"new"

    upload_id, parts = start("fresh")
    complete(s3, bucket, "fresh", upload_id, parts, IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="fresh")["Body"].read() == b"new"


def test_complete_replaces_an_object_and_frees_its_blobs(server: RunningServer, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="over", Body=os.urandom(300_000))
    before = swept(server)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="over")["UploadId"]
    parts = upload_parts(s3, bucket, "over", upload_id, [os.urandom(PART), os.urandom(200_000)])
    s3.upload_part(Bucket=bucket, Key="over", UploadId=upload_id, PartNumber=7, Body=os.urandom(90_000))
    assert len(blob_ids(server) - before) == 3
    complete(s3, bucket, "over", upload_id, parts)
    # after the grace period, the replaced object's blob and the unused part's blob are gone; the two
    # used parts remain
    after = swept(server)
    assert len(after) == len(before) + 1 and len(after - before) == 2


def test_no_plaintext_on_disk(server: RunningServer, s3, bucket: str) -> None:
    marker = b"STRONGROOM-MULTIPART-PLAINTEXT-MARKER-"
    chunk = marker * (PART // len(marker) + 1)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="secret")["UploadId"]
    s3.put_object(Bucket=bucket, Key="secret-src", Body=chunk)
    parts = upload_parts(s3, bucket, "secret", upload_id, [chunk])
    r = s3.upload_part_copy(Bucket=bucket, Key="secret", UploadId=upload_id, PartNumber=2,
                            CopySource={"Bucket": bucket, "Key": "secret-src"})
    parts.append({"PartNumber": 2, "ETag": r["CopyPartResult"]["ETag"]})
    last = s3.upload_part(Bucket=bucket, Key="secret", UploadId=upload_id, PartNumber=3, Body=marker * 10)
    parts.append({"PartNumber": 3, "ETag": last["ETag"]})
    complete(s3, bucket, "secret", upload_id, parts)
    assert s3.get_object(Bucket=bucket, Key="secret")["Body"].read() == chunk + chunk + marker * 10
    for path in server.data_dir.rglob("*"):
        if path.is_file():
            assert marker not in path.read_bytes(), path


def test_requests_sdks_would_not_send(server: RunningServer, s3, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="raw")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="raw", UploadId=upload_id, PartNumber=1, Body=b"abc")["ETag"]
    path = f"/{bucket}/raw?uploadId={upload_id}"
    part = f"<ETag>{etag}</ETag>"
    for body, expected in (
        (b"<not xml", (400, "MalformedXML")),
        (b"", (400, "MalformedXML")),
        (b"<CompleteMultipartUpload/>", (400, "MalformedXML")),
        (f"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber>{part}</Part>"
         "</CompleteMultipartUpload>".encode(), (400, "MalformedXML")),
        (f"<CompleteMultipartUpload><Part>{part}</Part></CompleteMultipartUpload>".encode(),
         (400, "MalformedXML")),
        (f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>{part}<Size>3</Size></Part>"
         "</CompleteMultipartUpload>".encode(), (400, "MalformedXML")),
        (f"<CompleteMultipartUpload><Part><PartNumber>0</PartNumber>{part}</Part>"
         "</CompleteMultipartUpload>".encode(), (400, "InvalidArgument")),
        (b"<Other/>", (400, "MalformedXML")),
    ):
        assert raw_error(server, "POST", path, body) == expected, body
    for query in ("", "&partNumber=abc", "&partNumber=-1"):
        assert raw_error(server, "PUT", path + query, b"x") == (400, "InvalidArgument"), query
    for query in ("&max-parts=abc", "&max-parts=-1", "&part-number-marker=99999999999"):
        assert raw_error(server, "GET", path + query) == (400, "InvalidArgument"), query
    for query in ("&max-uploads=x", "&encoding-type=base64"):
        assert raw_error(server, "GET", f"/{bucket}?uploads{query}") == (400, "InvalidArgument"), query
    for headers in ({"x-amz-checksum-type": "COMPOSITE"}, {"x-amz-checksum-algorithm": "MD4"},
                    {"x-amz-checksum-algorithm": "CRC32", "x-amz-checksum-type": "BOGUS"}):
        status_code = raw_error(server, "POST", f"/{bucket}/raw2?uploads", headers=headers)
        assert status_code == (400, "InvalidRequest"), headers
    # none of that touched the upload
    assert s3.list_parts(Bucket=bucket, Key="raw", UploadId=upload_id)["Parts"][0]["ETag"] == etag
    reply = server.raw("GET", f"/{bucket}?uploads&encoding-type=url&prefix=r")
    status, listing = reply.status, reply.body
    assert status == 200 and b"<Key>raw</Key>" in listing and b"<EncodingType>url</EncodingType>" in listing
    s3.create_multipart_upload(Bucket=bucket, Key="a b+c")
    reply = server.raw("GET", f"/{bucket}?uploads&encoding-type=url&prefix=a")
    status, listing = reply.status, reply.body
    assert b"<Key>a%20b%2Bc</Key>" in listing
