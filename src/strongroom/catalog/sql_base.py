"""`SqlBase`: what the catalog's shared classes (sql_accounts, sql_objects, sql_uploads) build on.

Each engine's catalog class sets `_sql` (its `Statements`, built once) and
implements the hooks where the engines really differ: `_lock_key` (SQLite relies
on its whole-file write lock, PostgreSQL on the bucket's row and an advisory lock
on the key, taken in that order), `_insert_version`, `_list_delimited` and
`_upload_fetch` (how listings are fed from the database). What a write keeps and
removes of a key's versions is written here, once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from strongroom.catalog import codec
from strongroom.catalog.api import CatalogConflict, NoCurrentVersion, NoSuchBucketError
from strongroom.catalog.codec import ListedCache
from strongroom.catalog.listing import Entry, Fetch
from strongroom.catalog.model import ObjectSummary, ObjectVersion
from strongroom.catalog.read_cache import NO_CACHE, ReadCache
from strongroom.catalog.sealer import MetadataSealer
from strongroom.catalog.sql_locks import SqlLocks
from strongroom.catalog.statements import Statements
from strongroom.catalog.version_listing import NULL
from strongroom.object_lock import Lock


def pending_acl_id(upload_id: str) -> str:
    """Where a multipart upload's ACL waits until the upload completes (object_acls.id)."""
    return f"upload:{upload_id}"


