"""The KMS store's narrow interface: where the built-in KMS keeps keys, sealed material and aliases.

Implemented once over SQL (store_sql.py) for both engines: SQLite (store_sqlite.py)
and PostgreSQL (store_postgres.py); `store.open_kms_store` picks the one beside the
deployment's catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from strongroom.kms.model import Alias, KmsKey, SealedMaterial

Update = Callable[[KmsKey], tuple[KmsKey, SealedMaterial | None]]


class AliasConflict(Exception):
    pass


class KmsStore(Protocol):
    def create_key(self, key: KmsKey, material: SealedMaterial, policy: str | None = None) -> None: ...
    def get_key_policy(self, key_id: str) -> str | None: ...  # None: the key has the default policy
    def put_key_policy(self, key_id: str, policy: str, updated: float) -> bool: ...  # False: no such key
    def get_key(self, key_id: str) -> KmsKey | None: ...
    def list_keys(self, after: str = "", limit: int = 1000) -> list[KmsKey]: ...  # by key id
    def update_key(self, key_id: str, fn: Update) -> KmsKey | None:
        """Read-modify-write in one transaction: fn sees the current key (it may raise to abort) and returns
        the new key and optionally a new material version to store with it. None if there is no such key."""
        ...
    def get_material(self, key_id: str, version: int) -> SealedMaterial | None: ...
    def all_materials(self) -> Iterator[SealedMaterial]: ...
    def replace_material(self, record: SealedMaterial) -> None: ...
    def delete_expired(self, now: float, key_id: str | None = None) -> list[str]:
        """Delete keys pending deletion whose date has passed (with their material and aliases)."""
        ...
    def create_managed_key(self, alias: str, key: KmsKey, material: SealedMaterial) -> str:
        """The key behind `alias`, creating `key` with that alias if the alias does not exist yet."""
        ...
    def get_alias(self, name: str) -> Alias | None: ...
    def create_alias(self, alias: Alias) -> None: ...  # AliasConflict if the name exists
    def update_alias(self, name: str, key_id: str, updated: float) -> bool: ...
    def delete_alias(self, name: str) -> bool: ...
    def list_aliases(self, key_id: str | None = None, after: str = "", limit: int = 1000) -> list[Alias]: ...
    def close(self) -> None: ...
