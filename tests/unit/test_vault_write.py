"""The vault's write_piece pipeline (hashing and sealing stages running behind the body) on a real
blob directory: what it writes reads back, and a failure on either side leaves nothing behind."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from strongroom.blobs import BlobStore, BlobWriter
from strongroom.catalog.model import ObjectVersion
from strongroom.vault import RootKeyring, piece_context
from strongroom.vault.keys import ObjectKek, sse_s3_kek
from strongroom.vault.read import read_version
from strongroom.vault.write import Run, Written, write_piece

MiB = 1 << 20


class _Pieces:
    """write_piece and read_version on a blob directory and an executor, as the vault calls them."""

    def __init__(self, blobs: BlobStore, executor: ThreadPoolExecutor) -> None:
        self.blobs, self.executor = blobs, executor
        self.run: Run = self._run

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def sse_s3_kek(self) -> ObjectKek:
        return sse_s3_kek(RootKeyring([os.urandom(32)]))

    async def write_piece(self, body: AsyncIterator[bytes], kek: ObjectKek, context: bytes, number: int,
                          **kwargs: Any) -> Written:
        return await write_piece(self.run, self.blobs, body, kek, context, number, **kwargs)

    def read(self, version: ObjectVersion, kek: ObjectKek, start: int, end: int) -> AsyncIterator[bytes]:
        return read_version(self.run, self.blobs, version, kek, start, end)


def _vault(tmp_path: Path) -> tuple[_Pieces, BlobStore, ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(4)
    blobs = BlobStore(tmp_path / "blobs")
    return _Pieces(blobs, executor), blobs, executor


async def _body(data: bytes, chunk: int = 300_000, fail_at: int | None = None) -> AsyncIterator[bytes]:
    for i in range(0, len(data), chunk):
        if fail_at is not None and i >= fail_at:
            raise ConnectionResetError("the client went away")
        yield data[i:i + chunk]
        await asyncio.sleep(0)


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_a_large_body_is_hashed_sealed_and_reads_back(tmp_path: Path) -> None:
    vault, blobs, executor = _vault(tmp_path)
    data = os.urandom(13 * MiB + 12345)
    kek = vault.sse_s3_kek()
    context = piece_context("b", "k", "v1", 1)

    async def run() -> bytes:
        written = await vault.write_piece(_body(data), kek, context, 1, md5=True, checksums=("CRC32",),
                                          size_hint=len(data))
        assert written.md5_hex == hashlib.md5(data).hexdigest()
        assert written.piece.size == len(data) and written.piece.blob_id is not None
        version = ObjectVersion("b", "k", "v1", len(data), written.piece.etag, 0.0, "o", kek.sealing,
                                (written.piece,))
        return b"".join([c async for c in vault.read(version, kek, 0, len(data))])

    try:
        assert asyncio.run(run()) == data
    finally:
        executor.shutdown()
    stored = _files(blobs.root)
    assert len(stored) == 1 and data[:4096] not in stored[0].read_bytes()  # encrypted at rest


def test_a_body_failing_midway_leaves_no_blob(tmp_path: Path) -> None:
    vault, blobs, executor = _vault(tmp_path)
    data = os.urandom(9 * MiB)
    try:
        with pytest.raises(ConnectionResetError):
            body = _body(data, fail_at=6 * MiB)
            asyncio.run(vault.write_piece(body, vault.sse_s3_kek(), b"c", 1, md5=True))
    finally:
        executor.shutdown()
    assert _files(blobs.root) == []


def test_a_disk_error_while_sealing_fails_the_write_and_leaves_no_blob(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vault, blobs, executor = _vault(tmp_path)
    real_write = BlobWriter.write

    def write(self: BlobWriter, data: bytes) -> None:
        if self.size > 3 * MiB:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, data)

    monkeypatch.setattr(BlobWriter, "write", write)
    data = os.urandom(12 * MiB)
    try:
        with pytest.raises(OSError) as caught:
            asyncio.run(vault.write_piece(_body(data), vault.sse_s3_kek(), b"c", 1, md5=True))
    finally:
        executor.shutdown()
    assert caught.value.errno == errno.ENOSPC
    assert _files(blobs.root) == []
