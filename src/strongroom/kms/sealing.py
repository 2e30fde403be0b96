"""Sealing KMS key material under the root keys: the only form in which material is stored.

Each root key yields its own KEK (`crypto.keys.derive(root, "kms key material")`);
the first root key seals, every configured one unseals, so a root-key rotation can
re-seal material while the server keeps working (`reseal`). The sealing context
binds the key id and material version, so sealed material cannot be swapped
between keys or versions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from strongroom.crypto import IntegrityError, keys
from strongroom.kms.errors import internal
from strongroom.kms.model import SealedMaterial
from strongroom.kms.store_api import KmsStore

PURPOSE = "kms key material"


def material_context(key_id: str, version: int) -> bytes:
    return keys.object_context(PURPOSE, key_id, version)


class KmsKeyring:
    def __init__(self, root_keys: Sequence[bytes]) -> None:
        if not root_keys:
            raise ValueError("no root key")
        self._keks = {keys.key_id(k): keys.derive(k, PURPOSE) for k in root_keys}
        self.current_id = keys.key_id(root_keys[0])

    def new_material(self, key_id: str, version: int) -> tuple[SealedMaterial, bytes]:
        """Fresh random material for (key, version): the sealed record and the material itself."""
        material = keys.random_key()
        return self.seal(key_id, version, material, time.time()), material

    def seal(self, key_id: str, version: int, material: bytes, created: float) -> SealedMaterial:
        sealed = keys.seal(self._keks[self.current_id], material, material_context(key_id, version))
        return SealedMaterial(key_id, version, created, self.current_id, sealed)

    def unseal(self, record: SealedMaterial) -> bytes:
        kek = self._keks.get(record.root_id)
        if kek is None:
            raise internal(f"key material is sealed under root key {record.root_id}, which is not configured")
        try:
            return keys.unseal(kek, record.sealed, material_context(record.key_id, record.version))
        except IntegrityError:
            raise internal("stored key material failed authentication") from None

    def reseal(self, record: SealedMaterial) -> SealedMaterial | None:
        """The record sealed under the current root key; None if it already is."""
        if record.root_id == self.current_id:
            return None
        return self.seal(record.key_id, record.version, self.unseal(record), record.created)


def reseal_materials(store: KmsStore, keyring: KmsKeyring) -> int:
    """Re-seal every material version not sealed under the current root key (root-key rotation).

    Safe to interrupt and re-run; returns how many records it re-sealed.
    """
    count = 0
    for record in list(store.all_materials()):
        resealed = keyring.reseal(record)
        if resealed is not None:
            store.replace_material(resealed)
            count += 1
    return count
