"""The catalog's schema (schema/sqlite.sql, schema/postgres.sql): created, migrated or checked when a
database opens.

The scripts always describe the newest schema, for a new database (`@SCHEMA_VERSION@` in them is the
version they make). A database written by an older release is migrated in place, in the same
transaction that runs the script, by the `STEPS` after its version, in order; then it is at
`SCHEMA_VERSION`. A database of a newer version than this code knows is refused.

Writing a step: it takes the schema from `to - 1` to `to`, per engine, as a function of the open
connection (SQL, or a re-encoding of rows) and of the `MetadataSealer` the catalog is opened with
(None when the KMS store opens the PostgreSQL database: a step that needs it refuses then; every
command opens the catalog before the KMS store). The script has already run, so a table that is new in
this version exists; a step alters only what existed at the version before (e.g. ALTER TABLE ... ADD
COLUMN), and fills in what the new code expects. Add a test that opens a data directory written by
the release before (tests/integration/test_upgrade.py does for release 1).

The PostgreSQL script also holds the built-in KMS's tables, so the KMS store runs it too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from strongroom.catalog import sealing_step
from strongroom.catalog.sealer import MetadataSealer
from strongroom.db.postgres import PostgresDatabase
from strongroom.db.sqlite import SqliteDatabase

Connection = Any  # sqlite3.Connection or psycopg.Connection: each step gets its engine's


@dataclass(frozen=True, slots=True)
class Step:
    """What takes a catalog from version `to - 1` to `to`."""

    to: int
    sqlite: Callable[[Connection, MetadataSealer | None], None]
    postgres: Callable[[Connection, MetadataSealer | None], None]


def _nothing(conn: Connection, sealer: MetadataSealer | None) -> None:
    """A step whose new table the script has already created."""


STEPS: tuple[Step, ...] = (  # in order of `to`, from 2
    # 2: the KMS's key policies (kms_key_policies, created by the scripts). Keys written by release 1
    # have no row and so keep AWS's default key policy, which is what they had in effect.
    Step(to=2, sqlite=_nothing, postgres=_nothing),
    Step(3, sealing_step.sqlite, sealing_step.postgres),  # private fields sealed (catalog/sealer.py)
    # 4: blob records and leases (blob_records, leases: created by the scripts; catalog/sql_garbage.py).
    # Blobs written before have no record: the sweep's orphan scan finds what nothing names.
    Step(to=4, sqlite=_nothing, postgres=_nothing),
    # 5: the registry of live processes (servers, created by the scripts; servers.py). Nothing to fill:
    # a catalog written before it has no process registered.
    Step(to=5, sqlite=_nothing, postgres=_nothing),
    Step(6, lambda c, s: _versioning(c), lambda c, s: _versioning(c)),
    # 7: Object Lock per version (object_locks, created by the scripts; catalog/sql_locks.py). Versions
    # written before are in buckets without Object Lock: none has a retention or a legal hold.
    Step(to=7, sqlite=_nothing, postgres=_nothing),
    # 8: PostgreSQL's PutObject commit in one statement (the function strongroom_put_version, created by
    # the script, which runs at every open). Nothing to fill; SQLite has nothing new.
    Step(to=8, sqlite=_nothing, postgres=_nothing),
)
SCHEMA_VERSION = 1 + len(STEPS)


def _versioning(conn: Connection) -> None:
    """Step 6, versioning: every version written before is S3's `null` version (what S3 shows for objects
    stored before versioning was enabled) and none is a delete marker; no bucket was ever versioned; the
    index of a key's versions becomes newest first (the script has created it)."""
    for column in ("null_version integer NOT NULL DEFAULT 1", "delete_marker integer NOT NULL DEFAULT 0"):
        conn.execute(f"ALTER TABLE versions ADD COLUMN {column}")
    conn.execute("ALTER TABLE buckets ADD COLUMN versioned integer NOT NULL DEFAULT 0")
    conn.execute("DROP INDEX IF EXISTS versions_by_key")


def _script(engine: str) -> str:
    text = resources.files("strongroom.catalog").joinpath(f"schema/{engine}.sql").read_text("utf-8")
    return text.replace("@SCHEMA_VERSION@", str(SCHEMA_VERSION))


def _upgrade(engine: str, where: str, sealer: MetadataSealer | None, ran: list[int]
             ) -> Callable[[Connection], None]:
    def upgrade(conn: Connection) -> None:
        (version,) = conn.execute("SELECT version FROM schema_version").fetchone()
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"catalog {where} has schema version {version}; this strongroom knows "
                               f"{SCHEMA_VERSION} (a newer release wrote it)")
        for step in STEPS:
            if step.to > version:
                getattr(step, engine)(conn, sealer)
                ran.append(step.to)
                conn.execute("UPDATE schema_version SET version = " + str(step.to))

    return upgrade


def create_sqlite(db: SqliteDatabase, sealer: MetadataSealer | None) -> list[int]:
    """Create the schema in `db` if needed and migrate it to this version; refuse a newer one.
    Returns the versions of the steps that ran."""
    ran: list[int] = []
    db.apply_schema(_script("sqlite"), _upgrade("sqlite", str(db.path), sealer, ran))
    return ran


def create_postgres(db: PostgresDatabase, sealer: MetadataSealer | None = None) -> None:
    """Create the schema (and the KMS's tables) in `db` if needed and migrate it; refuse a newer one."""
    db.apply_schema(_script("postgres"), SCHEMA_VERSION, _upgrade("postgres", "in PostgreSQL", sealer, []))
