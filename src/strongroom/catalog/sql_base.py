"""`SqlBase`: what the catalog's shared classes (sql_accounts, sql_objects, sql_uploads) build on.

Each engine's catalog class sets `_sql` (its `Statements`, built once) and
implements the hooks where the engines really differ: `_replace_current`
(SQLite relies on its whole-file write lock, PostgreSQL on row locks taken in
one order), `_list_delimited` and `_upload_fetch` (how listings are fed from the
database).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from strongroom.catalog.api import NoSuchBucketError
from strongroom.catalog.codec import ListedCache
from strongroom.catalog.listing import Entry, Fetch
from strongroom.catalog.model import ObjectSummary, ObjectVersion
from strongroom.catalog.read_cache import NO_CACHE, ReadCache
from strongroom.catalog.sealer import MetadataSealer
from strongroom.catalog.sql_garbage import SqlGarbage
from strongroom.catalog.statements import Statements


def pending_acl_id(upload_id: str) -> str:
    """Where a multipart upload's ACL waits until the upload completes (object_acls.id)."""
    return f"upload:{upload_id}"


class SqlBase(SqlGarbage):
    _sql: ClassVar[Statements]
    _sealer: MetadataSealer  # set by the engine's open(): seals and unseals the rows' private fields
    _listed: ListedCache  # set by open() too: what listings unsealed (codec.summary_decoder)
    cache: ReadCache = NO_CACHE  # keys, user policies, buckets, their configs: a shared catalog's only

    def follow_changes(self) -> None:
        """Keep `cache` and hear of every server's changes to it, until `close` (a serving process)."""

    # --- per engine ---

    def _replace_current(self, conn: Any, version: ObjectVersion, *, if_none_match: bool,
                         if_match: str | None) -> ObjectVersion | None:
        """Inside a write transaction that holds the bucket: check the conditions, make `version`
        current, and return the version it replaced."""
        raise NotImplementedError

    def _list_delimited(self, bucket: str, prefix: str, delimiter: str, after: str, max_keys: int
                        ) -> tuple[list[Entry], tuple[ObjectSummary, ...]]:
        """A delimited listing: `listing.walk`'s entries (max_keys + 1 of them at most) and the
        objects among the first max_keys."""
        raise NotImplementedError

    def _upload_fetch(self, conn: Any, bucket: str) -> Fetch:
        """A `listing.Fetch` over a bucket's uploads, on `conn` (a read transaction)."""
        raise NotImplementedError

    def _announce(self, conn: Any) -> None:
        """Inside a write transaction that changes what `cache` keeps: tell every server, at commit."""

    # --- shared ---

    @contextmanager
    def _change(self) -> Iterator[Any]:
        """A write transaction (`_write`) that changes an access key, a user, a user's policies, a bucket
        or a bucket's configuration: announced to every server, and this process's cache cleared once
        committed."""
        with self._write() as conn:
            yield conn
            self._announce(conn)
        self.cache.clear()

    def _lock_bucket(self, conn: Any, bucket: str) -> bool:
        """Inside a write transaction: whether the bucket exists, kept so until commit."""
        return conn.execute(self._sql.hold_bucket, (bucket,)).fetchone() is not None

    def _require_bucket(self, conn: Any, bucket: str) -> None:
        if not self._lock_bucket(conn, bucket):
            raise NoSuchBucketError(bucket)

    def _put_current(self, conn: Any, version: ObjectVersion, *, if_none_match: bool, if_match: str | None,
                     acl: str | None, fresh: bool = True) -> ObjectVersion | None:
        """Inside a write transaction holding the bucket: `version` made current, with its ACL; the
        blobs of the version it replaced become garbage. `fresh`: its pieces were just written (pending),
        not an upload's parts."""
        replaced = self._replace_current(conn, version, if_none_match=if_none_match, if_match=if_match)
        self._settle_blobs(conn, version.pieces if fresh else (), replaced.pieces if replaced else ())
        if acl is not None:
            conn.execute(self._sql.put_acl, (version.version_id, acl))
        return replaced
