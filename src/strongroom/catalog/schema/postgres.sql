-- strongroom catalog, PostgreSQL schema: the newest version (catalog/schemas.py migrates older ones).
--
-- Applied by every PostgresCatalog.open() and PostgresKmsStore.open() in one transaction under an
-- advisory lock: it is idempotent (IF NOT EXISTS) and safe when several processes open a new
-- database at once.
-- Tables go into the first schema of the connection's search_path.
--
-- Every text column that is compared or ordered is COLLATE "C": in a UTF-8 database that
-- is the byte order of UTF-8, which is S3's order (and Python's str order). Times are
-- epoch seconds as double precision (REAL would be 4 bytes here). Record <-> row
-- encoding (the JSON text columns) lives in strongroom/catalog/codec.py, shared with SQLite.

CREATE TABLE IF NOT EXISTS schema_version (
    version integer NOT NULL
);

CREATE TABLE IF NOT EXISTS settings (
    name  text COLLATE "C" PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    name    text COLLATE "C" PRIMARY KEY,
    user_id text COLLATE "C" NOT NULL UNIQUE,
    created double precision NOT NULL,
    is_root integer NOT NULL
);

CREATE TABLE IF NOT EXISTS access_keys (
    access_key    text COLLATE "C" PRIMARY KEY,
    user_name     text COLLATE "C" NOT NULL,
    sealed_secret bytea NOT NULL,
    created       double precision NOT NULL,
    active        integer NOT NULL
);
CREATE INDEX IF NOT EXISTS access_keys_by_user ON access_keys (user_name);

CREATE TABLE IF NOT EXISTS buckets (
    name     text COLLATE "C" PRIMARY KEY,
    owner_id text COLLATE "C" NOT NULL,
    region   text NOT NULL,
    created  double precision NOT NULL,
    versioned integer NOT NULL DEFAULT 0  -- 1 once versioning was ever configured (it never goes back)
);

-- Bucket sub-resources ('encryption', 'policy', ...), one document each.
CREATE TABLE IF NOT EXISTS bucket_configs (
    bucket   text COLLATE "C" NOT NULL,
    kind     text COLLATE "C" NOT NULL,
    document text NOT NULL,
    PRIMARY KEY (bucket, kind)
);

-- One row per object version. `id` is an internal handle that `current` points at.
CREATE TABLE IF NOT EXISTS versions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version_id    text COLLATE "C" NOT NULL UNIQUE,
    bucket        text COLLATE "C" NOT NULL,
    key           text COLLATE "C" NOT NULL,
    size          bigint NOT NULL,
    last_modified double precision NOT NULL,
    owner_id      text NOT NULL,
    storage_class text NOT NULL,
    checksum_type text,
    sealing       text NOT NULL,  -- JSON object
    pieces        text NOT NULL,  -- JSON array of piece arrays
    inline        bytea,          -- inline ciphertext of the pieces, concatenated in piece order
    listed        bytea,          -- sealed (catalog/sealer.py): the ETag and the checksum algorithms
    private       bytea,          -- sealed: content type, headers, metadata, checksums, tags, piece ETags
    null_version  integer NOT NULL DEFAULT 1,  -- S3's `null` version (written while not Enabled)
    delete_marker integer NOT NULL DEFAULT 0
);
-- All versions of a key, newest first (ListObjectVersions; the next current one after a delete by id;
-- DeleteBucket's emptiness check). Writers of one key are serialised (catalog/postgres.py), so `id`
-- grows with every write of a key.
CREATE INDEX IF NOT EXISTS versions_newest ON versions (bucket, key, id DESC);

-- The current version of each key: what GET and listing see. The primary key's index
-- carries `version` too, so a delimiter walk reads the index alone (index-only scan)
-- and skips a common prefix with one seek.
CREATE TABLE IF NOT EXISTS current (
    bucket  text COLLATE "C" NOT NULL,
    key     text COLLATE "C" NOT NULL,
    version bigint NOT NULL,  -- versions.id
    PRIMARY KEY (bucket, key) INCLUDE (version)
);

CREATE TABLE IF NOT EXISTS uploads (
    upload_id          text COLLATE "C" PRIMARY KEY,
    bucket             text COLLATE "C" NOT NULL,
    key                text COLLATE "C" NOT NULL,
    initiated          double precision NOT NULL,
    owner_id           text NOT NULL,
    sealing            text NOT NULL,
    checksum_algorithm text,
    checksum_type      text,
    storage_class      text NOT NULL,
    private            bytea  -- sealed: content type, headers, metadata, tags
);
-- ListMultipartUploads order: key, then initiation time.
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, initiated, upload_id);

