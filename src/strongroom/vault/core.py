"""The vault's state and the one write sequence every lifecycle operation uses.

A write is always the same sequence: choose the KEK (a new one, checking kms:GenerateDataKey once
its key ARN is known, before anything is stored), record its blob pending in the catalog (only a
blob-backed piece: an inline one costs no catalog call), write the piece (blob durable), own it
(any failure before the commit deletes it and its record), commit it to the catalog (conditional
writes fail as S3 fails them). The commit records the blobs of what it replaced as garbage, in its
own transaction: the sweep (vault/sweep.py) deletes them after the grace period, so a reader that
looked up the old version still finds its blob.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from strongroom.blobs import BlobRemoved, BlobStore, StorageFull
from strongroom.catalog.api import BlobExpired, Catalog, CatalogConflict, NeedsTransaction, NoSuchBucketError
from strongroom.catalog.model import ObjectVersion, Piece
from strongroom.db.database import DatabaseBusy, OneStatement
from strongroom.errors import S3Error, no_such_bucket, no_such_key, precondition_failed, storage_full
from strongroom.kms.service import KeyService
from strongroom.object_lock import Lock
from strongroom.vault.keyring import RootKeyring
from strongroom.vault.keys import (
    Encryption,
    KmsCheck,
    ObjectKek,
    check_kms,
    new_object_kek,
    piece_context,
)
from strongroom.vault.write import INLINE_MAX, Written, delete_all, write_piece

log = logging.getLogger("strongroom.vault")
T = TypeVar("T")


class CatalogCalls(Protocol):
    """How the server runs catalog calls (s3's Services): point reads inline on SQLite, the rest off
    the event loop. The vault names the kind of each call, as the handlers do."""

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...
    async def point(self, read: OneStatement[T]) -> T: ...
    async def single_write(self, statement: OneStatement[T]) -> T: ...
    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...


def write_expired() -> S3Error:
    """A write outlived the sweep's grace period (--sweep-grace) before its commit: its blob was given up
    as the leftover of a dead write. Nothing was stored; the client may retry. S3's RequestTimeout is
    what a client sees for a request that took too long, and retries."""
    return S3Error(
        "RequestTimeout",
        400,
        "The upload took longer than the server's grace period for unfinished writes; nothing was "
        "stored. Retry the request.",
    )


def _url_safe_id(nbytes: int) -> str:
    """`nbytes` random bytes as URL-safe base64, never starting with "-": a command line would read such an
    id as an option (`aws s3api complete-multipart-upload --upload-id -Ep...` fails: "expected one
    argument"). Drawing again keeps every other id equally likely."""
    while True:
        made = secrets.token_urlsafe(nbytes)
        if not made.startswith("-"):
            return made


def new_version_id() -> str:
    return _url_safe_id(24)


def new_upload_id() -> str:
    """Unguessable: the id is all a client needs to add parts to, complete or abort an upload."""
    return _url_safe_id(48)


@dataclass(frozen=True, slots=True)
class NewObject:
    """Where a new object goes, who owns it, and its own metadata (from the request or a copy source)."""

    bucket: str
    key: str
    owner_id: str
    content_type: str = "binary/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    versioned: bool = False  # the bucket's versioning is Enabled: a new version, not the `null` one
    lock: Lock | None = None  # its Object Lock (the request's, or the bucket's default retention)


@dataclass(frozen=True, slots=True)
class Conditions:
    """A conditional write: If-None-Match: * and/or If-Match with an (unquoted) ETag."""

    if_none_match: bool = False
    if_match: str | None = None


UNCONDITIONAL = Conditions()


@dataclass(slots=True)
class Claim:
    """A request's hold on the pieces it wrote (`VaultCore._owned`): whether their commit has started."""

    committing: bool = False


def in_doubt(error: BaseException) -> bool:
    """Whether a commit that failed with `error` may have landed all the same: interrupted (a request
    cancelled at shutdown: a commit on a database thread runs on; one on the event loop is cancelled in
    PostgreSQL, perhaps too late) or cut off from the database mid-statement. Only a refusal is certain:
    the catalog's (a condition, a missing bucket, an expired blob) or no connection to run it on."""
    return not isinstance(error, (S3Error, CatalogConflict, NoSuchBucketError, BlobExpired, DatabaseBusy))


class PartsChanged(Exception):
    """Complete lost a race: a listed part was replaced while the upload completed (S3's InvalidPart)."""


class VaultCore:
    """What every lifecycle sequence uses: the stores, the keys, and the one write sequence."""

    def __init__(
        self,
        catalog: Catalog,
        calls: CatalogCalls,
        blobs: BlobStore,
        keyring: RootKeyring,
        kms: KeyService | None,
        executor: Executor,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.catalog, self.calls, self.blobs = catalog, calls, blobs
        self.keyring, self.kms, self.executor = keyring, kms, executor
        self.clock = clock  # the dates of writes: the catalog's time (clock.py), one clock for every server

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A blocking call on the executor."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # --- the write sequence ----------------------------------------------------------------------

    async def _new_kek(self, encryption: Encryption, bucket: str, key: str, kms_check: KmsCheck) -> ObjectKek:
        kek = await new_object_kek(self.keyring, self.kms, encryption, bucket, key)
        if encryption.kms:
            # As on AWS, SSE-KMS writes need kms:GenerateDataKey on the key; checked once the key id is
            # resolved to its ARN, before anything is stored.
            await check_kms(kms_check, "kms:GenerateDataKey", kek.sealing)
        return kek

    async def _write(
        self,
        body: AsyncIterator[bytes],
        kek: ObjectKek,
        bucket: str,
        key: str,
        version_id: str,
        part_number: int,
        *,
        md5: bool,
        checksums: Sequence[str],
        size_hint: int | None,
    ) -> Written:
        await self._check_space(size_hint)
        reserved: list[str] = []

        async def reserve(blob_id: str) -> None:
            await self.calls.write(self.catalog.record_pending, blob_id)
            reserved.append(blob_id)

        try:
            # SSE-S3 pieces have the MD5 of their body as ETag; the others a random one.
            return await write_piece(
                self.run,
                self.blobs,
                body,
                kek,
                piece_context(bucket, key, version_id, part_number),
                part_number,
                md5=md5 or kek.sealing.algorithm == "AES256",
                checksums=checksums,
                size_hint=size_hint,
                reserve=reserve,
            )
        except BaseException as e:
            if reserved:  # write_piece removed the file
                await self._forget(reserved)
            if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise storage_full() from None  # the reserve was not enough (concurrent writes)
            if isinstance(e, BlobRemoved):
                raise write_expired() from None
            raise

    async def _check_space(self, size_hint: int | None) -> None:
        """New data is refused before any byte of it is written when it would eat into the free-space
        reserve (--min-free-space). Small bodies are checked too: they grow the catalog, whose writes
        for deletes must still fit (statvfs is ~1 us: inline for them, on the executor for the rest,
        which may be on a network filesystem)."""
        incoming = size_hint or 0
        try:
            if incoming <= INLINE_MAX:
                self.blobs.check_space(incoming)
            else:
                await self.run(self.blobs.check_space, incoming)
        except StorageFull:  # the request's 503 is logged (s3/dispatch): no second line here
            raise storage_full() from None

    async def discard(self, pieces: Sequence[Piece]) -> None:
        """Best effort: delete the blobs of pieces a failed write made and never committed, then their
        pending records. A failure (EIO, EROFS, an NFS ESTALE, a cancellation at shutdown) never changes
        the request's outcome: what is left behind is still recorded pending, and the sweep removes it
        after the grace period. (Blobs that were committed are never deleted here: the commit that
        replaces or drops them records them as garbage.)"""
        ids = [p.blob_id for p in pieces if p.blob_id]
        if not ids:
            return
        try:
            await asyncio.shield(self.run(delete_all, self.blobs, ids))
        except Exception as e:  # noqa: BLE001 - logged; the sweep finishes the job
            # A warning, without a traceback: nothing is wrong with the request, only a file is left over.
            log.warning("could not delete %d blob(s) of a failed write (%s); the sweep will", len(ids), e)
            return
        except asyncio.CancelledError:
            log.warning("cancelled while deleting the blobs of a failed write; the sweep will")
            raise
        await self._forget(ids)

    async def _forget(self, ids: list[str]) -> None:
        """The pending records of blobs a failed write has deleted (best effort: the sweep finds them)."""
        try:
            await asyncio.shield(self.calls.write(self.catalog.forget_pending, ids))
        except Exception as e:  # noqa: BLE001 - logged; the sweep finishes the job
            log.warning("could not forget %d pending blob record(s) (%s); the sweep will", len(ids), e)

    @contextlib.asynccontextmanager
    async def _owned(self, pieces: Sequence[Piece]) -> AsyncIterator[Claim]:
        """Freshly written pieces belong to the request until the commit lands: on failure, delete them.
        Only what the block does before its commit may fail it: the commit (`_commit(..., claim)`) is its
        last step. A commit that failed in doubt (`in_doubt`) may have landed: its pieces are left to
        the sweep, which removes them only if they are still pending after the grace period."""
        claim = Claim()
        try:
            yield claim
        except BaseException as e:
            if claim.committing and in_doubt(e):
                log.warning("a commit was cut short (%s): its blob is left to the sweep", type(e).__name__)
                raise
            await self.discard(pieces)
            raise

    async def _put_version(self, version: ObjectVersion, conditions: Conditions, acl: str | None,
                           lock: Lock | None) -> ObjectVersion | None:
        """catalog.put_object: as one statement on the event loop where the catalog can run it as one
        (PostgreSQL, most PUTs), else as a call on the database threads."""
        options: dict[str, Any] = {"if_none_match": conditions.if_none_match, "if_match": conditions.if_match,
                                   "acl": acl, "lock": lock}
        statement = self.catalog.put_statement(version, **options)
        if statement is not None:
            try:
                return await self.calls.single_write(statement)
            except NeedsTransaction:
                pass  # put_object decides it in a transaction of its own
        replaced: ObjectVersion | None = await self.calls.write(self.catalog.put_object, version, **options)
        return replaced

    async def _commit(self, version: ObjectVersion, conditions: Conditions, acl: str | None,
                      lock: Lock | None, claim: Claim) -> ObjectVersion | None:
        """Make a written version current, with its ACL and its Object Lock, in one transaction
        (conditional writes fail as S3 fails them); the blobs of the version it replaced become garbage in
        the same transaction. Returns the version it replaced."""
        claim.committing = True
        try:
            replaced = await self._put_version(version, conditions, acl, lock)
        except CatalogConflict:
            if conditions.if_none_match:
                raise precondition_failed("If-None-Match") from None
            current = await self.calls.point(self.catalog.object_read(version.bucket, version.key))
            if current is None:
                raise no_such_key(version.key) from None
            raise precondition_failed("If-Match") from None
        except NoSuchBucketError:
            raise no_such_bucket(version.bucket) from None
        except BlobExpired:
            raise write_expired() from None
        return replaced
