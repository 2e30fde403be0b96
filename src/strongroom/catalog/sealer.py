"""`MetadataSealer`: how the catalog seals the private fields of its rows at rest.

User metadata, tags, content types and the other stored headers, ETags and checksums of objects,
uploads and parts are sealed before they reach a row, so a copy of the catalog alone reveals none of
them (crypto/FORMAT.md, "Sealed catalog fields"). The key is derived from the root key (purpose
`"catalog metadata"`); the associated data is the row's identity, so a sealed field copied onto
another row does not open. The current root key seals; every configured root key unseals (a root
key rotation in progress). Whoever opens a catalog builds the sealer from the root keys
(`MetadataSealer.of(config.root_keys)`) and passes it in.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.crypto import keys
from strongroom.crypto.errors import IntegrityError

PURPOSE = "catalog metadata"
VERSION = 1
VERSION_BYTE = bytes([VERSION])
_NONCE = 12
# The catalog setting where deployment.py records the root keys' ids (a public fingerprint).
ROOT_KEYS_SETTING = "root_key_ids"


class WrongRootKey(SystemExit):
    """The root key given is not one the catalog's data is sealed under: the process ends, saying so."""


class SealedFieldError(IntegrityError):
    """A sealed catalog field opens under none of the configured root keys (a wrong root key, or a
    row altered or moved). The message names the row, never a key or a plaintext."""


@dataclass(frozen=True, slots=True)
class MetadataSealer:
    """Seals and unseals catalog fields: one AES-256-GCM cipher per root key, the current one first."""

    metadata_keys: tuple[bytes, ...] = field(repr=False)  # derived from the root keys, current first
    root_key_ids: tuple[str, ...]  # the root keys' public fingerprints (crypto.keys.key_id), in order
    ciphers: tuple[AESGCM, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ciphers", tuple(AESGCM(k) for k in self.metadata_keys))

    def __reduce__(self) -> tuple[object, ...]:  # to another process (a cipher does not pickle)
        return (MetadataSealer, (self.metadata_keys, self.root_key_ids))

    @classmethod
    def of(cls, root_keys: Sequence[bytes]) -> MetadataSealer:
        if not root_keys:
            raise ValueError("a metadata sealer needs at least one root key")
        derived = tuple(keys.derive(k, PURPOSE) for k in root_keys)
        return cls(derived, tuple(keys.key_id(k) for k in root_keys))

    def seal(self, plaintext: bytes, context: bytes, *, _nonce: bytes | None = None) -> bytes:
        """version (1) || nonce (12, random) || AES-256-GCM(key, nonce, plaintext, version || context).

        `_nonce` is for known-answer tests only."""
        nonce = os.urandom(_NONCE) if _nonce is None else _nonce
        return VERSION_BYTE + nonce + self.ciphers[0].encrypt(nonce, plaintext, VERSION_BYTE + context)

    def seal_each(self, fields: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        """seal() of each (plaintext, context), every one under its own random nonce, the nonces drawn
        from one os.urandom call (a row's fields are sealed together: one system call, not one each)."""
        randomness = os.urandom(_NONCE * len(fields))
        cipher = self.ciphers[0]
        sealed = []
        for i, (plaintext, context) in enumerate(fields):
            nonce = randomness[i * _NONCE:(i + 1) * _NONCE]
            sealed.append(VERSION_BYTE + nonce + cipher.encrypt(nonce, plaintext, VERSION_BYTE + context))
        return sealed

    def unseal(self, sealed: bytes, context: bytes, what: str) -> bytes:
        """The plaintext of `sealed`; SealedFieldError (naming `what`, the row) if no key opens it."""
        if len(sealed) < 1 + _NONCE + 16 or sealed[0] != VERSION:
            raise SealedFieldError(f"catalog row {what}: a sealed field is malformed")
        nonce, body, ad = sealed[1:1 + _NONCE], sealed[1 + _NONCE:], VERSION_BYTE + context
        for cipher in self.ciphers:
            try:
                return cipher.decrypt(nonce, body, ad)
            except InvalidTag:
                continue
        raise SealedFieldError(
            f"catalog row {what}: its sealed metadata opens under none of the configured root keys "
            "(a wrong root key, or the row was altered or moved)")

    def sealed_under_current(self, sealed: bytes, context: bytes) -> bool:
        try:
            self.ciphers[0].decrypt(sealed[1:1 + _NONCE], sealed[1 + _NONCE:], VERSION_BYTE + context)
        except InvalidTag:
            return False
        return True
