"""`SqlKmsStore`: the KMS store written once over both engines (statements built per dialect at import).

Nothing is cached: a key disabled by one process is disabled for the next call of
every other. Each read-modify-write runs in one write transaction and decides on
rows it holds: SQLite's write transaction holds the whole file; PostgreSQL locks the
rows it read (the dialect's FOR UPDATE), so `update_key` and `delete_expired` see a
concurrent change once it commits (a cancelled deletion is re-checked and kept), and
`create_managed_key` meets a racing creator at the alias's primary key, so the
aws/s3 key is created once even when processes race.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

from strongroom.db.database import Database
from strongroom.db.dialect import Dialect
from strongroom.kms.model import Alias, KmsKey, SealedMaterial
from strongroom.kms.store_api import AliasConflict, Update

KEY_COLUMNS = ("key_id, created, description, state, manager, deletion_date, pending_window_days, "
               "rotation_enabled, rotation_period_days, next_rotation, current_version, tags")
MATERIAL_COLUMNS = "key_id, version, created, root_id, sealed"
ALIAS_COLUMNS = "name, key_id, created, updated"
# Expired by the caller's clock (`now`: the catalog's time as the process reads it, clock.py) AND by the
# database's own: a process whose clock runs ahead can never delete a key early.
_EXPIRED = "state = 'PendingDeletion' AND deletion_date <= ? AND deletion_date <= {now}"


def encode_key(key: KmsKey) -> tuple[object, ...]:
    return (key.key_id, key.created, key.description, key.state, key.manager, key.deletion_date,
            key.pending_window_days, int(key.rotation_enabled), key.rotation_period_days, key.next_rotation,
            key.current_version, json.dumps(dict(key.tags), sort_keys=True))


def decode_key(row: tuple) -> KmsKey:  # type: ignore[type-arg]
    (key_id, created, description, state, manager, deletion_date, window, rotation, period, next_rotation,
     version, tags) = row
    return KmsKey(key_id, created, description, state, manager, deletion_date, window, bool(rotation), period,
                  next_rotation, version, tuple(sorted(json.loads(tags).items())))


def encode_material(m: SealedMaterial) -> tuple[object, ...]:
    return (m.key_id, m.version, m.created, m.root_id, m.sealed)


def decode_material(row: tuple) -> SealedMaterial:  # type: ignore[type-arg]
    return SealedMaterial(row[0], row[1], row[2], row[3], bytes(row[4]))


class KmsStatements:
    """Every statement of the KMS store, in one dialect."""

    def __init__(self, d: Dialect) -> None:
        q = d.sql
        marks = ", ".join("?" * 12)
        self.insert_key = q(f"INSERT INTO kms_keys ({KEY_COLUMNS}) VALUES ({marks})")
        self.key = q(f"SELECT {KEY_COLUMNS} FROM kms_keys WHERE key_id = ?")
        # The row stays locked until commit: a concurrent change waits, then sees this one's result.
        self.lock_key = q(f"SELECT {KEY_COLUMNS} FROM kms_keys WHERE key_id = ?{d.for_update}")
        self.keys_after = q(f"SELECT {KEY_COLUMNS} FROM kms_keys WHERE key_id > ? ORDER BY key_id LIMIT ?")
        self.update_key = q(f"UPDATE kms_keys SET ({KEY_COLUMNS}) = ({marks}) WHERE key_id = ?")
        self.insert_material = q(f"INSERT INTO kms_materials ({MATERIAL_COLUMNS}) VALUES (?, ?, ?, ?, ?)")
        self.material = q(f"SELECT {MATERIAL_COLUMNS} FROM kms_materials WHERE key_id = ? AND version = ?")
        self.materials = q(f"SELECT {MATERIAL_COLUMNS} FROM kms_materials ORDER BY key_id, version")
        self.reseal = q("UPDATE kms_materials SET root_id = ?, sealed = ? WHERE key_id = ? AND version = ?")
        expired = _EXPIRED.format(now=d.now)
        self.any_expired = q(f"SELECT 1 FROM kms_keys WHERE {expired} LIMIT 1")
        self.expired_key = q(f"SELECT 1 FROM kms_keys WHERE {expired} AND key_id = ? LIMIT 1")
        # Locked rows another transaction changed (a cancelled deletion) are re-checked against
        # the condition once that transaction commits, and left out if they no longer match.
        self.lock_expired = q(f"SELECT key_id FROM kms_keys WHERE {expired} ORDER BY key_id{d.for_update}")
        self.lock_expired_key = q(
            f"SELECT key_id FROM kms_keys WHERE {expired} AND key_id = ? ORDER BY key_id{d.for_update}")
        self.delete_materials = q("DELETE FROM kms_materials WHERE key_id = ?")
        self.delete_aliases_of_key = q("DELETE FROM kms_aliases WHERE key_id = ?")
        self.delete_key = q("DELETE FROM kms_keys WHERE key_id = ?")
        # A racing transaction's uncommitted row with this name makes the INSERT wait for it;
        # once that commits, the INSERT does nothing.
        self.insert_alias = q(f"INSERT INTO kms_aliases ({ALIAS_COLUMNS}) VALUES (?, ?, ?, ?) "
                              "ON CONFLICT (name) DO NOTHING")
        self.alias = q(f"SELECT {ALIAS_COLUMNS} FROM kms_aliases WHERE name = ?")
        self.update_alias = q("UPDATE kms_aliases SET key_id = ?, updated = ? WHERE name = ?")
        self.delete_alias = q("DELETE FROM kms_aliases WHERE name = ?")
        self.aliases_after = q(
            f"SELECT {ALIAS_COLUMNS} FROM kms_aliases WHERE name > ? ORDER BY name LIMIT ?")
        self.aliases_of_key_after = q(
            f"SELECT {ALIAS_COLUMNS} FROM kms_aliases WHERE key_id = ? AND name > ? ORDER BY name LIMIT ?")
        # A key's policy (PutKeyPolicy); a key without a row has the default key policy.
        self.key_policy = q("SELECT policy FROM kms_key_policies WHERE key_id = ?")
        self.put_key_policy = q("INSERT INTO kms_key_policies (key_id, policy, updated) VALUES (?, ?, ?) "
                                "ON CONFLICT (key_id) DO UPDATE SET policy = excluded.policy, "
                                "updated = excluded.updated")
        self.delete_key_policy = q("DELETE FROM kms_key_policies WHERE key_id = ?")


class SqlKmsStore(Database):
    """Implements `KmsStore`; an engine's class sets `_sql` (its `KmsStatements`) and opens the schema."""

    _sql: ClassVar[KmsStatements]

    # --- keys ---

    def create_key(self, key: KmsKey, material: SealedMaterial, policy: str | None = None) -> None:
        with self._write() as conn:
            conn.execute(self._sql.insert_key, encode_key(key))
            conn.execute(self._sql.insert_material, encode_material(material))
            if policy is not None:
                conn.execute(self._sql.put_key_policy, (key.key_id, policy, key.created))

    def get_key_policy(self, key_id: str) -> str | None:
        row = self._conn().execute(self._sql.key_policy, (key_id,)).fetchone()
        return None if row is None else str(row[0])

    def put_key_policy(self, key_id: str, policy: str, updated: float) -> bool:
        """Set a key's policy; False when the key does not exist (any longer)."""
        with self._write() as conn:
            if conn.execute(self._sql.lock_key, (key_id,)).fetchone() is None:
                return False
            conn.execute(self._sql.put_key_policy, (key_id, policy, updated))
            return True

    def get_key(self, key_id: str) -> KmsKey | None:
        row = self._conn().execute(self._sql.key, (key_id,)).fetchone()
        return None if row is None else decode_key(row)

    def list_keys(self, after: str = "", limit: int = 1000) -> list[KmsKey]:
        return [decode_key(r) for r in self._conn().execute(self._sql.keys_after, (after, limit))]

    def update_key(self, key_id: str, fn: Update) -> KmsKey | None:
        with self._write() as conn:
            row = conn.execute(self._sql.lock_key, (key_id,)).fetchone()
            if row is None:
                return None
            new, material = fn(decode_key(row))
            conn.execute(self._sql.update_key, (*encode_key(new), key_id))
            if material is not None:
                conn.execute(self._sql.insert_material, encode_material(material))
            return new

    def get_material(self, key_id: str, version: int) -> SealedMaterial | None:
        row = self._conn().execute(self._sql.material, (key_id, version)).fetchone()
        return None if row is None else decode_material(row)

    def all_materials(self) -> Iterator[SealedMaterial]:
        rows = self._conn().execute(self._sql.materials, ()).fetchall()
        for row in rows:
            yield decode_material(row)

    def replace_material(self, record: SealedMaterial) -> None:
        self._write_one(self._sql.reseal, (record.root_id, record.sealed, record.key_id, record.version))

    def delete_expired(self, now: float, key_id: str | None = None) -> list[str]:
        args: tuple[Any, ...] = (now,) if key_id is None else (now, key_id)
        probe = self._sql.any_expired if key_id is None else self._sql.expired_key
        if self._conn().execute(probe, args).fetchone() is None:
            return []  # the common case, answered without a write transaction
        with self._write() as conn:
            lock = self._sql.lock_expired if key_id is None else self._sql.lock_expired_key
            doomed = [r[0] for r in conn.execute(lock, args).fetchall()]
            for kid in doomed:
                conn.execute(self._sql.delete_materials, (kid,))
                conn.execute(self._sql.delete_aliases_of_key, (kid,))
                conn.execute(self._sql.delete_key_policy, (kid,))
                conn.execute(self._sql.delete_key, (kid,))
        return doomed

    def create_managed_key(self, alias: str, key: KmsKey, material: SealedMaterial) -> str:
        with self._write() as conn:
            while True:
                created = (alias, key.key_id, key.created, key.created)
                if conn.execute(self._sql.insert_alias, created).rowcount:
                    conn.execute(self._sql.insert_key, encode_key(key))
                    conn.execute(self._sql.insert_material, encode_material(material))
                    return key.key_id
                row = conn.execute(self._sql.alias, (alias,)).fetchone()  # a new statement: sees the winner
                if row is not None:
                    return str(row[1])
                # The alias was deleted between the two statements (PostgreSQL): try again.

    # --- aliases ---

    def get_alias(self, name: str) -> Alias | None:
        row = self._conn().execute(self._sql.alias, (name,)).fetchone()
        return None if row is None else Alias(*row)

    def create_alias(self, alias: Alias) -> None:
        row = (alias.name, alias.key_id, alias.created, alias.updated)
        if not self._write_one(self._sql.insert_alias, row):
            raise AliasConflict(alias.name)

    def update_alias(self, name: str, key_id: str, updated: float) -> bool:
        return self._write_one(self._sql.update_alias, (key_id, updated, name)) == 1

    def delete_alias(self, name: str) -> bool:
        return self._write_one(self._sql.delete_alias, (name,)) == 1

    def list_aliases(self, key_id: str | None = None, after: str = "", limit: int = 1000) -> list[Alias]:
        if key_id is None:
            rows = self._conn().execute(self._sql.aliases_after, (after, limit))
        else:
            rows = self._conn().execute(self._sql.aliases_of_key_after, (key_id, after, limit))
        return [Alias(*r) for r in rows]
