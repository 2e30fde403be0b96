"""Objects in the SQLite catalog: put (conditional), get, delete, list, and a bulk load for benchmarks.

A `versions` row per ObjectVersion and a `current` row per (bucket, key)
pointing at the version GET and listing see. Replacing or deleting the current
version removes its row (no versioning yet); the caller deletes its blobs.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from strongroom.catalog import codec
from strongroom.catalog.api import CatalogConflict, NoSuchBucketError
from strongroom.catalog.listing import start, walk
from strongroom.catalog.model import ListPage, ObjectSummary, ObjectVersion
from strongroom.catalog.sqlite_db import SqliteDatabase

_V = codec.columns(codec.VERSION_COLUMNS, "v")
_S = codec.columns(codec.SUMMARY_COLUMNS, "v")
_INSERT_VERSION = (
    f"INSERT INTO versions ({codec.columns(codec.VERSION_COLUMNS)}) "
    f"VALUES ({codec.placeholders(codec.VERSION_COLUMNS)})"
)
_SET_CURRENT = (
    "INSERT INTO current (bucket, key, version) VALUES (?, ?, ?) "
    "ON CONFLICT (bucket, key) DO UPDATE SET version = excluded.version"
)
_GET_CURRENT = (
    f"SELECT {_V}, v.id FROM current c JOIN versions v ON v.id = c.version WHERE c.bucket = ? AND c.key = ?"
)
# Id lists are bound as parameters, a chunk at a time (SQLite limits parameters per statement).
_ID_CHUNK = 500


def _range_sql(select: str, inclusive: bool, bounded: bool) -> str:
    """`select` restricted to one bucket's keys in [lo or (lo, hi), in key order, n rows at most."""
    return (
        f"{select} WHERE c.bucket = ? AND c.key {'>=' if inclusive else '>'} ?"
        f"{' AND c.key < ?' if bounded else ''} ORDER BY c.key LIMIT ?"
    )


# Without a delimiter, every row read is returned: join the versions in the same query.
# (One statement: its own snapshot, no transaction needed.)
_JOINED = {
    (inc, bnd): _range_sql(f"SELECT {_S} FROM current c JOIN versions v ON v.id = c.version", inc, bnd)
    for inc in (True, False) for bnd in (True, False)
}
# With a delimiter, most rows read may be the first key under a common prefix: read the
# narrow `current` index alone, and the versions of the keys returned afterwards.
_KEYS = {
    (inc, bnd): _range_sql("SELECT c.key, c.version FROM current c", inc, bnd)
    for inc in (True, False) for bnd in (True, False)
}


