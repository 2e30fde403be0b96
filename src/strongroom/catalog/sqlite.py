"""`SqliteCatalog`: the embedded catalog, one SQLite file in WAL mode shared by processes.

Most of the catalog is written once for both engines (sql_accounts, sql_objects,
sql_uploads, over `statements` built here for SQLite). This module holds what is
SQLite's own: PutObject and DeleteObject through group commit (db/group_commit.py),
making a version current under the file's write lock, the delimited listing's
feed (a lazy cursor over the narrow `current` index), the bulk load, and the sweep's
snapshot.

A `versions` row per ObjectVersion (delete markers included) and a `current` row per
(bucket, key) pointing at the version GET and listing see: the newest, unless that is a
delete marker (then the key has no `current` row). What versioning keeps and removes is
written once in sql_base.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from strongroom.catalog import codec, schemas
from strongroom.catalog.listing import Entry, Fetch, walk
from strongroom.catalog.model import ObjectSummary, ObjectVersion
from strongroom.catalog.sealer import MetadataSealer
from strongroom.catalog.sql_accounts import SqlAccounts
from strongroom.catalog.sql_servers import SqlServers
from strongroom.catalog.sql_uploads import SqlUploads
from strongroom.catalog.statements import BOUNDS, S, Statements, range_sql
from strongroom.db.database import OneStatement, opened
from strongroom.db.sqlite import BUSY_TIMEOUT_S, SQLITE, SqliteDatabase
from strongroom.object_lock import Lock

_SQL = Statements(SQLITE)
_INSERT_VERSION = (
    f"INSERT INTO versions ({codec.columns(codec.VERSION_COLUMNS)}) "
    f"VALUES ({codec.placeholders(codec.VERSION_COLUMNS)})"
)
# With a delimiter, most rows read may be the first key under a common prefix: read the
# narrow `current` index alone, and the versions of the keys returned afterwards.
_KEYS = {b: range_sql("SELECT c.key, c.version FROM current c", *b) for b in BOUNDS}
# Id lists are bound as parameters, a chunk at a time (SQLite limits parameters per statement).
_ID_CHUNK = 500


class SqliteCatalog(SqlUploads, SqlAccounts, SqlServers, SqliteDatabase):
    """Implements `strongroom.catalog.api.Catalog` (plus `bulk_put_objects`)."""

    _sql = _SQL

    @classmethod
    def open(cls, path: str | Path, sealer: MetadataSealer) -> SqliteCatalog:
        """Open (creating if needed) the catalog file at `path`; `sealer` seals its rows' private fields."""
        catalog = cls(path)
        catalog._sealer, catalog._listed = sealer, {}
        ran: list[int] = []
        opened(catalog, lambda c: ran.extend(schemas.create_sqlite(c, sealer)))
        if ran:
            # A migration rewrote rows: the WAL still holds the pages as they were before it (and the
            # main file until a checkpoint). Copy the new pages in and empty the WAL now.
            catalog._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return catalog

    # --- objects: writes through group commit ---

    def put_object(self, version: ObjectVersion, *, if_none_match: bool = False, if_match: str | None = None,
                   acl: str | None = None, lock: Lock | None = None) -> ObjectVersion | None:
        def put(conn: sqlite3.Connection) -> ObjectVersion | None:
            versioned = self._require_bucket(conn, version.bucket)
            return self._put_current(conn, version, if_none_match=if_none_match, if_match=if_match, acl=acl,
                                     versioned=versioned, lock=lock)

        return self._grouped(put)

    def put_statement(self, version: ObjectVersion, *, if_none_match: bool = False,
                      if_match: str | None = None, acl: str | None = None, lock: Lock | None = None
                      ) -> OneStatement[ObjectVersion | None] | None:
        return None  # a write here joins a group commit (one fsync for the writers of the moment): put_object

    def delete_object(self, bucket: str, key: str, marker: ObjectVersion | None = None, *,
                      if_match: str | None = None) -> ObjectVersion | None:
        return self._grouped(lambda conn: self._delete_current(conn, bucket, key, marker, if_match))

    def delete_version(self, bucket: str, key: str, version_id: str, *, bypass_governance: bool = False
                       ) -> ObjectVersion | None:
        return self._grouped(
            lambda conn: self._delete_version(conn, bucket, key, version_id, bypass_governance))

    def _lock_key(self, conn: sqlite3.Connection, bucket: str, key: str) -> None:
        """Nothing to do: the write transaction holds the whole file."""

    def _insert_version(self, conn: sqlite3.Connection, version: ObjectVersion) -> int:
        inserted = conn.execute(_INSERT_VERSION, codec.encode_version(version, self._sealer)).lastrowid
        assert inserted is not None
        return inserted

    # --- listing: the feeds of listing.walk ---

    def _list_delimited(self, bucket: str, prefix: str, delimiter: str, after: str, max_keys: int
                        ) -> tuple[list[Entry], tuple[ObjectSummary, ...]]:
        with self._read() as conn:
            entries = walk(_cursor_fetch(conn, _KEYS, bucket), prefix, delimiter, after, max_keys + 1)
            rows = [row for _, row in entries[:max_keys] if row is not None]
            summaries = self._summaries_by_id(conn, bucket, [row[1] for row in rows])
        return entries, tuple(summaries[row[1]] for row in rows)

    def _upload_fetch(self, conn: sqlite3.Connection, bucket: str) -> Fetch:
        return _cursor_fetch(conn, self._sql.upload_range, bucket)

    def _summaries_by_id(self, conn: sqlite3.Connection, bucket: str, ids: list[int]
                         ) -> dict[int, ObjectSummary]:
        found: dict[int, ObjectSummary] = {}
        decode = codec.summary_decoder(self._sealer, bucket, self._listed)
        for i in range(0, len(ids), _ID_CHUNK):
            chunk = ids[i:i + _ID_CHUNK]
            sql = f"SELECT {S}, v.id FROM versions v WHERE v.id IN ({', '.join('?' * len(chunk))})"
            for row in conn.execute(sql, chunk):
                found[row[-1]] = decode(row[:-1])
        return found

    # --- maintenance ---

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
            sealer = self._sealer
            conn.executemany(_INSERT_VERSION, (codec.encode_version(v, sealer) for v in latest.values()))
            conn.executemany(
                "INSERT INTO current (bucket, key, version) "
                "VALUES (?, ?, (SELECT id FROM versions WHERE version_id = ?)) "
                "ON CONFLICT (bucket, key) DO UPDATE SET version = excluded.version",
                ((v.bucket, v.key, v.version_id) for v in latest.values()),
            )
        return len(latest)

    def record_pending(self, blob_id: str) -> None:
        """Through group commit: concurrent large PUTs share the transaction and its fsync."""
        self._grouped(lambda conn: conn.execute(self._g.add_pending, (blob_id,)))

    def referenced_blob_ids(self) -> Iterator[str]:
        """Every blob id a version or a part refers to, from one snapshot."""
        return self._blob_ids(recorded=False)

    def known_blob_ids(self) -> Iterator[str]:
        """Every blob id referenced or recorded (pending or garbage), from one snapshot."""
        return self._blob_ids(recorded=True)

    def _blob_ids(self, recorded: bool) -> Iterator[str]:
        """Read through a connection of its own, so a caller may use the catalog while it
        iterates (a sweep can take long on a big catalog)."""
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            conn.execute("BEGIN")
            for sql in ("SELECT pieces FROM versions", "SELECT piece FROM parts"):
                for (pieces,) in conn.execute(sql):
                    yield from codec.blob_ids_in(pieces)
            if recorded:
                for (blob_id,) in conn.execute(self._g.recorded):
                    yield blob_id
            conn.execute("COMMIT")
        finally:
            conn.close()


def _cursor_fetch(conn: sqlite3.Connection, sql: dict[tuple[bool, bool], str], bucket: str) -> Fetch:
    """A `listing.Fetch` over the range statements `sql` (by (inclusive, bounded)): a lazy cursor,
    so rows walk does not take are never read."""

    def fetch(lo: str, inclusive: bool, hi: str | None, n: int) -> Iterator[Sequence[Any]]:
        params = (bucket, lo, hi, n) if hi is not None else (bucket, lo, n)
        cursor = conn.execute(sql[inclusive, hi is not None], params)
        try:
            yield from cursor
        finally:
            cursor.close()  # walk may stop early; free the statement now

    return fetch
