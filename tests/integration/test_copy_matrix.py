"""Every CopyObject and UploadPartCopy across every pair of encryption modes, whole and ranged, byte-exact.

Peers returned wrong bytes here (seaweedfs/seaweedfs#8908, #9281, #7530: AWS-NOTES.md "Traps"). Modes:
SSE-S3 (the bucket default), SSE-KMS, SSE-KMS with an S3 Bucket Key, DSSE-KMS, SSE-C. Sources use one
KMS key and one customer key, targets another of each, so that every copy really re-encrypts. A copy of
an SSE-C object to a target without SSE-C is SSE-S3 (AWS-NOTES.md, SSE-C).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import KEY1, KEY2, copy_ssec, md5_b64, ssec
from tests.integration.server import RunningServer

ARGS = ("--behind-tls-proxy", "--allow-sse-c-new-buckets")
MODES = ("SSE-S3", "SSE-KMS", "SSE-KMS+BK", "DSSE", "SSE-C")
SEGMENT = 64 * 1024
MIB = 1024 * 1024
SIZE = 3 * SEGMENT + 1234
PAIRS = [(source, target) for source in MODES for target in MODES]


@dataclass
class Setup:
    s3: object
    bucket: str
    source_arn: str
    target_arn: str
    data: bytes
    big: bytes


@pytest.fixture(scope="module")
def server(start_module_server: ServerFactory) -> RunningServer:
    return start_module_server(*ARGS)


def write_args(mode: str, arn: str, customer: bytes) -> dict[str, object]:
    """How a new object (or upload) asks for `mode`; SSE-S3 is the bucket's default: no header at all."""
    return {
        "SSE-S3": {},
        "SSE-KMS": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": arn},
        "SSE-KMS+BK": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": arn, "BucketKeyEnabled": True},
        "DSSE": {"ServerSideEncryption": "aws:kms:dsse", "SSEKMSKeyId": arn},
        "SSE-C": ssec(customer),
    }[mode]


def expected(mode: str, arn: str, customer: bytes) -> dict[str, str]:
    prefix = "x-amz-server-side-encryption"
    return {
        "SSE-S3": {prefix: "AES256"},
        "SSE-KMS": {prefix: "aws:kms", f"{prefix}-aws-kms-key-id": arn},
        "SSE-KMS+BK": {prefix: "aws:kms", f"{prefix}-aws-kms-key-id": arn,
                       f"{prefix}-bucket-key-enabled": "true"},
        "DSSE": {prefix: "aws:kms:dsse", f"{prefix}-aws-kms-key-id": arn},
        "SSE-C": {f"{prefix}-customer-algorithm": "AES256", f"{prefix}-customer-key-md5": md5_b64(customer)},
    }[mode]


def sse_of(response: dict) -> dict[str, str]:
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    return {k: v for k, v in headers.items() if k.startswith("x-amz-server-side-encryption")}


def source_args(mode: str) -> dict[str, object]:
    return copy_ssec(KEY1) if mode == "SSE-C" else {}


def read_args(mode: str, customer: bytes) -> dict[str, object]:
    return ssec(customer) if mode == "SSE-C" else {}


@pytest.fixture(scope="module")
def setup(server: RunningServer) -> Setup:
    s3, kms = server.client("s3"), server.client("kms")
    bucket = "copy-" + secrets.token_hex(6)
    s3.create_bucket(Bucket=bucket)
    source_arn, target_arn = (kms.create_key()["KeyMetadata"]["Arn"] for _ in range(2))
    data, big = os.urandom(SIZE), os.urandom(5 * MIB + 3 * SEGMENT + 77)
    for mode in MODES:
        for name, body in ((f"src-{mode}", data), (f"big-{mode}", big)):
            put = s3.put_object(Bucket=bucket, Key=name, Body=body, **write_args(mode, source_arn, KEY1))
            assert sse_of(put) == expected(mode, source_arn, KEY1)
    return Setup(s3, bucket, source_arn, target_arn, data, big)


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_copy_object(setup: Setup, source: str, target: str) -> None:
    s3, bucket = setup.s3, setup.bucket
    name = f"copy-{source}-{target}"
    copied = s3.copy_object(Bucket=bucket, Key=name, CopySource={"Bucket": bucket, "Key": f"src-{source}"},
                            **source_args(source), **write_args(target, setup.target_arn, KEY2))
    want = expected(target, setup.target_arn, KEY2)
    assert sse_of(copied) == want
    md5 = hashlib.md5(setup.data).hexdigest()
    etag = copied["CopyObjectResult"]["ETag"].strip('"')
    assert (etag == md5) == (target == "SSE-S3"), "only SSE-S3 single-part objects have an MD5 ETag"
    got = s3.get_object(Bucket=bucket, Key=name, **read_args(target, KEY2))
    assert got["Body"].read() == setup.data
    assert sse_of(got) == want and got["ETag"].strip('"') == etag
    first, last = SEGMENT - 5, 2 * SEGMENT + 5
    ranged = s3.get_object(Bucket=bucket, Key=name, Range=f"bytes={first}-{last}", **read_args(target, KEY2))
    assert ranged["Body"].read() == setup.data[first:last + 1]


