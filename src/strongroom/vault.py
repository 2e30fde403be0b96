"""The vault: streams object bodies through encryption into blobs, and back out.

It owns the key hierarchy of an object. Every piece (a simple object, or one
part of a multipart object) has a random object key that encrypts its
segments; the object key is stored only sealed under the object's KEK, bound
to (bucket, key, version id, part number). The KEK depends on the mode:

- SSE-S3: derived from the root key (`wrapping = {"kek": "root", "root": <root key id>}`);
- SSE-KMS: a data key from the KMS, kept as the KMS ciphertext blob (with an S3 Bucket Key, a
  bucket-level data key that the KMS adapter reuses for a while);
- DSSE-KMS: two layers of encryption with two independent random keys, each sealed under its own
  KMS data key (two GenerateDataKey calls), so that neither data key alone opens the data;
- SSE-C: derived from the customer's key, which is never stored (a salted check is).

Multipart objects keep the upload id as their version id, so that the pieces sealed while the
upload was open are already bound to the object: Complete re-seals nothing and needs no key.

Lower layers know nothing of HTTP; errors the client must see are S3Errors.
Blocking work (hashing, sealing, file I/O) runs on the executor, one batch
in flight while the next is received, so that receiving overlaps hashing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from strongroom import checksums as checksum_algorithms
from strongroom.blobs import BlobStore
from strongroom.catalog.model import ObjectVersion, Piece, Sealing
from strongroom.crypto import SEGMENT_SIZE, Decryptor, Encryptor, IntegrityError, header_size, keys
from strongroom.errors import S3Error, internal_error
from strongroom.keks import (  # re-exported: the key hierarchy lives in keks.py
    KeyService,
    ObjectKek,
    RootKeyring,
    existing_object_kek,
    kms_object_kek,
    new_object_kek,
    piece_context,
    reseal_piece,
    s3_arn,
    seal_piece_key,
    unseal_piece_key,
)

log = logging.getLogger("strongroom.vault")

BATCH = 1 << 20  # bytes handed to the executor at once: large enough to amortise the hop
STAGE_DEPTH = 4  # batches a write stage may run behind the body (memory: 2 x 4 MiB per PUT at most)
INLINE_MAX = 64 * 1024  # objects up to this size keep their ciphertext in the catalog: one fsync per PUT
READ_BATCH = 16  # segments decrypted per executor hop on reads (1 MiB)


@dataclass(frozen=True, slots=True)
class Written:
    piece: Piece
    md5_hex: str | None
    checksums: dict[str, str]


def new_version_id() -> str:
    return secrets.token_urlsafe(24)


def random_etag() -> str:
    """SSE-KMS and SSE-C objects have an ETag that is not the MD5 of their content, as on AWS."""
    return secrets.token_hex(16)


class Vault:
    def __init__(self, blobs: BlobStore, keyring: RootKeyring, executor: Executor) -> None:
        self.blobs = blobs
        self.keyring = keyring
        self.executor = executor

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # --- KEKs ------------------------------------------------------------------------------------

    def sse_s3_kek(self) -> ObjectKek:
        sealing = Sealing("AES256", wrapping={"kek": "root", "root": self.keyring.current_id})
        return ObjectKek(sealing, self.keyring.kek())

    def sse_c_kek(self, customer_key: bytes, existing: Sealing | None = None) -> ObjectKek:
        """The KEK of an SSE-C object: new (fresh salt) or for an existing object (its salt, key checked)."""
        if existing is None:
            salt = secrets.token_bytes(16)
            check = keys.customer_key_check(customer_key, salt)
            sealing = Sealing("SSE-C", wrapping={"kek": "ssec", "salt": salt.hex(), "check": check.hex()})
            return ObjectKek(sealing, keys.customer_kek(customer_key, salt))
        salt = bytes.fromhex(existing.wrapping["salt"])
        given = keys.customer_key_check(customer_key, salt).hex()
        if not secrets.compare_digest(given, existing.wrapping["check"]):
            # Recorded from AWS (LocalStack TestS3SSECEncryption, validated): a wrong key on a read is 403.
            raise S3Error(
                "AccessDenied",
                403,
                "Requests specifying Server Side Encryption with Customer "
                "provided keys must provide the correct secret key.",
            )
        return ObjectKek(existing, keys.customer_kek(customer_key, salt))

    def root_kek_for(self, sealing: Sealing) -> ObjectKek:
        return ObjectKek(sealing, self.keyring.kek(sealing.wrapping.get("root")))

    # --- writing ---------------------------------------------------------------------------------

    async def write_piece(
        self,
        body: AsyncIterator[bytes],
        kek: ObjectKek,
        context: bytes,
        part_number: int,
        *,
        md5: bool,
        checksums: Sequence[str] = (),
        size_hint: int | None = None,
    ) -> Written:
        """Encrypt a body into a new piece. The blob (if any) is durable when this returns.

        The caller owns the piece from then on: it must either commit it to the catalog or call
        `discard` (a crash in between leaves an orphan blob that the start-up sweep removes).
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
        hashing, sealing = _Stage(self._run, state.hash), _Stage(self._run, state.seal)
        batch: list[bytes] = []
        batched = 0
        try:
            async for chunk in body:
                batch.append(chunk)
                batched += len(chunk)
                state.size += len(chunk)
                if state.writer is None and (spill or state.size > INLINE_MAX):
                    state.writer = await self._run(self.blobs.writer)
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
                blob_id = await self._run(state.finish_blob, tail)
                inline = None
        except BaseException:
            await hashing.settle()
            await sealing.settle()
            if state.writer is not None:
                await self._run(state.writer.abort)
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

    async def discard(self, pieces: Sequence[Piece]) -> None:
        ids = [p.blob_id for p in pieces if p.blob_id]
        if ids:
            await self._run(_delete_all, self.blobs, ids)

    def reseal(
        self, piece: Piece, old: ObjectKek, old_context: bytes, new: ObjectKek, new_context: bytes
    ) -> Piece:
        """The same ciphertext under another KEK or identity (UpdateObjectEncryption): data is not touched."""
        if old.layers != new.layers:
            raise ValueError("a piece keeps its number of layers")
        try:
            key_material = unseal_piece_key(old, piece.sealed_key, old_context)
        except IntegrityError:
            log.error("a sealed object key did not unseal")
            raise internal_error() from None
        return _replace(piece, sealed_key=seal_piece_key(new, key_material, new_context))

    # --- reading ---------------------------------------------------------------------------------

    async def read(
        self, version: ObjectVersion, kek: ObjectKek, start: int, end: int, request_id: str = ""
    ) -> AsyncIterator[bytes]:
        """Yield the plaintext bytes [start, end) of a version, decrypting only the segments they need."""
        offset = 0
        for piece in version.pieces:
            piece_start, piece_end = offset, offset + piece.size
            offset = piece_end
            if piece_end <= start or piece_start >= end or piece.size == 0:
                continue
            lo, hi = max(start, piece_start) - piece_start, min(end, piece_end) - piece_start
            context = piece_context(version.bucket, version.key, version.version_id, piece.part_number)
            async for data in self._read_piece(piece, kek, context, lo, hi, request_id):
                yield data

    async def _read_piece(
        self, piece: Piece, kek: ObjectKek, context: bytes, lo: int, hi: int, request_id: str
    ) -> AsyncIterator[bytes]:
        try:
            material = unseal_piece_key(kek, piece.sealed_key, context)
        except IntegrityError:
            log.error("request %s: the object key of a piece did not unseal (tampered metadata?)", request_id)
            raise internal_error() from None
        layer_keys = [material[i : i + keys.KEY_SIZE] for i in range(0, len(material), keys.KEY_SIZE)]
        decryptor = Decryptor(layer_keys, piece.part_number, piece.size)
        reader = _PieceReader(self.blobs, piece, decryptor, request_id)
        step = READ_BATCH * SEGMENT_SIZE
        first_batch = lo - lo % step
        batches = [(a, min(a + step, hi)) for a in range(first_batch, hi, step)]
        nxt: asyncio.Future[bytes] | None = None
        if piece.inline is not None:  # at most 64 KiB, in memory: decrypting is cheaper than a thread hop
            yield reader.plaintext(lo, hi)
            return
        try:
            await self._run(reader.open)
            # one batch in flight while the previous one is written to the client
            nxt = asyncio.ensure_future(self._run(reader.plaintext, max(batches[0][0], lo), batches[0][1]))
            for i in range(len(batches)):
                data = await nxt
                if i + 1 < len(batches):
                    nxt = asyncio.ensure_future(self._run(reader.plaintext, *batches[i + 1]))
                yield data
        finally:
            if nxt is not None and not nxt.done():  # the client went away: let the read finish first
                await asyncio.gather(nxt, return_exceptions=True)
            reader.close()


