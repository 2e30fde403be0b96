"""Objects in the PostgreSQL catalog: put (conditional), get, delete, list, and a bulk load for benchmarks.

The tables mirror SQLite's: a `versions` row per ObjectVersion and a `current`
row per (bucket, key) pointing at the version GET and listing see. Replacing or
deleting the current version removes its row (no versioning yet); the caller
deletes its blobs.

Atomicity across processes comes from row locks taken in one order: the
bucket's row (FOR KEY SHARE: DeleteBucket's FOR UPDATE waits for it), then the
key's `current` row (FOR UPDATE). A key that has no row yet has nothing to lock;
two creators meet at the primary key instead (see `_replace_current`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from strongroom.catalog import codec
from strongroom.catalog.api import CatalogConflict, NoSuchBucketError
from strongroom.catalog.listing import start, walk
from strongroom.catalog.model import ListPage, ObjectVersion
from strongroom.catalog.postgres_db import Connection, PostgresDatabase
from strongroom.catalog.postgres_listing import KeyWalk, range_sql


def placeholders(names: tuple[str, ...]) -> str:
    return ", ".join(["%s"] * len(names))


_V = codec.columns(codec.VERSION_COLUMNS, "v")
_S = codec.columns(codec.SUMMARY_COLUMNS, "v")
_INSERT_VERSION = (
    f"INSERT INTO versions ({codec.columns(codec.VERSION_COLUMNS)}) "
    f"VALUES ({placeholders(codec.VERSION_COLUMNS)}) RETURNING id"
)
_FROM_CURRENT = "FROM current c JOIN versions v ON v.id = c.version"
_GET_CURRENT = f"SELECT {_V} {_FROM_CURRENT} WHERE c.bucket = %s AND c.key = %s"
# Row locks and joins: a locking SELECT that waited for another writer sees that writer's
# update of the row it locks, but not rows the writer inserted elsewhere (its snapshot is
# older), so a version the lock finds is read by a statement of its own, which sees it.
_LOCK_CURRENT = "SELECT version FROM current WHERE bucket = %s AND key = %s FOR UPDATE"
_VERSION_BY_ID = f"SELECT {_V} FROM versions v WHERE v.id = %s"
_CREATE_CURRENT = "INSERT INTO current (bucket, key, version) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
_UPDATE_CURRENT = "UPDATE current SET version = %s WHERE bucket = %s AND key = %s"
_DELETE_CURRENT = "DELETE FROM current WHERE bucket = %s AND key = %s RETURNING version"
_DELETE_VERSION = f"DELETE FROM versions v WHERE v.id = %s RETURNING {_V}"
# The current versions of some keys (the objects of a delimited listing page).
_CURRENT_OF_KEYS = f"SELECT {_S} {_FROM_CURRENT} WHERE c.bucket = %s AND c.key = ANY(%s)"


# Without a delimiter, every row read is returned: join the versions in the same query.
_JOINED = {
    (inc, bnd): range_sql(f"SELECT {_S} {_FROM_CURRENT}", inc, bnd)
    for inc in (True, False) for bnd in (True, False)
}


class PostgresObjects(PostgresDatabase):
    def set_object_tags(self, version: ObjectVersion, tags: dict[str, str]) -> bool:
        """Replace the tags of a stored version in place; False when it is no longer current.

        One statement: a put replacing the version deletes its row, so this update either
        runs first or (having waited for that row) finds it gone.
        """
        updated = codec.encode_version(dataclasses.replace(version, tags=tags))
        extra = updated[codec.VERSION_COLUMNS.index("extra")]
        cur = self._conn().execute(
            "UPDATE versions SET extra = %s WHERE version_id = %s AND bucket = %s AND key = %s AND id IN "
            "(SELECT version FROM current WHERE bucket = %s AND key = %s)",
            (extra, version.version_id, version.bucket, version.key, version.bucket, version.key))
        return cur.rowcount > 0

    def rekey_version(self, version: ObjectVersion) -> bool:
        """Replace the sealing and piece keys of a stored version, in place (same id, same blobs)."""
        pieces, inline = codec.encode_pieces(version.pieces)
        cur = self._conn().execute(
            "UPDATE versions SET sealing = %s, pieces = %s, inline = %s "
            "WHERE version_id = %s AND bucket = %s AND key = %s",
            (codec.encode_sealing(version.sealing), pieces, inline, version.version_id, version.bucket,
             version.key))
        return cur.rowcount > 0

    def put_object(self, version: ObjectVersion, *, if_none_match: bool = False, if_match: str | None = None
                   ) -> ObjectVersion | None:
        with self._write() as conn:
            if not self._lock_bucket(conn, version.bucket):
                raise NoSuchBucketError(version.bucket)
            return self._replace_current(conn, version, if_none_match=if_none_match, if_match=if_match)

    def get_object(self, bucket: str, key: str) -> ObjectVersion | None:
        row = self._conn().execute(_GET_CURRENT, (bucket, key)).fetchone()
        return None if row is None else codec.decode_version(row)

    def delete_object(self, bucket: str, key: str) -> ObjectVersion | None:
        with self._write() as conn:
            # Two statements, not one: see _LOCK_CURRENT (a put committed while this waited for
            # the row has a version the first statement's snapshot does not hold).
            current = conn.execute(_DELETE_CURRENT, (bucket, key)).fetchone()
            if current is None:
                return None
            row = conn.execute(_DELETE_VERSION, current).fetchone()
        if row is None:  # not reached: a current row always points at a version
            raise RuntimeError(f"{bucket}/{key} pointed at a missing version")
        return codec.decode_version(row)

    def list_objects(self, bucket: str, *, prefix: str = "", delimiter: str = "", after: str = "",
                     max_keys: int = 1000) -> ListPage:
        if max_keys <= 0:
            return ListPage((), (), False, None)
        if not delimiter:
            return self._list_range(bucket, prefix, after, max_keys)
        conn = self._conn()
        fetch = KeyWalk(conn, _JOINED, bucket, prefix, delimiter)
        entries = walk(fetch, prefix, delimiter, after, max_keys + 1)
        page = entries[:max_keys]
        # Rows are whole records, or (key,) where walk was fed by a skip-scan chain (see
        # postgres_listing): those keys' versions are read now. Read committed, not one snapshot:
        # a key deleted since is left out, a key replaced since shows its new version, as if
        # the listing had run a moment later.
        decode = codec.decode_summary
        by_key = {key: decode(row) for key, row in page if row is not None and len(row) > 1}
        missing = [key for key, row in page if row is not None and len(row) == 1]
        if missing:
            for row in conn.execute(_CURRENT_OF_KEYS, (bucket, missing)):
                by_key[row[0]] = decode(row)
        keys = [key for key, row in page if row is not None]
        return ListPage(
            objects=tuple(by_key[k] for k in keys if k in by_key),
            common_prefixes=tuple(name for name, row in page if row is None),
            is_truncated=len(entries) > max_keys,
            next_marker=page[-1][0] if len(entries) > max_keys else None,
        )

    def _list_range(self, bucket: str, prefix: str, after: str, max_keys: int) -> ListPage:
        """Without a delimiter a listing is one range query."""
        bounds = start(prefix, after)
        if bounds is None:
            return ListPage((), (), False, None)
        lo, inclusive, hi = bounds
        params = (bucket, lo, hi, max_keys + 1) if hi is not None else (bucket, lo, max_keys + 1)
        rows = self._conn().execute(_JOINED[inclusive, hi is not None], params).fetchall()
        decode = codec.decode_summary
        objects = tuple([decode(row) for row in rows[:max_keys]])
        truncated = len(rows) > max_keys
        return ListPage(objects, (), truncated, objects[-1].key if truncated else None)

    def bulk_put_objects(self, versions: Iterable[ObjectVersion]) -> int:
        """Make all `versions` current in one transaction (to fill a catalog for a benchmark).

        Not part of the Catalog protocol. Versions it replaces are dropped without being
        returned: their blobs are left for the sweep. Returns the number of keys written.
        """
        latest = {(v.bucket, v.key): v for v in versions}  # a key given twice: the last one wins
        by_bucket: dict[str, list[str]] = {}
        for bucket, key in latest:
            by_bucket.setdefault(bucket, []).append(key)
        with self._write() as conn:
            for bucket in sorted(by_bucket):
                if not self._lock_bucket(conn, bucket):
                    raise NoSuchBucketError(bucket)
            for bucket, keys in by_bucket.items():
                conn.execute("DELETE FROM versions WHERE id IN "
                             "(SELECT version FROM current WHERE bucket = %s AND key = ANY(%s))",
                             (bucket, keys))
            with conn.cursor() as cur, cur.copy(
                    f"COPY versions ({codec.columns(codec.VERSION_COLUMNS)}) FROM STDIN") as copy:
                for v in latest.values():
                    copy.write_row(codec.encode_version(v))
            conn.execute(
                "INSERT INTO current (bucket, key, version) "
                "SELECT bucket, key, id FROM versions WHERE version_id = ANY(%s) ORDER BY bucket, key "
                "ON CONFLICT (bucket, key) DO UPDATE SET version = excluded.version",
                ([v.version_id for v in latest.values()],),
            )
        return len(latest)

    # --- shared with multipart completion ---

    def _lock_bucket(self, conn: Connection, bucket: str) -> bool:
        """Inside a transaction: whether the bucket exists, kept so until commit (DeleteBucket waits)."""
        row = conn.execute("SELECT 1 FROM buckets WHERE name = %s FOR KEY SHARE", (bucket,)).fetchone()
        return row is not None

    def _replace_current(self, conn: Connection, version: ObjectVersion, *, if_none_match: bool,
                         if_match: str | None) -> ObjectVersion | None:
        """Inside a transaction holding the bucket's lock: check the conditions, make `version` current."""
        new_id: int | None = None
        while True:
            current = conn.execute(_LOCK_CURRENT, (version.bucket, version.key)).fetchone()
            row = None if current is None else conn.execute(_VERSION_BY_ID, current).fetchone()
            if row is not None and row[1] == version.version_id:
                # Returning it as "replaced" would have the caller delete the blobs it still uses.
                raise ValueError(f"version {version.version_id} is already current")
            old = None if row is None else codec.decode_version(row)
            if if_none_match and old is not None:
                raise CatalogConflict(f"{version.bucket}/{version.key} exists")
            if if_match is not None and (old is None or old.etag != if_match):
                raise CatalogConflict(f"{version.bucket}/{version.key} does not have etag {if_match}")
            if new_id is None:
                inserted = conn.execute(_INSERT_VERSION, codec.encode_version(version)).fetchone()
                assert inserted is not None  # INSERT ... RETURNING returns the row it inserted
                new_id = inserted[0]
            if current is None:
                # No row to lock: if another transaction is creating the key, this insert waits
                # for it and then does nothing; the next round sees (and locks) its row.
                if conn.execute(_CREATE_CURRENT, (version.bucket, version.key, new_id)).rowcount == 1:
                    return None
                continue
            conn.execute(_UPDATE_CURRENT, (new_id, version.bucket, version.key))
            conn.execute("DELETE FROM versions WHERE id = %s", current)
            return old