@pytest.mark.parametrize(("source", "target"), PAIRS)
def test_upload_part_copy_ranged(setup: Setup, source: str, target: str) -> None:
    s3, bucket = setup.s3, setup.bucket
    name = f"part-{source}-{target}"
    upload = s3.create_multipart_upload(Bucket=bucket, Key=name, **write_args(target, setup.target_arn, KEY2))
    want = expected(target, setup.target_arn, KEY2)
    first, last = SEGMENT - 7, 2 * SEGMENT + 9  # across two segment boundaries of the source
    part = s3.upload_part_copy(Bucket=bucket, Key=name, UploadId=upload["UploadId"], PartNumber=1,
                               CopySource={"Bucket": bucket, "Key": f"src-{source}"},
                               CopySourceRange=f"bytes={first}-{last}", **source_args(source),
                               **read_args(target, KEY2))
    assert sse_of(part) == want
    s3.complete_multipart_upload(Bucket=bucket, Key=name, UploadId=upload["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
    got = s3.get_object(Bucket=bucket, Key=name, **read_args(target, KEY2))
    assert got["Body"].read() == setup.data[first:last + 1]
    assert sse_of(got) == want


@pytest.mark.parametrize("source", MODES)
def test_multipart_copy_of_a_large_object(setup: Setup, source: str) -> None:
    """Two ranged part copies that overlap, the first 5 MiB long, into the next mode along."""
    s3, bucket, big = setup.s3, setup.bucket, setup.big
    target = MODES[(MODES.index(source) + 1) % len(MODES)]
    name = f"big-copy-{source}-{target}"
    upload = s3.create_multipart_upload(Bucket=bucket, Key=name, **write_args(target, setup.target_arn, KEY2))
    ranges = [(0, 5 * MIB - 1), (5 * MIB - SEGMENT - 3, len(big) - 1)]
    listed = []
    for number, (first, last) in enumerate(ranges, 1):
        part = s3.upload_part_copy(Bucket=bucket, Key=name, UploadId=upload["UploadId"], PartNumber=number,
                                   CopySource={"Bucket": bucket, "Key": f"big-{source}"},
                                   CopySourceRange=f"bytes={first}-{last}", **source_args(source),
                                   **read_args(target, KEY2))
        listed.append({"PartNumber": number, "ETag": part["CopyPartResult"]["ETag"]})
    done = s3.complete_multipart_upload(Bucket=bucket, Key=name, UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": listed})
    assert done["ETag"].endswith('-2"')
    whole = b"".join(big[first:last + 1] for first, last in ranges)
    got = s3.get_object(Bucket=bucket, Key=name, **read_args(target, KEY2))
    assert got["Body"].read() == whole
    edge = 5 * MIB
    ranged = s3.get_object(Bucket=bucket, Key=name, Range=f"bytes={edge - 9}-{edge + 9}",
                           **read_args(target, KEY2))
    assert ranged["Body"].read() == whole[edge - 9:edge + 10]


def test_sse_c_source_to_a_plain_target_is_sse_s3(setup: Setup) -> None:
    s3, bucket = setup.s3, setup.bucket
    source = {"Bucket": bucket, "Key": "src-SSE-C"}
    copied = s3.copy_object(Bucket=bucket, Key="ssec-to-plain", CopySource=source, **copy_ssec(KEY1))
    assert copied["ServerSideEncryption"] == "AES256" and "SSECustomerAlgorithm" not in copied
    head = s3.head_object(Bucket=bucket, Key="ssec-to-plain")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ETag"] == f'"{hashlib.md5(setup.data).hexdigest()}"'
