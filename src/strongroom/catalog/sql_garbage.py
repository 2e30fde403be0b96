"""Garbage is decided by the catalog: blob records and leases, written once for both engines.

A blob-backed piece's blob is recorded 'pending' before its file is created (`record_pending`).
The commit that makes the piece visible (a version, or an upload's part) deletes that record in
its own transaction, and refuses to commit when the record is gone (`BlobExpired`: the sweep has
given the blob up). The commit that replaces or deletes a piece records its blob 'garbage' in its
own transaction instead of the caller deleting the file, so a reader that looked the old version up
still finds its blob until the grace period has passed. Inline pieces have no blob: a small PUT
runs no statement of this module.

The sweep (vault/sweep.py) reads what is older than the grace period (`expired_blobs`) and removes
it, one server at a time under a lease (`take_lease`). Every age and every lease expiry is computed
in SQL on the database's clock, never a server's.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from strongroom.catalog.api import BlobExpired, State
from strongroom.catalog.model import Piece
from strongroom.db.database import Database
from strongroom.db.dialect import Dialect

# Ids are bound as parameters, a chunk per statement (SQLite limits parameters per statement).
_CHUNK = 400


# Seconds since the epoch, on the database's clock.
_NOW = {
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
    "postgres": "extract(epoch FROM clock_timestamp())::double precision",
}


_RESTATE = "state = excluded.state, since = excluded.since"


class _Statements:
    def __init__(self, d: Dialect) -> None:
        now = _NOW[d.name]
        q = d.sql
        self.now = q(f"SELECT {now}")
        # Ids are random: the upsert only matters to tests that commit the same blob id twice.
        self.add_pending = q(f"INSERT INTO blob_records (blob_id, state, since) VALUES (?, 'pending', {now}) "
                             f"ON CONFLICT (blob_id) DO UPDATE SET {_RESTATE}")
        self.garbage_row = f"(?, 'garbage', {now})"
        self.expired = q(f"SELECT blob_id FROM blob_records WHERE state = ? AND since < {now} - ? "
                         "ORDER BY since LIMIT ?")
        self.recorded = q("SELECT blob_id FROM blob_records")
        # A lease is taken when free, expired, or already ours (a renewal).
        self.take_lease = q(
            f"INSERT INTO leases (name, holder, expires) VALUES (?, ?, {now} + ?) "
            "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires "
            f"WHERE leases.holder = excluded.holder OR leases.expires < {now}")
        self.renew_lease = q(f"UPDATE leases SET expires = {now} + ? "
                             f"WHERE name = ? AND holder = ? AND expires >= {now}")
        self.release_lease = q("DELETE FROM leases WHERE name = ? AND holder = ?")

    def delete_records(self, d: Dialect, n: int) -> str:
        return d.sql(f"DELETE FROM blob_records WHERE state = ? AND blob_id IN ({', '.join('?' * n)})")

    def add_garbage(self, d: Dialect, n: int) -> str:
        return d.sql("INSERT INTO blob_records (blob_id, state, since) VALUES "
                     f"{', '.join([self.garbage_row] * n)} "
                     f"ON CONFLICT (blob_id) DO UPDATE SET {_RESTATE}")


@functools.cache
def _statements(d: Dialect) -> _Statements:
    return _Statements(d)


def blob_ids(pieces: Iterable[Piece]) -> list[str]:
    return [p.blob_id for p in pieces if p.blob_id]


class SqlGarbage(Database):
    """Blob records and leases; SqlBase builds on it (a commit settles its blobs in its transaction)."""

    @property
    def _g(self) -> _Statements:
        return _statements(self.dialect)

    # --- writes: before the file, at the commit, after a failure ---

    def record_pending(self, blob_id: str) -> None:
        """Record a new blob as pending, before its file is created (durable when this returns)."""
        self._write_one(self._g.add_pending, (blob_id,))

    def forget_pending(self, ids: Sequence[str]) -> None:
        """A write that failed before its commit has deleted its blobs: forget their records."""
        with self._write() as conn:
            self._delete_records(conn, "pending", ids)

    def _settle_blobs(self, conn: Any, committed: Iterable[Piece], dropped: Iterable[Piece]) -> None:
        """Inside the commit's transaction: the pieces it makes visible are no longer pending (BlobExpired
        when one's record is gone), and the blobs of the pieces it drops are garbage."""
        new, old = blob_ids(committed), blob_ids(dropped)
        if new and old:  # a blob in both stays referenced (a re-keyed part): neither new nor garbage
            new, old = [b for b in new if b not in old], [b for b in old if b not in new]
        if new and self._delete_records(conn, "pending", new) != len(new):
            raise BlobExpired(f"pending record gone for one of {new}")
        self._add_garbage(conn, old)

    def _add_garbage(self, conn: Any, ids: Sequence[str]) -> None:
        ids = list(dict.fromkeys(ids))  # PostgreSQL's upsert may not meet one row twice in a statement
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i:i + _CHUNK]
            conn.execute(self._g.add_garbage(self.dialect, len(chunk)), chunk)

    def _delete_records(self, conn: Any, state: State, ids: Sequence[str]) -> int:
        deleted = 0
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i:i + _CHUNK]
            sql = self._g.delete_records(self.dialect, len(chunk))
            deleted += conn.execute(sql, (state, *chunk)).rowcount
        return deleted

    # --- the sweep ---

    def catalog_time(self) -> float:
        """The database's clock, in seconds since the epoch."""
        (now,) = self._conn().execute(self._g.now, ()).fetchone()
        return float(now)

    def expired_blobs(self, state: State, grace: float, limit: int) -> list[str]:
        """Up to `limit` blobs recorded `state` for more than `grace` seconds, oldest first."""
        rows = self._conn().execute(self._g.expired, (state, grace, limit)).fetchall()
        return [row[0] for row in rows]

    def forget_blobs(self, state: State, ids: Sequence[str]) -> int:
        """Remove the records of `ids` that are still `state`; how many were removed."""
        with self._write() as conn:
            return self._delete_records(conn, state, ids)

    # --- leases: one-at-a-time jobs across servers ---

    def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Hold the lease `name` for `seconds` (database time) unless another holder has it unexpired."""
        return self._write_one(self._g.take_lease, (name, holder, seconds)) > 0

    def renew_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Extend a lease still held; False when it expired (another holder may have it now)."""
        return self._write_one(self._g.renew_lease, (seconds, name, holder)) > 0

    def release_lease(self, name: str, holder: str) -> None:
        self._write_one(self._g.release_lease, (name, holder))
