"""How the PostgreSQL catalog feeds `listing.walk`: keys in batches, common prefixes skipped server-side.

`listing.walk` stays the one authority on listing semantics; this module only
supplies its `fetch(lo, inclusive, hi, n)`, and does so in few round trips:

- The first call reads a range of rows in batches that start small and grow: a
  query returns all its rows at once (no lazy cursor, unlike SQLite), and walk
  drops the rest of a batch when it meets a key under a common prefix. These rows
  are whole records (the caller's SQL), so a listing without common prefixes (a
  directory of files, listed with a delimiter) needs no other query.
- Walk calls fetch again only after meeting a common prefix (to seek past it). From
  then on one recursive query walks the key index the way walk will: after a key
  under a common prefix it seeks to the prefix's successor, after any other key to
  the next key, one index probe per step; walk is fed from that chain for as long
  as the seeks it asks for are the ones the chain made. A listing of 1000 common
  prefixes is then one or two queries, not 1000. These rows are (key,) alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from strongroom.catalog import statements
from strongroom.catalog.listing import Fetch
from strongroom.catalog.statements import UPLOAD_ORDER, U
from strongroom.db.postgres import POSTGRES, Connection

FIRST_BATCH = 16
BATCH_GROWTH = 4


def range_sql(select: str, inclusive: bool, bounded: bool) -> str:
    """`select` restricted to one bucket's keys in [lo or (lo, hi), in key order, n rows at most."""
    return POSTGRES.sql(statements.range_sql(select, inclusive, bounded))


# The common prefix of c.key (NULL when none): listing.common_prefix in SQL. Positions count
# characters (code points) in a UTF-8 database, as Python's str indexes do.
_CP = (
    "CASE WHEN strpos(substr(c.key, %(plen)s + 1), %(delim)s) > 0 THEN "
    "left(c.key, %(plen)s + strpos(substr(c.key, %(plen)s + 1), %(delim)s) - 1 + %(dlen)s) END"
)
# Where the walk goes after a row: past its common prefix (listing.key_successor: the last
# character plus one, U+D7FF to U+E000), or to the next key (chr(1) is the least character:
# PostgreSQL text holds no NUL). NULL ends the chain: a prefix ending in U+10FFFF needs a carry,
# which listing.key_successor does, and walk's next fetch starts a new chain there.
_NEXT = (
    "CASE WHEN s.cp IS NULL THEN s.key || chr(1) "
    "WHEN ascii(right(s.cp, 1)) = 1114111 THEN NULL "
    "WHEN ascii(right(s.cp, 1)) = 55295 THEN left(s.cp, -1) || chr(57344) "
    "ELSE left(s.cp, -1) || chr(ascii(right(s.cp, 1)) + 1) END"
)


def _chain_sql(inclusive: bool, bounded: bool) -> str:
    hi = " AND c.key < %(hi)s" if bounded else ""
    step = f"SELECT c.key, {_CP} AS cp FROM current c WHERE c.bucket = %(bucket)s"
    return (
        "WITH RECURSIVE chain(key, cp, next, depth) AS ("
        f" SELECT s.key, s.cp, {_NEXT}, 1 FROM ("
        f"  {step} AND c.key {'>=' if inclusive else '>'} %(lo)s{hi} ORDER BY c.key LIMIT 1) s"
        " UNION ALL"
        f" SELECT s.key, s.cp, {_NEXT}, chain.depth + 1 FROM chain CROSS JOIN LATERAL ("
        f"  {step} AND c.key >= chain.next COLLATE \"C\"{hi} ORDER BY c.key LIMIT 1) s"
        "  WHERE chain.depth < %(n)s AND chain.next IS NOT NULL"
        ") SELECT key, next FROM chain ORDER BY depth"
    )


_CHAIN = {(inc, bnd): _chain_sql(inc, bnd) for inc in (True, False) for bnd in (True, False)}


