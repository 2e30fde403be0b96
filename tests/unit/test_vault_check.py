"""vault/check.py (`strongroom verify`) on a real blob directory with pieces written by write_piece: what
the integration tests cannot reach by changing the disk (a record whose ETag, checksum or size does not
match its content), and each damage to a blob named as what it is."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import zlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from strongroom import checksums
from strongroom.blobs import BlobStore
from strongroom.catalog.model import ObjectVersion
from strongroom.vault import RootKeyring
from strongroom.vault.check import FAILED, STRUCTURE, VERIFIED, check_version
from strongroom.vault.keys import ObjectKek, piece_context, sse_c_kek, sse_s3_kek
from strongroom.vault.write import write_piece


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _store(tmp_path: Path, kek: ObjectKek, bodies: list[bytes], *, crc: bool = False,
           version_id: str = "v1") -> tuple[BlobStore, ObjectVersion]:
    """A version of `bodies` (one: a PutObject; more: a multipart object), stored as the vault stores it
    (an SSE-S3 piece's ETag is the MD5 of its content)."""
    blobs = BlobStore(tmp_path / "blobs")

    async def write_all() -> list:  # type: ignore[type-arg]
        with ThreadPoolExecutor(2) as executor:
            async def run(fn, *args):  # type: ignore[no-untyped-def]
                return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

            return [await write_piece(run, blobs, _once(body), kek, piece_context("b", "k", version_id, n), n,
                                      md5=kek.sealing.algorithm == "AES256",
                                      checksums=("CRC32",) if crc else (), size_hint=len(body))
                    for n, body in enumerate(bodies, start=1)]

    written = asyncio.run(write_all())
    pieces = tuple(w.piece for w in written)
    whole = b"".join(bodies)
    if len(pieces) == 1:
        etag, sums, kind = pieces[0].etag, dict(pieces[0].checksums), "FULL_OBJECT" if crc else None
    else:
        etag = checksums.multipart_etag([p.etag for p in pieces])
        sums = {"CRC32": checksums.composite("CRC32", [p.checksums["CRC32"] for p in pieces])} if crc else {}
        kind = "COMPOSITE" if crc else None
    version = ObjectVersion("b", "k", version_id, len(whole), etag, 0.0, "owner", kek.sealing, pieces,
                            checksums=sums, checksum_type=kind)
    return blobs, version


def _crc(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_sse_s3_single_and_multipart_verify(tmp_path: Path) -> None:
    kek = sse_s3_kek(RootKeyring([os.urandom(32)]))
    blobs, single = _store(tmp_path, kek, [os.urandom(200_000)], crc=True)
    assert check_version(blobs, single, kek).outcome == VERIFIED
    blobs, multi = _store(tmp_path, kek, [os.urandom(100_000), os.urandom(10)], crc=True, version_id="up")
    assert check_version(blobs, multi, kek).outcome == VERIFIED
    empty_blobs, empty = _store(tmp_path, kek, [b""])
    assert check_version(empty_blobs, empty, kek).outcome == VERIFIED


def test_a_record_that_does_not_match_its_content_fails(tmp_path: Path) -> None:
    kek = sse_s3_kek(RootKeyring([os.urandom(32)]))
    body = os.urandom(70_000)
    blobs, version = _store(tmp_path, kek, [body], crc=True)
    piece = version.pieces[0]
    cases = {
        "MD5 of the content": dataclasses.replace(
            version, etag="0" * 32, pieces=(dataclasses.replace(piece, etag="0" * 32),)),
        "the pieces hold": dataclasses.replace(version, size=version.size + 1),
        "ETag": dataclasses.replace(version, etag="1" * 32),
        "CRC32 checksum of the content": dataclasses.replace(
            version, checksums={"CRC32": _crc(b"other")},
            pieces=(dataclasses.replace(piece, checksums={"CRC32": _crc(b"other")}),)),
        "does not unseal": dataclasses.replace(version, key="moved"),  # the key is bound to its name
    }
    for what, changed in cases.items():
        checked = check_version(blobs, changed, kek)
        assert checked.outcome == FAILED and what in " ".join(checked.problems), (what, checked)


def test_damaged_blobs_are_named_as_what_happened_to_them(tmp_path: Path) -> None:
    kek = sse_s3_kek(RootKeyring([os.urandom(32)]))
    blobs, version = _store(tmp_path, kek, [os.urandom(150_000)])
    path = next(p for p in (tmp_path / "blobs").rglob("*") if p.is_file() and p.parent.name != "tmp")
    original = path.read_bytes()
    for damage, expected in (
        (original + b"x", "(truncated or extended)"),
        (original[:-1], "(truncated or extended)"),
        (b"XRBLOB" + original[6:], "does not start with the blob header"),
        (original[:9000] + bytes([original[9000] ^ 4]) + original[9001:], "segment 0 failed authentication"),
    ):
        path.write_bytes(damage)
        checked = check_version(blobs, version, kek)
        assert checked.outcome == FAILED and expected in checked.problems[0], (expected, checked)
    path.unlink()
    checked = check_version(blobs, version, kek)
    assert checked.missing_blob and "is missing" in checked.problems[0]


def test_sse_c_is_checked_for_structure_only(tmp_path: Path) -> None:
    kek = sse_c_kek(os.urandom(32))
    blobs, version = _store(tmp_path, kek, [os.urandom(100_000), os.urandom(5)], version_id="up")
    assert check_version(blobs, version, None).outcome == STRUCTURE
    # content damage that keeps the structure cannot be seen without the key: it is not claimed
    path = next(p for p in (tmp_path / "blobs").rglob("*") if p.is_file() and p.parent.name != "tmp")
    data = bytearray(path.read_bytes())
    data[5000] ^= 1
    path.write_bytes(bytes(data))
    assert check_version(blobs, version, None).outcome == STRUCTURE
    assert check_version(blobs, version, kek).outcome == FAILED  # the customer's key would see it
