"""Hearing of catalog changes made by any server: PostgreSQL LISTEN on a connection of its own.

Every change to what `ReadCache` keeps is announced with `NOTIFY` in the transaction that
makes it (PostgreSQL delivers it at commit, to every listening session, ours included), on
a channel named after the catalog's schema: deployments sharing a database in schemas of
their own do not hear each other. A thread per server process listens and clears the cache at each
announcement. The cache is on only while the thread is listening: it is started after
LISTEN has run (a change committed before then was read by nobody into a cache that was
off) and stopped as soon as the connection fails, then listening resumes after a pause.
A quiet connection is checked every PING_S seconds, so one lost without a word (a network
partition) turns the cache off within about that long.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from psycopg import sql

from strongroom.catalog.read_cache import ReadCache
from strongroom.db.pool import APPLICATION_NAME

log = logging.getLogger("strongroom.catalog")

CHANNEL = "strongroom_catalog"  # a catalog in the schema "public"; in another: CHANNEL:<schema>
# The channel of the schema the connection's search_path points at, as `announce` and `_listen` name it.
_CHANNEL_OF_SCHEMA = ("CASE current_schema() WHEN 'public' THEN %s ELSE %s || ':' || current_schema() END")
PING_S = 2.0  # how often a quiet listening connection is checked
RETRY_S = 1.0  # pause before listening again after a failure
CONNECT_TIMEOUT_S = 10


def listener_name(url: str) -> str:
    """The listening session's application_name: the pool's (the URL's, or strongroom's) + " changes",
    so pg_stat_activity tells it from the pool's connections (it is not one of them)."""
    try:
        name = psycopg.conninfo.conninfo_to_dict(url).get("application_name")
    except psycopg.ProgrammingError:
        name = None
    return f"{name or APPLICATION_NAME} changes"


def announce() -> tuple[str, tuple[str, str]]:
    """The statement (and its parameters) that announces a change, run inside the transaction making it."""
    return f"SELECT pg_notify({_CHANNEL_OF_SCHEMA}, '')", (CHANNEL, CHANNEL)


class ChangeFeed:
    """Clears `cache` at every change announced on CHANNEL of the database at `url`."""

    def __init__(self, url: str, cache: ReadCache) -> None:
        self.url, self.cache = url, cache
        self._stop = threading.Event()
        self.backend_pid: int | None = None  # the listening session's server process, while connected
        self._thread = threading.Thread(target=self._run, name="strongroom-changes", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop listening. Not waited for: the thread sees it within PING_S and closes its connection."""
        self._stop.set()
        self.cache.stop()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
                failures = 0
            except psycopg.Error as e:
                failures += 1
                if failures == 1:  # once per outage: the cache is off, requests still work
                    log.warning("not hearing catalog changes (%s): caching off until listening again",
                                str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
            finally:
                self.cache.stop()
            self._stop.wait(RETRY_S)

    def _listen(self) -> None:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                             application_name=listener_name(self.url)) as conn:
            row = conn.execute(f"SELECT {_CHANNEL_OF_SCHEMA}", (CHANNEL, CHANNEL)).fetchone()
            assert row is not None  # a SELECT without FROM returns its one row
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(row[0])))
            self.backend_pid = conn.info.backend_pid
            self.cache.start()
            while not self._stop.is_set():
                heard = False
                for _ in conn.notifies(timeout=PING_S):
                    self.cache.clear()
                    heard = True
                if not heard:
                    conn.execute("SELECT 1")  # still there? (raises when the connection is gone)