class SqliteObjects(SqliteDatabase):
    def set_object_tags(self, version: ObjectVersion, tags: dict[str, str]) -> bool:
        """Replace the tags of a stored version in place; False when it is no longer current."""
        updated = codec.encode_version(dataclasses.replace(version, tags=tags))
        extra = updated[codec.VERSION_COLUMNS.index("extra")]
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE versions SET extra = ? WHERE version_id = ? AND bucket = ? AND key = ? AND id IN "
                "(SELECT version FROM current WHERE bucket = ? AND key = ?)",
                (extra, version.version_id, version.bucket, version.key, version.bucket, version.key))
            return cur.rowcount > 0

    def rekey_version(self, version: ObjectVersion) -> bool:
        """Replace the sealing and piece keys of a stored version, in place (same id, same blobs)."""
        pieces, inline = codec.encode_pieces(version.pieces)
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE versions SET sealing = ?, pieces = ?, inline = ? "
                "WHERE version_id = ? AND bucket = ? AND key = ?",
                (codec.encode_sealing(version.sealing), pieces, inline, version.version_id, version.bucket,
                 version.key))
            return cur.rowcount > 0

    def put_object(self, version: ObjectVersion, *, if_none_match: bool = False, if_match: str | None = None
                   ) -> ObjectVersion | None:
        return self._grouped(
            lambda conn: self._replace_current(conn, version, if_none_match=if_none_match, if_match=if_match))

    def get_object(self, bucket: str, key: str) -> ObjectVersion | None:
        row = self._conn().execute(_GET_CURRENT, (bucket, key)).fetchone()
        return None if row is None else codec.decode_version(row[:-1])

    def delete_object(self, bucket: str, key: str) -> ObjectVersion | None:
        return self._grouped(lambda conn: self._delete_current(conn, bucket, key))

    @staticmethod
    def _delete_current(conn: sqlite3.Connection, bucket: str, key: str) -> ObjectVersion | None:
        row = conn.execute(_GET_CURRENT, (bucket, key)).fetchone()
        if row is None:
            return None
        conn.execute("DELETE FROM current WHERE bucket = ? AND key = ?", (bucket, key))
        conn.execute("DELETE FROM versions WHERE id = ?", (row[-1],))
        return codec.decode_version(row[:-1])

    def list_objects(self, bucket: str, *, prefix: str = "", delimiter: str = "", after: str = "",
                     max_keys: int = 1000) -> ListPage:
        if max_keys <= 0:
            return ListPage((), (), False, None)
        if not delimiter:
            return self._list_range(bucket, prefix, after, max_keys)
        with self._read() as conn:

            def fetch(lo: str, inclusive: bool, hi: str | None, n: int) -> Iterator[Sequence[Any]]:
                params = (bucket, lo, hi, n) if hi is not None else (bucket, lo, n)
                cursor = conn.execute(_KEYS[inclusive, hi is not None], params)
                try:
                    yield from cursor
                finally:
                    cursor.close()  # walk may stop early; free the statement now

            entries = walk(fetch, prefix, delimiter, after, max_keys + 1)
            page = entries[:max_keys]
            summaries = self._summaries_by_id(conn, [row[1] for _, row in page if row is not None])
        objects = tuple(summaries[row[1]] for _, row in page if row is not None)
        return ListPage(
            objects=objects,
            common_prefixes=tuple(name for name, row in page if row is None),
            is_truncated=len(entries) > max_keys,
            next_marker=page[-1][0] if len(entries) > max_keys else None,
        )

    def _list_range(self, bucket: str, prefix: str, after: str, max_keys: int) -> ListPage:
        """Without a delimiter a listing is one range query (walk would do the same, a row at a time)."""
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
        with self._write() as conn:
            for bucket in {b for b, _ in latest}:
                self._require_bucket(conn, bucket)
            conn.executemany(
                "DELETE FROM versions WHERE id = (SELECT version FROM current WHERE bucket = ? AND key = ?)",
                latest.keys(),
            )
            conn.executemany(_INSERT_VERSION, (codec.encode_version(v) for v in latest.values()))
            conn.executemany(
                "INSERT INTO current (bucket, key, version) "
                "VALUES (?, ?, (SELECT id FROM versions WHERE version_id = ?)) "
                "ON CONFLICT (bucket, key) DO UPDATE SET version = excluded.version",
                ((v.bucket, v.key, v.version_id) for v in latest.values()),
            )
        return len(latest)

    # --- shared with multipart completion ---

    def _require_bucket(self, conn: sqlite3.Connection, bucket: str) -> None:
        if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (bucket,)).fetchone() is None:
            raise NoSuchBucketError(bucket)

    def _replace_current(self, conn: sqlite3.Connection, version: ObjectVersion, *, if_none_match: bool,
                         if_match: str | None) -> ObjectVersion | None:
        """Inside a write transaction: check the conditions, then make `version` current."""
        self._require_bucket(conn, version.bucket)
        row = conn.execute(_GET_CURRENT, (version.bucket, version.key)).fetchone()
        if row is not None and row[1] == version.version_id:
            # Returning it as "replaced" would have the caller delete the blobs it still uses.
            raise ValueError(f"version {version.version_id} is already current")
        old = None if row is None else codec.decode_version(row[:-1])
        if if_none_match and old is not None:
            raise CatalogConflict(f"{version.bucket}/{version.key} exists")
        if if_match is not None and (old is None or old.etag != if_match):
            raise CatalogConflict(f"{version.bucket}/{version.key} does not have etag {if_match}")
        if row is not None:
            conn.execute("DELETE FROM versions WHERE id = ?", (row[-1],))
        new_id = conn.execute(_INSERT_VERSION, codec.encode_version(version)).lastrowid
        conn.execute(_SET_CURRENT, (version.bucket, version.key, new_id))
        return old

    def _summaries_by_id(self, conn: sqlite3.Connection, ids: list[int]) -> dict[int, ObjectSummary]:
        found: dict[int, ObjectSummary] = {}
        for i in range(0, len(ids), _ID_CHUNK):
            chunk = ids[i:i + _ID_CHUNK]
            sql = f"SELECT {_S}, v.id FROM versions v WHERE v.id IN ({', '.join('?' * len(chunk))})"
            for row in conn.execute(sql, chunk):
                found[row[-1]] = codec.decode_summary(row[:-1])
        return found

