"""Reading a version: the plaintext of a byte range, decrypting only the segments it covers.

Ciphertext is read and decrypted on the executor, READ_BATCH segments at a time, one batch in
flight while the previous one is written to the client; an inline piece (at most 64 KiB, in the
record) is decrypted on the loop, which is cheaper than a thread hop. A piece that fails
authentication is logged and answered as InternalError: never wrong data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from strongroom.blobs import BlobStore
from strongroom.catalog.model import ObjectVersion, Piece
from strongroom.crypto import SEGMENT_SIZE, Decryptor, IntegrityError, header_size, keys
from strongroom.errors import internal_error
from strongroom.vault.keys import ObjectKek, piece_context, unseal_piece_key
from strongroom.vault.write import Run

log = logging.getLogger("strongroom.vault")

READ_BATCH = 16  # segments decrypted per executor hop on reads (1 MiB)


async def read_version(
    run: Run,
    blobs: BlobStore,
    version: ObjectVersion,
    kek: ObjectKek,
    start: int,
    end: int,
    request_id: str = "",
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
        async for data in _read_piece(run, blobs, piece, kek, context, lo, hi, request_id):
            yield data


async def _read_piece(
    run: Run,
    blobs: BlobStore,
    piece: Piece,
    kek: ObjectKek,
    context: bytes,
    lo: int,
    hi: int,
    request_id: str,
) -> AsyncIterator[bytes]:
    try:
        material = unseal_piece_key(kek, piece.sealed_key, context)
    except IntegrityError:
        log.error("request %s: the object key of a piece did not unseal (tampered metadata?)", request_id)
        raise internal_error() from None
    layer_keys = [material[i : i + keys.KEY_SIZE] for i in range(0, len(material), keys.KEY_SIZE)]
    decryptor = Decryptor(layer_keys, piece.part_number, piece.size)
    reader = _PieceReader(blobs, piece, decryptor, request_id)
    step = READ_BATCH * SEGMENT_SIZE
    first_batch = lo - lo % step
    batches = [(a, min(a + step, hi)) for a in range(first_batch, hi, step)]
    nxt: asyncio.Future[bytes] | None = None
    if piece.inline is not None:  # at most 64 KiB, in memory: decrypting is cheaper than a thread hop
        yield reader.plaintext(lo, hi)
        return
    try:
        await run(reader.open)
        # one batch in flight while the previous one is written to the client
        nxt = asyncio.ensure_future(run(reader.plaintext, max(batches[0][0], lo), batches[0][1]))
        for i in range(len(batches)):
            data = await nxt
            if i + 1 < len(batches):
                nxt = asyncio.ensure_future(run(reader.plaintext, *batches[i + 1]))
            yield data
    finally:
        if nxt is not None and not nxt.done():  # the client went away: let the read finish first
            await asyncio.gather(nxt, return_exceptions=True)
        reader.close()


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
