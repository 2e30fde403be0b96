"""What every request reads and almost nothing changes, kept in memory for a shared catalog.

Each request looks up its signer's access key (with the user), the user's policies, its
bucket and the bucket's configurations. On PostgreSQL each lookup is a round trip; kept here, a
request needs none. The cache is correct only while it hears of every change:

- every catalog call that changes an access key, a user, a user's policies, a bucket or
  a bucket's configuration announces it in its own transaction (PostgreSQL `NOTIFY`, delivered
  to every listening server at commit) and clears this process's cache once committed;
- a listening connection per process (catalog/change_feed.py) clears the cache at each
  announcement; while it is not listening (not yet connected, or the connection lost)
  the cache is off: every lookup asks the database, as without a cache;
- a value read from the database is kept only if no change was heard while it was being
  read (`generation`), so a read racing a change never outlives it;
- an entry is dropped after MAX_AGE seconds whatever happens: the bound on staleness
  if an announcement were ever lost without the connection failing.

Absent keys and buckets are not kept (a key or bucket made elsewhere is found at once,
and a flood of unknown names cannot grow the cache); at MAX_ENTRIES it is cleared.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from strongroom.catalog.model import AccessKey, Bucket, User

MAX_AGE = 5.0  # seconds an entry is trusted even if no change is heard
MAX_ENTRIES = 10_000  # per kind; past it the kind is emptied


class ReadCache:
    """Access keys with their users, users' policies, buckets, and bucket configurations; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._on = False
        self.generation = 0  # bumped by every clear: a read that began before it is not kept
        self._keys: dict[str, tuple[float, tuple[AccessKey, User]]] = {}
        self._buckets: dict[str, tuple[float, Bucket]] = {}
        self._configs: dict[str, tuple[float, dict[str, str]]] = {}
        self._policies: dict[str, tuple[float, tuple[tuple[str, str], ...]]] = {}  # by user id

    @property
    def on(self) -> bool:
        """Whether values are kept (changes are being heard)."""
        return self._on

    # --- what the change feed says ---

    def start(self) -> None:
        """Changes are heard from now on: keep values."""
        with self._lock:
            self._clear()
            self._on = True

    def stop(self) -> None:
        """Changes may go unheard: drop everything and keep nothing until `start`."""
        with self._lock:
            self._on = False
            self._clear()

    def clear(self) -> None:
        """Something changed: forget everything read before."""
        with self._lock:
            self._clear()

    def _clear(self) -> None:
        self.generation += 1
        self._keys, self._buckets, self._configs, self._policies = {}, {}, {}, {}

    # --- lookups: the value, or None when it is not here ---

    def access_key(self, access_key: str) -> tuple[AccessKey, User] | None:
        return _fresh(self._keys, access_key)

    def bucket(self, name: str) -> Bucket | None:
        return _fresh(self._buckets, name)

    def bucket_configs(self, name: str) -> dict[str, str] | None:
        configs = _fresh(self._configs, name)
        return None if configs is None else dict(configs)  # the caller's copy: ours is never changed

    def user_policies(self, user_id: str) -> list[tuple[str, str]] | None:
        policies = _fresh(self._policies, user_id)
        return None if policies is None else list(policies)

    # --- values read from the database at `generation` ---

    def keep_access_key(self, access_key: str, found: tuple[AccessKey, User] | None, generation: int) -> None:
        if found is not None:
            self._keep(self._keys, access_key, found, generation)

    def keep_bucket(self, name: str, bucket: Bucket | None, generation: int) -> None:
        if bucket is not None:
            self._keep(self._buckets, name, bucket, generation)

    def keep_bucket_configs(self, name: str, configs: dict[str, str], generation: int) -> None:
        self._keep(self._configs, name, dict(configs), generation)

    def keep_user_policies(self, user_id: str, policies: list[tuple[str, str]], generation: int) -> None:
        self._keep(self._policies, user_id, tuple(policies), generation)

    def _keep(self, table: dict[str, tuple[float, Any]], name: str, value: Any, generation: int) -> None:
        with self._lock:
            if not self._on or generation != self.generation:
                return  # not listening, or a change was heard while the value was read
            if len(table) >= MAX_ENTRIES:
                table.clear()
            table[name] = (time.monotonic(), value)


def _fresh(table: dict[str, tuple[float, Any]], name: str) -> Any:
    entry = table.get(name)  # no lock: a dict read is atomic, and a cleared table is a new dict
    if entry is None or time.monotonic() - entry[0] > MAX_AGE:
        return None
    return entry[1]


NO_CACHE = ReadCache()  # never started: every lookup misses (the embedded SQLite catalog)
