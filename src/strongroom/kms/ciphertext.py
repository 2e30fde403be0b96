"""The ciphertext blob of the built-in KMS, and the encryption context bound into it.

Layout (all integers big-endian):

    offset  size  field
    0       1     format version (1)
    1       16    key id (the key's UUID, raw bytes)
    17      4     material version the plaintext was encrypted under
    21      16    salt: a fresh per-message key is HKDF-SHA256(material, salt, info)
    37      12    AES-GCM nonce (random)
    49      n+16  AES-256-GCM ciphertext and tag

The associated data is the 21-byte header followed by the canonical encoding of
the encryption context, so a blob cannot be moved to another key or version, and
a Decrypt with any other context fails. The canonical encoding sorts the pairs by
the UTF-8 bytes of their keys and encodes them with `crypto.keys.object_context`
(type tag + length + bytes per part), so no two contexts encode alike. A key per
message keeps every material version far from AES-GCM's limit on messages per key.
"""

from __future__ import annotations

import os
import struct
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from strongroom.crypto import keys

FORMAT_VERSION = 1
_HEADER = struct.Struct(">B16sI")
_SALT, _NONCE, _TAG = 16, 12, 16
HEADER_SIZE = _HEADER.size  # 21
OVERHEAD = HEADER_SIZE + _SALT + _NONCE + _TAG  # 65
_INFO = b"strongroom/v1/kms ciphertext"


class BadCiphertext(Exception):
    """Not a blob of ours, damaged, or the wrong context: the KMS answers InvalidCiphertextException."""


@dataclass(frozen=True, slots=True)
class BlobHeader:
    key_id: str
    version: int


def encode_context(context: Mapping[str, str]) -> bytes:
    pairs = sorted(context.items(), key=lambda kv: kv[0].encode("utf-8", "surrogatepass"))
    return keys.object_context("kms encryption context", *(part for kv in pairs for part in kv))


def _message_key(material: bytes, salt: bytes, header: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_INFO + header).derive(material)


def encrypt(material: bytes, key_id: str, version: int, plaintext: bytes,
            context: Mapping[str, str]) -> bytes:
    header = _HEADER.pack(FORMAT_VERSION, uuid.UUID(key_id).bytes, version)
    salt, nonce = os.urandom(_SALT), os.urandom(_NONCE)
    aad = header + encode_context(context)
    sealed = AESGCM(_message_key(material, salt, header)).encrypt(nonce, plaintext, aad)
    return header + salt + nonce + sealed


def read_header(blob: bytes) -> BlobHeader:
    if len(blob) < OVERHEAD or blob[0] != FORMAT_VERSION:
        raise BadCiphertext("not a strongroom KMS ciphertext")
    _, raw_id, version = _HEADER.unpack_from(blob)
    return BlobHeader(str(uuid.UUID(bytes=raw_id)), version)


def decrypt(material: bytes, blob: bytes, context: Mapping[str, str]) -> bytes:
    read_header(blob)
    header = blob[:HEADER_SIZE]
    salt = blob[HEADER_SIZE : HEADER_SIZE + _SALT]
    nonce = blob[HEADER_SIZE + _SALT : HEADER_SIZE + _SALT + _NONCE]
    try:
        return AESGCM(_message_key(material, salt, header)).decrypt(
            nonce, blob[HEADER_SIZE + _SALT + _NONCE :], header + encode_context(context))
    except InvalidTag:
        raise BadCiphertext("authentication failed (wrong context, or damaged)") from None