class SqlBase(SqlLocks):
    _sql: ClassVar[Statements]
    _sealer: MetadataSealer  # set by the engine's open(): seals and unseals the rows' private fields
    _listed: ListedCache  # set by open() too: what listings unsealed (codec.summary_decoder)
    cache: ReadCache = NO_CACHE  # keys, user policies, buckets, their configs: a shared catalog's only

    def follow_changes(self) -> None:
        """Keep `cache` and hear of every server's changes to it, until `close` (a serving process)."""

    # --- per engine ---

    def _lock_key(self, conn: Any, bucket: str, key: str) -> None:
        """Inside a write transaction: serialise the writers of one key until commit, so that its
        versions' ids grow in the order they were written and `current` follows them."""
        raise NotImplementedError

    def _insert_version(self, conn: Any, version: ObjectVersion) -> int:
        """Insert a versions row; its id."""
        raise NotImplementedError

    def _list_delimited(self, bucket: str, prefix: str, delimiter: str, after: str, max_keys: int
                        ) -> tuple[list[Entry], tuple[ObjectSummary, ...]]:
        """A delimited listing: `listing.walk`'s entries (max_keys + 1 of them at most) and the
        objects among the first max_keys."""
        raise NotImplementedError

    def _upload_fetch(self, conn: Any, bucket: str) -> Fetch:
        """A `listing.Fetch` over a bucket's uploads, on `conn` (a read transaction)."""
        raise NotImplementedError

    def _announce(self, conn: Any) -> None:
        """Inside a write transaction that changes what `cache` keeps: tell every server, at commit."""

    # --- shared ---

    @contextmanager
    def _change(self) -> Iterator[Any]:
        """A write transaction (`_write`) that changes an access key, a user, a user's policies, a bucket
        or a bucket's configuration: announced to every server, and this process's cache cleared once
        committed."""
        with self._write() as conn:
            yield conn
            self._announce(conn)
        self.cache.clear()

    def _hold_bucket(self, conn: Any, bucket: str) -> bool | None:
        """Inside a write transaction: None when the bucket does not exist, else whether its versioning
        was ever configured; kept so until commit (set_bucket_versioning waits for this transaction)."""
        row = conn.execute(self._sql.hold_bucket, (bucket,)).fetchone()
        return None if row is None else bool(row[0])

    def _lock_bucket(self, conn: Any, bucket: str) -> bool:
        """Inside a write transaction: whether the bucket exists, kept so until commit."""
        return self._hold_bucket(conn, bucket) is not None

    def _require_bucket(self, conn: Any, bucket: str) -> bool:
        """As `_hold_bucket`, NoSuchBucketError for a missing bucket."""
        versioned = self._hold_bucket(conn, bucket)
        if versioned is None:
            raise NoSuchBucketError(bucket)
        return versioned

    def _put_current(self, conn: Any, version: ObjectVersion, *, if_none_match: bool, if_match: str | None,
                     acl: str | None, fresh: bool = True, versioned: bool = True,
                     lock: Lock | None = None) -> ObjectVersion | None:
        """Inside a write transaction holding the bucket: `version` made current, with its ACL. A `null`
        version replaces the key's null version (the one version of an unversioned bucket; on a suspended
        one, wherever it is among the versions), whose blobs become garbage; any other is added to the
        versions. Returns the version removed. `fresh`: its pieces were just written (pending), not an
        upload's parts. The conditions are checked against the current version (none when the newest is a
        delete marker). `versioned` False (from `_hold_bucket`: the bucket was never versioned) spares the
        search for a noncurrent null version: such a bucket holds one version per key, the current one.
        `lock`: the new version's Object Lock; a version removed must not be locked.
        PostgreSQL runs these same steps as one statement for a PUT without If-Match or lock (the function
        strongroom_put_version in schema/postgres.sql): a change here is made there too."""
        bucket, key = version.bucket, version.key
        self._lock_key(conn, bucket, key)
        row = conn.execute(self._sql.current_with_id, (bucket, key)).fetchone()
        if row is not None and row[1] == version.version_id:
            # Returning it as "replaced" would have the caller delete the blobs it still uses.
            raise ValueError(f"version {version.version_id} is already current")
        current = None if row is None else codec.decode_version(row[:-1], self._sealer)
        if if_none_match and current is not None:
            raise CatalogConflict(f"{bucket}/{key} exists")
        if if_match is not None and (current is None or current.etag != if_match):
            raise CatalogConflict(f"{bucket}/{key} does not have etag {if_match}")
        removed = None
        if version.null_version:
            if current is not None and current.null_version:  # an unversioned bucket's every overwrite
                removed, removed_id = current, row[-1]
            elif versioned:
                null = conn.execute(self._sql.null_of_key, (bucket, key)).fetchone()
                if null is not None:
                    removed, removed_id = codec.decode_version(null[:-1], self._sealer), null[-1]
            if removed is not None:
                self._check_removal(conn, removed)
                conn.execute(self._sql.delete_version, (removed_id,))
        conn.execute(self._sql.set_current, (bucket, key, self._insert_version(conn, version)))
        if lock is not None:
            self._store_lock(conn, version.version_id, lock, version.sealing.kms_key_arn)
        self._settle_blobs(conn, version.pieces if fresh else (), removed.pieces if removed else ())
        if acl is not None:
            conn.execute(self._sql.put_acl, (version.version_id, acl))
        return removed

    def _delete_current(self, conn: Any, bucket: str, key: str, marker: ObjectVersion | None,
                        if_match: str | None = None) -> ObjectVersion | None:
        """Inside a write transaction: DeleteObject without a version id. Without a marker (an unversioned
        bucket) the current version is removed; with one, the marker becomes the newest version, and a
        `null` marker replaces the null version (a suspended bucket). Returns the version removed; its
        blobs are garbage. A conditional delete (if_match) is decided first, on the current version (as
        S3 evaluates it: "only the current version of the object")."""
        if marker is not None:
            self._require_bucket(conn, bucket)
        self._lock_key(conn, bucket, key)
        if if_match is not None:
            current = conn.execute(self._sql.current_with_id, (bucket, key)).fetchone()
            if current is None:
                raise NoCurrentVersion(f"{bucket}/{key} has no current version")
            if not codec.decode_version(current[:-1], self._sealer).etag_matches(if_match):
                raise CatalogConflict(f"{bucket}/{key} does not have etag {if_match}")
        if marker is None:
            row = conn.execute(self._sql.current_with_id, (bucket, key)).fetchone()
        elif marker.null_version:
            row = conn.execute(self._sql.null_of_key, (bucket, key)).fetchone()
        else:
            row = None
        removed = None if row is None else codec.decode_version(row[:-1], self._sealer)
        if removed is not None:
            self._check_removal(conn, removed)
            conn.execute(self._sql.delete_version, (row[-1],))
        if marker is not None:
            self._insert_version(conn, marker)
        if removed is not None or marker is not None:
            conn.execute(self._sql.drop_current, (bucket, key))
            self._settle_blobs(conn, (), removed.pieces if removed else ())
        return removed

    def _delete_version(self, conn: Any, bucket: str, key: str, version_id: str,
                        bypass_governance: bool = False) -> ObjectVersion | None:
        """Inside a write transaction: remove one version for good (S3's id: "null" for the null version),
        a delete marker included; the newest left becomes current, unless it is a delete marker. Returns
        the version removed; its blobs are garbage. A locked version is refused (AccessDenied); GOVERNANCE
        gives way to `bypass_governance` (the header and the permission, decided above)."""
        self._lock_key(conn, bucket, key)
        if version_id == NULL:
            row = conn.execute(self._sql.null_of_key, (bucket, key)).fetchone()
        else:
            row = conn.execute(self._sql.version_of_key, (bucket, key, version_id)).fetchone()
        if row is None:
            return None
        removed = codec.decode_version(row[:-1], self._sealer)
        self._check_removal(conn, removed, bypass_governance)
        conn.execute(self._sql.delete_version, (row[-1],))
        newest = conn.execute(self._sql.newest_of_key, (bucket, key)).fetchone()
        if newest is None or newest[codec.MARKER_AT]:
            conn.execute(self._sql.drop_current, (bucket, key))
        else:
            conn.execute(self._sql.set_current, (bucket, key, newest[-1]))
        self._settle_blobs(conn, (), removed.pieces)
        return removed
