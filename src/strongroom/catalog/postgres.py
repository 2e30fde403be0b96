"""`PostgresCatalog`: the catalog in a PostgreSQL database, shared by server processes and machines.

Most of the catalog is written once for both engines (sql_accounts, sql_objects,
sql_uploads, over `statements` built here for PostgreSQL). This module holds what
is PostgreSQL's own: making a version current and deleting it under row locks, the
delimited listing's feed (postgres_listing), the bulk load (COPY), and the sweep's
server-side cursors.

Access keys, user policies, buckets and bucket configurations are cached per process once it follows
the changes every server announces (read_cache.py, change_feed.py): a request then reads
them without a round trip.

Atomicity across processes comes from locks taken in one order: the bucket's row
(FOR KEY SHARE: DeleteBucket's FOR UPDATE waits for it), then the key (an advisory
lock, `_lock_key`: a key whose newest version is a delete marker has no row to lock).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator

import psycopg

from strongroom.catalog import codec, schemas
from strongroom.catalog.api import BlobExpired, CatalogConflict, NeedsTransaction, NoSuchBucketError
from strongroom.catalog.change_feed import ChangeFeed, announce
from strongroom.catalog.listing import Entry, Fetch, walk
from strongroom.catalog.model import AccessKey, Bucket, ObjectSummary, ObjectVersion, User
from strongroom.catalog.postgres_listing import KeyWalk, upload_fetch
from strongroom.catalog.read_cache import ReadCache
from strongroom.catalog.sealer import MetadataSealer
from strongroom.catalog.sql_accounts import SqlAccounts
from strongroom.catalog.sql_garbage import blob_ids
from strongroom.catalog.sql_servers import SqlServers
from strongroom.catalog.sql_uploads import SqlUploads
from strongroom.catalog.statements import FROM_CURRENT, S, Statements, V
from strongroom.db.database import OneStatement, opened
from strongroom.db.postgres import POSTGRES, Connection, PoolSettings, PostgresDatabase, redact
from strongroom.object_lock import Lock

_SQL = Statements(POSTGRES)
_INSERT_VERSION = (
    f"INSERT INTO versions ({codec.columns(codec.VERSION_COLUMNS)}) "
    f"VALUES ({POSTGRES.sql(codec.placeholders(codec.VERSION_COLUMNS))}) RETURNING id"
)
_LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
# One PutObject without If-Match, in one statement (schema/postgres.sql: strongroom_put_version); its
# parameters are VERSION_COLUMNS, then the new pieces' blob ids, the ACL and If-None-Match.
_PUT_VERSION = (f"SELECT {V} FROM strongroom_put_version("
                f"{', '.join(['%s'] * (len(codec.VERSION_COLUMNS) + 3))}) v")
# What the function's own SQLSTATEs mean (RAISE ... USING ERRCODE there).
_PUT_ERRORS: dict[str, type[Exception]] = {
    "SR412": CatalogConflict, "SR410": BlobExpired, "SR409": ValueError,  # SR404: NoSuchBucketError
}


def _put_refusal(bucket: str, error: Exception) -> Exception | None:
    """What strongroom_put_version's own SQLSTATEs (RAISE ... USING ERRCODE there) mean."""
    if not isinstance(error, psycopg.Error):
        return None
    if error.sqlstate == "SR404":
        return NoSuchBucketError(bucket)
    if error.sqlstate == "SR423":  # an Object Lock record on the null version it would replace
        return NeedsTransaction(bucket)
    kind = _PUT_ERRORS.get(error.sqlstate or "")
    return None if kind is None else kind(error.diag.message_primary or "")


# The current versions of some keys (the objects of a delimited listing page).
_CURRENT_OF_KEYS = f"SELECT {S} {FROM_CURRENT} WHERE c.bucket = %s AND c.key = ANY(%s)"
# Rows a sweep reads per round trip while it streams referenced blob ids.
_SWEEP_ROWS = 5000


