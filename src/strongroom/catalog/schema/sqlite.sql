-- strongroom catalog, SQLite schema: the newest version (catalog/schemas.py migrates older ones).
--
-- Applied by SqliteCatalog.open() inside one BEGIN IMMEDIATE transaction, so it is
-- idempotent (IF NOT EXISTS) and safe when several processes open a new file at once.
-- Keys and names are TEXT with BINARY collation: memcmp of UTF-8, which is S3's order.
-- Record <-> row encoding (the JSON columns) lives in strongroom/catalog/codec.py.

CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    name    TEXT PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    is_root INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS access_keys (
    access_key    TEXT PRIMARY KEY,
    user_name     TEXT NOT NULL,
    sealed_secret BLOB NOT NULL,
    created       REAL NOT NULL,
    active        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS access_keys_by_user ON access_keys (user_name);

CREATE TABLE IF NOT EXISTS buckets (
    name     TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    region   TEXT NOT NULL,
    created  REAL NOT NULL,
    versioned INTEGER NOT NULL DEFAULT 0  -- 1 once versioning was ever configured (it never goes back)
);

-- Bucket sub-resources ('encryption', 'policy', ...), one document each.
CREATE TABLE IF NOT EXISTS bucket_configs (
    bucket   TEXT NOT NULL,
    kind     TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (bucket, kind)
) WITHOUT ROWID;

-- One row per object version. `id` is an internal handle: `current` points at it, so
-- a listed key costs one rowid lookup rather than a lookup through version_id's index.
CREATE TABLE IF NOT EXISTS versions (
    id            INTEGER PRIMARY KEY,
    version_id    TEXT NOT NULL UNIQUE,
    bucket        TEXT NOT NULL,
    key           TEXT NOT NULL COLLATE BINARY,
    size          INTEGER NOT NULL,
    last_modified REAL NOT NULL,
    owner_id      TEXT NOT NULL,
    storage_class TEXT NOT NULL,
    checksum_type TEXT,
    sealing       TEXT NOT NULL,  -- JSON object
    pieces        TEXT NOT NULL,  -- JSON array of piece arrays
    inline        BLOB,           -- inline ciphertext of the pieces, concatenated in piece order
    listed        BLOB,           -- sealed (catalog/sealer.py): the ETag and the checksum algorithms
    private       BLOB,           -- sealed: content type, headers, metadata, checksums, tags, piece ETags
    null_version  INTEGER NOT NULL DEFAULT 1,  -- S3's `null` version (written while not Enabled)
    delete_marker INTEGER NOT NULL DEFAULT 0
);
-- All versions of a key, newest first (ListObjectVersions; the next current one after a delete by id;
-- DeleteBucket's emptiness check). `id` grows with every write (SQLite hands out max + 1).
CREATE INDEX IF NOT EXISTS versions_newest ON versions (bucket, key, id DESC);

-- The current version of each key: what GET and listing see. Narrow and clustered on
-- (bucket, key), so a listing walks adjacent pages and a common prefix is skipped with
-- one seek.
CREATE TABLE IF NOT EXISTS current (
    bucket  TEXT NOT NULL,
    key     TEXT NOT NULL COLLATE BINARY,
    version INTEGER NOT NULL,  -- versions.id
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS uploads (
    upload_id          TEXT PRIMARY KEY,
    bucket             TEXT NOT NULL,
    key                TEXT NOT NULL COLLATE BINARY,
    initiated          REAL NOT NULL,
    owner_id           TEXT NOT NULL,
    sealing            TEXT NOT NULL,
    checksum_algorithm TEXT,
    checksum_type      TEXT,
    storage_class      TEXT NOT NULL,
    private            BLOB  -- sealed: content type, headers, metadata, tags
);
-- ListMultipartUploads order: key, then initiation time.
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, initiated, upload_id);

CREATE TABLE IF NOT EXISTS parts (
    upload_id     TEXT NOT NULL,
    part_number   INTEGER NOT NULL,
    last_modified REAL NOT NULL,
    piece         TEXT NOT NULL,  -- JSON array holding one piece array
    inline        BLOB,
    private       BLOB,  -- sealed: the part's ETag and checksums
    PRIMARY KEY (upload_id, part_number)
);

-- IAM policy documents attached to users (`strongroom policy attach`), by user id.
CREATE TABLE IF NOT EXISTS user_policies (
    user_id  TEXT NOT NULL,
    name     TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
) WITHOUT ROWID;

-- Object ACLs (JSON), by version id; an upload's ACL waits under 'upload:<id>' until it completes.
CREATE TABLE IF NOT EXISTS object_acls (
    id       TEXT PRIMARY KEY,
    document TEXT NOT NULL
) WITHOUT ROWID;

-- Object Lock of a version (since schema version 7; catalog/sql_locks.py), by its version id; an upload's
-- waits under 'upload:<id>' until it completes. A version without a row has neither retention nor legal
-- hold. kms_key_arn: the KMS key that seals the version, so that a key sealing a protected version can
-- be refused deletion (kms_key_protects).
CREATE TABLE IF NOT EXISTS object_locks (
    version_id   TEXT PRIMARY KEY,
    mode         TEXT,            -- GOVERNANCE | COMPLIANCE, NULL: no retention
    retain_until REAL,            -- epoch seconds
    legal_hold   INTEGER NOT NULL DEFAULT 0,
    kms_key_arn  TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS object_locks_by_kms_key ON object_locks (kms_key_arn)
    WHERE kms_key_arn IS NOT NULL;

-- Blobs the catalog decides about (since schema version 4; catalog/sql_garbage.py): a blob is
-- 'pending' from before its file is created until the commit that makes it visible, and 'garbage'
-- from the commit that replaced or deleted what referenced it. The sweep removes either kind once it
-- is older than the grace period. `since`: seconds since the epoch, on the database's clock.
CREATE TABLE IF NOT EXISTS blob_records (
    blob_id TEXT PRIMARY KEY,
    state   TEXT NOT NULL CHECK (state IN ('pending', 'garbage')),
    since   REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blob_records_by_age ON blob_records (state, since);

-- One-at-a-time jobs across servers (since schema version 4): a lease is held by `holder` until
-- `expires` (seconds since the epoch, on the database's clock).
CREATE TABLE IF NOT EXISTS leases (
    name    TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    expires REAL NOT NULL
) WITHOUT ROWID;

-- Processes registered on this catalog (servers.py; since schema version 5): each server and each
-- root-key rotation, with its heartbeat on the database's clock. Alive while its heartbeat is younger
-- than 3 of its intervals.
CREATE TABLE IF NOT EXISTS servers (
    id        TEXT PRIMARY KEY,
    role      TEXT NOT NULL,  -- 'serve' or 'root-key rotate'
    host      TEXT NOT NULL,
    pid       INTEGER NOT NULL,
    address   TEXT NOT NULL,
    version   TEXT NOT NULL,
    started   REAL NOT NULL,
    heartbeat REAL NOT NULL,
    heartbeat_interval REAL NOT NULL
) WITHOUT ROWID;

-- The version of this file. A later version adds a migration from each earlier one.
INSERT INTO schema_version (version) SELECT @SCHEMA_VERSION@ WHERE NOT EXISTS (SELECT * FROM schema_version);
