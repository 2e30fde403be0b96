"""Filling strongroom's catalog with many real objects quickly, for the listing rows.

Through the API a million PUTs would take longer than the whole benchmark, so the
listing buckets are filled through the catalog's own bulk path,
`SqliteCatalog.bulk_put_objects(versions)`, while the server is stopped. Every
object written is a real one, built exactly as the vault builds a small SSE-S3
object kept inline: its own random object key, its body sealed with the segmented
AES-256-GCM stream (`Encryptor`), the object key sealed under the root key's SSE-S3
KEK and bound to (bucket, key, version id, part 1), the MD5 ETag of the body. The
server can GET every one of them (`verify` checks a few after the restart).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

from strongroom.catalog.model import ObjectVersion, Piece
from strongroom.catalog.sealer import MetadataSealer
from strongroom.catalog.sqlite import SqliteCatalog
from strongroom.config import read_key_file
from strongroom.crypto import Encryptor, keys
from strongroom.vault import RootKeyring, new_version_id, piece_context
from strongroom.vault.keys import seal_piece_key, sse_s3_kek

BATCH = 50_000  # versions per transaction: bounded memory, few fsyncs


def object_key(i: int) -> str:
    # Keys with some shape (a date-like prefix and a counter), sorted in the order written.
    return f"logs/{i // 10_000:04d}/object-{i:07d}.txt"


def body(bucket: str, i: int) -> bytes:
    return f"strongroom benchmark object {i} of bucket {bucket}\n".encode()


def _versions(
    bucket: str, owner_id: str, keyring: RootKeyring, start: int, stop: int
) -> Iterator[ObjectVersion]:
    kek = sse_s3_kek(keyring)
    now = time.time()
    for i in range(start, stop):
        key, version_id, data = object_key(i), new_version_id(), body(bucket, i)
        object_secret = keys.random_key()
        encryptor = Encryptor([object_secret], 1)
        ciphertext = encryptor.header() + encryptor.update(data) + encryptor.finalize()
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        piece = Piece(
            part_number=1,
            size=len(data),
            etag=etag,
            sealed_key=seal_piece_key(kek, object_secret, piece_context(bucket, key, version_id, 1)),
            inline=ciphertext,
        )
        yield ObjectVersion(
            bucket=bucket,
            key=key,
            version_id=version_id,
            size=len(data),
            etag=etag,
            last_modified=now,
            owner_id=owner_id,
            sealing=kek.sealing,
            pieces=(piece,),
        )


def fill(data_dir: Path, key_file: Path, bucket: str, count: int) -> float:
    """Write `count` objects into an existing bucket of a stopped server's catalog; returns seconds taken."""
    started = time.perf_counter()
    root_keys = read_key_file(key_file)
    keyring = RootKeyring(root_keys)
    catalog = SqliteCatalog.open(data_dir / "catalog.sqlite3", MetadataSealer.of(root_keys))
    try:
        found = catalog.get_bucket(bucket)
        if found is None:
            raise RuntimeError(f"no bucket {bucket} to fill")
        for start in range(0, count, BATCH):
            catalog.bulk_put_objects(
                _versions(bucket, found.owner_id, keyring, start, min(count, start + BATCH))
            )
    finally:
        catalog.close()
    return time.perf_counter() - started