class PostgresCatalog(SqlUploads, SqlAccounts, SqlServers, PostgresDatabase):
    """Implements `strongroom.catalog.api.Catalog` (plus `bulk_put_objects`)."""

    _sql = _SQL
    _feed: ChangeFeed | None

    @classmethod
    def open(cls, url: str, sealer: MetadataSealer, pool: PoolSettings | None = None) -> PostgresCatalog:
        """Connect to the database at `url` (a libpq URL or conninfo) through the process's pool for it
        (made with `pool` if there is none yet) and create the schema if needed; `sealer` seals the
        rows' private fields."""
        catalog = cls(url, pool)
        catalog._sealer, catalog._listed = sealer, {}
        catalog.cache, catalog._feed = ReadCache(), None
        return opened(catalog, lambda c: schemas.create_postgres(c, sealer))

    def __repr__(self) -> str:
        return f"PostgresCatalog({redact(self.url)!r})"

    # --- the cache of keys, buckets and configs, and the changes every server announces ---

    def follow_changes(self) -> None:
        if self._feed is None:
            self._feed = ChangeFeed(self.url, self.cache)
            self._feed.start()

    def _announce(self, conn: Connection) -> None:
        conn.execute(*announce())

    def close(self) -> None:
        if self._feed is not None:
            self._feed.close()
            self._feed = None
        super().close()

    def lookup_access_key(self, access_key: str) -> tuple[AccessKey, User] | None:
        found = self.cache.access_key(access_key)
        if found is None:
            generation = self.cache.generation  # before the read: a change heard meanwhile voids it
            found = super().lookup_access_key(access_key)
            self.cache.keep_access_key(access_key, found, generation)
        return found

    def list_user_policies(self, user_id: str) -> list[tuple[str, str]]:
        policies = self.cache.user_policies(user_id)
        if policies is None:
            generation = self.cache.generation
            policies = super().list_user_policies(user_id)
            self.cache.keep_user_policies(user_id, policies, generation)
        return policies

    def get_bucket(self, name: str) -> Bucket | None:
        bucket = self.cache.bucket(name)
        if bucket is None:
            generation = self.cache.generation
            bucket = super().get_bucket(name)
            self.cache.keep_bucket(name, bucket, generation)
        return bucket

    def get_bucket_configs(self, bucket: str) -> dict[str, str]:
        configs = self.cache.bucket_configs(bucket)
        if configs is None:
            generation = self.cache.generation
            configs = super().get_bucket_configs(bucket)
            self.cache.keep_bucket_configs(bucket, configs, generation)
        return configs

    # --- objects: writes under row locks ---

    def put_object(self, version: ObjectVersion, *, if_none_match: bool = False, if_match: str | None = None,
                   acl: str | None = None, lock: Lock | None = None) -> ObjectVersion | None:
        statement = self.put_statement(version, if_none_match=if_none_match, if_match=if_match, acl=acl,
                                       lock=lock)
        if statement is not None:
            try:
                return self.fetch(statement)
            except NeedsTransaction:
                pass  # the version it replaces has an Object Lock record: decided below, in Python
        # If-Match compares the current version's ETag, which is sealed, and a lock is written (or one
        # checked) by sql_locks: decided here, in Python.
        with self._write() as conn:
            versioned = self._require_bucket(conn, version.bucket)
            return self._put_current(conn, version, if_none_match=if_none_match, if_match=if_match, acl=acl,
                                     versioned=versioned, lock=lock)

    def put_statement(self, version: ObjectVersion, *, if_none_match: bool = False,
                      if_match: str | None = None, acl: str | None = None, lock: Lock | None = None
                      ) -> OneStatement[ObjectVersion | None] | None:
        """`_put_current` as one statement, its own transaction, for a PUT without If-Match or a lock to
        write: the function strongroom_put_version (schema/postgres.sql) holds the bucket, takes the key's
        lock and does the rest on the server. A PUT to a new key was six round trips (BEGIN, bucket, key
        lock, current, insert version, current row, COMMIT), each ~60k instructions of psycopg; now it is
        one, which the server runs on its event loop's connections (db/loop_pool.py)."""
        if if_match is not None or lock is not None:
            return None
        params = (*codec.encode_version(version, self._sealer), blob_ids(version.pieces), acl, if_none_match)
        return OneStatement(_PUT_VERSION, params, self._decode_version,
                            functools.partial(_put_refusal, version.bucket))

    def delete_object(self, bucket: str, key: str, marker: ObjectVersion | None = None, *,
                      if_match: str | None = None) -> ObjectVersion | None:
        with self._write() as conn:
            return self._delete_current(conn, bucket, key, marker, if_match)

    def delete_version(self, bucket: str, key: str, version_id: str, *, bypass_governance: bool = False
                       ) -> ObjectVersion | None:
        with self._write() as conn:
            return self._delete_version(conn, bucket, key, version_id, bypass_governance)

    def _lock_key(self, conn: Connection, bucket: str, key: str) -> None:
        # A key's versions and its `current` row (absent while a delete marker is newest) have no one row
        # every writer could lock: a transaction-scoped advisory lock on the key stands for it. Bucket
        # names hold no "/", so "bucket/key" names one key; a hash collision only makes writers wait.
        conn.execute(_LOCK_KEY, (f"{bucket}/{key}",))

    def _insert_version(self, conn: Connection, version: ObjectVersion) -> int:
        inserted = conn.execute(_INSERT_VERSION, codec.encode_version(version, self._sealer)).fetchone()
        assert inserted is not None  # INSERT ... RETURNING returns the row it inserted
        return int(inserted[0])

    # --- listing: the feeds of listing.walk ---

    def _list_delimited(self, bucket: str, prefix: str, delimiter: str, after: str, max_keys: int
                        ) -> tuple[list[Entry], tuple[ObjectSummary, ...]]:
        with self._connection() as conn:  # one connection for the walk's queries and the versions'
            return self._list_delimited_on(conn, bucket, prefix, delimiter, after, max_keys)

    def _list_delimited_on(self, conn: Connection, bucket: str, prefix: str, delimiter: str, after: str,
                           max_keys: int) -> tuple[list[Entry], tuple[ObjectSummary, ...]]:
        entries = walk(KeyWalk(conn, self._sql.joined, bucket, prefix, delimiter), prefix, delimiter, after,
                       max_keys + 1)
        page = entries[:max_keys]
        # Rows are whole records, or (key,) where walk was fed by a skip-scan chain (see
        # postgres_listing): those keys' versions are read now. Read committed, not one snapshot:
        # a key deleted since is left out, a key replaced since shows its new version, as if
        # the listing had run a moment later.
        decode = codec.summary_decoder(self._sealer, bucket, self._listed)
        by_key = {key: decode(row) for key, row in page if row is not None and len(row) > 1}
        missing = [key for key, row in page if row is not None and len(row) == 1]
        if missing:
            for row in conn.execute(_CURRENT_OF_KEYS, (bucket, missing)):
                by_key[row[0]] = decode(row)
        keys = [key for key, row in page if row is not None]
        return entries, tuple(by_key[k] for k in keys if k in by_key)

    def _upload_fetch(self, conn: Connection, bucket: str) -> Fetch:
        return upload_fetch(conn, self._sql.upload_range, bucket)

    # --- maintenance ---

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
                    copy.write_row(codec.encode_version(v, self._sealer))
            conn.execute(
                "INSERT INTO current (bucket, key, version) "
                "SELECT bucket, key, id FROM versions WHERE version_id = ANY(%s) ORDER BY bucket, key "
                "ON CONFLICT (bucket, key) DO UPDATE SET version = excluded.version",
                ([v.version_id for v in latest.values()],),
            )
        return len(latest)

    def referenced_blob_ids(self) -> Iterator[str]:
        """Every blob id a version or a part refers to, from one snapshot."""
        return self._blob_ids(recorded=False)

    def known_blob_ids(self) -> Iterator[str]:
        """Every blob id referenced or recorded (pending or garbage), from one snapshot."""
        return self._blob_ids(recorded=True)

    def _blob_ids(self, recorded: bool) -> Iterator[str]:
        """Read with server-side cursors, so a big catalog is streamed, not loaded, on a connection
        taken from the pool for the iteration (not the thread's held one: a caller may use the
        catalog while it iterates, if the pool has a second connection)."""
        pool = self._conn()
        conn = pool.checkout()
        try:
            with conn.transaction():  # server-side cursors live in a transaction
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                for table, column in (("versions", "pieces"), ("parts", "piece")):
                    with conn.cursor(name=f"sweep_{table}") as cur:
                        cur.itersize = _SWEEP_ROWS
                        cur.execute(f"SELECT {column} FROM {table}")
                        for (pieces,) in cur:
                            yield from codec.blob_ids_in(pieces)
                if recorded:
                    with conn.cursor(name="sweep_records") as cur:
                        cur.itersize = _SWEEP_ROWS
                        cur.execute(self._g.recorded)
                        for (blob_id,) in cur:
                            yield blob_id
        finally:
            pool.checkin(conn)
