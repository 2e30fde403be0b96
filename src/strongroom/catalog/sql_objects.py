"""Objects, written once for both engines: tags and re-keying in place, the point read, and
listing (without a delimiter one range query; with one, the page the engine's walk found).

What the engines do differently stays in theirs: making a version current (`_replace_current`:
SQLite's group commit under the file's write lock, PostgreSQL's row locks), delete, the
delimited listing's feed (`_list_delimited`), and the benchmark's bulk load.
"""

from __future__ import annotations

import dataclasses

from strongroom.catalog import codec
from strongroom.catalog.listing import start
from strongroom.catalog.model import ListPage, ObjectVersion
from strongroom.catalog.sql_base import SqlBase


class SqlObjects(SqlBase):
    def set_object_tags(self, version: ObjectVersion, tags: dict[str, str]) -> bool:
        """Replace the tags of a stored version in place; False when it is no longer current.

        One statement: a put replacing the version deletes its row, so this update either
        runs first or (having waited for that row) finds it gone.
        """
        private = codec.encode_private(dataclasses.replace(version, tags=tags), self._sealer)
        return self._write_one(self._sql.set_tags, (private, version.version_id, version.bucket, version.key,
                                                    version.bucket, version.key)) > 0

    def rekey_version(self, version: ObjectVersion) -> bool:
        """Replace the sealing and piece keys of a stored version, in place (same id, same blobs)."""
        pieces, inline = codec.encode_pieces(version.pieces)
        return self._write_one(self._sql.rekey, (codec.encode_sealing(version.sealing), pieces, inline,
                                                 version.version_id, version.bucket, version.key)) > 0

    def get_object(self, bucket: str, key: str) -> ObjectVersion | None:
        row = self._conn().execute(self._sql.current, (bucket, key)).fetchone()
        return None if row is None else codec.decode_version(row, self._sealer)

    def count_versions(self) -> list[tuple[str, str, int, int]]:
        # Grouped by the sealing's text: few distinct values exist (one per bucket default or KMS key),
        # and its algorithm is read from the decoded (memoized) record, not from JSON in SQL.
        totals: dict[tuple[str, str], list[int]] = {}
        with self._read() as conn:
            rows = conn.execute("SELECT bucket, sealing, COUNT(*), COALESCE(SUM(size), 0) FROM versions "
                                "GROUP BY bucket, sealing").fetchall()
        for bucket, sealing, count, size in rows:
            total = totals.setdefault((bucket, codec.decode_sealing(sealing).algorithm), [0, 0])
            total[0] += int(count)
            total[1] += int(size)
        return [(bucket, algorithm, n, size) for (bucket, algorithm), (n, size) in sorted(totals.items())]

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
