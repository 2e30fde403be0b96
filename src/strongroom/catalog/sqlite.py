"""`SqliteCatalog`: the embedded catalog, one SQLite file in WAL mode shared by processes.

This module holds the small resource families (settings, users and access keys,
buckets, maintenance) and composes the others: objects in `sqlite_objects`,
multipart uploads in `sqlite_uploads`, connections and transactions in
`sqlite_db`, row encoding in `codec`, listing semantics in `listing`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from strongroom.catalog import codec
from strongroom.catalog.api import BucketExists, BucketNotEmpty, CatalogConflict
from strongroom.catalog.model import AccessKey, Bucket, User
from strongroom.catalog.sqlite_access import SqliteAccess
from strongroom.catalog.sqlite_db import BUSY_TIMEOUT_S
from strongroom.catalog.sqlite_uploads import SqliteUploads

_USER = codec.columns(codec.USER_COLUMNS)
_KEY = codec.columns(codec.ACCESS_KEY_COLUMNS)
_BUCKET = codec.columns(codec.BUCKET_COLUMNS)
_INSERT_KEY = f"INSERT INTO access_keys ({_KEY}) VALUES ({codec.placeholders(codec.ACCESS_KEY_COLUMNS)})"
_LOOKUP_KEY = (
    f"SELECT {codec.columns(codec.ACCESS_KEY_COLUMNS, 'k')}, {codec.columns(codec.USER_COLUMNS, 'u')} "
    "FROM access_keys k JOIN users u ON u.name = k.user_name WHERE k.access_key = ?"
)


class SqliteCatalog(SqliteUploads, SqliteAccess):
    """Implements `strongroom.catalog.api.Catalog` (plus `bulk_put_objects`)."""

    @classmethod
    def open(cls, path: str | Path) -> SqliteCatalog:
        """Open (creating if needed) the catalog file at `path`."""
        catalog = cls(path)
        try:
            catalog._create_schema()
        except BaseException:
            catalog.close()
            raise
        return catalog

    # --- settings ---

    def get_setting(self, name: str) -> str | None:
        row = self._conn().execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def put_setting(self, name: str, value: str) -> None:
        with self._write() as conn:
            conn.execute("INSERT INTO settings (name, value) VALUES (?, ?) "
                         "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value))

    def set_setting_if_absent(self, name: str, value: str) -> str:
        with self._write() as conn:
            conn.execute("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                         (name, value))
            stored: str = conn.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()[0]
            return stored

    # --- users and access keys ---

    def add_user(self, user: User, key: AccessKey) -> None:
        if key.user_name != user.name:
            raise ValueError(f"access key of {key.user_name!r} given for user {user.name!r}")
        with self._write() as conn:
            try:
                conn.execute(f"INSERT INTO users ({_USER}) VALUES (?, ?, ?, ?)", codec.encode_user(user))
                conn.execute(_INSERT_KEY, codec.encode_access_key(key))
            except sqlite3.IntegrityError as e:
                raise CatalogConflict(f"user {user.name!r} or its access key exists") from e

    def add_access_key(self, key: AccessKey) -> None:
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM users WHERE name = ?", (key.user_name,)).fetchone() is None:
                raise CatalogConflict(f"no user {key.user_name!r}")
            try:
                conn.execute(_INSERT_KEY, codec.encode_access_key(key))
            except sqlite3.IntegrityError as e:
                raise CatalogConflict("access key exists") from e

    def get_user(self, name: str) -> User | None:
        row = self._conn().execute(f"SELECT {_USER} FROM users WHERE name = ?", (name,)).fetchone()
        return None if row is None else codec.decode_user(row)

    def get_user_by_id(self, user_id: str) -> User | None:
        row = self._conn().execute(f"SELECT {_USER} FROM users WHERE user_id = ?", (user_id,)).fetchone()
        return None if row is None else codec.decode_user(row)

    def list_users(self) -> list[User]:
        rows = self._conn().execute(f"SELECT {_USER} FROM users ORDER BY name")
        return [codec.decode_user(r) for r in rows]

    def remove_user(self, name: str) -> bool:
        with self._write() as conn:
            conn.execute("DELETE FROM access_keys WHERE user_name = ?", (name,))
            return conn.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount > 0

    def list_access_keys(self, user_name: str | None = None) -> list[AccessKey]:
        where, params = ("WHERE user_name = ?", (user_name,)) if user_name is not None else ("", ())
        rows = self._conn().execute(
            f"SELECT {_KEY} FROM access_keys {where} ORDER BY user_name, created, access_key", params)
        return [codec.decode_access_key(r) for r in rows]

    def replace_access_key_secret(self, access_key: str, sealed_secret: bytes) -> bool:
        with self._write() as conn:
            cur = conn.execute("UPDATE access_keys SET sealed_secret = ? WHERE access_key = ?",
                               (sealed_secret, access_key))
            return cur.rowcount > 0

    def lookup_access_key(self, access_key: str) -> tuple[AccessKey, User] | None:
        row = self._conn().execute(_LOOKUP_KEY, (access_key,)).fetchone()
        if row is None:
            return None
        n = len(codec.ACCESS_KEY_COLUMNS)
        return codec.decode_access_key(row[:n]), codec.decode_user(row[n:])

    def set_access_key_active(self, access_key: str, active: bool) -> bool:
        with self._write() as conn:
            sql = "UPDATE access_keys SET active = ? WHERE access_key = ?"
            return conn.execute(sql, (int(active), access_key)).rowcount > 0

    def remove_access_key(self, access_key: str) -> bool:
        with self._write() as conn:
            return conn.execute("DELETE FROM access_keys WHERE access_key = ?", (access_key,)).rowcount > 0

    # --- buckets ---

    def create_bucket(self, bucket: Bucket) -> None:
        with self._write() as conn:
            row = conn.execute("SELECT owner_id FROM buckets WHERE name = ?", (bucket.name,)).fetchone()
            if row is not None:
                raise BucketExists(row[0])
            conn.execute(f"INSERT INTO buckets ({_BUCKET}) VALUES (?, ?, ?, ?)", codec.encode_bucket(bucket))

    def get_bucket(self, name: str) -> Bucket | None:
        row = self._conn().execute(f"SELECT {_BUCKET} FROM buckets WHERE name = ?", (name,)).fetchone()
        return None if row is None else codec.decode_bucket(row)

    def list_buckets(self, owner_id: str | None = None) -> list[Bucket]:
        where, params = ("WHERE owner_id = ?", (owner_id,)) if owner_id is not None else ("", ())
        rows = self._conn().execute(f"SELECT {_BUCKET} FROM buckets {where} ORDER BY name", params)
        return [codec.decode_bucket(r) for r in rows]

    def delete_bucket(self, name: str) -> None:
        """Raises BucketNotEmpty while any object version is in the bucket. In-progress multipart
        uploads do not keep it alive (as on AWS, for general purpose buckets): they are removed
        with it, and their parts' blobs are left for the sweep."""
        with self._write() as conn:
            self._require_bucket(conn, name)
            # any version, not only current ones: AWS counts noncurrent versions and delete markers too
            if conn.execute("SELECT 1 FROM versions WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise BucketNotEmpty(name)
            uploads = "SELECT upload_id FROM uploads WHERE bucket = ?"
            conn.execute(f"DELETE FROM parts WHERE upload_id IN ({uploads})", (name,))
            conn.execute("DELETE FROM uploads WHERE bucket = ?", (name,))
            conn.execute("DELETE FROM bucket_configs WHERE bucket = ?", (name,))
            conn.execute("DELETE FROM buckets WHERE name = ?", (name,))

    def get_bucket_config(self, bucket: str, kind: str) -> str | None:
        row = self._conn().execute("SELECT document FROM bucket_configs WHERE bucket = ? AND kind = ?",
                                   (bucket, kind)).fetchone()
        return None if row is None else row[0]

    def get_bucket_configs(self, bucket: str) -> dict[str, str]:
        return dict(self._conn().execute("SELECT kind, document FROM bucket_configs WHERE bucket = ?",
                                         (bucket,)).fetchall())

    def put_bucket_config(self, bucket: str, kind: str, document: str | None) -> None:
        with self._write() as conn:
            self._require_bucket(conn, bucket)
            if document is None:
                conn.execute("DELETE FROM bucket_configs WHERE bucket = ? AND kind = ?", (bucket, kind))
            else:
                conn.execute(
                    "INSERT OR REPLACE INTO bucket_configs (bucket, kind, document) VALUES (?, ?, ?)",
                    (bucket, kind, document),
                )

    # --- maintenance ---

    def referenced_blob_ids(self) -> Iterator[str]:
        """Every blob id a version or a part refers to, from one snapshot.

        Read through a connection of its own, so a caller may use the catalog while it
        iterates (a sweep can take long on a big catalog).
        """
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            conn.execute("BEGIN")
            for sql in ("SELECT pieces FROM versions", "SELECT piece FROM parts"):
                for (pieces,) in conn.execute(sql):
                    yield from codec.blob_ids_in(pieces)
            conn.execute("COMMIT")
        finally:
            conn.close()

