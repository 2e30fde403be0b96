"""Known answers for the S3 checksums, their wire form, and agreement with botocore's own."""

from __future__ import annotations

import base64
import os

import pytest
from botocore import httpchecksum

from strongroom import checksums

# The standard check values (the digest of b"123456789") of each algorithm.
CHECK = {
    "CRC32": "cbf43926",
    "CRC32C": "e3069283",
    "CRC64NVME": "ae8b14860a799888",
    "SHA1": "f7c3bc1d808e04732adf679965ccc34ca7ae3441",
    "SHA256": "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225",
}

EMPTY = {
    "CRC32": "AAAAAA==",
    "CRC32C": "AAAAAA==",
    "CRC64NVME": "AAAAAAAAAAA=",
    "SHA1": "2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
    "SHA256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
}

BOTOCORE = {
    "CRC32": httpchecksum.CrtCrc32Checksum,
    "CRC32C": httpchecksum.CrtCrc32cChecksum,
    "CRC64NVME": httpchecksum.CrtCrc64NvmeChecksum,
    "SHA1": httpchecksum.Sha1Checksum,
    "SHA256": httpchecksum.Sha256Checksum,
}


def digest(algorithm: str, *pieces: bytes | memoryview) -> str:
    h = checksums.new(algorithm)
    for piece in pieces:
        h.update(piece)
    return h.b64digest()


@pytest.mark.parametrize("algorithm", checksums.ALGORITHMS)
def test_check_value_in_one_piece_and_in_several(algorithm: str) -> None:
    expected = base64.b64encode(bytes.fromhex(CHECK[algorithm])).decode()
    data = b"123456789"
    assert digest(algorithm, data) == expected
    assert digest(algorithm, data[:4], b"", memoryview(data)[4:7], bytearray(data[7:])) == expected


@pytest.mark.parametrize("algorithm", checksums.ALGORITHMS)
def test_empty_input(algorithm: str) -> None:
    assert digest(algorithm) == EMPTY[algorithm]
    assert digest(algorithm, b"") == EMPTY[algorithm]


def test_crc32_of_hello_world_as_s3_shows_it() -> None:
    # zlib.crc32(b"hello world") == 0x0d4a1185, big-endian then base64.
    assert digest("CRC32", b"hello world") == "DUoRhQ=="


@pytest.mark.parametrize("algorithm", checksums.ALGORITHMS)
def test_agrees_with_botocore(algorithm: str) -> None:
    data = os.urandom(100_003)
    theirs = BOTOCORE[algorithm]()
    theirs.update(data)
    assert digest(algorithm, data[:50_000], data[50_000:]) == theirs.b64digest()


def test_unknown_algorithm() -> None:
    with pytest.raises(ValueError):
        checksums.new("MD5")


def test_header_names() -> None:
    assert [checksums.header_name(a) for a in checksums.ALGORITHMS] == [
        "x-amz-checksum-crc32",
        "x-amz-checksum-crc32c",
        "x-amz-checksum-crc64nvme",
        "x-amz-checksum-sha1",
        "x-amz-checksum-sha256",
    ]
    for algorithm in checksums.ALGORITHMS:
        assert checksums.algorithm_for_header(checksums.header_name(algorithm)) == algorithm
    assert checksums.algorithm_for_header("X-Amz-Checksum-CRC32C") == "CRC32C"
    assert checksums.algorithm_for_header("x-amz-checksum-md5") is None
    assert checksums.algorithm_for_header("x-amz-checksum-") is None
    assert checksums.algorithm_for_header("content-md5") is None


@pytest.mark.parametrize("algorithm", checksums.ALGORITHMS)
def test_is_valid_b64(algorithm: str) -> None:
    good = EMPTY[algorithm]
    assert checksums.is_valid_b64(algorithm, good)
    assert not checksums.is_valid_b64(algorithm, good.rstrip("="))  # padding is required
    assert not checksums.is_valid_b64(algorithm, base64.b64encode(b"\0" * 3).decode())
    assert not checksums.is_valid_b64(algorithm, "not base64!")
    assert not checksums.is_valid_b64(algorithm, "")
    assert not checksums.is_valid_b64(algorithm, CHECK[algorithm])  # hex is not base64 of the right size
    assert not checksums.is_valid_b64("MD5", good)
