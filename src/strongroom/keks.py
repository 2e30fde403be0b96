"""The key hierarchy of an object: which key seals its piece keys (its KEK), and how to get it back.

Every piece (a simple object, or one part of a multipart object) has random layer keys that
encrypt its segments; they are stored only sealed under the object's KEK, bound to (bucket, key,
version id, part number). The KEK depends on the mode:

- SSE-S3: derived from the root key (`wrapping = {"kek": "root", "root": <root key id>}`);
- SSE-KMS: a data key from the KMS, kept as the KMS ciphertext blob (with an S3 Bucket Key, a
  bucket-level data key that the KMS adapter reuses for a while);
- DSSE-KMS: two layers of encryption with two independent random keys, each sealed under its own
  KMS data key (two GenerateDataKey calls), so that neither data key alone opens the data;
- SSE-C: derived from the customer's key, which is never stored (a salted check is).

Also the root keyring, which seals SSE-S3 KEKs and stored secrets. Errors the client must see
are S3Errors; nothing here knows HTTP.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from strongroom.catalog.model import Piece, Sealing
from strongroom.crypto import IntegrityError, keys
from strongroom.errors import S3Error, internal_error

if TYPE_CHECKING:
    from strongroom.vault import Vault  # the vault hands out SSE-S3 and SSE-C KEKs

log = logging.getLogger("strongroom.keks")


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


_UNSEALED_CACHE_SIZE = 4096


class RootKeyring:
    """The root keys: the first seals, every one unseals (older keys stay during a rotation)."""

    def __init__(self, root_keys: Sequence[bytes]) -> None:
        if not root_keys:
            raise ValueError("no root key")
        self._keks = {keys.key_id(k): keys.derive(k, "sse-s3 kek") for k in root_keys}
        self._secrets = {keys.key_id(k): keys.derive(k, "access key secrets") for k in root_keys}
        self.current_id = keys.key_id(root_keys[0])
        # Unsealed access-key secrets by sealed form: every signed request needs its key's secret,
        # and unsealing (HKDF context + AES-GCM) was 3% of a small GET. Keyed by the sealed bytes,
        # so a re-sealed or replaced key is a miss; still looked up in the catalog every request,
        # so a removed key stops working at once.
        self._unsealed: dict[tuple[bytes, str], str] = {}

    def kek(self, key_id: str | None = None) -> bytes:
        try:
            return self._keks[key_id or self.current_id]
        except KeyError:
            log.error("an object is sealed under root key %s, which is not configured", key_id)
            raise internal_error() from None

    def secrets_kek(self, key_id: str | None = None) -> bytes:
        return self._secrets[key_id or self.current_id]

    def seal_secret(self, secret: str, access_key: str) -> bytes:
        sealed = keys.seal(self.secrets_kek(), secret.encode(), keys.object_context("access-key", access_key))
        return self.current_id.encode() + b":" + sealed

    def unseal_secret(self, blob: bytes, access_key: str) -> str:
        cached = self._unsealed.get((blob, access_key))
        if cached is not None:
            return cached
        secret = self._unseal_secret(blob, access_key)
        if len(self._unsealed) >= _UNSEALED_CACHE_SIZE:
            self._unsealed.clear()
        self._unsealed[(blob, access_key)] = secret
        return secret

    def _unseal_secret(self, blob: bytes, access_key: str) -> str:
        key_id, _, sealed = blob.partition(b":")
        kek = self._secrets.get(key_id.decode())
        if kek is None:
            raise IntegrityError("secret sealed under an unknown root key")
        return keys.unseal(kek, sealed, keys.object_context("access-key", access_key)).decode()


def piece_context(bucket: str, key: str, version_id: str, part_number: int) -> bytes:
    return keys.object_context("piece", bucket, key, version_id, part_number)


# A sealed 256-bit key (FORMAT.md): version byte, 12-byte nonce, 32 bytes of key, 16-byte tag.
SEALED_KEY_SIZE = 1 + 12 + keys.KEY_SIZE + 16


def _layer_context(context: bytes, layer: int) -> bytes:
    # The encoding is self-delimiting, so this is the encoding of the longer tuple.
    return context + keys.object_context("layer", layer)


def seal_piece_key(kek: ObjectKek, material: bytes, context: bytes) -> bytes:
    """Seal a piece's layer keys: one key under the KEK, or (DSSE-KMS) each layer key under its own KEK."""
    if kek.kek2 is None:
        return keys.seal(kek.kek, material, context)
    first, second = material[: keys.KEY_SIZE], material[keys.KEY_SIZE :]
    return keys.seal(kek.kek, first, _layer_context(context, 0)) + keys.seal(
        kek.kek2, second, _layer_context(context, 1)
    )


def unseal_piece_key(kek: ObjectKek, sealed: bytes, context: bytes) -> bytes:
    """The layer keys of a piece, concatenated; IntegrityError if anything does not match."""
    if kek.kek2 is None:
        return keys.unseal(kek.kek, sealed, context)
    if len(sealed) != 2 * SEALED_KEY_SIZE:
        raise IntegrityError("a two-layer piece key has the wrong size")
    return keys.unseal(kek.kek, sealed[:SEALED_KEY_SIZE], _layer_context(context, 0)) + keys.unseal(
        kek.kek2, sealed[SEALED_KEY_SIZE:], _layer_context(context, 1)
    )


