"""`PostgresKmsStore`: the built-in KMS's keys, sealed material and aliases in the catalog's PostgreSQL.

With `--catalog postgresql://...` several servers (on several machines) and the
`strongroom kms` command share one database, so the KMS keeps its tables there too
(schema/postgres.sql, created with the catalog's) and a key made through one server
is usable through every other. Connections, transactions and fork safety are the
catalog's (`PostgresDatabase`); rows are encoded as by the SQLite store.

Nothing is cached: a key disabled by one process is disabled for the next call of
every other. Each read-modify-write locks what it decides on: `update_key` the key's
row (FOR UPDATE); `create_managed_key` the alias name (a concurrent INSERT of the same
name waits for the first transaction, then finds its row), so the aws/s3 key is created
once even when processes race; `delete_expired` deletes by a condition that PostgreSQL
re-checks on rows changed concurrently, so a cancelled deletion is never carried out.

Unlike SQLite's secure_delete, PostgreSQL keeps a deleted row's bytes until VACUUM
reuses the space; what it keeps is only sealed material, useless without the root key.
"""

from __future__ import annotations

from collections.abc import Iterator

from strongroom.catalog.postgres_db import PostgresDatabase, redact
from strongroom.kms.model import Alias, KmsKey, SealedMaterial
from strongroom.kms.store import (
    KEY_COLUMNS,
    MATERIAL_COLUMNS,
    AliasConflict,
    Update,
    decode_key,
    decode_material,
    encode_key,
    encode_material,
)

_MARKS = ", ".join(["%s"] * 12)
_SELECT_KEY = f"SELECT {KEY_COLUMNS} FROM kms_keys WHERE key_id = %s"
_INSERT_KEY = f"INSERT INTO kms_keys ({KEY_COLUMNS}) VALUES ({_MARKS})"
_INSERT_MATERIAL = f"INSERT INTO kms_materials ({MATERIAL_COLUMNS}) VALUES (%s, %s, %s, %s, %s)"
_ALIAS_COLUMNS = "name, key_id, created, updated"
_INSERT_ALIAS = (f"INSERT INTO kms_aliases ({_ALIAS_COLUMNS}) VALUES (%s, %s, %s, %s) "
                 "ON CONFLICT (name) DO NOTHING RETURNING key_id")
_EXPIRED = "state = 'PendingDeletion' AND deletion_date <= %s"


