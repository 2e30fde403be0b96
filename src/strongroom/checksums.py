"""The S3 additional checksums: CRC32, CRC32C, CRC64NVME, SHA1 and SHA256.

Owns computing them incrementally and their wire form: the big-endian digest
in base64, as S3 sends and expects it in the `x-amz-checksum-<algorithm>`
headers and aws-chunked trailers. Pure: imports nothing of strongroom's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable, Sequence
from typing import Protocol, TypeAlias

from awscrt import checksums as _crt

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")

# Digest length in bytes, which fixes the length of a valid base64 value.
_DIGEST_SIZE = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}
_HEADER_PREFIX = "x-amz-checksum-"

Buffer: TypeAlias = bytes | bytearray | memoryview


class Hasher(Protocol):
    def update(self, data: Buffer) -> None: ...

    def b64digest(self) -> str: ...


class _Crc:
    """A running CRC: zlib's and awscrt's CRC functions all take (data, previous) and accept memoryviews."""

    __slots__ = ("_fn", "_size", "_value")

    def __init__(self, fn: Callable[[Buffer, int], int], size: int) -> None:
        self._fn = fn
        self._size = size
        self._value = 0

    def update(self, data: Buffer) -> None:
        self._value = self._fn(data, self._value)

    def b64digest(self) -> str:
        return base64.b64encode(self._value.to_bytes(self._size, "big")).decode("ascii")


class _Hash:
    __slots__ = ("_h",)

    def __init__(self, name: str) -> None:
        self._h = hashlib.new(name)

    def update(self, data: Buffer) -> None:
        self._h.update(data)

    def b64digest(self) -> str:
        return base64.b64encode(self._h.digest()).decode("ascii")


def new(algorithm: str) -> Hasher:
    """A fresh hasher for `algorithm` (one of ALGORITHMS, upper case)."""
    if algorithm == "CRC32":
        return _Crc(zlib.crc32, 4)
    if algorithm == "CRC32C":
        return _Crc(_crt.crc32c, 4)
    if algorithm == "CRC64NVME":
        return _Crc(_crt.crc64nvme, 8)
    if algorithm == "SHA1":
        return _Hash("sha1")
    if algorithm == "SHA256":
        return _Hash("sha256")
    raise ValueError(f"unknown checksum algorithm {algorithm!r}")


def header_name(algorithm: str) -> str:
    """'CRC32' -> 'x-amz-checksum-crc32'."""
    return _HEADER_PREFIX + algorithm.lower()


def algorithm_for_header(name: str) -> str | None:
    """'x-amz-checksum-crc32' (any case) -> 'CRC32'; None for any other name."""
    lowered = name.lower()
    if not lowered.startswith(_HEADER_PREFIX):
        return None
    algorithm = lowered[len(_HEADER_PREFIX) :].upper()
    return algorithm if algorithm in _DIGEST_SIZE else None


def is_valid_b64(algorithm: str, value: str) -> bool:
    """True when `value` is padded base64 of exactly the digest size of `algorithm`."""
    size = _DIGEST_SIZE.get(algorithm)
    if size is None:
        return False
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == size


def multipart_etag(part_etags: Sequence[str]) -> str:
    """A multipart object's ETag: the MD5 of its parts' binary ETags, "-N" (S3's form). Part ETags that
    are not MD5s (SSE-KMS, SSE-C: random) are hex too."""
    digest = hashlib.md5(b"".join(bytes.fromhex(e) for e in part_etags), usedforsecurity=False)
    return f"{digest.hexdigest()}-{len(part_etags)}"


def composite(algorithm: str, part_values: Sequence[str]) -> str:
    """A COMPOSITE multipart checksum: the checksum of the parts' binary checksums, "-N"."""
    h = new(algorithm)
    for value in part_values:
        h.update(base64.b64decode(value))
    return f"{h.b64digest()}-{len(part_values)}"
