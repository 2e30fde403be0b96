"""Multipart uploads in the SQLite catalog: uploads, parts, their listings, completion and abort."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from strongroom.catalog import codec
from strongroom.catalog.api import CatalogConflict
from strongroom.catalog.listing import Entry, common_prefix, walk
from strongroom.catalog.model import ObjectVersion, Part, Sealing, Upload, UploadPage
from strongroom.catalog.sqlite_objects import SqliteObjects

_U = codec.columns(codec.UPLOAD_COLUMNS)
_P = codec.columns(codec.PART_COLUMNS)
_INSERT_UPLOAD = f"INSERT INTO uploads ({_U}) VALUES ({codec.placeholders(codec.UPLOAD_COLUMNS)})"
_PUT_PART = f"INSERT OR REPLACE INTO parts ({_P}) VALUES ({codec.placeholders(codec.PART_COLUMNS)})"
_ORDER = "ORDER BY key, initiated, upload_id"  # ListMultipartUploads: by key, then initiation time
_UPLOAD_RANGE = {
    (inc, bnd): (
        f"SELECT {_U} FROM uploads WHERE bucket = ? AND key {'>=' if inc else '>'} ?"
        f"{' AND key < ?' if bnd else ''} {_ORDER} LIMIT ?"
    )
    for inc in (True, False) for bnd in (True, False)
}


class SqliteUploads(SqliteObjects):
    def create_upload(self, upload: Upload) -> None:
        with self._write() as conn:
            self._require_bucket(conn, upload.bucket)
            try:
                conn.execute(_INSERT_UPLOAD, codec.encode_upload(upload))
            except sqlite3.IntegrityError as e:
                raise CatalogConflict(f"upload {upload.upload_id} exists") from e

    def get_upload(self, upload_id: str) -> Upload | None:
        row = self._conn().execute(f"SELECT {_U} FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone()
        return None if row is None else codec.decode_upload(row)

    def put_part(self, part: Part) -> Part | None:
        with self._write() as conn:
            if not self._upload_exists(conn, part.upload_id):
                raise CatalogConflict(f"no upload {part.upload_id}")
            row = conn.execute(f"SELECT {_P} FROM parts WHERE upload_id = ? AND part_number = ?",
                               (part.upload_id, part.piece.part_number)).fetchone()
            conn.execute(_PUT_PART, codec.encode_part(part))
            return None if row is None else codec.decode_part(row)

    def list_parts(self, upload_id: str, *, after: int = 0, max_parts: int = 1000) -> tuple[list[Part], bool]:
        if max_parts <= 0:
            return [], False
        rows = self._conn().execute(
            f"SELECT {_P} FROM parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?",
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
        with self._read() as conn:
            head: list[Entry] = []
            if (key_marker and upload_id_marker and key_marker.startswith(prefix)
                    and common_prefix(key_marker, prefix, delimiter) is None):
                head = [(row[0], row) for row in self._uploads_of_key_after(conn, bucket, key_marker,
                                                                            upload_id_marker, want)]

            def fetch(lo: str, inclusive: bool, hi: str | None, n: int) -> Iterator[Sequence[Any]]:
                params = (bucket, lo, hi, n) if hi is not None else (bucket, lo, n)
                cursor = conn.execute(_UPLOAD_RANGE[inclusive, hi is not None], params)
                try:
                    yield from cursor
                finally:
                    cursor.close()

            entries = head + walk(fetch, prefix, delimiter, key_marker, want - len(head))
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
            row = conn.execute("SELECT bucket, key FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone()
            if row is None:
                raise CatalogConflict(f"no upload {upload_id}")
            if tuple(row) != (version.bucket, version.key):
                raise ValueError(f"upload {upload_id} is not for {version.bucket}/{version.key}")
            parts = self._parts(conn, upload_id)
            by_number = {p.piece.part_number: p.piece for p in parts}
            for piece in version.pieces:
                current = by_number.get(piece.part_number)
                if current is None or (current.blob_id, current.inline) != (piece.blob_id, piece.inline):
                    raise CatalogConflict(f"part {piece.part_number} of {upload_id} is gone or replaced")
            replaced = self._replace_current(conn, version, if_none_match=if_none_match, if_match=if_match)
            conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
            conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
        used = {(p.part_number, p.blob_id) for p in version.pieces}
        return replaced, [p for p in parts if (p.piece.part_number, p.piece.blob_id) not in used]

    def replace_upload_sealing(self, upload_id: str, sealing: Sealing) -> bool:
        with self._write() as conn:
            cur = conn.execute("UPDATE uploads SET sealing = ? WHERE upload_id = ?",
                               (codec.encode_sealing(sealing), upload_id))
            return cur.rowcount > 0

    def abort_upload(self, upload_id: str) -> list[Part] | None:
        with self._write() as conn:
            if not self._upload_exists(conn, upload_id):
                return None
            parts = self._parts(conn, upload_id)
            conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
            conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
            return parts

    # --- helpers ---

    def _upload_exists(self, conn: sqlite3.Connection, upload_id: str) -> bool:
        return conn.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone() is not None

    def _parts(self, conn: sqlite3.Connection, upload_id: str) -> list[Part]:
        rows = conn.execute(f"SELECT {_P} FROM parts WHERE upload_id = ? ORDER BY part_number", (upload_id,))
        return [codec.decode_part(r) for r in rows]

    def _uploads_of_key_after(self, conn: sqlite3.Connection, bucket: str, key: str, upload_id: str,
                              n: int) -> list[Sequence[Any]]:
        marker = conn.execute("SELECT initiated FROM uploads WHERE upload_id = ? AND bucket = ? AND key = ?",
                              (upload_id, bucket, key)).fetchone()
        if marker is None:
            return conn.execute(f"SELECT {_U} FROM uploads WHERE bucket = ? AND key = ? {_ORDER} LIMIT ?",
                                (bucket, key, n)).fetchall()
        return conn.execute(
            f"SELECT {_U} FROM uploads WHERE bucket = ? AND key = ? AND (initiated, upload_id) > (?, ?) "
            f"{_ORDER} LIMIT ?",
            (bucket, key, marker[0], upload_id, n),
        ).fetchall()
