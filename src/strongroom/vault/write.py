"""Writing a piece: a body streamed through encryption into a blob (or, up to 64 KiB, inline).

Blocking work (hashing, sealing, file I/O) runs on the executor, one batch in flight while the
next is received, so that receiving overlaps hashing: two stages (hashing; sealing and writing),
each up to STAGE_DEPTH batches behind the body. A piece of at most INLINE_MAX bytes keeps its
ciphertext in the catalog record: one fsync per PUT. A failed write leaves no blob behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from strongroom import checksums as checksum_algorithms
from strongroom.blobs import BlobStore, new_blob_id
from strongroom.catalog.model import Piece
from strongroom.crypto import Encryptor, keys
from strongroom.vault.keys import ObjectKek, seal_piece_key

# Runs a blocking call on the executor: `await run(fn, *args)`.
Run = Callable[..., Awaitable[Any]]
# Called with a new blob's id before its file is created.
Reserve = Callable[[str], Awaitable[None]]

BATCH = 1 << 20  # bytes handed to the executor at once: large enough to amortise the hop
STAGE_DEPTH = 4  # batches a write stage may run behind the body (memory: 2 x 4 MiB per PUT at most)
INLINE_MAX = 64 * 1024  # objects up to this size keep their ciphertext in the catalog: one fsync per PUT


@dataclass(frozen=True, slots=True)
class Written:
    piece: Piece
    md5_hex: str | None
    checksums: dict[str, str]


def random_etag() -> str:
    """SSE-KMS and SSE-C objects have an ETag that is not the MD5 of their content, as on AWS."""
    return secrets.token_hex(16)


async def write_piece(
    run: Run,
    blobs: BlobStore,
    body: AsyncIterator[bytes],
    kek: ObjectKek,
    context: bytes,
    part_number: int,
    *,
    md5: bool,
    checksums: Sequence[str] = (),
    size_hint: int | None = None,
    reserve: Reserve | None = None,
) -> Written:
    """Encrypt a body into a new piece. The blob (if any) is durable when this returns.

    `reserve(blob_id)` runs before a blob file is created (the vault records the blob pending in the
    catalog: a crash from then on leaves a record the sweep finds). A failure removes the file; the
    caller owns the piece once this returns: it either commits it or discards it.
    `md5`: compute the MD5 of the body (an SSE-S3 piece's ETag, or to check a Content-MD5).
    """
    layer_keys = [keys.random_key() for _ in range(kek.layers)]
    encryptor = Encryptor(layer_keys, part_number)
    state = _WriteState(
        encryptor=encryptor,
        md5=hashlib.md5(usedforsecurity=False) if md5 else None,
        hashers={alg: checksum_algorithms.new(alg) for alg in checksums},
    )
    state.out.append(encryptor.header())
    spill = size_hint is None or size_hint > INLINE_MAX
    # Two stages on the executor, each taking every batch in order: hashing (MD5 for the ETag, the
    # checksums) and sealing (encrypt, write). MD5 bounds a large PUT (~0.8 GiB/s a core) and the
    # disk's write-back stalls the sealing now and then, so neither waits for the other: each may
    # run STAGE_DEPTH batches behind the body (hashlib releases the GIL: they run side by side).
    hashing, sealing = _Stage(run, state.hash), _Stage(run, state.seal)
    batch: list[bytes] = []
    batched = 0
    try:
        async for chunk in body:
            batch.append(chunk)
            batched += len(chunk)
            state.size += len(chunk)
            if state.writer is None and (spill or state.size > INLINE_MAX):
                new_id = new_blob_id()
                if reserve is not None:
                    await reserve(new_id)
                state.writer = await run(blobs.writer, new_id)
            if batched >= BATCH:
                data = b"".join(batch)
                batch, batched = [], 0
                await hashing.push(data)
                await sealing.push(data)
        await hashing.drain()
        await sealing.drain()
        tail = b"".join(batch)
        state.hash(tail)
        if state.writer is None:
            state.seal(tail)
            state.out.append(encryptor.finalize())
            inline = b"".join(state.out)
            blob_id = None
        else:
            blob_id = await run(state.finish_blob, tail)
            inline = None
    except BaseException:
        await hashing.settle()
        await sealing.settle()
        if state.writer is not None:
            await run(state.writer.abort)
        raise
    md5_hex = state.md5.hexdigest() if state.md5 else None
    sealed = seal_piece_key(kek, b"".join(layer_keys), context)
    piece = Piece(
        part_number=part_number,
        size=state.size,
        etag=md5_hex if md5_hex and kek.sealing.algorithm == "AES256" else random_etag(),
        sealed_key=sealed,
        blob_id=blob_id,
        inline=inline,
        checksums={alg: h.b64digest() for alg, h in state.hashers.items()},
    )
    return Written(piece, md5_hex, dict(piece.checksums))


def delete_all(blobs: BlobStore, ids: Sequence[str]) -> None:
    for blob_id in ids:
        blobs.delete(blob_id)


class _Stage:
    """One blocking step applied to every batch in order on the executor, up to STAGE_DEPTH batches
    behind the caller. A failed batch fails every later one, and the caller at its next push or drain."""

    def __init__(self, run: Callable[..., Awaitable[Any]], step: Callable[[bytes], None]) -> None:
        self._run, self._step = run, step
        self._pending: deque[asyncio.Future[None]] = deque()

    async def push(self, data: bytes) -> None:
        while len(self._pending) >= STAGE_DEPTH:
            await self._pending.popleft()
        before = self._pending[-1] if self._pending else None
        self._pending.append(asyncio.ensure_future(self._after(before, data)))

    async def _after(self, before: asyncio.Future[None] | None, data: bytes) -> None:
        if before is not None:
            await before
        await self._run(self._step, data)

    async def drain(self) -> None:
        while self._pending:
            await self._pending.popleft()

    async def settle(self) -> None:
        """On failure: let the batches in flight finish (or fail) before the blob is aborted."""
        pending, self._pending = list(self._pending), deque()
        await asyncio.gather(*pending, return_exceptions=True)


@dataclass(slots=True)
class _WriteState:
    """The blocking half of write_piece: `hash` and `seal` each see every batch, in order."""

    encryptor: Encryptor
    md5: Any
    hashers: dict[str, Any]
    writer: Any = None
    size: int = 0
    out: list[bytes] = field(default_factory=list)

    def hash(self, data: bytes) -> None:
        if self.md5 is not None:
            self.md5.update(data)
        for h in self.hashers.values():
            h.update(data)

    def seal(self, data: bytes) -> None:
        ciphertext = self.encryptor.update(data)
        if self.writer is None:
            self.out.append(ciphertext)
            return
        if self.out:  # spilled: what was kept in memory goes first
            self.writer.write(b"".join(self.out))
            self.out.clear()
        self.writer.write(ciphertext)

    def finish_blob(self, tail: bytes) -> str:
        self.seal(tail)
        self.writer.write(self.encryptor.finalize())
        return self.writer.commit()
