"""Keys: making them, deriving them, fingerprinting them, and sealing one key under another.

This module owns the key protocol of FORMAT.md: HKDF-SHA256 derivations with a
fixed domain prefix, the sealed-key format (version byte, random nonce, AES-256-GCM
with the sealing context as associated data), the unambiguous encoding of that
context, and the SSE-C derivations (a salted check value and a key-encryption key,
so that the customer's key itself is never stored).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from strongroom.crypto.errors import IntegrityError

KEY_SIZE = 32
SEAL_VERSION = 1

_NONCE_SIZE = 12
_TAG_SIZE = 16
_SEALED_SIZE = 1 + _NONCE_SIZE + KEY_SIZE + _TAG_SIZE
# Every derivation's info starts with this, so no key we derive can equal one
# derived for another purpose or by another program from the same secret.
_DOMAIN = b"strongroom/v1/"
_MIN_SALT_SIZE = 16
_STR_TAG = b"s"
_INT_TAG = b"i"
_LENGTH = struct.Struct(">I")
_UINT64 = struct.Struct(">Q")


def random_key() -> bytes:
    """A fresh random 256-bit key."""
    return os.urandom(KEY_SIZE)


def derive(root_key: bytes, purpose: str) -> bytes:
    """A 256-bit key for `purpose` derived from `root_key` (at least 256 bits) with HKDF-SHA256."""
    if len(root_key) < KEY_SIZE:
        raise ValueError(f"a root key must be at least {KEY_SIZE} bytes")
    return _hkdf(root_key, purpose, salt=None)


def key_id(key: bytes) -> str:
    """A short fingerprint that names a key without revealing it (64 bits, hex)."""
    return hmac.new(key, _DOMAIN + b"key-id", hashlib.sha256).hexdigest()[:16]


# What seal() wraps: one 32-byte key, two for DSSE-KMS layers, or a stored secret (an access key's).
MAX_SEALED_MATERIAL = 1024


def seal(kek: bytes, key: bytes, context: bytes, *, _nonce: bytes | None = None) -> bytes:
    """Wrap `key` under `kek`, bound to `context`: version byte + nonce + ciphertext + tag.

    `_nonce` is for known-answer tests only; a sealed key must always get a random nonce.
    """
    _check_key(kek, "kek")
    if not 1 <= len(key) <= MAX_SEALED_MATERIAL:
        raise ValueError(f"sealed material must be 1..{MAX_SEALED_MATERIAL} bytes, got {len(key)}")
    nonce = os.urandom(_NONCE_SIZE) if _nonce is None else _nonce
    if len(nonce) != _NONCE_SIZE:
        raise ValueError(f"a nonce must be {_NONCE_SIZE} bytes")
    version = bytes([SEAL_VERSION])
    return version + nonce + AESGCM(kek).encrypt(nonce, key, version + context)


def unseal(kek: bytes, sealed: bytes, context: bytes) -> bytes:
    """The key inside `sealed`; IntegrityError for a wrong kek or context, tampering or a bad format."""
    _check_key(kek, "kek")
    if not _SEALED_SIZE - KEY_SIZE < len(sealed) <= _SEALED_SIZE - KEY_SIZE + MAX_SEALED_MATERIAL:
        raise IntegrityError(f"a sealed key cannot be {len(sealed)} bytes")
    if sealed[0] != SEAL_VERSION:
        raise IntegrityError(f"sealed key version {sealed[0]} is not supported")
    nonce = sealed[1 : 1 + _NONCE_SIZE]
    try:
        return AESGCM(kek).decrypt(nonce, sealed[1 + _NONCE_SIZE :], sealed[:1] + context)
    except InvalidTag:
        raise IntegrityError("sealed key failed authentication (wrong key or context, or tampered)") from None


def object_context(*parts: str | int) -> bytes:
    """Encode e.g. ("object", bucket, key, version_id, part_number) as a sealing context.

    Each part is a type tag then either a 4-byte length and UTF-8, or an 8-byte
    unsigned integer, so no two different tuples encode to the same bytes.
    """
    if not parts:
        raise ValueError("a context needs at least one part")
    encoded = bytearray()
    for part in parts:
        if isinstance(part, str):
            # surrogatepass: any Python str encodes, and still one-to-one.
            text = part.encode("utf-8", "surrogatepass")
            encoded += _STR_TAG + _LENGTH.pack(len(text)) + text
        elif isinstance(part, int) and not isinstance(part, bool):
            if not 0 <= part < 2**64:
                raise ValueError("an integer context part must be in 0..2**64-1")
            encoded += _INT_TAG + _UINT64.pack(part)
        else:
            raise TypeError(f"a context part must be str or int, not {type(part).__name__}")
    return bytes(encoded)


def customer_key_check(customer_key: bytes, salt: bytes) -> bytes:
    """A salted keyed hash of an SSE-C key, stored to recognise the key without storing it."""
    _check_key(customer_key, "customer key")
    _check_salt(salt)
    check_key = _hkdf(customer_key, "sse-c/check", salt=salt)
    return hmac.new(check_key, salt, hashlib.sha256).digest()


def customer_key_matches(customer_key: bytes, salt: bytes, check: bytes) -> bool:
    """Whether `customer_key` is the key `check` was made from (compared in constant time)."""
    return hmac.compare_digest(customer_key_check(customer_key, salt), check)


def customer_kek(customer_key: bytes, salt: bytes) -> bytes:
    """The key that seals an SSE-C object's key: a derivation of the customer key distinct from the check."""
    _check_key(customer_key, "customer key")
    _check_salt(salt)
    return _hkdf(customer_key, "sse-c/kek", salt=salt)


def _hkdf(secret: bytes, purpose: str, salt: bytes | None) -> bytes:
    info = _DOMAIN + purpose.encode("utf-8")
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=info).derive(secret)


def _check_key(key: bytes, name: str) -> None:
    # The message names the argument and the size only: never the key.
    if len(key) != KEY_SIZE:
        raise ValueError(f"{name} must be {KEY_SIZE} bytes, got {len(key)}")


def _check_salt(salt: bytes) -> None:
    if len(salt) < _MIN_SALT_SIZE:
        raise ValueError(f"a salt must be at least {_MIN_SALT_SIZE} bytes")
