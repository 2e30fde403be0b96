"""The root keyring: the root keys from configuration, and what is derived from them.

The first key seals, every key unseals (older keys stay during a rotation). It gives the SSE-S3
KEK (`derive(root, "sse-s3 kek")`) and seals stored secrets such as access-key secrets
(`derive(root, "access key secrets")`, context ("access-key", access key id)), FORMAT.md.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from strongroom.crypto import IntegrityError, keys
from strongroom.errors import internal_error

log = logging.getLogger("strongroom.vault")

_UNSEALED_CACHE_SIZE = 4096


def access_key_context(access_key: str) -> bytes:
    return keys.object_context("access-key", access_key)


class RootKeyring:
    """The root keys: the first seals, every one unseals."""

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
        """The SSE-S3 KEK of root key `key_id` (None: the current one)."""
        try:
            return self._keks[key_id or self.current_id]
        except KeyError:
            log.error("an object is sealed under root key %s, which is not configured", key_id)
            raise internal_error() from None

    def secrets_kek(self, key_id: str | None = None) -> bytes:
        return self._secrets[key_id or self.current_id]

    def seal_secret(self, secret: str, access_key: str) -> bytes:
        """`<root key id>:<sealed secret>`: the id names the root key it was sealed under."""
        sealed = keys.seal(self.secrets_kek(), secret.encode(), access_key_context(access_key))
        return self.current_id.encode() + b":" + sealed

    def sealed_under_current(self, blob: bytes) -> bool:
        """Whether a sealed secret is sealed under the current root key (rotation skips those)."""
        return blob.split(b":", 1)[0].decode() == self.current_id

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
        return keys.unseal(kek, sealed, access_key_context(access_key)).decode()