CREATE TABLE IF NOT EXISTS parts (
    upload_id     text COLLATE "C" NOT NULL,
    part_number   integer NOT NULL,
    last_modified double precision NOT NULL,
    piece         text NOT NULL,  -- JSON array holding one piece array
    inline        bytea,
    private       bytea,  -- sealed: the part's ETag and checksums
    PRIMARY KEY (upload_id, part_number)
);

-- IAM policy documents attached to users (`strongroom policy attach`), by user id.
CREATE TABLE IF NOT EXISTS user_policies (
    user_id  text COLLATE "C" NOT NULL,
    name     text COLLATE "C" NOT NULL,
    document text NOT NULL,
    PRIMARY KEY (user_id, name)
);

-- Object ACLs (JSON), by version id; an upload's ACL waits under 'upload:<id>' until it completes.
CREATE TABLE IF NOT EXISTS object_acls (
    id       text COLLATE "C" PRIMARY KEY,
    document text NOT NULL
);

-- Object Lock of a version (since schema version 7; catalog/sql_locks.py), by its version id; an upload's
-- waits under 'upload:<id>' until it completes. A version without a row has neither retention nor legal
-- hold. kms_key_arn: the KMS key that seals the version, so that a key sealing a protected version can
-- be refused deletion (kms_key_protects).
CREATE TABLE IF NOT EXISTS object_locks (
    version_id   text COLLATE "C" PRIMARY KEY,
    mode         text,
    retain_until double precision,
    legal_hold   integer NOT NULL DEFAULT 0,
    kms_key_arn  text COLLATE "C"
);
CREATE INDEX IF NOT EXISTS object_locks_by_kms_key ON object_locks (kms_key_arn)
    WHERE kms_key_arn IS NOT NULL;

-- The built-in KMS (strongroom/kms/store_postgres.py): keys, their sealed material versions,
-- aliases. The same columns as its SQLite tables (row encoding in strongroom/kms/store.py).
CREATE TABLE IF NOT EXISTS kms_keys (
    key_id               text COLLATE "C" PRIMARY KEY,
    created              double precision NOT NULL,
    description          text NOT NULL,
    state                text NOT NULL,
    manager              text NOT NULL,
    deletion_date        double precision,
    pending_window_days  integer,
    rotation_enabled     integer NOT NULL,
    rotation_period_days integer,
    next_rotation        double precision,
    current_version      integer NOT NULL,
    tags                 text NOT NULL  -- JSON object
);

CREATE TABLE IF NOT EXISTS kms_materials (
    key_id  text COLLATE "C" NOT NULL,
    version integer NOT NULL,
    created double precision NOT NULL,
    root_id text NOT NULL,
    sealed  bytea NOT NULL,  -- sealed under a KEK derived from the root key `root_id`
    PRIMARY KEY (key_id, version)
);

