"""Where the KMS keeps its keys, sealed material and aliases: a narrow `KmsStore` and its SQLite form.

`open_kms_store(config)` picks the store beside the deployment's catalog: this SQLite
one, or `store_postgres.PostgresKmsStore` when the catalog is PostgreSQL (several
servers on several machines must see the same keys). Both encode rows alike (below).

The SQLite store lives in the catalog's file (its own tables, created if absent),
with the catalog's connection discipline: one connection per thread, WAL,
synchronous=FULL, a busy timeout, BEGIN IMMEDIATE for every read-modify-write so
that server processes and the `strongroom kms` command can share it. Nothing is
cached: a key disabled by one process is disabled for the next call of every other.
Deleted rows are overwritten (secure_delete), so destroyed material leaves no copy
in the file's free pages.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from strongroom.catalog.sqlite_db import SqliteDatabase
from strongroom.kms.model import Alias, KmsKey, SealedMaterial

if TYPE_CHECKING:
    from strongroom.config import Config

SCHEMA = """
CREATE TABLE IF NOT EXISTS kms_keys (
    key_id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    description TEXT NOT NULL,
    state TEXT NOT NULL,
    manager TEXT NOT NULL,
    deletion_date REAL,
    pending_window_days INTEGER,
    rotation_enabled INTEGER NOT NULL,
    rotation_period_days INTEGER,
    next_rotation REAL,
    current_version INTEGER NOT NULL,
    tags TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kms_materials (
    key_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    created REAL NOT NULL,
    root_id TEXT NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (key_id, version)
);
CREATE TABLE IF NOT EXISTS kms_aliases (
    name TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS kms_aliases_by_key ON kms_aliases (key_id, name);
"""

KEY_COLUMNS = ("key_id, created, description, state, manager, deletion_date, pending_window_days, "
               "rotation_enabled, rotation_period_days, next_rotation, current_version, tags")
_MARKS = ",".join("?" * 12)
_SELECT_KEY = f"SELECT {KEY_COLUMNS} FROM kms_keys WHERE key_id = ?"
MATERIAL_COLUMNS = "key_id, version, created, root_id, sealed"
_INSERT_MATERIAL = f"INSERT INTO kms_materials ({MATERIAL_COLUMNS}) VALUES (?,?,?,?,?)"
Update = Callable[[KmsKey], tuple[KmsKey, SealedMaterial | None]]


class AliasConflict(Exception):
    pass


class KmsStore(Protocol):
    def create_key(self, key: KmsKey, material: SealedMaterial) -> None: ...
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


def open_kms_store(config: Config) -> KmsStore:
    """The built-in KMS's store: in the PostgreSQL catalog database when `config.catalog_url` is set,
    else in the catalog's SQLite file."""
    if not config.catalog_url:
        return SqliteKmsStore.open(config.catalog_path)
    import psycopg  # only a PostgreSQL deployment needs it loaded

    from strongroom.catalog.postgres_db import redact
    from strongroom.kms.store_postgres import PostgresKmsStore

    try:
        return PostgresKmsStore.open(config.catalog_url)
    except psycopg.OperationalError as e:
        detail = " ".join(line.strip() for line in str(e).splitlines()) or type(e).__name__
        where = redact(config.catalog_url)
        raise SystemExit(f"strongroom: cannot open the KMS store at {where}: {detail}") from e


# --- row encoding, shared with store_postgres ---


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


class SqliteKmsStore(SqliteDatabase):
    """Implements `KmsStore` over the catalog's SQLite file."""

    @classmethod
    def open(cls, path: str | Path) -> SqliteKmsStore:
        store = cls(path)
        try:
            conn = store._conn()
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(f"BEGIN IMMEDIATE;\n{SCHEMA}\nCOMMIT;")
        except BaseException:
            store.close()
            raise
        return store

    def _connect(self) -> sqlite3.Connection:
        conn = super()._connect()
        conn.execute("PRAGMA secure_delete = ON")
        return conn

    # --- keys ---

    def create_key(self, key: KmsKey, material: SealedMaterial) -> None:
        with self._write() as conn:
            self._insert_key(conn, key, material)

    @staticmethod
    def _insert_key(conn: sqlite3.Connection, key: KmsKey, material: SealedMaterial) -> None:
        conn.execute(f"INSERT INTO kms_keys ({KEY_COLUMNS}) VALUES ({_MARKS})", encode_key(key))
        conn.execute(_INSERT_MATERIAL, encode_material(material))

    def get_key(self, key_id: str) -> KmsKey | None:
        row = self._conn().execute(_SELECT_KEY, (key_id,)).fetchone()
        return None if row is None else decode_key(row)

    def list_keys(self, after: str = "", limit: int = 1000) -> list[KmsKey]:
        rows = self._conn().execute(
            f"SELECT {KEY_COLUMNS} FROM kms_keys WHERE key_id > ? ORDER BY key_id LIMIT ?", (after, limit))
        return [decode_key(r) for r in rows]

    def update_key(self, key_id: str, fn: Update) -> KmsKey | None:
        with self._write() as conn:
            row = conn.execute(_SELECT_KEY, (key_id,)).fetchone()
            if row is None:
                return None
            new, material = fn(decode_key(row))
            conn.execute(f"REPLACE INTO kms_keys ({KEY_COLUMNS}) VALUES ({_MARKS})", encode_key(new))
            if material is not None:
                conn.execute(_INSERT_MATERIAL, encode_material(material))
            return new

    def get_material(self, key_id: str, version: int) -> SealedMaterial | None:
        query = f"SELECT {MATERIAL_COLUMNS} FROM kms_materials WHERE key_id = ? AND version = ?"
        row = self._conn().execute(query, (key_id, version)).fetchone()
        return None if row is None else decode_material(row)

    def all_materials(self) -> Iterator[SealedMaterial]:
        rows = self._conn().execute(f"SELECT {MATERIAL_COLUMNS} FROM kms_materials ORDER BY key_id, version")
        for row in rows.fetchall():
            yield decode_material(row)

    def replace_material(self, record: SealedMaterial) -> None:
        with self._write() as conn:
            conn.execute("UPDATE kms_materials SET root_id = ?, sealed = ? WHERE key_id = ? AND version = ?",
                         (record.root_id, record.sealed, record.key_id, record.version))

    def delete_expired(self, now: float, key_id: str | None = None) -> list[str]:
        query = "SELECT key_id FROM kms_keys WHERE state = 'PendingDeletion' AND deletion_date <= ?"
        args: tuple[object, ...] = (now,)
        if key_id is not None:
            query, args = query + " AND key_id = ?", (now, key_id)
        if self._conn().execute(query + " LIMIT 1", args).fetchone() is None:
            return []  # the common case, answered without taking the write lock
        with self._write() as conn:
            doomed = [r[0] for r in conn.execute(query, args)]
            for kid in doomed:
                conn.execute("DELETE FROM kms_materials WHERE key_id = ?", (kid,))
                conn.execute("DELETE FROM kms_aliases WHERE key_id = ?", (kid,))
                conn.execute("DELETE FROM kms_keys WHERE key_id = ?", (kid,))
        return doomed

    def create_managed_key(self, alias: str, key: KmsKey, material: SealedMaterial) -> str:
        with self._write() as conn:
            row = conn.execute("SELECT key_id FROM kms_aliases WHERE name = ?", (alias,)).fetchone()
            if row is not None:
                return str(row[0])
            self._insert_key(conn, key, material)
            conn.execute("INSERT INTO kms_aliases (name, key_id, created, updated) VALUES (?,?,?,?)",
                         (alias, key.key_id, key.created, key.created))
            return key.key_id

    # --- aliases ---

    def get_alias(self, name: str) -> Alias | None:
        row = self._conn().execute("SELECT name, key_id, created, updated FROM kms_aliases WHERE name = ?",
                                   (name,)).fetchone()
        return None if row is None else Alias(*row)

    def create_alias(self, alias: Alias) -> None:
        with self._write() as conn:
            try:
                conn.execute("INSERT INTO kms_aliases (name, key_id, created, updated) VALUES (?,?,?,?)",
                             (alias.name, alias.key_id, alias.created, alias.updated))
            except sqlite3.IntegrityError as e:
                raise AliasConflict(alias.name) from e

    def update_alias(self, name: str, key_id: str, updated: float) -> bool:
        with self._write() as conn:
            cur = conn.execute("UPDATE kms_aliases SET key_id = ?, updated = ? WHERE name = ?",
                               (key_id, updated, name))
            return cur.rowcount == 1

    def delete_alias(self, name: str) -> bool:
        with self._write() as conn:
            return conn.execute("DELETE FROM kms_aliases WHERE name = ?", (name,)).rowcount == 1

    def list_aliases(self, key_id: str | None = None, after: str = "", limit: int = 1000) -> list[Alias]:
        if key_id is None:
            rows = self._conn().execute(
                "SELECT name, key_id, created, updated FROM kms_aliases WHERE name > ? ORDER BY name LIMIT ?",
                (after, limit))
        else:
            rows = self._conn().execute(
                "SELECT name, key_id, created, updated FROM kms_aliases WHERE key_id = ? AND name > ? "
                "ORDER BY name LIMIT ?", (key_id, after, limit))
        return [Alias(*r) for r in rows]
