"""`strongroom root-key rotate`: re-seal every key sealed under the root key, without rewriting data.

What the root key seals: SSE-S3 object keys (pieces of objects and of in-progress uploads), access
key secrets, the built-in KMS's key material, and the catalog's sealed metadata (the private fields
of every version, upload and part: catalog/sealer.py). Rotation is safe to interrupt and re-run: the key
file first gets the new key in front of the old one (new writes seal under the new key, old seals
still open), then everything still sealed under an old key is re-sealed, and only then are the old
keys dropped from the file. A re-run
finds more than one key in the file and finishes the job.

Every server must be stopped: a running server reads the key file once, at start. The rotation
registers in the catalog's registry of live processes (servers.py) and refuses while any server is
registered alive, naming them; a server does not start while the rotation is registered.

A key that does not unseal under the old root key (a damaged catalog record) stops the rotation at
the first one, naming it; with `--skip-damaged` such records are left as they are (they were already
unreadable), counted and named, and the rotation finishes.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import sys
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

from strongroom.catalog import MetadataSealer, open_catalog
from strongroom.catalog.api import Catalog
from strongroom.catalog.model import AccessKey, ObjectVersion, Part, Piece, Upload
from strongroom.catalog.sealer import SealedFieldError
from strongroom.config import ROOT_KEY_ENV, Config, default_root_key_file, read_key_file, write_key_file
from strongroom.crypto import IntegrityError
from strongroom.deployment import check_identity, check_rotation, record_root_keys
from strongroom.kms.sealing import KmsKeyring, reseal_materials
from strongroom.kms.store import open_kms_store
from strongroom.servers import RotationLock
from strongroom.vault import ObjectKek, RootKeyring, piece_context, reseal_piece, root_rotation

T = TypeVar("T")


def _all_versions(catalog: Catalog) -> Iterator[ObjectVersion]:
    """Every stored version, noncurrent ones included (delete markers have no key to re-seal)."""
    for bucket in catalog.list_buckets():
        key_marker, version_marker = "", None
        while True:
            page = catalog.list_versions(bucket.name, key_marker=key_marker, version_id_marker=version_marker)
            for listed in page.versions:  # a listing holds summaries: the sealing needs the whole record
                if listed.delete_marker:
                    continue
                version = catalog.get_version(bucket.name, listed.summary.key, listed.version_id)
                if version is not None:  # deleted since
                    yield version
            if not page.is_truncated or page.next_key_marker is None:
                break
            key_marker, version_marker = page.next_key_marker, page.next_version_id_marker


def _all_uploads(catalog: Catalog) -> Iterator[Upload]:
    for bucket in catalog.list_buckets():
        key_marker = upload_marker = ""
        while True:
            page = catalog.list_uploads(bucket.name, key_marker=key_marker, upload_id_marker=upload_marker)
            yield from page.uploads
            if not page.is_truncated:
                break
            key_marker, upload_marker = page.next_key_marker or "", page.next_upload_id_marker or ""


class Damaged(Exception):
    """A sealed key that does not unseal under the root key it names: `what` says whose."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def _unsealed(what: str, fn: Callable[[], T], skipped: list[str] | None) -> T | None:
    """`fn()`; a key that does not unseal is Damaged, or (with `skipped`) recorded there and None."""
    try:
        return fn()
    except (IntegrityError, ValueError):  # ValueError: a sealed key of the wrong size or shape
        if skipped is None:
            raise Damaged(what) from None
        skipped.append(what)
        return None


def _resealed(
    pieces: Sequence[Piece], old: ObjectKek, new: ObjectKek, bucket: str, key: str, version_id: str
) -> tuple[Piece, ...]:
    return tuple(
        reseal_piece(p, old, new, piece_context(bucket, key, version_id, p.part_number)) for p in pieces
    )


