"""Checking a stored version without serving it (`strongroom verify`): every segment of every piece
authenticated under its sealed key, and its sizes, ETags and checksums recomputed and compared with
the catalog's record. Plaintext exists only in the buffer of the batch being hashed: it is never
kept or written.

An SSE-C version cannot be decrypted: the customer's key is never stored. What is checked of it is
what can be without the key, and it is reported as that (`STRUCTURE`), never as verified: every blob
exists, starts with the format's header and is exactly as long as whole segments of the recorded
size; the record's sizes add up, and a multipart version's ETag and COMPOSITE checksum derive from
its parts' records.

Everything here blocks (file reads, decryption): the caller runs it on its executor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from strongroom import checksums
from strongroom.blobs import BlobStore
from strongroom.catalog.model import ObjectVersion, Piece
from strongroom.crypto import (
    SEGMENT_SIZE,
    TAG_SIZE,
    Decryptor,
    IntegrityError,
    blob_header,
    ciphertext_size,
    header_size,
    keys,
    segment_count,
)
from strongroom.vault.keys import ObjectKek, piece_context, unseal_piece_key

Outcome = Literal["verified", "structure", "failed"]
VERIFIED: Outcome = "verified"  # every segment authenticated; sizes, ETags and checksums match
STRUCTURE: Outcome = "structure"  # SSE-C: blobs present and well-formed, record consistent; not decrypted
FAILED: Outcome = "failed"

CHECK_BATCH = 16  # segments read and opened at once (1 MiB of plaintext)

Read = Callable[[int, int], bytes]  # (offset, length) -> the piece's ciphertext bytes there


@dataclass(frozen=True, slots=True)
class Checked:
    outcome: Outcome
    problems: tuple[str, ...] = ()  # what failed, in words, naming the piece, the blob and the segment
    missing_blob: bool = False  # a blob was not found (the version may have been replaced meanwhile)


def check_version(blobs: BlobStore, version: ObjectVersion, kek: ObjectKek | None) -> Checked:
    """Check `version` against its blobs; `kek` None: an SSE-C version, checked for structure only."""
    problems: list[str] = []
    missing = False
    total = sum(p.size for p in version.pieces)
    if total != version.size:
        problems.append(f"the pieces hold {total} bytes, the record says {version.size}")
    etags = [p.etag for p in version.pieces]
    multipart = "-" in version.etag  # S3's form of a multipart ETag, even of one part
    expected_etag = checksums.multipart_etag(etags) if multipart else etags[0]
    if version.etag != expected_etag:
        problems.append(f"the ETag {version.etag} is not {expected_etag}, derived from its parts")
    whole = {}
    if version.checksum_type == "FULL_OBJECT" and kek is not None:
        whole = {alg: checksums.new(alg) for alg in version.checksums}
    for piece in version.pieces:
        found, piece_problems = _check_piece(blobs, version, piece, kek, whole)
        missing = missing or not found
        problems.extend(piece_problems)
    if not problems:
        problems.extend(_whole_checksums(version, whole))
    if problems:
        return Checked(FAILED, tuple(problems), missing)
    return Checked(VERIFIED if kek is not None else STRUCTURE)


def _whole_checksums(version: ObjectVersion, whole: dict[str, checksums.Hasher]) -> list[str]:
    """A COMPOSITE checksum derives from the parts' (each checked against its content); a FULL_OBJECT
    one is the checksum of the whole content (`whole`: empty when the content could not be read)."""
    problems = []
    for alg, value in version.checksums.items():
        if version.checksum_type == "COMPOSITE":
            parts = [p.checksums.get(alg) for p in version.pieces]
            derived = checksums.composite(alg, [v for v in parts if v is not None])
            if None in parts or value != derived:
                problems.append(f"the {alg} checksum {value} does not derive from its parts' checksums")
        elif alg in whole and whole[alg].b64digest() != value:
            problems.append(f"the {alg} checksum of the content is {whole[alg].b64digest()}, not {value}")
    return problems


def _check_piece(
    blobs: BlobStore, version: ObjectVersion, piece: Piece, kek: ObjectKek | None,
    whole: dict[str, checksums.Hasher],
) -> tuple[bool, list[str]]:
    """(blob found, problems) of one piece."""
    where = f"part {piece.part_number}" if len(version.pieces) > 1 else "the object"
    name = f"blob {piece.blob_id}" if piece.blob_id else "the inline ciphertext"
    layers = kek.layers if kek is not None else 1
    expected = ciphertext_size(piece.size, layers)
    reader = None
    if piece.inline is not None:
        inline = piece.inline
        size = len(inline)

        def read(offset: int, length: int) -> bytes:
            return inline[offset : offset + length]
    else:
        try:
            reader = blobs.open(piece.blob_id or "")
        except (FileNotFoundError, ValueError):
            return False, [f"{where}: {name} is missing"]
        size = reader.size()
        read = reader.read_at
    try:
        if size != expected:
            return True, [f"{where}: {name} is {size} bytes, {expected} expected for {piece.size} bytes of "
                          f"content (truncated or extended)"]
        if read(0, header_size()) != blob_header(layers):
            return True, [f"{where}: {name} does not start with the blob header of {layers} layer(s)"]
        if kek is None:
            return True, []
        return True, _authenticate(version, piece, kek, read, where, name, whole)
    finally:
        if reader is not None:
            reader.close()


def _authenticate(
    version: ObjectVersion, piece: Piece, kek: ObjectKek, read: Read, where: str, name: str,
    whole: dict[str, checksums.Hasher],
) -> list[str]:
    context = piece_context(version.bucket, version.key, version.version_id, piece.part_number)
    try:
        material = unseal_piece_key(kek, piece.sealed_key, context)
        layer_keys = [material[i : i + keys.KEY_SIZE] for i in range(0, len(material), keys.KEY_SIZE)]
        decryptor = Decryptor(layer_keys, piece.part_number, piece.size)
    except (IntegrityError, ValueError):  # ValueError: a sealed key of the wrong size or shape
        return [f"{where}: its key does not unseal under the object's key (a damaged catalog record)"]
    md5 = hashlib.md5(usedforsecurity=False) if version.sealing.algorithm == "AES256" else None
    hashers = {alg: checksums.new(alg) for alg in piece.checksums}
    segments = segment_count(piece.size)
    step = SEGMENT_SIZE + TAG_SIZE * len(layer_keys)
    end = ciphertext_size(piece.size, len(layer_keys))
    for first in range(0, segments, CHECK_BATCH):
        offset = header_size() + first * step
        ciphertext = read(offset, min(offset + CHECK_BATCH * step, end) - offset)
        try:
            plaintext = decryptor.decrypt(first, ciphertext)
        except IntegrityError as e:
            return [f"{where}: {name}: {e}"]
        for h in (md5, *hashers.values(), *whole.values()):
            if h is not None:
                h.update(plaintext)
    problems = []
    if md5 is not None and md5.hexdigest() != piece.etag:
        problems.append(f"{where}: the MD5 of the content is {md5.hexdigest()}, its ETag {piece.etag}")
    for alg, h in hashers.items():
        if h.b64digest() != piece.checksums[alg]:
            problems.append(f"{where}: the {alg} checksum of the content is {h.b64digest()}, "
                            f"not {piece.checksums[alg]}")
    return problems
