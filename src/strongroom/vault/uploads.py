"""Multipart uploads: create, put a part, complete, abort (`Vault` combines these with `objects`).

An upload chooses its encryption once, at creation, and keeps the KEK's sealing in its record;
every part is a piece under that KEK, bound to (bucket, key, upload id, part number). The
completed object takes the upload id as its version id, so its pieces are bound exactly like a
simple PUT's without being re-sealed: Complete needs no KMS call and no SSE-C key, as on AWS.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence

from strongroom.catalog.api import BlobExpired, CatalogConflict, NoSuchBucketError
from strongroom.catalog.model import ObjectVersion, Part, Piece, Upload
from strongroom.errors import (
    S3Error,
    invalid_request,
    no_such_bucket,
    no_such_key,
    no_such_upload,
    precondition_failed,
)
from strongroom.object_lock import Lock
from strongroom.vault.core import (
    UNCONDITIONAL,
    Conditions,
    NewObject,
    PartsChanged,
    VaultCore,
    new_upload_id,
    write_expired,
)
from strongroom.vault.keys import (
    Encryption,
    KmsCheck,
    ObjectKek,
    check_kms,
    existing_object_kek,
    sse_c_kek,
)
from strongroom.vault.write import Written

log = logging.getLogger("strongroom.vault")

# Runs a catalog call as the server runs them (inline or off the loop): `await db(fn, *args, **kw)`.


class UploadLifecycle(VaultCore):
    async def create_upload(
        self,
        target: NewObject,
        encryption: Encryption,
        *,
        kms_check: KmsCheck,
        checksum_algorithm: str | None = None,
        checksum_type: str | None = None,
        acl: str | None = None,
    ) -> Upload:
        """Start a multipart upload: its encryption is chosen once, here, and kept in its record."""
        kek = await self._new_kek(encryption, target.bucket, target.key, kms_check)
        upload = Upload(
            upload_id=new_upload_id(),
            bucket=target.bucket,
            key=target.key,
            initiated=self.clock(),
            owner_id=target.owner_id,
            sealing=kek.sealing,
            content_type=target.content_type,
            headers=target.headers,
            metadata=target.metadata,
            checksum_algorithm=checksum_algorithm,
            checksum_type=checksum_type,
            tags=target.tags,
        )
        try:
            await self.calls.write(self.catalog.create_upload, upload, acl=acl, lock=target.lock)
        except NoSuchBucketError:
            raise no_such_bucket(target.bucket) from None
        return upload

    async def _upload_kek(self, upload: Upload, customer_key: bytes | None) -> ObjectKek:
        if upload.sealing.algorithm != "SSE-C":
            return await existing_object_kek(self.keyring, self.kms, upload.sealing, None)
        assert customer_key is not None
        try:
            return sse_c_kek(customer_key, upload.sealing)
        except S3Error as e:
            if e.code != "AccessDenied":
                raise
            raise invalid_request(
                "The provided encryption parameters did not match the ones used originally."
            ) from None

    async def put_part(
        self,
        upload: Upload,
        number: int,
        body: AsyncIterator[bytes],
        *,
        customer_key: bytes | None,
        kms_check: KmsCheck,
        size_hint: int | None,
        md5: bool = False,
        checksums: tuple[str, ...] = (),
        verify: Callable[[Written], None] | None = None,
    ) -> Written:
        """Encrypt a part under its upload's KEK and make it the upload's part `number`; the part it
        replaces becomes garbage. An SSE-C upload needs its customer key (a wrong one: InvalidRequest); an
        SSE-KMS upload kms:Decrypt on its key (CreateMultipartUpload API reference: "the requester needs
        permissions for the kms:Decrypt action on the UploadPart and UploadPartCopy APIs")."""
        await check_kms(kms_check, "kms:Decrypt", upload.sealing)
        kek = await self._upload_kek(upload, customer_key)
        if upload.checksum_algorithm and upload.checksum_algorithm not in checksums:
            checksums += (upload.checksum_algorithm,)
        written = await self._write(
            body,
            kek,
            upload.bucket,
            upload.key,
            upload.upload_id,
            number,
            md5=md5,
            checksums=checksums,
            size_hint=size_hint,
        )
        async with self._owned([written.piece]) as claim:
            if verify is not None:
                verify(written)
            claim.committing = True
            try:
                # The part it replaces (if any) has its blob recorded garbage in the same transaction.
                part = Part(upload.upload_id, written.piece, self.clock())
                await self.calls.write(self.catalog.put_part, part)
            except CatalogConflict:
                raise no_such_upload(upload.upload_id) from None
            except BlobExpired:
                raise write_expired() from None
        return written

    async def parts(self, upload: Upload) -> list[Part]:
        """Every part stored for an upload (Complete chooses among them)."""
        parts: list[Part] = await self.calls.read(self.catalog.all_parts, upload.upload_id)
        return parts

    async def check_conditions(self, bucket: str, key: str, conditions: Conditions) -> None:
        """Complete's conditional forms, against the key's current version."""
        if not conditions.if_none_match and conditions.if_match is None:
            return
        current = await self.calls.point(self.catalog.object_read(bucket, key))
        if conditions.if_none_match and current is not None:
            raise precondition_failed("If-None-Match")
        if conditions.if_match is not None:
            if current is None:
                raise no_such_key(key)
            if current.etag != conditions.if_match:
                raise precondition_failed("If-Match")

    async def complete(
        self,
        upload: Upload,
        pieces: Sequence[Piece],
        *,
        etag: str,
        checksums: dict[str, str],
        checksum_type: str | None,
        conditions: Conditions = UNCONDITIONAL,
        customer_key: bytes | None = None,
        kms_check: KmsCheck,
        versioned: bool = False,
        lock: Lock | None = None,
    ) -> ObjectVersion:
        """Make the chosen parts one object; the parts not chosen and the version replaced become garbage.
        The ACL and the Object Lock given at CreateMultipartUpload move to the version in the same
        transaction (catalog); without a lock of its own, the version gets `lock` (a default retention).
        A customer key, if sent, must be the upload's. PartsChanged: a chosen part was replaced. An
        SSE-KMS upload needs kms:Decrypt on its key, as on AWS (S3 user guide, "Multipart upload and
        permissions": S3 "must decrypt and read data from the encrypted file parts before it completes").
        """
        await check_kms(kms_check, "kms:Decrypt", upload.sealing)
        if customer_key is not None:
            await self._upload_kek(upload, customer_key)
        version = ObjectVersion(
            bucket=upload.bucket,
            key=upload.key,
            version_id=upload.upload_id,
            size=sum(p.size for p in pieces),
            etag=etag,
            last_modified=self.clock(),
            owner_id=upload.owner_id,
            sealing=upload.sealing,
            pieces=tuple(pieces),  # bound to the upload id, which becomes the version id
            content_type=upload.content_type,
            headers=dict(upload.headers),
            metadata=dict(upload.metadata),
            checksums=checksums,
            checksum_type=checksum_type,
            tags=dict(upload.tags),
            storage_class=upload.storage_class,
            null_version=not versioned,  # the bucket's versioning as the upload completes
        )
        try:
            await self.calls.write(
                self.catalog.complete_upload,
                upload.upload_id,
                version,
                if_none_match=conditions.if_none_match,
                if_match=conditions.if_match,
                lock=lock,
            )
        except CatalogConflict:
            # Lost a race: the upload ended, the object changed under a condition, or a part was replaced.
            if await self.calls.read(self.catalog.get_upload, upload.upload_id) is None:
                raise no_such_upload(upload.upload_id) from None
            await self.check_conditions(upload.bucket, upload.key, conditions)
            raise PartsChanged(upload.upload_id) from None
        except NoSuchBucketError:
            raise no_such_bucket(upload.bucket) from None
        return version

    async def abort(self, upload: Upload) -> None:
        """Remove the upload and its parts; their blobs become garbage."""
        if await self.calls.write(self.catalog.abort_upload, upload.upload_id) is None:
            raise no_such_upload(upload.upload_id)
