"""Settings, users and access keys, buckets and their configurations, user policies and object ACLs:
written once for both engines (statements in `statements`, built per dialect).

User policies are keyed by the user's id, not its name, so that a user removed and made
again under the same name does not inherit the old user's permissions. Object ACLs are
keyed by version id (or by an upload's pending id until the upload completes); a row
whose version is gone is never read again, as version ids are never reused.

Single statements run through `_write_one` (SQLite: a write transaction of their own;
PostgreSQL: autocommit). Calls that decide on what they read run in `_write()`, where
SQLite holds the file's write lock and PostgreSQL locks the rows it read (the
dialect's FOR KEY SHARE / FOR UPDATE suffixes). Every change to an access key, a user,
a user's policies, a bucket or a bucket's configuration runs in `_change()`: a shared catalog's servers
cache those (read_cache.py) and hear of it.
"""

from __future__ import annotations

from strongroom.catalog import codec
from strongroom.catalog.api import (
    VERSIONING,
    BucketExists,
    BucketNotEmpty,
    CatalogConflict,
    NoSuchBucketError,
)
from strongroom.catalog.model import AccessKey, Bucket, User
from strongroom.catalog.sql_base import SqlBase


class SqlAccounts(SqlBase):
    # --- settings ---

    def get_setting(self, name: str) -> str | None:
        row = self._conn().execute(self._sql.get_setting, (name,)).fetchone()
        return None if row is None else row[0]

    def put_setting(self, name: str, value: str) -> None:
        with self._write() as conn:
            conn.execute(self._sql.put_setting, (name, value))

    def set_setting_if_absent(self, name: str, value: str) -> str:
        with self._write() as conn:
            # A concurrent insert of the same name makes this one wait, then do nothing; the
            # SELECT after it (a new statement) sees the winner's value.
            conn.execute(self._sql.add_setting, (name, value))
            row = conn.execute(self._sql.get_setting, (name,)).fetchone()
        if row is None:  # not reached: settings are never deleted
            raise RuntimeError(f"setting {name!r} vanished")
        stored: str = row[0]
        return stored

    # --- users and access keys ---

    def add_user(self, user: User, key: AccessKey) -> None:
        if key.user_name != user.name:
            raise ValueError(f"access key of {key.user_name!r} given for user {user.name!r}")
        try:
            with self._change() as conn:
                conn.execute(self._sql.insert_user, codec.encode_user(user))
                conn.execute(self._sql.insert_key, codec.encode_access_key(key))
        except self.dialect.unique_violation as e:
            raise CatalogConflict(f"user {user.name!r} or its access key exists") from e

    def add_access_key(self, key: AccessKey) -> None:
        try:
            with self._change() as conn:
                if conn.execute(self._sql.hold_user, (key.user_name,)).fetchone() is None:
                    raise CatalogConflict(f"no user {key.user_name!r}")
                conn.execute(self._sql.insert_key, codec.encode_access_key(key))
        except self.dialect.unique_violation as e:
            raise CatalogConflict("access key exists") from e

    def get_user(self, name: str) -> User | None:
        row = self._conn().execute(self._sql.user_by_name, (name,)).fetchone()
        return None if row is None else codec.decode_user(row)

    def get_user_by_id(self, user_id: str) -> User | None:
        row = self._conn().execute(self._sql.user_by_id, (user_id,)).fetchone()
        return None if row is None else codec.decode_user(row)

    def list_users(self) -> list[User]:
        return [codec.decode_user(r) for r in self._conn().execute(self._sql.users, ())]

    def remove_user(self, name: str) -> bool:
        with self._change() as conn:
            # The user's row first: an add_access_key in flight finishes before, and its key goes too.
            if conn.execute(self._sql.delete_user, (name,)).rowcount == 0:
                return False
            conn.execute(self._sql.delete_keys_of_user, (name,))
            return True

    def list_access_keys(self, user_name: str | None = None) -> list[AccessKey]:
        if user_name is None:
            rows = self._conn().execute(self._sql.keys, ())
        else:
            rows = self._conn().execute(self._sql.keys_of_user, (user_name,))
        return [codec.decode_access_key(r) for r in rows]

    def replace_access_key_secret(self, access_key: str, sealed_secret: bytes) -> bool:
        with self._change() as conn:
            return conn.execute(self._sql.set_key_secret, (sealed_secret, access_key)).rowcount > 0

    def lookup_access_key(self, access_key: str) -> tuple[AccessKey, User] | None:
        row = self._conn().execute(self._sql.lookup_key, (access_key,)).fetchone()
        if row is None:
            return None
        n = len(codec.ACCESS_KEY_COLUMNS)
        return codec.decode_access_key(row[:n]), codec.decode_user(row[n:])

    def set_access_key_active(self, access_key: str, active: bool) -> bool:
        with self._change() as conn:
            return conn.execute(self._sql.set_key_active, (int(active), access_key)).rowcount > 0

    def remove_access_key(self, access_key: str) -> bool:
        with self._change() as conn:
            return conn.execute(self._sql.delete_key, (access_key,)).rowcount > 0

    # --- buckets ---

    def create_bucket(self, bucket: Bucket) -> None:
        with self._change() as conn:
            while True:
                if conn.execute(self._sql.insert_bucket, codec.encode_bucket(bucket)).rowcount == 1:
                    return
                row = conn.execute(self._sql.bucket_owner, (bucket.name,)).fetchone()
                if row is not None:
                    raise BucketExists(row[0])
                # deleted between the two statements (PostgreSQL): try again

    def get_bucket(self, name: str) -> Bucket | None:
        row = self._conn().execute(self._sql.bucket, (name,)).fetchone()
        return None if row is None else codec.decode_bucket(row)

    def list_buckets(self, owner_id: str | None = None) -> list[Bucket]:
        if owner_id is None:
            rows = self._conn().execute(self._sql.buckets, ())
        else:
            rows = self._conn().execute(self._sql.buckets_of_owner, (owner_id,))
        return [codec.decode_bucket(r) for r in rows]

    def delete_bucket(self, name: str) -> None:
        """Raises BucketNotEmpty while any object version is in the bucket. In-progress multipart
        uploads do not keep it alive (as on AWS, for general purpose buckets): they are removed
        with it, and their parts' blobs become garbage."""
        with self._change() as conn:
            # The bucket's row locked: writers holding it finish first, new ones wait, so the
            # emptiness check below sees every object that will ever be in it.
            if conn.execute(self._sql.lock_bucket, (name,)).fetchone() is None:
                raise NoSuchBucketError(name)
            # any version, not only current ones: AWS counts noncurrent versions and delete markers too
            if conn.execute(self._sql.bucket_has_versions, (name,)).fetchone():
                raise BucketNotEmpty(name)
            # The uploads' rows locked before their parts are read: an UploadPart in flight
            # (holding its upload's row) finishes first, and its part is deleted too.
            conn.execute(self._sql.lock_bucket_uploads, (name,)).fetchall()
            parts = conn.execute(self._sql.bucket_parts, (name,)).fetchall()
            self._add_garbage(conn, [blob_id for (piece,) in parts for blob_id in codec.blob_ids_in(piece)])
            conn.execute(self._sql.delete_bucket_parts, (name,))
            conn.execute(self._sql.delete_bucket_uploads, (name,))
            conn.execute(self._sql.delete_bucket_configs, (name,))
            conn.execute(self._sql.delete_bucket, (name,))

    def get_bucket_config(self, bucket: str, kind: str) -> str | None:
        row = self._conn().execute(self._sql.bucket_config, (bucket, kind)).fetchone()
        return None if row is None else row[0]

    def get_bucket_configs(self, bucket: str) -> dict[str, str]:
        return dict(self._conn().execute(self._sql.bucket_configs, (bucket,)).fetchall())

    def set_bucket_versioning(self, bucket: str, document: str) -> None:
        """Store the bucket's versioning configuration and mark it versioned for good. The bucket's row is
        locked first (FOR UPDATE), so a write that saw it unversioned (FOR KEY SHARE) has committed."""
        with self._change() as conn:
            if conn.execute(self._sql.lock_bucket, (bucket,)).fetchone() is None:
                raise NoSuchBucketError(bucket)
            conn.execute(self._sql.put_bucket_config, (bucket, VERSIONING, document))
            conn.execute(self._sql.set_bucket_versioned, (bucket,))

    def put_bucket_config(self, bucket: str, kind: str, document: str | None) -> None:
        with self._change() as conn:
            self._require_bucket(conn, bucket)
            if document is None:
                conn.execute(self._sql.delete_bucket_config, (bucket, kind))
            else:
                conn.execute(self._sql.put_bucket_config, (bucket, kind, document))

    # --- policies attached to users ---

    def put_user_policy(self, user_id: str, name: str, document: str) -> None:
        with self._change() as conn:
            conn.execute(self._sql.put_user_policy, (user_id, name, document))

    def delete_user_policy(self, user_id: str, name: str) -> bool:
        with self._change() as conn:
            return conn.execute(self._sql.delete_user_policy, (user_id, name)).rowcount > 0

    def list_user_policies(self, user_id: str) -> list[tuple[str, str]]:
        return [(name, document) for name, document in self._conn().execute(self._sql.user_policies,
                                                                             (user_id,))]

    # --- object ACLs ---

    def get_object_acl(self, acl_id: str) -> str | None:
        row = self._conn().execute(self._sql.acl, (acl_id,)).fetchone()
        return None if row is None else row[0]

    def put_object_acl(self, acl_id: str, document: str | None) -> None:
        if document is None:
            self._write_one(self._sql.delete_acl, (acl_id,))
        else:
            self._write_one(self._sql.put_acl, (acl_id, document))
