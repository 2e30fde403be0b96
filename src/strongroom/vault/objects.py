"""Objects: put, copy, open, delete and reseal (`Vault` combines these with `uploads`).

PutObject and POST Object use `put`, CopyObject `copy`, GetObject, HeadObject and the copy
sources `open`, DeleteObject(s) `delete`, UpdateObjectEncryption `reseal`. Lower layers know
nothing of HTTP; errors the client must see are S3Errors.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from strongroom.blobs import BlobStore
from strongroom.catalog.api import CatalogConflict, NoCurrentVersion, NoSuchBucketError
from strongroom.catalog.model import ObjectVersion, Piece, Sealing
from strongroom.crypto import IntegrityError
from strongroom.errors import (
    internal_error,
    invalid_request,
    no_such_bucket,
    no_such_key,
    precondition_failed,
)
from strongroom.vault.core import UNCONDITIONAL, Conditions, NewObject, VaultCore, new_version_id
from strongroom.vault.keys import (
    Encryption,
    KmsCheck,
    ObjectKek,
    check_kms,
    existing_object_kek,
    kms_object_kek,
    kms_unavailable,
    piece_context,
    reseal_piece,
    sse_c_kek,
)
from strongroom.vault.read import read_version
from strongroom.vault.write import Run, Written

log = logging.getLogger("strongroom.vault")
_MARKER_SEALING = Sealing("AES256")  # a delete marker has no data; its record needs a sealing all the same


@dataclass(frozen=True, slots=True)
class Opened:
    """A stored version with the KEK that opens it: `read` yields plaintext ranges."""

    version: ObjectVersion
    kek: ObjectKek = field(repr=False)
    run: Run = field(repr=False)
    blobs: BlobStore = field(repr=False)

    def read(self, start: int, end: int, request_id: str = "") -> AsyncIterator[bytes]:
        """The plaintext bytes [start, end), decrypting only the segments they need."""
        return read_version(self.run, self.blobs, self.version, self.kek, start, end, request_id)


class ObjectLifecycle(VaultCore):
    async def put(
        self,
        target: NewObject,
        body: AsyncIterator[bytes],
        encryption: Encryption,
        *,
        kms_check: KmsCheck,
        size_hint: int | None,
        md5: bool = False,
        checksums: Sequence[str] = (),
        verify: Callable[[Written], None] | None = None,
        conditions: Conditions = UNCONDITIONAL,
        acl: str | None = None,
    ) -> ObjectVersion:
        """Store a new object from a body (PutObject, POST Object). `verify` checks the written piece
        (Content-MD5, checksums) before it is committed; `md5`: the caller needs `Written.md5_hex`."""
        kek = await self._new_kek(encryption, target.bucket, target.key, kms_check)
        version_id = new_version_id()
        written = await self._write(
            body,
            kek,
            target.bucket,
            target.key,
            version_id,
            1,
            md5=md5,
            checksums=checksums,
            size_hint=size_hint,
        )
        async with self._owned([written.piece]) as claim:
            if verify is not None:
                verify(written)
            version = self._new_version(target, version_id, kek, written, written.checksums)
            await self._commit(version, conditions, acl, target.lock, claim)
        return version

    async def copy(
        self,
        source: Opened,
        target: NewObject,
        encryption: Encryption,
        *,
        kms_check: KmsCheck,
        request_id: str = "",
        acl: str | None = None,
        conditions: Conditions = UNCONDITIONAL,
    ) -> ObjectVersion:
        """A new object from a whole stored one (CopyObject), re-encrypted under its own new key;
        `conditions` hold against the target key's current version, checked at the commit."""
        kek = await self._new_kek(encryption, target.bucket, target.key, kms_check)
        version_id = new_version_id()
        size = source.version.size
        algorithms = tuple(source.version.checksums) if source.version.checksum_type == "FULL_OBJECT" else ()
        written = await self._write(
            source.read(0, size, request_id),
            kek,
            target.bucket,
            target.key,
            version_id,
            1,
            md5=False,
            checksums=algorithms,
            size_hint=size,
        )
        version = self._new_version(target, version_id, kek, written, written.checksums)
        async with self._owned([written.piece]) as claim:
            await self._commit(version, conditions, acl, target.lock, claim)
        return version

    def _new_version(
        self,
        target: NewObject, version_id: str, kek: ObjectKek, written: Written, checksums: dict[str, str]
    ) -> ObjectVersion:
        return ObjectVersion(
            bucket=target.bucket,
            key=target.key,
            version_id=version_id,
            size=written.piece.size,
            etag=written.piece.etag,
            last_modified=self.clock(),
            owner_id=target.owner_id,
            sealing=kek.sealing,
            pieces=(written.piece,),
            content_type=target.content_type,
            headers=target.headers,
            metadata=target.metadata,
            tags=target.tags,
            checksums=checksums,
            checksum_type="FULL_OBJECT" if checksums else None,
            null_version=not target.versioned,
        )

    async def open(
        self, version: ObjectVersion, customer_key: bytes | None, *, kms_check: KmsCheck
    ) -> Opened:
        """A stored version, ready to read: SSE-KMS needs kms:Decrypt, SSE-C the customer's key (and only
        SSE-C takes one); a wrong customer key is 403."""
        await check_kms(kms_check, "kms:Decrypt", version.sealing)
        if version.sealing.algorithm == "SSE-C":
            if customer_key is None:
                raise invalid_request(
                    "The object was stored using a form of Server Side Encryption. "
                    "The correct parameters must be provided to retrieve the object."
                )
        elif customer_key is not None:
            raise invalid_request("The encryption parameters are not applicable to this object.")
        kek = await existing_object_kek(self.keyring, self.kms, version.sealing, customer_key)
        return Opened(version, kek, self.run, self.blobs)

    def check_customer_key(self, version: ObjectVersion, customer_key: bytes) -> None:
        """An SSE-C version's key, checked without reading anything (GetObjectAttributes): a wrong one
        is 403, as on a read."""
        sse_c_kek(customer_key, version.sealing)

    async def delete(self, bucket: str, key: str, *, versioning: str | None = None, owner_id: str = "",
                     if_match: str | None = None) -> ObjectVersion | None:
        """DeleteObject without a version id, by the bucket's versioning status. Unversioned (None): the
        key's current version is removed (nothing if there is none). Enabled or Suspended: a delete marker
        owned by `owner_id` becomes the key's newest version, and is returned; a Suspended bucket's marker
        is the `null` version and replaces it. The blobs of a version removed become garbage.
        if_match (a conditional delete: an unquoted ETag or "*"): 404 NoSuchKey when there is no current
        version, 412 PreconditionFailed when its ETag differs, checked in the deleting transaction."""
        marker = None
        if versioning is not None:
            marker = ObjectVersion(bucket, key, new_version_id(), 0, "", self.clock(), owner_id,
                                   _MARKER_SEALING, (), null_version=versioning != "Enabled",
                                   delete_marker=True)
        try:
            await self.calls.write(self.catalog.delete_object, bucket, key, marker, if_match=if_match)
        except NoSuchBucketError:
            raise no_such_bucket(bucket) from None
        except NoCurrentVersion:
            raise no_such_key(key) from None
        except CatalogConflict:
            raise precondition_failed("If-Match") from None
        return marker

    async def delete_version(self, bucket: str, key: str, version_id: str, *, bypass_governance: bool = False
                             ) -> ObjectVersion | None:
        """Remove one version (S3's id: "null" for the null version) or delete marker for good; its
        blobs become garbage, and the newest version left becomes current. The one way a version named
        by its id is destroyed (DeleteObject and DeleteObjects with a version id): what protects a
        version from it (Object Lock) is checked here, by the catalog in the transaction that removes it
        (AccessDenied; `bypass_governance`: the request said so and may). None when there is no such
        version."""
        removed: ObjectVersion | None = await self.calls.write(
            self.catalog.delete_version, bucket, key, version_id, bypass_governance=bypass_governance)
        return removed

    async def reseal(
        self, version: ObjectVersion, key_arn: str, bucket_key: bool, *, kms_check: KmsCheck
    ) -> bool:
        """The same version, its piece keys sealed under a new SSE-KMS KEK (UpdateObjectEncryption): no
        blob is read or written. As for a read and a write: kms:Decrypt on the old key (an SSE-KMS
        object) and kms:GenerateDataKey on the new one, checked before anything changes. False when the
        version was replaced or removed meanwhile."""
        await check_kms(kms_check, "kms:Decrypt", version.sealing)
        old = await existing_object_kek(self.keyring, self.kms, version.sealing, None)
        if self.kms is None:
            raise kms_unavailable()
        new = await kms_object_kek(
            self.kms,
            Encryption("aws:kms", key_arn, bucket_key, version.sealing.context),
            version.bucket,
            version.key,
        )
        await check_kms(kms_check, "kms:GenerateDataKey", new.sealing)

        def reseal_all() -> ObjectVersion:
            pieces = tuple(
                _reseal(
                    p, old, new, piece_context(version.bucket, version.key, version.version_id, p.part_number)
                )
                for p in version.pieces
            )
            return dataclasses.replace(version, sealing=new.sealing, pieces=pieces)

        updated = await self.run(reseal_all)
        return bool(await self.calls.write(self.catalog.rekey_version, updated))


def _reseal(piece: Piece, old: ObjectKek, new: ObjectKek, context: bytes) -> Piece:
    try:
        return reseal_piece(piece, old, new, context)
    except IntegrityError:
        log.error("a sealed object key did not unseal")
        raise internal_error() from None
