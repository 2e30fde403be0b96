"""The catalog's SQL that both engines run as written: each statement once, built per dialect at import.

`Statements(dialect)` is made once per engine (a module constant of sqlite.py and
postgres.py) and read by the shared classes as `self._sql.<name>`: no statement is
formatted per call. Row-lock suffixes come from the dialect (empty for SQLite,
whose write transaction holds the whole file). Statements only one engine runs
(group commit, locking loops, the listing feed) live in that engine's module.
"""

from __future__ import annotations

from strongroom.catalog import codec
from strongroom.db.dialect import Dialect

V = codec.columns(codec.VERSION_COLUMNS, "v")
S = codec.columns(codec.SUMMARY_COLUMNS, "v")
U = codec.columns(codec.UPLOAD_COLUMNS)
P = codec.columns(codec.PART_COLUMNS)
_USER = codec.columns(codec.USER_COLUMNS)
_KEY = codec.columns(codec.ACCESS_KEY_COLUMNS)
_BUCKET = codec.columns(codec.BUCKET_COLUMNS)
FROM_CURRENT = "FROM current c JOIN versions v ON v.id = c.version"
UPLOAD_ORDER = "ORDER BY key, initiated, upload_id"  # ListMultipartUploads: by key, then initiation time
SERVER_COLUMNS = "id, role, host, pid, address, version, started, heartbeat, heartbeat_interval"
BOUNDS = [(inc, bnd) for inc in (True, False) for bnd in (True, False)]  # (inclusive, bounded)


def range_sql(select: str, inclusive: bool, bounded: bool) -> str:
    """`select` restricted to one bucket's keys in [lo or (lo, hi), in key order, n rows at most."""
    return (
        f"{select} WHERE c.bucket = ? AND c.key {'>=' if inclusive else '>'} ?"
        f"{' AND c.key < ?' if bounded else ''} ORDER BY c.key LIMIT ?"
    )