CREATE TABLE IF NOT EXISTS kms_aliases (
    name    text COLLATE "C" PRIMARY KEY,
    key_id  text COLLATE "C" NOT NULL,
    created double precision NOT NULL,
    updated double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS kms_aliases_by_key ON kms_aliases (key_id, name);

-- Key policies (PutKeyPolicy; since schema version 2). A key without a row has AWS's default key policy.
CREATE TABLE IF NOT EXISTS kms_key_policies (
    key_id  text COLLATE "C" PRIMARY KEY,
    policy  text NOT NULL,
    updated double precision NOT NULL
);

-- Blobs the catalog decides about (since schema version 4; catalog/sql_garbage.py): a blob is
-- 'pending' from before its file is created until the commit that makes it visible, and 'garbage'
-- from the commit that replaced or deleted what referenced it. The sweep removes either kind once it
-- is older than the grace period. `since`: seconds since the epoch, on the database's clock.
CREATE TABLE IF NOT EXISTS blob_records (
    blob_id text COLLATE "C" PRIMARY KEY,
    state   text NOT NULL CHECK (state IN ('pending', 'garbage')),
    since   double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS blob_records_by_age ON blob_records (state, since);

-- One-at-a-time jobs across servers (since schema version 4): a lease is held by `holder` until
-- `expires` (seconds since the epoch, on the database's clock).
CREATE TABLE IF NOT EXISTS leases (
    name    text COLLATE "C" PRIMARY KEY,
    holder  text NOT NULL,
    expires double precision NOT NULL
);

-- Processes registered on this catalog (servers.py; since schema version 5): each server and each
-- root-key rotation, with its heartbeat on the database's clock (clock_timestamp()). Alive while its
-- heartbeat is younger than 3 of its intervals.
CREATE TABLE IF NOT EXISTS servers (
    id        text COLLATE "C" PRIMARY KEY,
    role      text NOT NULL,  -- 'serve' or 'root-key rotate'
    host      text NOT NULL,
    pid       integer NOT NULL,
    address   text NOT NULL,
    version   text NOT NULL,
    started   double precision NOT NULL,
    heartbeat double precision NOT NULL,
    heartbeat_interval double precision NOT NULL
);

-- PutObject's commit in one statement (since schema version 7; catalog/postgres.py `put_object`): what
-- catalog/sql_base.py `_put_current` does in six round trips, for a write with no If-Match (whose ETag
-- is sealed: that one stays in Python). A PL/pgSQL statement reads a fresh snapshot, so the current
-- version is read after the key's lock is granted, as there. It holds the bucket (KEY SHARE; SR404
-- when it is gone), takes the key's advisory lock (the same key as `_lock_key`: writers of both paths
-- are serialised), checks If-None-Match (SR412), replaces the key's null version when `p_null_version`
-- (the current one, or on a bucket ever versioned the noncurrent one), inserts the version, makes it
-- current, settles the blobs (`p_new_blobs`' pending records deleted, SR410 when one is gone; the
-- removed version's blobs recorded garbage; a blob in both is neither) and upserts the ACL. Returns the
-- version removed, if any. An error rolls it all back.
CREATE OR REPLACE FUNCTION strongroom_put_version(
    p_key text, p_version_id text, p_bucket text, p_size bigint, p_last_modified double precision,
    p_owner_id text, p_storage_class text, p_checksum_type text, p_sealing text, p_pieces text,
    p_inline bytea, p_listed bytea, p_private bytea, p_null_version integer, p_delete_marker integer,
    p_new_blobs text[], p_acl text, p_if_none_match boolean
) RETURNS SETOF versions LANGUAGE plpgsql AS $$
DECLARE
    versioned_ integer;
    current_ bigint;
    removed versions;
    inserted bigint;
    new_blobs text[] := p_new_blobs;
    old_blobs text[] := '{}';
    settled integer;
BEGIN
    SELECT b.versioned INTO versioned_ FROM buckets b WHERE b.name = p_bucket FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no bucket %', p_bucket USING ERRCODE = 'SR404';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(p_bucket || '/' || p_key, 0));
    SELECT c.version INTO current_ FROM current c WHERE c.bucket = p_bucket AND c.key = p_key;
    IF current_ IS NOT NULL THEN
        IF p_if_none_match THEN
            RAISE EXCEPTION '%/% exists', p_bucket, p_key USING ERRCODE = 'SR412';
        END IF;
        IF EXISTS (SELECT 1 FROM versions v WHERE v.id = current_ AND v.version_id = p_version_id) THEN
            RAISE EXCEPTION 'version % is already current', p_version_id USING ERRCODE = 'SR409';
        END IF;
    END IF;
    IF p_null_version = 1 THEN
        IF current_ IS NOT NULL THEN  -- an unversioned bucket's every overwrite
            DELETE FROM versions v WHERE v.id = current_ AND v.null_version = 1 RETURNING * INTO removed;
        END IF;
        IF removed.id IS NULL AND versioned_ = 1 THEN
            DELETE FROM versions v WHERE v.bucket = p_bucket AND v.key = p_key AND v.null_version = 1
                RETURNING * INTO removed;
        END IF;
        -- Object Lock is decided by sql_locks in Python: a replaced version with a lock record makes
        -- the caller roll this back and take the Python path (which refuses or forgets the lock).
        IF removed.id IS NOT NULL AND EXISTS (SELECT 1 FROM object_locks l
                                              WHERE l.version_id = removed.version_id) THEN
            RAISE EXCEPTION 'version % has a lock record', removed.version_id USING ERRCODE = 'SR423';
        END IF;
    END IF;
    INSERT INTO versions (key, version_id, bucket, size, last_modified, owner_id, storage_class,
                          checksum_type, sealing, pieces, inline, listed, private, null_version, delete_marker)
        VALUES (p_key, p_version_id, p_bucket, p_size, p_last_modified, p_owner_id, p_storage_class,
                p_checksum_type, p_sealing, p_pieces, p_inline, p_listed, p_private, p_null_version,
                p_delete_marker)
        RETURNING id INTO inserted;
    INSERT INTO current (bucket, key, version) VALUES (p_bucket, p_key, inserted)
        ON CONFLICT (bucket, key) DO UPDATE SET version = excluded.version;
    IF removed.id IS NOT NULL THEN
        old_blobs := ARRAY(SELECT e ->> 4 FROM json_array_elements(removed.pieces::json) e
                           WHERE e ->> 4 IS NOT NULL);
        new_blobs := ARRAY(SELECT b FROM unnest(p_new_blobs) b WHERE b <> ALL (old_blobs));
        old_blobs := ARRAY(SELECT b FROM unnest(old_blobs) b WHERE b <> ALL (p_new_blobs));
    END IF;
    IF cardinality(new_blobs) > 0 THEN
        DELETE FROM blob_records r WHERE r.state = 'pending' AND r.blob_id = ANY (new_blobs);
        GET DIAGNOSTICS settled = ROW_COUNT;
        IF settled <> cardinality(new_blobs) THEN
            RAISE EXCEPTION 'pending record gone for one of %', new_blobs USING ERRCODE = 'SR410';
        END IF;
    END IF;
    IF cardinality(old_blobs) > 0 THEN
        INSERT INTO blob_records (blob_id, state, since)
            SELECT DISTINCT b, 'garbage', extract(epoch FROM clock_timestamp())::double precision
            FROM unnest(old_blobs) b
            ON CONFLICT (blob_id) DO UPDATE SET state = excluded.state, since = excluded.since;
    END IF;
    IF p_acl IS NOT NULL THEN
        INSERT INTO object_acls (id, document) VALUES (p_version_id, p_acl)
            ON CONFLICT (id) DO UPDATE SET document = excluded.document;
    END IF;
    IF removed.id IS NOT NULL THEN
        RETURN NEXT removed;
    END IF;
END
$$;

-- The version of this schema. A later version adds a migration from each earlier one.
INSERT INTO schema_version (version) SELECT @SCHEMA_VERSION@ WHERE NOT EXISTS (SELECT * FROM schema_version);
