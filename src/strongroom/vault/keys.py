"""The key hierarchy of an object: which key seals its piece keys (its KEK), and how to get it back.

Every piece (a simple object, or one part of a multipart object) has random layer keys that
encrypt its segments; they are stored only sealed under the object's KEK, bound to the piece
context ("piece", bucket, key, version id, part number). The KEK depends on the mode:

- SSE-S3: derived from the root key (`RootWrapped`);
- SSE-KMS: a data key from the KMS, kept as the KMS ciphertext blob (`KmsWrapped`; with an S3
  Bucket Key, a bucket-level data key that the KMS adapter reuses for a while);
- DSSE-KMS: two layers of encryption with two independent random keys, each sealed under its own
  KMS data key (two GenerateDataKey calls), so that neither data key alone opens the data;
- SSE-C: derived from the customer's key, which is never stored (`CustomerWrapped`: a salted check).

Errors the client must see are S3Errors; nothing here knows HTTP.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace

from strongroom.catalog.model import Piece, Sealing
from strongroom.crypto import IntegrityError, keys
from strongroom.errors import S3Error, internal_error
from strongroom.kms.service import KeyService
from strongroom.vault.keyring import RootKeyring
from strongroom.vault.wrapping import CustomerWrapped, KmsWrapped, RootWrapped, parse

log = logging.getLogger("strongroom.vault")

# May the requester run a KMS action ("kms:GenerateDataKey", "kms:Decrypt") on a key (its ARN), with
# this encryption context (for kms:EncryptionContext:* conditions)? Raises the S3Error to answer
# (AccessDenied) when not. Built by the wire layer, called by the vault.
KmsCheck = Callable[[str, str | None, Mapping[str, str]], Awaitable[None]]


async def check_kms(kms_check: KmsCheck, action: str, sealing: Sealing) -> None:
    """The KMS check of an SSE-KMS (or DSSE-KMS) sealing: `action` on its key, with its context."""
    if sealing.algorithm.startswith("aws:kms"):
        wrapping = parse(sealing)
        context = wrapping.encryption_context if isinstance(wrapping, KmsWrapped) else {}
        await kms_check(action, sealing.kms_key_arn, context)


@dataclass(frozen=True, slots=True)
class Encryption:
    """What a write asks for, after the bucket default: `new_object_kek` turns it into an ObjectKek."""

    algorithm: str  # AES256 | aws:kms | aws:kms:dsse | SSE-C
    kms_key_id: str | None = None
    bucket_key: bool = False
    context: str | None = None  # the request's x-amz-server-side-encryption-context (base64 JSON)
    customer_key: bytes | None = field(default=None, repr=False)

    @property
    def kms(self) -> bool:
        return self.algorithm.startswith("aws:kms")


@dataclass(frozen=True, slots=True)
class ObjectKek:
    """The key that seals an object's piece keys, with the catalog record that says how to get it back.

    `kek2` is DSSE-KMS's second, independent KEK: it seals the second layer's key alone.
    """

    sealing: Sealing
    kek: bytes = field(repr=False)
    kek2: bytes | None = field(default=None, repr=False)

    @property
    def layers(self) -> int:
        return 1 if self.kek2 is None else 2


def piece_context(bucket: str, key: str, version_id: str, part_number: int) -> bytes:
    """What a piece key is bound to; a simple object is part 1, a multipart object's version id is
    its upload id."""
    return keys.object_context("piece", bucket, key, version_id, part_number)


def layer_context(context: bytes, layer: int) -> bytes:
    """DSSE-KMS seals layer `layer`'s key under this. The encoding is self-delimiting, so this is
    the encoding of the longer tuple ("piece", bucket, key, version id, part, "layer", layer)."""
    return context + keys.object_context("layer", layer)


# A sealed 256-bit key (FORMAT.md): version byte, 12-byte nonce, 32 bytes of key, 16-byte tag.
SEALED_KEY_SIZE = 1 + 12 + keys.KEY_SIZE + 16


def seal_piece_key(kek: ObjectKek, material: bytes, context: bytes) -> bytes:
    """Seal a piece's layer keys: one key under the KEK, or (DSSE-KMS) each layer key under its own KEK."""
    if kek.kek2 is None:
        return keys.seal(kek.kek, material, context)
    first, second = material[: keys.KEY_SIZE], material[keys.KEY_SIZE :]
    return keys.seal(kek.kek, first, layer_context(context, 0)) + keys.seal(
        kek.kek2, second, layer_context(context, 1)
    )


def unseal_piece_key(kek: ObjectKek, sealed: bytes, context: bytes) -> bytes:
    """The layer keys of a piece, concatenated; IntegrityError if anything does not match."""
    if kek.kek2 is None:
        return keys.unseal(kek.kek, sealed, context)
    if len(sealed) != 2 * SEALED_KEY_SIZE:
        raise IntegrityError("a two-layer piece key has the wrong size")
    return keys.unseal(kek.kek, sealed[:SEALED_KEY_SIZE], layer_context(context, 0)) + keys.unseal(
        kek.kek2, sealed[SEALED_KEY_SIZE:], layer_context(context, 1)
    )


def reseal_piece(piece: Piece, old: ObjectKek, new: ObjectKek, context: bytes) -> Piece:
    """The same piece (same ciphertext, same identity) with its key sealed under another KEK: root key
    rotation and UpdateObjectEncryption. IntegrityError if it does not unseal under `old`."""
    if old.layers != new.layers:
        raise ValueError("a piece keeps its number of layers")
    material = unseal_piece_key(old, piece.sealed_key, context)
    return replace(piece, sealed_key=seal_piece_key(new, material, context))