class PostgresKmsStore(PostgresDatabase):
    """Implements `strongroom.kms.store.KmsStore` in the catalog's PostgreSQL database."""

    @classmethod
    def open(cls, url: str) -> PostgresKmsStore:
        """Connect to the catalog database at `url`; its schema (with the KMS tables) is created if needed."""
        store = cls(url)
        try:
            store._create_schema()
        except BaseException:
            store.close()
            raise
        return store

    def __repr__(self) -> str:
        return f"PostgresKmsStore({redact(self.url)!r})"

    # --- keys ---

    def create_key(self, key: KmsKey, material: SealedMaterial) -> None:
        with self._write() as conn:
            conn.execute(_INSERT_KEY, encode_key(key))
            conn.execute(_INSERT_MATERIAL, encode_material(material))

    def get_key(self, key_id: str) -> KmsKey | None:
        row = self._conn().execute(_SELECT_KEY, (key_id,)).fetchone()
        return None if row is None else decode_key(row)

    def list_keys(self, after: str = "", limit: int = 1000) -> list[KmsKey]:
        rows = self._conn().execute(
            f"SELECT {KEY_COLUMNS} FROM kms_keys WHERE key_id > %s ORDER BY key_id LIMIT %s", (after, limit))
        return [decode_key(r) for r in rows]

    def update_key(self, key_id: str, fn: Update) -> KmsKey | None:
        with self._write() as conn:
            # The row stays locked until commit: a concurrent change waits, then sees this one's result.
            row = conn.execute(_SELECT_KEY + " FOR UPDATE", (key_id,)).fetchone()
            if row is None:
                return None
            new, material = fn(decode_key(row))
            conn.execute(f"UPDATE kms_keys SET ({KEY_COLUMNS}) = ({_MARKS}) WHERE key_id = %s",
                         (*encode_key(new), key_id))
            if material is not None:
                conn.execute(_INSERT_MATERIAL, encode_material(material))
            return new

    def get_material(self, key_id: str, version: int) -> SealedMaterial | None:
        query = f"SELECT {MATERIAL_COLUMNS} FROM kms_materials WHERE key_id = %s AND version = %s"
        row = self._conn().execute(query, (key_id, version)).fetchone()
        return None if row is None else decode_material(row)

    def all_materials(self) -> Iterator[SealedMaterial]:
        rows = self._conn().execute(
            f"SELECT {MATERIAL_COLUMNS} FROM kms_materials ORDER BY key_id, version").fetchall()
        for row in rows:
            yield decode_material(row)

    def replace_material(self, record: SealedMaterial) -> None:
        self._conn().execute(
            "UPDATE kms_materials SET root_id = %s, sealed = %s WHERE key_id = %s AND version = %s",
            (record.root_id, record.sealed, record.key_id, record.version))

    def delete_expired(self, now: float, key_id: str | None = None) -> list[str]:
        condition = _EXPIRED if key_id is None else _EXPIRED + " AND key_id = %s"
        args: tuple[object, ...] = (now,) if key_id is None else (now, key_id)
        if self._conn().execute(f"SELECT 1 FROM kms_keys WHERE {condition} LIMIT 1", args).fetchone() is None:
            return []  # the common case, answered without a transaction
        with self._write() as conn:
            # A row another transaction changed (a cancelled deletion) is re-checked against the
            # condition once that transaction commits, and kept if it no longer matches.
            doomed = [r[0] for r in conn.execute(f"DELETE FROM kms_keys WHERE {condition} RETURNING key_id",
                                                 args)]
            if doomed:
                conn.execute("DELETE FROM kms_materials WHERE key_id = ANY(%s)", (doomed,))
                conn.execute("DELETE FROM kms_aliases WHERE key_id = ANY(%s)", (doomed,))
        return sorted(doomed)

    def create_managed_key(self, alias: str, key: KmsKey, material: SealedMaterial) -> str:
        with self._write() as conn:
            while True:
                # A racing process's uncommitted row with this name makes the INSERT wait for its
                # transaction; once that commits, the INSERT does nothing and the SELECT (a new
                # statement, read committed) sees the winner's key.
                row = conn.execute(_INSERT_ALIAS, (alias, key.key_id, key.created, key.created)).fetchone()
                if row is not None:
                    conn.execute(_INSERT_KEY, encode_key(key))
                    conn.execute(_INSERT_MATERIAL, encode_material(material))
                    return key.key_id
                row = conn.execute("SELECT key_id FROM kms_aliases WHERE name = %s", (alias,)).fetchone()
                if row is not None:
                    return str(row[0])
                # The alias was deleted between the two statements: try again.

    # --- aliases ---

    def get_alias(self, name: str) -> Alias | None:
        row = self._conn().execute(f"SELECT {_ALIAS_COLUMNS} FROM kms_aliases WHERE name = %s",
                                   (name,)).fetchone()
        return None if row is None else Alias(*row)

    def create_alias(self, alias: Alias) -> None:
        row = self._conn().execute(_INSERT_ALIAS, (alias.name, alias.key_id, alias.created,
                                                   alias.updated)).fetchone()
        if row is None:
            raise AliasConflict(alias.name)

    def update_alias(self, name: str, key_id: str, updated: float) -> bool:
        cur = self._conn().execute("UPDATE kms_aliases SET key_id = %s, updated = %s WHERE name = %s",
                                   (key_id, updated, name))
        return cur.rowcount == 1

    def delete_alias(self, name: str) -> bool:
        return self._conn().execute("DELETE FROM kms_aliases WHERE name = %s", (name,)).rowcount == 1

    def list_aliases(self, key_id: str | None = None, after: str = "", limit: int = 1000) -> list[Alias]:
        if key_id is None:
            rows = self._conn().execute(
                f"SELECT {_ALIAS_COLUMNS} FROM kms_aliases WHERE name > %s ORDER BY name LIMIT %s",
                (after, limit))
        else:
            rows = self._conn().execute(
                f"SELECT {_ALIAS_COLUMNS} FROM kms_aliases WHERE key_id = %s AND name > %s "
                "ORDER BY name LIMIT %s", (key_id, after, limit))
        return [Alias(*r) for r in rows]
