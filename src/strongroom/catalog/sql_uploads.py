"""Multipart uploads, written once for both engines: uploads, parts, their listings, completion, abort.

Lock order, shared with objects: bucket row, then upload row, then the key's
`current` row (PostgreSQL; SQLite's write transaction holds the whole file).
UploadPart holds its upload's row FOR KEY SHARE, so completion and abort (which
lock that row) wait for a part in flight, and a part arriving after them finds the
upload gone.

An upload's ACL (CreateMultipartUpload's canned or grant headers) waits under
`pending_acl_id(upload_id)` and moves to the object's version when the upload
completes, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from strongroom.catalog import codec
from strongroom.catalog.api import CatalogConflict, NoSuchBucketError
from strongroom.catalog.listing import Entry, common_prefix, walk
from strongroom.catalog.model import ObjectVersion, Part, Sealing, Upload, UploadPage
from strongroom.catalog.sql_base import pending_acl_id
from strongroom.catalog.sql_locks import pending_lock_id
from strongroom.catalog.sql_objects import SqlObjects
from strongroom.object_lock import Lock

_RESEAL_BATCH = 1000


class SqlUploads(SqlObjects):
    def create_upload(self, upload: Upload, *, acl: str | None = None, lock: Lock | None = None) -> None:
        try:
            with self._write() as conn:
                self._require_bucket(conn, upload.bucket)
                conn.execute(self._sql.insert_upload, codec.encode_upload(upload, self._sealer))
                if acl is not None:
                    conn.execute(self._sql.put_acl, (pending_acl_id(upload.upload_id), acl))
                if lock is not None:
                    arn = upload.sealing.kms_key_arn
                    self._store_lock(conn, pending_lock_id(upload.upload_id), lock, arn)
        except self.dialect.unique_violation as e:
            raise CatalogConflict(f"upload {upload.upload_id} exists") from e

    def get_upload(self, upload_id: str) -> Upload | None:
        row = self._conn().execute(self._sql.upload, (upload_id,)).fetchone()
        return None if row is None else codec.decode_upload(row, self._sealer)

    def put_part(self, part: Part) -> Part | None:
        values = codec.encode_part(part, self._sealer)
        with self._write() as conn:
            if conn.execute(self._sql.hold_upload, (part.upload_id,)).fetchone() is None:
                raise CatalogConflict(f"no upload {part.upload_id}")
            while True:
                row = conn.execute(self._sql.lock_part, (part.upload_id, part.piece.part_number)).fetchone()
                if row is not None:
                    conn.execute(self._sql.update_part, (*values[2:], part.upload_id, part.piece.part_number))
                    replaced = codec.decode_part(row, self._sealer)
                    self._settle_blobs(conn, (part.piece,), (replaced.piece,))
                    return replaced
                # No row to lock: a concurrent upload of the same part number (PostgreSQL) makes
                # this insert wait and then do nothing; the next round sees (and replaces) that part.
                if conn.execute(self._sql.create_part, values).rowcount == 1:
                    self._settle_blobs(conn, (part.piece,), ())
                    return None

    def list_parts(self, upload_id: str, *, after: int = 0, max_parts: int = 1000) -> tuple[list[Part], bool]:
        if max_parts <= 0:
            return [], False
        rows = self._conn().execute(self._sql.parts_after, (upload_id, after, max_parts + 1)).fetchall()
        return [codec.decode_part(r, self._sealer) for r in rows[:max_parts]], len(rows) > max_parts

    def all_parts(self, upload_id: str) -> list[Part]:
        return self._parts(self._conn(), upload_id)

    def list_uploads(self, bucket: str, *, prefix: str = "", delimiter: str = "", key_marker: str = "",
                     upload_id_marker: str = "", max_uploads: int = 1000) -> UploadPage:
        """Uploads with key > key_marker; with upload_id_marker also the key_marker's own uploads
        initiated after that one (all of them when it is gone: better shown twice than skipped)."""
        if max_uploads <= 0:
            return UploadPage((), (), False, None, None)
        want = max_uploads + 1
        with self._read() as conn:
            head: list[Entry] = []
            if (key_marker and upload_id_marker and key_marker.startswith(prefix)
                    and common_prefix(key_marker, prefix, delimiter) is None):
                head = [(row[0], row) for row in self._uploads_of_key_after(conn, bucket, key_marker,
                                                                            upload_id_marker, want)]
            entries = head + walk(self._upload_fetch(conn, bucket), prefix, delimiter, key_marker,
                                  want - len(head))
        page = entries[:max_uploads]
        truncated = len(entries) > max_uploads
        last = page[-1] if truncated else None
        return UploadPage(
            uploads=tuple(codec.decode_upload(row, self._sealer) for _, row in page if row is not None),
            common_prefixes=tuple(name for name, row in page if row is None),
            is_truncated=truncated,
            next_key_marker=None if last is None else last[0],
            next_upload_id_marker=None if last is None or last[1] is None else last[1][1],
        )

    def complete_upload(self, upload_id: str, version: ObjectVersion, *, if_none_match: bool = False,
                        if_match: str | None = None, lock: Lock | None = None
                        ) -> tuple[ObjectVersion | None, list[Part]]:
        """Besides the Protocol's conditions: every piece of `version` must still be the current
        part of its number (same blob), or CatalogConflict. An UploadPart that replaced a part
        after the caller read the parts has had the old part's blob deleted by its caller.
        The upload's pending ACL, if any, becomes the version's; so does its pending lock, or else
        `lock` (the bucket's default retention) is the version's."""
        with self._write() as conn:
            versioned = self._hold_bucket(conn, version.bucket)
            row = conn.execute(self._sql.lock_upload, (upload_id,)).fetchone()
            if row is None:
                raise CatalogConflict(f"no upload {upload_id}")
            if tuple(row) != (version.bucket, version.key):
                raise ValueError(f"upload {upload_id} is not for {version.bucket}/{version.key}")
            if versioned is None:  # not reached: an upload goes with its bucket
                raise NoSuchBucketError(version.bucket)
            parts = self._parts(conn, upload_id)
            by_number = {p.piece.part_number: p.piece for p in parts}
            for piece in version.pieces:
                current = by_number.get(piece.part_number)
                if current is None or (current.blob_id, current.inline) != (piece.blob_id, piece.inline):
                    raise CatalogConflict(f"part {piece.part_number} of {upload_id} is gone or replaced")
            pending = conn.execute(self._sql.acl, (pending_acl_id(upload_id),)).fetchone()
            replaced = self._put_current(conn, version, if_none_match=if_none_match, if_match=if_match,
                                         acl=None if pending is None else pending[0], fresh=False,
                                         versioned=versioned)
            if not self._move_pending_lock(conn, upload_id, version) and lock is not None:
                self._store_lock(conn, version.version_id, lock, version.sealing.kms_key_arn)
            self._drop_upload(conn, upload_id)
            used = {(p.part_number, p.blob_id) for p in version.pieces}
            unused = [p for p in parts if (p.piece.part_number, p.piece.blob_id) not in used]
            self._settle_blobs(conn, (), [p.piece for p in unused])
        return replaced, unused

    def replace_upload_sealing(self, upload_id: str, sealing: Sealing) -> bool:
        return self._write_one(self._sql.set_upload_sealing, (codec.encode_sealing(sealing), upload_id)) > 0

    def abort_upload(self, upload_id: str) -> list[Part] | None:
        with self._write() as conn:
            # The upload's row locked first: a part in flight finishes, and is deleted too.
            if conn.execute(self._sql.lock_upload, (upload_id,)).fetchone() is None:
                return None
            parts = self._parts(conn, upload_id)
            self._drop_upload(conn, upload_id)
            self._forget_lock(conn, pending_lock_id(upload_id))
            self._settle_blobs(conn, (), [p.piece for p in parts])
            return parts

    # --- maintenance ---

    def reseal_metadata(self) -> int:
        """Re-seal under the current root key every private field sealed under another one (root key
        rotation); the number of rows re-sealed. A batch per transaction: safe to interrupt and re-run."""
        sealer, n = self._sealer, 0
        after: Any = 0
        while True:
            with self._write() as conn:
                rows = conn.execute(self._sql.versions_from, (after, _RESEAL_BATCH)).fetchall()
                for row in rows:
                    record = row[1:]
                    bucket, key, version_id = record[2], record[0], record[1]
                    listed, private = record[codec.LISTED_AT], record[codec.PRIVATE_AT]
                    if (sealer.sealed_under_current(bytes(listed), codec.version_context(
                            bucket, key, version_id, "listed"))
                            and sealer.sealed_under_current(bytes(private), codec.version_context(
                                bucket, key, version_id, "private"))):
                        continue
                    values = codec.encode_version(codec.decode_version(record, sealer), sealer)
                    values = values[codec.LISTED_AT], values[codec.PRIVATE_AT], row[0]
                    conn.execute(self._sql.reseal_version, values)
                    n += 1
            if len(rows) < _RESEAL_BATCH:
                break
            after = rows[-1][0]
        upload_after = ""
        while True:
            with self._write() as conn:
                rows = conn.execute(self._sql.uploads_from, (upload_after, _RESEAL_BATCH)).fetchall()
                for row in rows:
                    context = codec.upload_context(row[2], row[0], row[1])
                    if not sealer.sealed_under_current(bytes(row[-1]), context):
                        values = codec.encode_upload(codec.decode_upload(row, sealer), sealer)
                        conn.execute(self._sql.reseal_upload, (values[-1], row[1]))
                        n += 1
            if len(rows) < _RESEAL_BATCH:
                break
            upload_after = rows[-1][1]
        part_after: tuple[str, int] = ("", 0)
        while True:
            with self._write() as conn:
                rows = conn.execute(self._sql.parts_from, (*part_after, _RESEAL_BATCH)).fetchall()
                for row in rows:
                    if not sealer.sealed_under_current(bytes(row[-1]), codec.part_context(row[0], row[1])):
                        values = codec.encode_part(codec.decode_part(row, sealer), sealer)
                        conn.execute(self._sql.reseal_part, (values[-1], row[0], row[1]))
                        n += 1
            if len(rows) < _RESEAL_BATCH:
                break
            part_after = (rows[-1][0], rows[-1][1])
        return n

    # --- helpers ---

    def _drop_upload(self, conn: Any, upload_id: str) -> None:
        conn.execute(self._sql.delete_upload, (upload_id,))
        conn.execute(self._sql.delete_parts, (upload_id,))
        conn.execute(self._sql.delete_acl, (pending_acl_id(upload_id),))

    def _parts(self, conn: Any, upload_id: str) -> list[Part]:
        return [codec.decode_part(r, self._sealer) for r in conn.execute(self._sql.parts, (upload_id,))]

    def _uploads_of_key_after(self, conn: Any, bucket: str, key: str, upload_id: str,
                              n: int) -> list[Sequence[Any]]:
        marker = conn.execute(self._sql.upload_initiated, (upload_id, bucket, key)).fetchone()
        if marker is None:
            rows: list[Sequence[Any]] = conn.execute(self._sql.uploads_of_key, (bucket, key, n)).fetchall()
            return rows
        rows = conn.execute(self._sql.uploads_of_key_after, (bucket, key, marker[0], upload_id, n)).fetchall()
        return rows
