"""`SqliteKmsStore`: the built-in KMS's keys, material, aliases and key policies in the catalog's SQLite file.

Its own tables (created if absent) in the catalog's file, with the catalog's
connection discipline (db/sqlite.py): one connection per thread, WAL,
synchronous=FULL, a busy timeout, BEGIN IMMEDIATE for every read-modify-write, so
that server processes and the `strongroom kms` command can share it. Deleted rows
are overwritten (secure_delete), so destroyed material leaves no copy in the file's
free pages.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from strongroom.db.database import opened
from strongroom.db.sqlite import SQLITE, SqliteDatabase
from strongroom.kms.store_sql import KmsStatements, SqlKmsStore

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
CREATE TABLE IF NOT EXISTS kms_key_policies (
    key_id TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    updated REAL NOT NULL
);
"""


class SqliteKmsStore(SqlKmsStore, SqliteDatabase):
    """Implements `KmsStore` over the catalog's SQLite file."""

    _sql = KmsStatements(SQLITE)

    @classmethod
    def open(cls, path: str | Path) -> SqliteKmsStore:
        return opened(cls(path), lambda store: store.apply_schema(SCHEMA))

    def _connect(self) -> sqlite3.Connection:
        conn = super()._connect()
        conn.execute("PRAGMA secure_delete = ON")
        return conn
