"""Objects, written once for both engines: tags and re-keying in place, the point reads (current,
by version id, newest), listing (without a delimiter one range query; with one, the page the engine's
walk found) and ListObjectVersions (catalog/version_listing.py over two range queries).

What versions a write keeps and removes is in sql_base (`_put_current`, `_delete_current`,
`_delete_version`); what the engines do differently stays in theirs: how a write transaction is run
(SQLite's group commit under the file's write lock, PostgreSQL's bucket row and key lock), the
delimited listing's feed (`_list_delimited`), and the benchmark's bulk load.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from strongroom.catalog import codec
from strongroom.catalog.listing import start
from strongroom.catalog.model import ListPage, ObjectVersion, VersionPage
from strongroom.catalog.sql_base import SqlBase
from strongroom.catalog.version_listing import NULL, VersionFetch, versions_page
from strongroom.db.database import OneStatement
from strongroom.object_lock import Lock, Retention, check_retention_change


class SqlObjects(SqlBase):
    def set_object_tags(self, version: ObjectVersion, tags: dict[str, str]) -> bool:
        """Replace the tags of a stored version in place; False when it is gone (replaced as the `null`
        version, or deleted).

        One statement: a write removing the version deletes its row, so this update either
        runs first or (having waited for that row) finds it gone.
        """
        private = codec.encode_private(dataclasses.replace(version, tags=tags), self._sealer)
        return self._write_one(self._sql.set_tags, (private, version.version_id, version.bucket,
                                                    version.key)) > 0

    def rekey_version(self, version: ObjectVersion) -> bool:
        """Replace the sealing and piece keys of a stored version, in place (same id, same blobs); its
        Object Lock, if any, now names the KMS key that seals it."""
        pieces, inline = codec.encode_pieces(version.pieces)
        with self._write() as conn:
            found = conn.execute(self._sql.rekey, (codec.encode_sealing(version.sealing), pieces, inline,
                                                   version.version_id, version.bucket, version.key)).rowcount
            if found:
                self._rekeyed(conn, version)
        return found > 0

    # --- Object Lock (sql_locks): changed under the key's writers' lock, the rules checked in SQL time ---

    def _version_to_lock(self, conn: Any, bucket: str, key: str, version_id: str | None
                         ) -> ObjectVersion | None:
        self._lock_key(conn, bucket, key)
        if version_id is None:
            row = conn.execute(self._sql.current, (bucket, key)).fetchone()
            return None if row is None else codec.decode_version(row, self._sealer)
        sql = self._sql.null_of_key if version_id == NULL else self._sql.version_of_key
        row = conn.execute(sql, (bucket, key) if version_id == NULL else (bucket, key, version_id)).fetchone()
        return None if row is None else codec.decode_version(row[:-1], self._sealer)

    def _relock(self, conn: Any, version: ObjectVersion, lock: Lock) -> None:
        if lock.retention is None and not lock.legal_hold:
            self._forget_lock(conn, version.version_id)
        else:
            self._store_lock(conn, version.version_id, lock, version.sealing.kms_key_arn)

    def put_retention(self, bucket: str, key: str, version_id: str | None, retention: Retention | None, *,
                      bypass_governance: bool = False) -> ObjectVersion | None:
        """PutObjectRetention on a version (S3's id; None: the current version): allowed as
        `object_lock.check_retention_change` says, against the database's clock. Returns the version
        (a delete marker is returned untouched), None when there is none."""
        with self._write() as conn:
            version = self._version_to_lock(conn, bucket, key, version_id)
            if version is None or version.delete_marker:
                return version
            lock = self._lock_of(conn, version.version_id) or Lock()
            check_retention_change(lock.retention, retention, self._db_now(conn), bypass_governance)
            self._relock(conn, version, Lock(retention, lock.legal_hold))
            return version

    def put_legal_hold(self, bucket: str, key: str, version_id: str | None, on: bool) -> ObjectVersion | None:
        """PutObjectLegalHold on a version (as put_retention): anyone allowed s3:PutObjectLegalHold may
        place or remove one."""
        with self._write() as conn:
            version = self._version_to_lock(conn, bucket, key, version_id)
            if version is None or version.delete_marker:
                return version
            lock = self._lock_of(conn, version.version_id) or Lock()
            self._relock(conn, version, Lock(lock.retention, on))
            return version

    # --- the point reads: each a statement and its decoder (db.OneStatement), which the server runs where it
    # is cheapest (on PostgreSQL: on the event loop's connections, db/loop_pool.py) ---

    def object_read(self, bucket: str, key: str) -> OneStatement[ObjectVersion | None]:
        """The current version of a key (None: none, or its newest version is a delete marker)."""
        return OneStatement(self._sql.current, (bucket, key), self._decode_version)

    def version_read(self, bucket: str, key: str, version_id: str) -> OneStatement[ObjectVersion | None]:
        """A version of a key by the id S3 shows ("null" for the null version), delete markers included."""
        if version_id == NULL:
            return OneStatement(self._sql.null_of_key, (bucket, key), self._decode_version_and_id)
        return OneStatement(self._sql.version_of_key, (bucket, key, version_id), self._decode_version_and_id)

    def latest_read(self, bucket: str, key: str) -> OneStatement[ObjectVersion | None]:
        """The newest version of a key, whatever it is: a delete marker when the key is deleted."""
        return OneStatement(self._sql.newest_of_key, (bucket, key), self._decode_version_and_id)

    def _decode_version(self, row: Any) -> ObjectVersion | None:
        return None if row is None else codec.decode_version(row, self._sealer)

    def _decode_version_and_id(self, row: Any) -> ObjectVersion | None:
        return None if row is None else codec.decode_version(row[:-1], self._sealer)

    def get_object(self, bucket: str, key: str) -> ObjectVersion | None:
        return self.fetch(self.object_read(bucket, key))

    def count_versions(self) -> list[tuple[str, str, int, int]]:
        # Grouped by the sealing's text: few distinct values exist (one per bucket default or KMS key),
        # and its algorithm is read from the decoded (memoized) record, not from JSON in SQL.
        totals: dict[tuple[str, str], list[int]] = {}
        with self._read() as conn:
            rows = conn.execute("SELECT bucket, sealing, COUNT(*), COALESCE(SUM(size), 0) FROM versions "
                                "WHERE delete_marker = 0 GROUP BY bucket, sealing").fetchall()
        for bucket, sealing, count, size in rows:
            total = totals.setdefault((bucket, codec.decode_sealing(sealing).algorithm), [0, 0])
            total[0] += int(count)
            total[1] += int(size)
        return [(bucket, algorithm, n, size) for (bucket, algorithm), (n, size) in sorted(totals.items())]

    def get_version(self, bucket: str, key: str, version_id: str) -> ObjectVersion | None:
        return self.fetch(self.version_read(bucket, key, version_id))

    def get_latest(self, bucket: str, key: str) -> ObjectVersion | None:
        return self.fetch(self.latest_read(bucket, key))

    def list_versions(self, bucket: str, *, prefix: str = "", delimiter: str = "", key_marker: str = "",
                      version_id_marker: str | None = None, max_keys: int = 1000) -> VersionPage:
        """ListObjectVersions: versions and delete markers in key order, newest first within a key, after
        (key_marker, version_id_marker) (without the version id marker: after the whole key_marker),
        grouped by delimiter. max_keys counts entries and common prefixes together."""
        if max_keys <= 0:
            return VersionPage((), (), False, None, None)
        with self._read() as conn:
            decode = codec.summary_decoder(self._sealer, bucket, self._listed)
            return versions_page(self._version_fetch(conn, bucket), decode, prefix, delimiter, key_marker,
                                 version_id_marker, max_keys)

    def _version_fetch(self, conn: Any, bucket: str) -> VersionFetch:
        sql = self._sql

        def older(key: str, version_id: str, n: int) -> list[Any] | None:
            if version_id == NULL:
                found = conn.execute(sql.id_of_null, (bucket, key)).fetchone()
            else:
                found = conn.execute(sql.id_of_version, (bucket, key, version_id)).fetchone()
            if found is None:
                return None
            return list(conn.execute(sql.versions_older, (bucket, key, found[0], n)).fetchall())

        def keys(lo: str, inclusive: bool, hi: str | None, n: int) -> list[Any]:
            params = (bucket, lo, hi, n) if hi is not None else (bucket, lo, n)
            return list(conn.execute(sql.versions_range[inclusive, hi is not None], params).fetchall())

        return VersionFetch(older, keys)

    def list_objects(self, bucket: str, *, prefix: str = "", delimiter: str = "", after: str = "",
                     max_keys: int = 1000) -> ListPage:
        if max_keys <= 0:
            return ListPage((), (), False, None)
        if not delimiter:
            return self._list_range(bucket, prefix, after, max_keys)
        entries, objects = self._list_delimited(bucket, prefix, delimiter, after, max_keys)
        page = entries[:max_keys]
        truncated = len(entries) > max_keys
        return ListPage(
            objects=objects,
            common_prefixes=tuple(name for name, row in page if row is None),
            is_truncated=truncated,
            next_marker=page[-1][0] if truncated else None,
        )

    def _list_range(self, bucket: str, prefix: str, after: str, max_keys: int) -> ListPage:
        """Without a delimiter a listing is one range query (one statement: its own snapshot)."""
        bounds = start(prefix, after)
        if bounds is None:
            return ListPage((), (), False, None)
        lo, inclusive, hi = bounds
        params = (bucket, lo, hi, max_keys + 1) if hi is not None else (bucket, lo, max_keys + 1)
        rows = self._conn().execute(self._sql.joined[inclusive, hi is not None], params).fetchall()
        decode = codec.summary_decoder(self._sealer, bucket, self._listed)
        objects = tuple([decode(row) for row in rows[:max_keys]])
        truncated = len(rows) > max_keys
        return ListPage(objects, (), truncated, objects[-1].key if truncated else None)