def _replace(piece: Piece, **changes: Any) -> Piece:
    from dataclasses import replace

    return replace(piece, **changes)


def _delete_all(blobs: BlobStore, ids: Sequence[str]) -> None:
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


class _PieceReader:
    """The blocking half of reading one piece: read ciphertext at an offset and decrypt it."""

    def __init__(self, blobs: BlobStore, piece: Piece, decryptor: Decryptor, request_id: str) -> None:
        self.blobs, self.piece, self.decryptor, self.request_id = blobs, piece, decryptor, request_id
        self.handle: Any = None

    def open(self) -> None:
        try:
            self.handle = self.blobs.open(self.piece.blob_id or "")
        except FileNotFoundError:
            log.error("request %s: blob %s is missing", self.request_id, self.piece.blob_id)
            raise internal_error() from None

    def plaintext(self, start: int, end: int) -> bytes:
        """Decrypt exactly the plaintext bytes [start, end) of the piece, authenticating each segment read."""
        first, offset, length = self.decryptor.span(start, end)
        try:
            if self.piece.inline is not None:
                blob = self.piece.inline
                header, ciphertext = blob[: header_size()], blob[offset : offset + length]
            else:
                header = self.handle.read_at(0, header_size()) if first == 0 else b""
                ciphertext = self.handle.read_at(offset, length)
            if first == 0:
                self.decryptor.check_header(header)
            return self.decryptor.decrypt_range(start, end, ciphertext)
        except IntegrityError:
            log.error(
                "request %s: ciphertext of piece %d failed authentication (blob %s): stored data is damaged",
                self.request_id,
                self.piece.part_number,
                self.piece.blob_id or "inline",
            )
            raise internal_error() from None

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


__all__ = [
    "KeyService",
    "ObjectKek",
    "RootKeyring",
    "Vault",
    "Written",
    "existing_object_kek",
    "kms_object_kek",
    "new_object_kek",
    "new_version_id",
    "piece_context",
    "random_etag",
    "reseal_piece",
    "s3_arn",
    "seal_piece_key",
    "unseal_piece_key",
]
