"""SQL plumbing shared by the catalog and the KMS store: connections, transactions, group commit.

- `database.Database`: what code written once over both engines may use; `opened`, which
  closes a database whose schema could not be set up; `DatabaseBusy` (no connection free in time).
- `dialect.Dialect`: the per-statement differences (placeholders, unique violation, row locks).
- `sqlite.SqliteDatabase` (with `group_commit`) and `postgres.PostgresDatabase`: the two engines.
- `pool`: the process's bounded PostgreSQL connections (one pool per database URL), `PoolSettings`.
- `location`: where a deployment keeps them (a `Config` is a `Location`) and `open_at`,
  so that opening a store needs no configuration module.

Imports nothing of ours above it.
"""
