"""Object Lock in the catalog, written once for both engines: a version's retention and legal hold
(table object_locks), and the check that runs inside every transaction that removes a version.

This is the floor under every door (DESIGN.md: "Object Lock is checked in the object layer, below every
path that removes bytes"): DeleteObject by version, DeleteObjects, an overwrite of the `null` version,
a command, a future lifecycle rule all remove a version through `SqlBase`, which calls
`_check_removal` in the same transaction, after the key's writers are serialised, against the
database's clock. Blobs become garbage only in such a transaction, so the sweep never meets the bytes of
a protected version. The rules themselves are `strongroom.object_lock`'s, and their refusal (an
S3Error, AccessDenied) reaches the client as it is.

Rows are keyed by the version's internal id (`versions.version_id`); a multipart upload's lock waits
under 'upload:<id>' (as its ACL does) until the upload completes. A row keeps the ARN of the KMS key
sealing the version, so that `kms_key_protects` can tell the KMS that the key must stay usable.
"""

from __future__ import annotations

import functools
from typing import Any

from strongroom.catalog.model import ObjectVersion
from strongroom.catalog.sql_garbage import SqlGarbage
from strongroom.db.dialect import Dialect
from strongroom.object_lock import Lock, Retention

_COLUMNS = "mode, retain_until, legal_hold"


class _Statements:
    def __init__(self, d: Dialect) -> None:
        q = d.sql
        self.lock = q(f"SELECT {_COLUMNS} FROM object_locks WHERE version_id = ?")
        self.put = q(f"INSERT INTO object_locks (version_id, {_COLUMNS}, kms_key_arn) VALUES (?, ?, ?, ?, ?) "
                     "ON CONFLICT (version_id) DO UPDATE SET mode = excluded.mode, "
                     "retain_until = excluded.retain_until, legal_hold = excluded.legal_hold, "
                     "kms_key_arn = excluded.kms_key_arn")
        self.move = q("UPDATE object_locks SET version_id = ?, kms_key_arn = ? WHERE version_id = ?")
        self.forget = q("DELETE FROM object_locks WHERE version_id = ?")
        self.set_key = q("UPDATE object_locks SET kms_key_arn = ? WHERE version_id = ?")
        # Only rows of versions that exist count: a lock left by an upload that never completed (its
        # bucket deleted) protects nothing.
        self.key_protects = q(
            "SELECT 1 FROM object_locks l JOIN versions v ON v.version_id = l.version_id "
            "WHERE l.kms_key_arn = ? AND (l.legal_hold = 1 OR l.retain_until > ?) LIMIT 1")


@functools.cache
def _statements(d: Dialect) -> _Statements:
    return _Statements(d)


def pending_lock_id(upload_id: str) -> str:
    """Where a multipart upload's lock waits until the upload completes."""
    return f"upload:{upload_id}"


def decode_lock(row: Any) -> Lock:
    mode, until, hold = row
    return Lock(Retention(mode, float(until)) if mode is not None else None, bool(hold))


class SqlLocks(SqlGarbage):
    @property
    def _l(self) -> _Statements:
        return _statements(self.dialect)

    # --- inside a write transaction ---

    def _lock_of(self, conn: Any, lock_id: str) -> Lock | None:
        row = conn.execute(self._l.lock, (lock_id,)).fetchone()
        return None if row is None else decode_lock(row)

    def _store_lock(self, conn: Any, lock_id: str, lock: Lock, kms_key_arn: str | None) -> None:
        r = lock.retention
        conn.execute(self._l.put, (lock_id, r.mode if r else None, r.retain_until if r else None,
                                   int(lock.legal_hold), kms_key_arn))

    def _db_now(self, conn: Any) -> float:
        (now,) = conn.execute(self._g.now, ()).fetchone()
        return float(now)

    def _check_removal(self, conn: Any, version: ObjectVersion, bypass_governance: bool = False) -> None:
        """Raise (AccessDenied) unless `version` may be removed for good now; then forget its lock. Run by
        every removal of a version, in its transaction, with the key's writers serialised."""
        lock = self._lock_of(conn, version.version_id)
        if lock is None:
            return
        lock.check_delete(self._db_now(conn), bypass_governance)
        conn.execute(self._l.forget, (version.version_id,))

    def _move_pending_lock(self, conn: Any, upload_id: str, version: ObjectVersion) -> bool:
        """An upload's lock becomes its completed version's; False when the upload had none."""
        moved: int = conn.execute(self._l.move, (version.version_id, version.sealing.kms_key_arn,
                                                 pending_lock_id(upload_id))).rowcount
        return moved > 0

    def _forget_lock(self, conn: Any, lock_id: str) -> None:
        conn.execute(self._l.forget, (lock_id,))

    def _rekeyed(self, conn: Any, version: ObjectVersion) -> None:
        """A version re-sealed under another KMS key (UpdateObjectEncryption): its lock follows."""
        conn.execute(self._l.set_key, (version.sealing.kms_key_arn, version.version_id))

    # --- reads ---

    def get_lock(self, version_id: str) -> Lock | None:
        """The lock of a version (its internal id), None when it has neither retention nor legal hold."""
        row = self._conn().execute(self._l.lock, (version_id,)).fetchone()
        return None if row is None else decode_lock(row)

    def kms_key_protects(self, kms_key_arn: str) -> bool:
        """Whether the KMS key seals a version under an unexpired retention or a legal hold (the
        database's clock): such a key must be neither disabled nor scheduled for deletion."""
        now = self.catalog_time()
        return self._conn().execute(self._l.key_protects, (kms_key_arn, now)).fetchone() is not None
