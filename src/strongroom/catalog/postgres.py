"""`PostgresCatalog`: the catalog in a PostgreSQL database, shared by server processes and machines.

This module holds the small resource families (settings, users and access keys,
buckets, maintenance) and composes the others: objects in `postgres_objects`,
multipart uploads in `postgres_uploads`, user policies and object ACLs in
`postgres_access`, connections and transactions in
`postgres_db`. Row encoding (`codec`) and listing semantics (`listing`) are
shared with the SQLite catalog, so both store the same columns and list alike.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg

from strongroom.catalog import codec
from strongroom.catalog.api import BucketExists, BucketNotEmpty, CatalogConflict, NoSuchBucketError
from strongroom.catalog.model import AccessKey, Bucket, User
from strongroom.catalog.postgres_access import PostgresAccess
from strongroom.catalog.postgres_db import redact
from strongroom.catalog.postgres_objects import placeholders
from strongroom.catalog.postgres_uploads import PostgresUploads

_USER = codec.columns(codec.USER_COLUMNS)
_KEY = codec.columns(codec.ACCESS_KEY_COLUMNS)
_BUCKET = codec.columns(codec.BUCKET_COLUMNS)
_INSERT_USER = f"INSERT INTO users ({_USER}) VALUES ({placeholders(codec.USER_COLUMNS)})"
_INSERT_KEY = f"INSERT INTO access_keys ({_KEY}) VALUES ({placeholders(codec.ACCESS_KEY_COLUMNS)})"
_INSERT_BUCKET = (
    f"INSERT INTO buckets ({_BUCKET}) VALUES ({placeholders(codec.BUCKET_COLUMNS)}) ON CONFLICT DO NOTHING"
)
_LOOKUP_KEY = (
    f"SELECT {codec.columns(codec.ACCESS_KEY_COLUMNS, 'k')}, {codec.columns(codec.USER_COLUMNS, 'u')} "
    "FROM access_keys k JOIN users u ON u.name = k.user_name WHERE k.access_key = %s"
)
# Rows a sweep reads per round trip while it streams referenced blob ids.
_SWEEP_ROWS = 5000


class PostgresCatalog(PostgresUploads, PostgresAccess):
    """Implements `strongroom.catalog.api.Catalog` (plus `bulk_put_objects`)."""

    @classmethod
    def open(cls, url: str) -> PostgresCatalog:
        """Connect to the database at `url` (a libpq URL or conninfo) and create the schema if needed."""
        catalog = cls(url)
        try:
            catalog._create_schema()
        except BaseException:
            catalog.close()
            raise
        return catalog

    def __repr__(self) -> str:
        return f"PostgresCatalog({redact(self.url)!r})"

    # --- settings ---

    def get_setting(self, name: str) -> str | None:
        row = self._conn().execute("SELECT value FROM settings WHERE name = %s", (name,)).fetchone()
        return None if row is None else row[0]

    def put_setting(self, name: str, value: str) -> None:
        self._conn().execute("INSERT INTO settings (name, value) VALUES (%s, %s) "
                             "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value))

    def set_setting_if_absent(self, name: str, value: str) -> str:
        conn = self._conn()
        # A concurrent insert of the same name makes this one wait, then do nothing; the
        # SELECT after it (a new statement, read committed) sees the winner's value.
        row = conn.execute("INSERT INTO settings (name, value) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING "
                           "RETURNING value", (name, value)).fetchone()
        if row is None:
            row = conn.execute("SELECT value FROM settings WHERE name = %s", (name,)).fetchone()
        if row is None:  # not reached: settings are never deleted
            raise RuntimeError(f"setting {name!r} vanished")
        stored: str = row[0]
        return stored

    # --- users and access keys ---

    def add_user(self, user: User, key: AccessKey) -> None:
        if key.user_name != user.name:
            raise ValueError(f"access key of {key.user_name!r} given for user {user.name!r}")
        try:
            with self._write() as conn:
                conn.execute(_INSERT_USER, codec.encode_user(user))
                conn.execute(_INSERT_KEY, codec.encode_access_key(key))
        except psycopg.errors.UniqueViolation as e:
            raise CatalogConflict(f"user {user.name!r} or its access key exists") from e

    def add_access_key(self, key: AccessKey) -> None:
        try:
            with self._write() as conn:
                # KEY SHARE: remove_user (which deletes the row) waits, then deletes this key too.
                if conn.execute("SELECT 1 FROM users WHERE name = %s FOR KEY SHARE",
                                (key.user_name,)).fetchone() is None:
                    raise CatalogConflict(f"no user {key.user_name!r}")
                conn.execute(_INSERT_KEY, codec.encode_access_key(key))
        except psycopg.errors.UniqueViolation as e:
            raise CatalogConflict("access key exists") from e

    def get_user(self, name: str) -> User | None:
        row = self._conn().execute(f"SELECT {_USER} FROM users WHERE name = %s", (name,)).fetchone()
        return None if row is None else codec.decode_user(row)

    def get_user_by_id(self, user_id: str) -> User | None:
        row = self._conn().execute(f"SELECT {_USER} FROM users WHERE user_id = %s", (user_id,)).fetchone()
        return None if row is None else codec.decode_user(row)

    def list_users(self) -> list[User]:
        rows = self._conn().execute(f"SELECT {_USER} FROM users ORDER BY name")
        return [codec.decode_user(r) for r in rows]

    def remove_user(self, name: str) -> bool:
        with self._write() as conn:
            # The user's row first: an add_access_key in flight finishes before, and its key goes too.
            if conn.execute("DELETE FROM users WHERE name = %s", (name,)).rowcount == 0:
                return False
            conn.execute("DELETE FROM access_keys WHERE user_name = %s", (name,))
            return True

    def list_access_keys(self, user_name: str | None = None) -> list[AccessKey]:
        where, params = ("WHERE user_name = %s", (user_name,)) if user_name is not None else ("", ())
        rows = self._conn().execute(
            f"SELECT {_KEY} FROM access_keys {where} ORDER BY user_name, created, access_key", params)
        return [codec.decode_access_key(r) for r in rows]

    def replace_access_key_secret(self, access_key: str, sealed_secret: bytes) -> bool:
        cur = self._conn().execute("UPDATE access_keys SET sealed_secret = %s WHERE access_key = %s",
                                   (sealed_secret, access_key))
        return cur.rowcount > 0

    def lookup_access_key(self, access_key: str) -> tuple[AccessKey, User] | None:
        row = self._conn().execute(_LOOKUP_KEY, (access_key,)).fetchone()
        if row is None:
            return None
        n = len(codec.ACCESS_KEY_COLUMNS)
        return codec.decode_access_key(row[:n]), codec.decode_user(row[n:])

    def set_access_key_active(self, access_key: str, active: bool) -> bool:
        cur = self._conn().execute("UPDATE access_keys SET active = %s WHERE access_key = %s",
                                   (int(active), access_key))
        return cur.rowcount > 0

    def remove_access_key(self, access_key: str) -> bool:
        cur = self._conn().execute("DELETE FROM access_keys WHERE access_key = %s", (access_key,))
        return cur.rowcount > 0

    # --- buckets ---

    def create_bucket(self, bucket: Bucket) -> None:
        conn = self._conn()
        while True:
            if conn.execute(_INSERT_BUCKET, codec.encode_bucket(bucket)).rowcount == 1:
                return
            row = conn.execute("SELECT owner_id FROM buckets WHERE name = %s", (bucket.name,)).fetchone()
            if row is not None:
                raise BucketExists(row[0])
            # deleted between the two statements: try again

    def get_bucket(self, name: str) -> Bucket | None:
        row = self._conn().execute(f"SELECT {_BUCKET} FROM buckets WHERE name = %s", (name,)).fetchone()
        return None if row is None else codec.decode_bucket(row)

    def list_buckets(self, owner_id: str | None = None) -> list[Bucket]:
        where, params = ("WHERE owner_id = %s", (owner_id,)) if owner_id is not None else ("", ())
        rows = self._conn().execute(f"SELECT {_BUCKET} FROM buckets {where} ORDER BY name", params)
        return [codec.decode_bucket(r) for r in rows]

    def delete_bucket(self, name: str) -> None:
        """Raises BucketNotEmpty while any object version is in the bucket. In-progress multipart
        uploads do not keep it alive (as on AWS, for general purpose buckets): they are removed
        with it, and their parts' blobs are left for the sweep."""
        with self._write() as conn:
            # FOR UPDATE waits for writers holding the bucket (FOR KEY SHARE) and keeps new ones
            # out, so the emptiness check below sees every object that will ever be in it.
            if conn.execute("SELECT 1 FROM buckets WHERE name = %s FOR UPDATE", (name,)).fetchone() is None:
                raise NoSuchBucketError(name)
            # any version, not only current ones: AWS counts noncurrent versions and delete markers too
            if conn.execute("SELECT 1 FROM versions WHERE bucket = %s LIMIT 1", (name,)).fetchone():
                raise BucketNotEmpty(name)
            # Uploads before their parts: an UploadPart in flight (holding its upload's row) finishes first.
            gone = conn.execute("DELETE FROM uploads WHERE bucket = %s RETURNING upload_id",
                                (name,)).fetchall()
            if gone:
                conn.execute("DELETE FROM parts WHERE upload_id = ANY(%s)", ([u for (u,) in gone],))
            conn.execute("DELETE FROM bucket_configs WHERE bucket = %s", (name,))
            conn.execute("DELETE FROM buckets WHERE name = %s", (name,))

    def get_bucket_config(self, bucket: str, kind: str) -> str | None:
        row = self._conn().execute("SELECT document FROM bucket_configs WHERE bucket = %s AND kind = %s",
                                   (bucket, kind)).fetchone()
        return None if row is None else row[0]

    def get_bucket_configs(self, bucket: str) -> dict[str, str]:
        return dict(self._conn().execute("SELECT kind, document FROM bucket_configs WHERE bucket = %s",
                                         (bucket,)).fetchall())

    def put_bucket_config(self, bucket: str, kind: str, document: str | None) -> None:
        with self._write() as conn:
            if not self._lock_bucket(conn, bucket):
                raise NoSuchBucketError(bucket)
            if document is None:
                conn.execute("DELETE FROM bucket_configs WHERE bucket = %s AND kind = %s", (bucket, kind))
            else:
                conn.execute(
                    "INSERT INTO bucket_configs (bucket, kind, document) VALUES (%s, %s, %s) "
                    "ON CONFLICT (bucket, kind) DO UPDATE SET document = excluded.document",
                    (bucket, kind, document),
                )

    # --- maintenance ---

    def referenced_blob_ids(self) -> Iterator[str]:
        """Every blob id a version or a part refers to, from one snapshot.

        Read through a connection of its own with server-side cursors, so a caller may use
        the catalog while it iterates and a big catalog is streamed, not loaded.
        """
        if self._closed:
            raise RuntimeError(f"catalog {redact(self.url)} is closed")
        with self._connect() as conn:  # not autocommit: server-side cursors live in a transaction
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            for table, column in (("versions", "pieces"), ("parts", "piece")):
                with conn.cursor(name=f"sweep_{table}") as cur:
                    cur.itersize = _SWEEP_ROWS
                    cur.execute(f"SELECT {column} FROM {table}")
                    for (pieces,) in cur:
                        yield from codec.blob_ids_in(pieces)