def reseal_all(catalog: Catalog, keyring: RootKeyring, skipped: list[str] | None = None) -> dict[str, int]:
    """Re-seal everything sealed under a root key other than the current one. Idempotent. A key that
    does not unseal raises Damaged, or, given a `skipped` list, is named there and left as it is."""
    counts = {"objects": 0, "uploads": 0, "access keys": 0, "metadata rows": catalog.reseal_metadata()}
    for version in list(_all_versions(catalog)):
        rotation = root_rotation(keyring, version.sealing)
        if rotation is None:
            continue
        old, new = rotation

        pieces = _unsealed(
            f"object {version.bucket}/{version.key}",
            partial(_resealed, version.pieces, old, new, version.bucket, version.key, version.version_id),
            skipped,
        )
        if pieces is None:
            continue
        catalog.rekey_version(dataclasses.replace(version, sealing=new.sealing, pieces=pieces))
        counts["objects"] += 1
    for upload in list(_all_uploads(catalog)):
        rotation = root_rotation(keyring, upload.sealing)
        if rotation is None:
            continue
        old, new = rotation

        parts = catalog.all_parts(upload.upload_id)
        pieces = _unsealed(
            f"upload {upload.upload_id} of {upload.bucket}/{upload.key}",
            partial(
                _resealed, [p.piece for p in parts], old, new, upload.bucket, upload.key, upload.upload_id
            ),
            skipped,
        )
        if pieces is None:
            continue
        for part, piece in zip(parts, pieces, strict=True):
            catalog.put_part(Part(part.upload_id, piece, part.last_modified))
        catalog.replace_upload_sealing(upload.upload_id, new.sealing)
        counts["uploads"] += 1
    for key in catalog.list_access_keys():
        if keyring.sealed_under_current(key.sealed_secret):
            continue
        secret = _unsealed(
            f"access key {key.access_key}",
            partial(keyring.unseal_secret, key.sealed_secret, key.access_key),
            skipped,
        )
        if secret is None:
            continue
        resealed = AccessKey(
            key.access_key,
            key.user_name,
            keyring.seal_secret(secret, key.access_key),
            key.created,
            key.active,
        )
        catalog.replace_access_key_secret(resealed.access_key, resealed.sealed_secret)
        counts["access keys"] += 1
    return counts


def rotate_root_key(config: Config, key_file: Path | None, skip_damaged: bool = False) -> int:
    if os.environ.get(ROOT_KEY_ENV):
        print(
            f"strongroom: the root key comes from {ROOT_KEY_ENV}; rotation needs a key file "
            "(--root-key-file), whose lines hold the current key and, during a rotation, the old ones",
            file=sys.stderr,
        )
        return 2
    path = key_file or (
        Path(config.root_key_source) if config.root_key_source else default_root_key_file(config.data_dir)
    )
    keys = read_key_file(path)
    registry = open_catalog(config, MetadataSealer.of(keys))
    try:
        check_identity(registry, config, serving=False)
        lock = RotationLock(registry)
        lock.acquire()  # refuses while a server runs; no server starts until it is released
    except SystemExit as e:
        registry.close()
        print(e.code, file=sys.stderr)
        return 2
    try:
        return _rotate(config, path, keys, skip_damaged)
    finally:
        lock.release()
        registry.close()


def _rotate(config: Config, path: Path, keys: tuple[bytes, ...], skip_damaged: bool) -> int:
    catalog = open_catalog(config, MetadataSealer.of(keys))
    try:
        check_rotation(catalog, keys)
        if len(keys) == 1:
            keys = (secrets.token_bytes(32), *keys)
            write_key_file(path, keys)  # from here on, an interruption is finished by running rotate again
            print(f"new root key written to {path}; re-sealing ...")
        else:
            print(f"{path} holds {len(keys)} keys: finishing an interrupted rotation ...")
        # Recorded before anything is sealed under the new key (deployment.py); until then a server
        # refuses to start on the half-rotated file.
        record_root_keys(catalog, keys)
    finally:
        catalog.close()
    catalog = open_catalog(config, MetadataSealer.of(keys))  # the new key seals, the old one unseals
    skipped: list[str] | None = [] if skip_damaged else None
    try:
        counts = reseal_all(catalog, RootKeyring(keys), skipped)
    except Damaged as e:
        print(
            f"strongroom: the sealed key of {e.what} does not unseal under the root key it names "
            "(a damaged catalog record; it cannot be read under any key). Rotation stopped: the key "
            "file keeps both keys and everything else stays readable. Run `strongroom root-key rotate "
            "--skip-damaged` to leave damaged records as they are and finish.",
            file=sys.stderr,
        )
        return 1
    except SealedFieldError as e:
        print(f"strongroom: {e}; nothing is lost: fix the key file and run `strongroom root-key rotate` "
              "again", file=sys.stderr)
        return 1
    finally:
        catalog.close()
    # The built-in KMS's key material is sealed under the root key too: without this, every
    # SSE-KMS object would become unreadable once the old root key is dropped below.
    store = open_kms_store(config)
    try:
        counts["KMS key materials"] = reseal_materials(store, KmsKeyring(keys))
    finally:
        store.close()
    catalog = open_catalog(config, MetadataSealer.of(keys[:1]))
    try:
        record_root_keys(catalog, keys[:1])  # nothing is sealed under the old key any more
    finally:
        catalog.close()
    write_key_file(path, keys[:1])
    print(
        "re-sealed " + ", ".join(f"{n} {what}" for what, n in counts.items()) + "; the old root key is gone"
    )
    if skipped:
        print(f"skipped {len(skipped)} damaged record(s) whose key did not unseal (left as they were):")
        for what in skipped:
            print(f"  {what}")
    return 0