def s3_arn(bucket: str, key: str | None = None) -> str:
    return f"arn:aws:s3:::{bucket}" if key is None else f"arn:aws:s3:::{bucket}/{key}"


def kms_unavailable() -> S3Error:
    return S3Error("NotImplemented", 501, "SSE-KMS needs a KMS, and none is configured on this server.")


def sse_s3_kek(keyring: RootKeyring) -> ObjectKek:
    sealing = Sealing("AES256", wrapping=RootWrapped(keyring.current_id).to_record())
    return ObjectKek(sealing, keyring.kek())


def sse_c_kek(customer_key: bytes, existing: Sealing | None = None) -> ObjectKek:
    """The KEK of an SSE-C object: new (fresh salt) or for an existing object (its salt, key checked)."""
    if existing is None:
        salt = secrets.token_bytes(16)
        wrapping = CustomerWrapped(salt, keys.customer_key_check(customer_key, salt))
        return ObjectKek(
            Sealing("SSE-C", wrapping=wrapping.to_record()), keys.customer_kek(customer_key, salt)
        )
    stored = parse(existing)
    if not isinstance(stored, CustomerWrapped):
        log.error("an SSE-C object has a %s wrapping", type(stored).__name__)
        raise internal_error()
    if not keys.customer_key_matches(customer_key, stored.salt, stored.check):
        # Recorded from AWS (LocalStack TestS3SSECEncryption, validated): a wrong key on a read is 403.
        raise S3Error(
            "AccessDenied",
            403,
            "Requests specifying Server Side Encryption with Customer "
            "provided keys must provide the correct secret key.",
        )
    return ObjectKek(existing, keys.customer_kek(customer_key, stored.salt))


async def new_object_kek(
    keyring: RootKeyring, kms: KeyService | None, encryption: Encryption, bucket: str, key: str
) -> ObjectKek:
    """The KEK for a new object (or upload), per the chosen encryption."""
    if encryption.algorithm == "AES256":
        return sse_s3_kek(keyring)
    if encryption.algorithm == "SSE-C":
        assert encryption.customer_key is not None
        return sse_c_kek(encryption.customer_key)
    if kms is None:
        raise kms_unavailable()
    return await kms_object_kek(kms, encryption, bucket, key)


def _data_key(plaintext: bytes) -> bytes:
    if len(plaintext) != keys.KEY_SIZE:  # never seal under a weaker key than asked for
        log.error("the KMS returned a data key of %d bytes, not %d", len(plaintext), keys.KEY_SIZE)
        raise internal_error()
    return plaintext


async def kms_object_kek(kms: KeyService, encryption: Encryption, bucket: str, key: str) -> ObjectKek:
    """A new SSE-KMS KEK: the object's own data key (context: the object's ARN), or with an S3 Bucket
    Key the bucket's (context: the bucket's ARN). DSSE-KMS takes two independent data keys."""
    dsse = encryption.algorithm == "aws:kms:dsse"
    bucket_key = encryption.bucket_key and not dsse
    context = encryption.context
    enc_context: dict[str, str] = json.loads(base64.b64decode(context)) if context else {}
    enc_context["aws:s3:arn"] = s3_arn(bucket) if bucket_key else s3_arn(bucket, key)
    plaintext, blob, arn = await kms.generate_data_key(encryption.kms_key_id, enc_context)
    kek2 = blob2 = None
    if dsse:
        # The same key by ARN, so that both layers are under the key the first call resolved.
        plaintext2, blob2, _ = await kms.generate_data_key(arn, enc_context)
        kek2 = _data_key(plaintext2)
    sealing = Sealing(
        "aws:kms:dsse" if dsse else "aws:kms",
        kms_key_arn=arn,
        bucket_key=bucket_key,
        context=context,
        wrapping=KmsWrapped.of(blob, enc_context, blob2).to_record(),
    )
    return ObjectKek(sealing, _data_key(plaintext), kek2)


async def existing_object_kek(
    keyring: RootKeyring, kms: KeyService | None, sealing: Sealing, customer_key: bytes | None
) -> ObjectKek:
    """The KEK of a stored object: from the root key, the KMS, or the customer's key (checked)."""
    wrapping = parse(sealing)
    if isinstance(wrapping, RootWrapped):
        return ObjectKek(sealing, keyring.kek(wrapping.root_id))
    if isinstance(wrapping, CustomerWrapped):
        assert customer_key is not None
        return sse_c_kek(customer_key, sealing)
    if kms is None:
        raise kms_unavailable()
    enc_context = wrapping.encryption_context
    arn = sealing.kms_key_arn or ""
    plaintext = await kms.decrypt(wrapping.blob, enc_context, arn)
    kek2 = None
    if wrapping.blob2 is not None:
        kek2 = _data_key(await kms.decrypt(wrapping.blob2, enc_context, arn))
    return ObjectKek(sealing, _data_key(plaintext), kek2)


def root_rotation(keyring: RootKeyring, sealing: Sealing) -> tuple[ObjectKek, ObjectKek] | None:
    """(old KEK, new KEK) to move an SSE-S3 sealing to the current root key; None when it is not
    sealed under the root key, or already under the current one."""
    if sealing.wrapping.get("kek") != "root":
        return None
    wrapping = parse(sealing)
    assert isinstance(wrapping, RootWrapped)
    if wrapping.root_id == keyring.current_id:
        return None
    current = replace(sealing, wrapping=RootWrapped(keyring.current_id).to_record())
    return ObjectKek(sealing, keyring.kek(wrapping.root_id)), ObjectKek(current, keyring.kek())