RangeSql = dict[tuple[bool, bool], str]  # range_sql(select, inclusive, bounded) by (inclusive, bounded)
# A key has several uploads: the next batch resumes after the last row, not after its key.
_UPLOAD_RESUME = {
    bnd: (
        f"SELECT {U} FROM uploads WHERE bucket = %s AND (key, initiated, upload_id) > (%s, %s, %s)"
        f"{' AND key < %s' if bnd else ''} {UPLOAD_ORDER} LIMIT %s"
    )
    for bnd in (True, False)
}


def batched(conn: Connection, sql: RangeSql, bucket: str, lo: str, inclusive: bool, hi: str | None, n: int
            ) -> Iterator[Sequence[Any]]:
    """Up to n rows of `sql` (a range_sql family over unique keys) from lo, in growing batches."""
    batch = FIRST_BATCH
    while n > 0:
        take = min(batch, n)
        params = (bucket, lo, hi, take) if hi is not None else (bucket, lo, take)
        rows = conn.execute(sql[inclusive, hi is not None], params).fetchall()
        yield from rows
        if len(rows) < take:
            return
        n -= take
        lo, inclusive = rows[-1][0], False
        batch *= BATCH_GROWTH


class KeyWalk:
    """A `listing.Fetch` over one bucket's `current` keys for one delimited listing.

    Rows of the first call are rows of `first` (a RangeSql whose rows start with the key);
    rows of later calls are (key,).
    """

    def __init__(self, conn: Connection, first: RangeSql, bucket: str, prefix: str, delimiter: str) -> None:
        self.conn = conn
        self.first = first
        self.bucket = bucket
        self.prefix = prefix
        self.delimiter = delimiter
        self.calls = 0
        self.chain: list[tuple[str, str | None]] = []  # (key, where the chain went next)
        self.chain_complete = False  # the chain ended at the range's end, not at its depth limit
        self.pos = -1  # index in chain of the last row handed to walk

    def __call__(self, lo: str, inclusive: bool, hi: str | None, n: int) -> Iterator[Sequence[Any]]:
        self.calls += 1
        if self.calls == 1:
            return batched(self.conn, self.first, self.bucket, lo, inclusive, hi, n)
        return self._from_chain(lo, inclusive, hi, n)

    def _from_chain(self, lo: str, inclusive: bool, hi: str | None, n: int) -> Iterator[Sequence[Any]]:
        if not (inclusive and 0 <= self.pos < len(self.chain) and self.chain[self.pos][1] == lo):
            self._query(lo, inclusive, hi, n)  # not where the chain went: a new chain from here
        while n > 0:
            while self.pos + 1 < len(self.chain) and n > 0:
                self.pos += 1
                n -= 1
                yield (self.chain[self.pos][0],)
            if self.chain_complete or n <= 0 or not self.chain or self.chain[-1][1] is None:
                return
            self._query(self.chain[-1][1], True, hi, n)  # the chain hit its depth limit: extend it

    def _query(self, lo: str, inclusive: bool, hi: str | None, n: int) -> None:
        params = {"bucket": self.bucket, "lo": lo, "hi": hi, "n": n, "plen": len(self.prefix),
                  "delim": self.delimiter, "dlen": len(self.delimiter)}
        rows = self.conn.execute(_CHAIN[inclusive, hi is not None], params).fetchall()
        self.chain = [(key, nxt) for key, nxt in rows]
        self.chain_complete = len(rows) < n
        self.pos = -1


def upload_fetch(conn: Connection, upload_range: RangeSql, bucket: str) -> Fetch:
    """A `listing.Fetch` over a bucket's uploads (`upload_range`), in growing batches, as `batched`."""

    def fetch(lo: str, inclusive: bool, hi: str | None, n: int) -> Iterator[Sequence[Any]]:
        sql, params = upload_range[inclusive, hi is not None], [bucket, lo]
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