class Statements:
    """Every shared statement of the catalog, in one dialect."""

    def __init__(self, d: Dialect) -> None:
        q = d.sql
        # --- settings ---
        self.get_setting = q("SELECT value FROM settings WHERE name = ?")
        self.add_setting = q("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING")
        self.put_setting = q("INSERT INTO settings (name, value) VALUES (?, ?) "
                             "ON CONFLICT (name) DO UPDATE SET value = excluded.value")
        # --- the database's clock and the registry of live processes (sql_servers) ---
        self.now = f"SELECT {d.now}"
        self.register_server = q(f"INSERT INTO servers ({SERVER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, {d.now}, "
                                 f"{d.now}, ?) RETURNING heartbeat")
        self.heartbeat = q(f"UPDATE servers SET heartbeat = {d.now} WHERE id = ? RETURNING heartbeat")
        self.deregister_server = q("DELETE FROM servers WHERE id = ?")
        self.forget_servers = q(f"DELETE FROM servers WHERE heartbeat < {d.now} - ?")
        self.list_servers = f"SELECT {SERVER_COLUMNS}, {d.now} FROM servers ORDER BY started, id"
        # --- users and access keys ---
        self.insert_user = q(f"INSERT INTO users ({_USER}) VALUES ({codec.placeholders(codec.USER_COLUMNS)})")
        self.insert_key = q(
            f"INSERT INTO access_keys ({_KEY}) VALUES ({codec.placeholders(codec.ACCESS_KEY_COLUMNS)})")
        # KEY SHARE: remove_user (which deletes the row) waits, then deletes the key added too.
        self.hold_user = q(f"SELECT 1 FROM users WHERE name = ?{d.for_key_share}")
        self.user_by_name = q(f"SELECT {_USER} FROM users WHERE name = ?")
        self.user_by_id = q(f"SELECT {_USER} FROM users WHERE user_id = ?")
        self.users = q(f"SELECT {_USER} FROM users ORDER BY name")
        self.delete_user = q("DELETE FROM users WHERE name = ?")
        self.delete_keys_of_user = q("DELETE FROM access_keys WHERE user_name = ?")
        self.keys = q(f"SELECT {_KEY} FROM access_keys ORDER BY user_name, created, access_key")
        self.keys_of_user = q(
            f"SELECT {_KEY} FROM access_keys WHERE user_name = ? ORDER BY user_name, created, access_key")
        self.lookup_key = q(
            f"SELECT {codec.columns(codec.ACCESS_KEY_COLUMNS, 'k')}, "
            f"{codec.columns(codec.USER_COLUMNS, 'u')} "
            "FROM access_keys k JOIN users u ON u.name = k.user_name WHERE k.access_key = ?")
        self.set_key_secret = q("UPDATE access_keys SET sealed_secret = ? WHERE access_key = ?")
        self.set_key_active = q("UPDATE access_keys SET active = ? WHERE access_key = ?")
        self.delete_key = q("DELETE FROM access_keys WHERE access_key = ?")
        # --- buckets ---
        self.insert_bucket = q(
            f"INSERT INTO buckets ({_BUCKET}) VALUES ({codec.placeholders(codec.BUCKET_COLUMNS)}) "
            "ON CONFLICT DO NOTHING")
        self.bucket_owner = q("SELECT owner_id FROM buckets WHERE name = ?")
        self.bucket = q(f"SELECT {_BUCKET} FROM buckets WHERE name = ?")
        self.buckets = q(f"SELECT {_BUCKET} FROM buckets ORDER BY name")
        self.buckets_of_owner = q(f"SELECT {_BUCKET} FROM buckets WHERE owner_id = ? ORDER BY name")
        # KEY SHARE: the bucket exists until commit (DeleteBucket's FOR UPDATE waits for it).
        self.hold_bucket = q(f"SELECT versioned FROM buckets WHERE name = ?{d.for_key_share}")
        self.set_bucket_versioned = q("UPDATE buckets SET versioned = 1 WHERE name = ?")
        # FOR UPDATE waits for writers holding the bucket and keeps new ones out.
        self.lock_bucket = q(f"SELECT 1 FROM buckets WHERE name = ?{d.for_update}")
        self.bucket_has_versions = q("SELECT 1 FROM versions WHERE bucket = ? LIMIT 1")
        self.lock_bucket_uploads = q(f"SELECT upload_id FROM uploads WHERE bucket = ?{d.for_update}")
        self.bucket_parts = q(
            "SELECT piece FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = ?)")
        self.delete_bucket_parts = q(
            "DELETE FROM parts WHERE upload_id IN (SELECT upload_id FROM uploads WHERE bucket = ?)")
        self.delete_bucket_uploads = q("DELETE FROM uploads WHERE bucket = ?")
        self.delete_bucket_configs = q("DELETE FROM bucket_configs WHERE bucket = ?")
        self.delete_bucket = q("DELETE FROM buckets WHERE name = ?")
        self.bucket_config = q("SELECT document FROM bucket_configs WHERE bucket = ? AND kind = ?")
        self.bucket_configs = q("SELECT kind, document FROM bucket_configs WHERE bucket = ?")
        self.delete_bucket_config = q("DELETE FROM bucket_configs WHERE bucket = ? AND kind = ?")
        self.put_bucket_config = q(
            "INSERT INTO bucket_configs (bucket, kind, document) VALUES (?, ?, ?) "
            "ON CONFLICT (bucket, kind) DO UPDATE SET document = excluded.document")
        # --- access-control records ---
        self.put_user_policy = q(
            "INSERT INTO user_policies (user_id, name, document) VALUES (?, ?, ?) "
            "ON CONFLICT (user_id, name) DO UPDATE SET document = excluded.document")
        self.delete_user_policy = q("DELETE FROM user_policies WHERE user_id = ? AND name = ?")
        self.user_policies = q("SELECT name, document FROM user_policies WHERE user_id = ? ORDER BY name")
        self.acl = q("SELECT document FROM object_acls WHERE id = ?")
        self.put_acl = q(
            "INSERT INTO object_acls (id, document) VALUES (?, ?) "
            "ON CONFLICT (id) DO UPDATE SET document = excluded.document")
        self.delete_acl = q("DELETE FROM object_acls WHERE id = ?")
        # --- objects ---
        self.current = q(f"SELECT {V} {FROM_CURRENT} WHERE c.bucket = ? AND c.key = ?")
        self.set_tags = q("UPDATE versions SET private = ? WHERE version_id = ? AND bucket = ? AND key = ?")
        self.rekey = q("UPDATE versions SET sealing = ?, pieces = ?, inline = ? "
                       "WHERE version_id = ? AND bucket = ? AND key = ?")
        # Versions of one key, with versions.id (the handle writes remove a row by). Newest first is
        # highest id first: writers of a key are serialised, and each inserts its row.
        self.current_with_id = q(f"SELECT {V}, v.id {FROM_CURRENT} WHERE c.bucket = ? AND c.key = ?")
        self.null_of_key = q(f"SELECT {V}, v.id FROM versions v WHERE v.bucket = ? AND v.key = ? "
                             "AND v.null_version = 1")
        self.version_of_key = q(f"SELECT {V}, v.id FROM versions v WHERE v.bucket = ? AND v.key = ? "
                                "AND v.version_id = ? AND v.null_version = 0")
        self.newest_of_key = q(f"SELECT {V}, v.id FROM versions v WHERE v.bucket = ? AND v.key = ? "
                               "ORDER BY v.id DESC LIMIT 1")
        self.id_of_version = q("SELECT id FROM versions WHERE bucket = ? AND key = ? AND version_id = ? "
                               "AND null_version = 0")
        self.id_of_null = q("SELECT id FROM versions WHERE bucket = ? AND key = ? AND null_version = 1")
        self.delete_version = q("DELETE FROM versions WHERE id = ?")
        self.set_current = q("INSERT INTO current (bucket, key, version) VALUES (?, ?, ?) "
                             "ON CONFLICT (bucket, key) DO UPDATE SET version = excluded.version")
        self.drop_current = q("DELETE FROM current WHERE bucket = ? AND key = ?")
        # ListObjectVersions: key order, newest first within a key; first the rest of the key a page
        # ended in (older than the version it ended on), then whole keys.
        self.versions_range = {b: q(
            f"SELECT {S}, v.null_version, v.delete_marker, v.id FROM versions v WHERE v.bucket = ? AND "
            f"v.key {'>=' if b[0] else '>'} ?{' AND v.key < ?' if b[1] else ''} "
            "ORDER BY v.key, v.id DESC LIMIT ?") for b in BOUNDS}
        self.versions_older = q(
            f"SELECT {S}, v.null_version, v.delete_marker, v.id FROM versions v WHERE v.bucket = ? AND "
            "v.key = ? AND v.id < ? ORDER BY v.id DESC LIMIT ?")
        # A listing without a delimiter returns every row it reads: the versions joined in.
        self.joined = {b: q(range_sql(f"SELECT {S} {FROM_CURRENT}", *b)) for b in BOUNDS}
        # --- multipart uploads ---
        self.insert_upload = q(
            f"INSERT INTO uploads ({U}) VALUES ({codec.placeholders(codec.UPLOAD_COLUMNS)})")
        self.upload = q(f"SELECT {U} FROM uploads WHERE upload_id = ?")
        # KEY SHARE: completion and abort (which lock the row) wait for a part in flight.
        self.hold_upload = q(f"SELECT 1 FROM uploads WHERE upload_id = ?{d.for_key_share}")
        self.lock_upload = q(f"SELECT bucket, key FROM uploads WHERE upload_id = ?{d.for_update}")
        self.set_upload_sealing = q("UPDATE uploads SET sealing = ? WHERE upload_id = ?")
        self.delete_upload = q("DELETE FROM uploads WHERE upload_id = ?")
        self.upload_range = {
            (inc, bnd): q(f"SELECT {U} FROM uploads WHERE bucket = ? AND key {'>=' if inc else '>'} ?"
                          f"{' AND key < ?' if bnd else ''} {UPLOAD_ORDER} LIMIT ?")
            for inc, bnd in BOUNDS
        }
        self.upload_initiated = q(
            "SELECT initiated FROM uploads WHERE upload_id = ? AND bucket = ? AND key = ?")
        self.uploads_of_key = q(
            f"SELECT {U} FROM uploads WHERE bucket = ? AND key = ? {UPLOAD_ORDER} LIMIT ?")
        self.uploads_of_key_after = q(
            f"SELECT {U} FROM uploads WHERE bucket = ? AND key = ? AND (initiated, upload_id) > (?, ?) "
            f"{UPLOAD_ORDER} LIMIT ?")
        self.lock_part = q(f"SELECT {P} FROM parts WHERE upload_id = ? AND part_number = ?{d.for_update}")
        # No row to lock: a concurrent upload of the same part number makes this wait, then do nothing.
        self.create_part = q(
            f"INSERT INTO parts ({P}) VALUES ({codec.placeholders(codec.PART_COLUMNS)}) "
            "ON CONFLICT DO NOTHING")
        self.update_part = q("UPDATE parts SET last_modified = ?, piece = ?, inline = ?, private = ? "
                             "WHERE upload_id = ? AND part_number = ?")
        self.parts = q(f"SELECT {P} FROM parts WHERE upload_id = ? ORDER BY part_number")
        # --- re-sealing (root key rotation), a batch at a time ---
        self.versions_from = q(f"SELECT v.id, {V} FROM versions v WHERE v.id > ? ORDER BY v.id LIMIT ?")
        self.reseal_version = q("UPDATE versions SET listed = ?, private = ? WHERE id = ?")
        self.uploads_from = q(f"SELECT {U} FROM uploads WHERE upload_id > ? ORDER BY upload_id LIMIT ?")
        self.reseal_upload = q("UPDATE uploads SET private = ? WHERE upload_id = ?")
        self.parts_from = q(f"SELECT {P} FROM parts WHERE (upload_id, part_number) > (?, ?) "
                            "ORDER BY upload_id, part_number LIMIT ?")
        self.reseal_part = q("UPDATE parts SET private = ? WHERE upload_id = ? AND part_number = ?")
        self.parts_after = q(
            f"SELECT {P} FROM parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?")
        self.delete_parts = q("DELETE FROM parts WHERE upload_id = ?")
