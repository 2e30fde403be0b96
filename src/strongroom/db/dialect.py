"""What differs between our two SQL engines at the level of one statement, as a value.

The catalog and the KMS store write each statement once, with `?` placeholders,
and build it for each engine once, at import (`Dialect.sql`). Only what really
differs between SQLite and PostgreSQL lives here; a difference in how a whole
call must lock or read (group commit, the listing feed) stays in the engine's code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    param: str  # the placeholder: "?" (sqlite3) or "%s" (psycopg)
    unique_violation: type[Exception]  # what an INSERT meeting an existing primary key raises
    # Row-lock suffixes for a SELECT inside a write transaction. SQLite has no row locks and
    # needs none: a write transaction (BEGIN IMMEDIATE) holds the whole file's write lock.
    for_update: str
    for_key_share: str
    # The database's own time, as epoch seconds (a double), for decisions made on the one clock of a
    # deployment (DESIGN.md, Storage): PostgreSQL's clock_timestamp(); SQLite's is the local clock.
    now: str

    def sql(self, text: str) -> str:
        """`text`, written with `?` placeholders (and none inside literals), in this dialect."""
        if self.param == "?":
            return text
        if "%" in text:  # psycopg would read it as a placeholder
            raise ValueError(f"a literal % in {text!r}")
        return text.replace("?", self.param)