def reseal_piece(piece: Piece, old: ObjectKek, new: ObjectKek, context: bytes) -> Piece:
    """The same piece and identity with its key sealed under another KEK (root key rotation)."""
    material = unseal_piece_key(old, piece.sealed_key, context)
    return replace(piece, sealed_key=seal_piece_key(new, material, context))


class KeyService:
    """What the vault needs of a KMS (built in or external). Implementations raise S3Errors.

    A context whose aws:s3:arn names a bucket (no key) asks for an S3 Bucket Key, which the
    implementation may hand out again for a bounded time.
    """

    async def generate_data_key(
        self, key_id: str | None, context: dict[str, str]
    ) -> tuple[bytes, bytes, str]:
        """(plaintext data key, ciphertext blob, key ARN). key_id None means the aws/s3 managed key."""
        raise NotImplementedError

    async def decrypt(self, blob: bytes, context: dict[str, str], key_arn: str) -> bytes:
        raise NotImplementedError


def _kms_unavailable() -> S3Error:
    return S3Error("NotImplemented", 501, "SSE-KMS needs a KMS, and none is configured on this server.")


def s3_arn(bucket: str, key: str | None = None) -> str:
    return f"arn:aws:s3:::{bucket}" if key is None else f"arn:aws:s3:::{bucket}/{key}"


async def new_object_kek(
    vault: Vault,
    kms: KeyService | None,
    algorithm: str,
    *,
    kms_key_id: str | None,
    bucket_key: bool,
    context: str | None,
    customer_key: bytes | None,
    bucket: str,
    key: str,
) -> ObjectKek:
    """The KEK for a new object (or upload), per the chosen encryption."""
    if algorithm == "AES256":
        return vault.sse_s3_kek()
    if algorithm == "SSE-C":
        assert customer_key is not None
        return vault.sse_c_kek(customer_key)
    if kms is None:
        raise _kms_unavailable()
    return await kms_object_kek(kms, algorithm, kms_key_id, bucket_key, context, bucket, key)


def _data_key(plaintext: bytes) -> bytes:
    if len(plaintext) != keys.KEY_SIZE:  # never seal under a weaker key than asked for
        log.error("the KMS returned a data key of %d bytes, not %d", len(plaintext), keys.KEY_SIZE)
        raise internal_error()
    return plaintext


async def kms_object_kek(
    kms: KeyService,
    algorithm: str,
    kms_key_id: str | None,
    bucket_key: bool,
    context: str | None,
    bucket: str,
    key: str,
) -> ObjectKek:
    """A new SSE-KMS KEK: the object's own data key (context: the object's ARN), or with an S3 Bucket
    Key the bucket's (context: the bucket's ARN). DSSE-KMS takes two independent data keys."""
    dsse = algorithm == "aws:kms:dsse"
    enc_context: dict[str, str] = json.loads(base64.b64decode(context)) if context else {}
    enc_context["aws:s3:arn"] = s3_arn(bucket) if bucket_key and not dsse else s3_arn(bucket, key)
    plaintext, blob, arn = await kms.generate_data_key(kms_key_id, enc_context)
    wrapping = {
        "kek": "kms",
        "blob": base64.b64encode(blob).decode(),
        "ctx": json.dumps(enc_context, sort_keys=True),
    }
    kek2 = None
    if dsse:
        # The same key by ARN, so that both layers are under the key the first call resolved.
        plaintext2, blob2, _ = await kms.generate_data_key(arn, enc_context)
        kek2 = _data_key(plaintext2)
        wrapping["blob2"] = base64.b64encode(blob2).decode()
    sealing = Sealing(
        "aws:kms:dsse" if dsse else "aws:kms",
        kms_key_arn=arn,
        bucket_key=bucket_key and not dsse,  # type: ignore[arg-type]
        context=context,
        wrapping=wrapping,
    )
    return ObjectKek(sealing, _data_key(plaintext), kek2)


async def existing_object_kek(
    vault: Vault, kms: KeyService | None, sealing: Sealing, customer_key: bytes | None
) -> ObjectKek:
    """The KEK of a stored object: from the root key, the KMS, or the customer's key (checked)."""
    kind = sealing.wrapping.get("kek")
    if kind == "root":
        return vault.root_kek_for(sealing)
    if kind == "ssec":
        assert customer_key is not None
        return vault.sse_c_kek(customer_key, sealing)
    if kind == "kms":
        if kms is None:
            raise _kms_unavailable()
        enc_context = json.loads(sealing.wrapping["ctx"])
        arn = sealing.kms_key_arn or ""
        plaintext = await kms.decrypt(base64.b64decode(sealing.wrapping["blob"]), enc_context, arn)
        kek2 = None
        if "blob2" in sealing.wrapping:
            kek2 = _data_key(await kms.decrypt(base64.b64decode(sealing.wrapping["blob2"]), enc_context, arn))
        return ObjectKek(sealing, _data_key(plaintext), kek2)
    log.error("unknown key wrapping %r", kind)
    raise internal_error()
