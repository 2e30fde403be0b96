"""Multipart uploads in the PostgreSQL catalog: uploads, parts, their listings, completion and abort.

Lock order, shared with objects: bucket row, then upload row, then the key's
`current` row. UploadPart holds its upload's row FOR KEY SHARE, so completion
and abort (which lock or delete that row) wait for a part in flight, and a part
arriving after them finds the upload gone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from strongroom.catalog import codec
from strongroom.catalog.api import CatalogConflict, NoSuchBucketError
from strongroom.catalog.listing import Entry, Fetch, common_prefix, walk
from strongroom.catalog.model import ObjectVersion, Part, Sealing, Upload, UploadPage
from strongroom.catalog.postgres_db import Connection
from strongroom.catalog.postgres_listing import BATCH_GROWTH, FIRST_BATCH
from strongroom.catalog.postgres_objects import PostgresObjects, placeholders

_U = codec.columns(codec.UPLOAD_COLUMNS)
_P = codec.columns(codec.PART_COLUMNS)
_INSERT_UPLOAD = f"INSERT INTO uploads ({_U}) VALUES ({placeholders(codec.UPLOAD_COLUMNS)})"
_CREATE_PART = f"INSERT INTO parts ({_P}) VALUES ({placeholders(codec.PART_COLUMNS)}) ON CONFLICT DO NOTHING"
_LOCK_PART = f"SELECT {_P} FROM parts WHERE upload_id = %s AND part_number = %s FOR UPDATE"
_UPDATE_PART = (
    "UPDATE parts SET last_modified = %s, piece = %s, inline = %s WHERE upload_id = %s AND part_number = %s"
)
_ORDER = "ORDER BY key, initiated, upload_id"  # ListMultipartUploads: by key, then initiation time
_UPLOAD_RANGE = {
    (inc, bnd): (
        f"SELECT {_U} FROM uploads WHERE bucket = %s AND key {'>=' if inc else '>'} %s"
        f"{' AND key < %s' if bnd else ''} {_ORDER} LIMIT %s"
    )
    for inc in (True, False) for bnd in (True, False)
}
# A key has several uploads: the next batch resumes after the last row, not after its key.
_UPLOAD_RESUME = {
    bnd: (
        f"SELECT {_U} FROM uploads WHERE bucket = %s AND (key, initiated, upload_id) > (%s, %s, %s)"
        f"{' AND key < %s' if bnd else ''} {_ORDER} LIMIT %s"
    )
    for bnd in (True, False)
}


class PostgresUploads(PostgresObjects):
    def create_upload(self, upload: Upload) -> None:
        with self._write() as conn:
            if not self._lock_bucket(conn, upload.bucket):
                raise NoSuchBucketError(upload.bucket)
            try:
                conn.execute(_INSERT_UPLOAD, codec.encode_upload(upload))
            except psycopg.errors.UniqueViolation as e:
                raise CatalogConflict(f"upload {upload.upload_id} exists") from e

    def get_upload(self, upload_id: str) -> Upload | None:
        row = self._conn().execute(f"SELECT {_U} FROM uploads WHERE upload_id = %s", (upload_id,)).fetchone()
        return None if row is None else codec.decode_upload(row)

    def put_part(self, part: Part) -> Part | None:
        values = codec.encode_part(part)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM uploads WHERE upload_id = %s FOR KEY SHARE",
                            (part.upload_id,)).fetchone() is None:
                raise CatalogConflict(f"no upload {part.upload_id}")
            while True:
                row = conn.execute(_LOCK_PART, (part.upload_id, part.piece.part_number)).fetchone()
                if row is not None:
                    conn.execute(_UPDATE_PART, (*values[2:], part.upload_id, part.piece.part_number))
                    return codec.decode_part(row)
                # No row to lock: a concurrent upload of the same part number makes this insert
                # wait and then do nothing; the next round sees (and replaces) that part.
                if conn.execute(_CREATE_PART, values).rowcount == 1:
                    return None

    def list_parts(self, upload_id: str, *, after: int = 0, max_parts: int = 1000) -> tuple[list[Part], bool]:
        if max_parts <= 0:
            return [], False
        rows = self._conn().execute(
            f"SELECT {_P} FROM parts WHERE upload_id = %s AND part_number > %s ORDER BY part_number LIMIT %s",
            (upload_id, after, max_parts + 1),
        ).fetchall()
        return [codec.decode_part(r) for r in rows[:max_parts]], len(rows) > max_parts

    def all_parts(self, upload_id: str) -> list[Part]:
        return self._parts(self._conn(), upload_id)

    def list_uploads(self, bucket: str, *, prefix: str = "", delimiter: str = "", key_marker: str = "",
                     upload_id_marker: str = "", max_uploads: int = 1000) -> UploadPage:
        """Uploads with key > key_marker; with upload_id_marker also the key_marker's own uploads
        initiated after that one (all of them when it is gone: better shown twice than skipped)."""
        if max_uploads <= 0:
            return UploadPage((), (), False, None, None)
        want = max_uploads + 1
        with self._snapshot() as conn:
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
            uploads=tuple(codec.decode_upload(row) for _, row in page if row is not None),
            common_prefixes=tuple(name for name, row in page if row is None),
            is_truncated=truncated,
            next_key_marker=None if last is None else last[0],
            next_upload_id_marker=None if last is None or last[1] is None else last[1][1],
        )

    def complete_upload(self, upload_id: str, version: ObjectVersion, *, if_none_match: bool = False,
                        if_match: str | None = None) -> tuple[ObjectVersion | None, list[Part]]:
        """Besides the Protocol's conditions: every piece of `version` must still be the current
        part of its number (same blob), or CatalogConflict. An UploadPart that replaced a part
        after the caller read the parts has had the old part's blob deleted by its caller."""
        with self._write() as conn:
            bucket_exists = self._lock_bucket(conn, version.bucket)
            row = conn.execute("SELECT bucket, key FROM uploads WHERE upload_id = %s FOR UPDATE",
                               (upload_id,)).fetchone()
            if row is None:
                raise CatalogConflict(f"no upload {upload_id}")
            if tuple(row) != (version.bucket, version.key):
                raise ValueError(f"upload {upload_id} is not for {version.bucket}/{version.key}")
            if not bucket_exists:  # not reached: an upload goes with its bucket
                raise NoSuchBucketError(version.bucket)
            parts = self._parts(conn, upload_id)
            by_number = {p.piece.part_number: p.piece for p in parts}
            for piece in version.pieces:
                current = by_number.get(piece.part_number)
                if current is None or (current.blob_id, current.inline) != (piece.blob_id, piece.inline):
                    raise CatalogConflict(f"part {piece.part_number} of {upload_id} is gone or replaced")
            replaced = self._replace_current(conn, version, if_none_match=if_none_match, if_match=if_match)
            conn.execute("DELETE FROM uploads WHERE upload_id = %s", (upload_id,))
            conn.execute("DELETE FROM parts WHERE upload_id = %s", (upload_id,))
        used = {(p.part_number, p.blob_id) for p in version.pieces}
        return replaced, [p for p in parts if (p.piece.part_number, p.piece.blob_id) not in used]

    def replace_upload_sealing(self, upload_id: str, sealing: Sealing) -> bool:
        cur = self._conn().execute("UPDATE uploads SET sealing = %s WHERE upload_id = %s",
                                   (codec.encode_sealing(sealing), upload_id))
        return cur.rowcount > 0

    def abort_upload(self, upload_id: str) -> list[Part] | None:
        with self._write() as conn:
            # The upload row first: this waits for a part in flight, so its part is deleted too.
            if conn.execute("DELETE FROM uploads WHERE upload_id = %s", (upload_id,)).rowcount == 0:
                return None
            rows = conn.execute(f"DELETE FROM parts WHERE upload_id = %s RETURNING {_P}", (upload_id,))
            return sorted((codec.decode_part(r) for r in rows), key=lambda p: p.piece.part_number)

    # --- helpers ---

    def _upload_fetch(self, conn: Connection, bucket: str) -> Fetch:
        """A `listing.Fetch` over a bucket's uploads, in growing batches (as postgres_listing.batched)."""

        def fetch(lo: str, inclusive: bool, hi: str | None, n: int) -> Iterator[Sequence[Any]]:
            sql, params = _UPLOAD_RANGE[inclusive, hi is not None], [bucket, lo]
            batch = FIRST_BATCH
            while n > 0:
                take = min(batch, n)
                rows = conn.execute(sql, (*params, *((hi,) if hi is not None else ()), take)).fetchall()
                yield from rows
                if len(rows) < take:
                    return
                n -= take
                last = rows[-1]  # columns: key, upload_id, bucket, initiated, ...
                sql, params = _UPLOAD_RESUME[hi is not None], [bucket, last[0], last[3], last[1]]
                batch *= BATCH_GROWTH

        return fetch

    def _parts(self, conn: Connection, upload_id: str) -> list[Part]:
        rows = conn.execute(f"SELECT {_P} FROM parts WHERE upload_id = %s ORDER BY part_number", (upload_id,))
        return [codec.decode_part(r) for r in rows]

    def _uploads_of_key_after(self, conn: Connection, bucket: str, key: str, upload_id: str,
                              n: int) -> list[Sequence[Any]]:
        marker = conn.execute(
            "SELECT initiated FROM uploads WHERE upload_id = %s AND bucket = %s AND key = %s",
            (upload_id, bucket, key)).fetchone()
        if marker is None:
            return conn.execute(f"SELECT {_U} FROM uploads WHERE bucket = %s AND key = %s {_ORDER} LIMIT %s",
                                (bucket, key, n)).fetchall()
        return conn.execute(
            f"SELECT {_U} FROM uploads WHERE bucket = %s AND key = %s AND (initiated, upload_id) > (%s, %s) "
            f"{_ORDER} LIMIT %s",
            (bucket, key, marker[0], upload_id, n),
        ).fetchall()
