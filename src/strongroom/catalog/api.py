"""The catalog's one narrow interface: S3 metadata semantics over a database.

Every implementation (SQLite, PostgreSQL) passes the same contract tests in
`tests/contract/`. Keys compare as UTF-8 bytes, as S3 orders them. Every
mutating call is one transaction and durable when it returns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal, Protocol, TypeVar

from strongroom.catalog.model import (
    AccessKey,
    Bucket,
    ListPage,
    ObjectVersion,
    Part,
    Sealing,
    Server,
    Upload,
    UploadPage,
    User,
    VersionPage,
)
from strongroom.catalog.read_cache import ReadCache
from strongroom.db.database import OneStatement
from strongroom.object_lock import Lock, Retention

T = TypeVar("T")
State = Literal["pending", "garbage"]  # of a blob record (catalog/sql_garbage.py)
VERSIONING = "versioning"  # the bucket config kind of the versioning configuration (set_bucket_versioning)


class CatalogConflict(Exception):
    """A conditional write found the state it required missing (e.g. put-if-absent on an existing key)."""


class NoCurrentVersion(CatalogConflict):
    """A conditional delete found no current version of its key (none, or a delete marker is newest)."""


class BlobExpired(Exception):
    """A commit found a new piece's pending record gone: its write outlived the grace period and the
    sweep has removed (or is removing) its blob. Nothing was committed."""


class BucketExists(Exception):
    def __init__(self, owner_id: str) -> None:
        super().__init__(owner_id)
        self.owner_id = owner_id


class BucketNotEmpty(Exception):
    pass


class NoSuchBucketError(Exception):
    pass


class NeedsTransaction(Exception):
    """A write run as one statement (`put_statement`) found what only the whole call decides (the version
    it would replace has an Object Lock record): nothing was done; make the call itself (`put_object`)."""


class Catalog(Protocol):
    # Access keys (with their users), buckets and their configurations, as last read: a shared
    # catalog's server keeps them once it follows every server's changes (read_cache.py); the
    # embedded one keeps nothing. `follow_changes` starts that (a serving process, until `close`).
    cache: ReadCache

    def follow_changes(self) -> None: ...

    # --- settings that belong to the deployment (account id, ...) ---
    def get_setting(self, name: str) -> str | None: ...
    def set_setting_if_absent(self, name: str, value: str) -> str:
        """Store value unless one is stored; return the stored value either way."""
        ...

    def put_setting(self, name: str, value: str) -> None: ...  # store or replace

    # --- users and access keys ---
    def add_user(
        self, user: User, key: AccessKey
    ) -> None: ...  # raises CatalogConflict if name or key exists
    def add_access_key(self, key: AccessKey) -> None: ...
    def get_user(self, name: str) -> User | None: ...
    def get_user_by_id(self, user_id: str) -> User | None: ...
    def list_users(self) -> list[User]: ...
    def remove_user(self, name: str) -> bool: ...  # removes its keys too
    def list_access_keys(self, user_name: str | None = None) -> list[AccessKey]: ...
    def lookup_access_key(self, access_key: str) -> tuple[AccessKey, User] | None: ...
    def set_access_key_active(self, access_key: str, active: bool) -> bool: ...
    def remove_access_key(self, access_key: str) -> bool: ...
    def replace_access_key_secret(self, access_key: str, sealed_secret: bytes) -> bool:
        """Store a re-sealed secret (root key rotation)."""
        ...

    # --- buckets ---
    def create_bucket(self, bucket: Bucket) -> None: ...  # raises BucketExists(owner_id)
    def get_bucket(self, name: str) -> Bucket | None: ...
    def list_buckets(self, owner_id: str | None = None) -> list[Bucket]: ...  # sorted by name
    def delete_bucket(self, name: str) -> None: ...  # raises BucketNotEmpty, NoSuchBucketError
    def get_bucket_config(self, bucket: str, kind: str) -> str | None: ...
    def get_bucket_configs(self, bucket: str) -> dict[str, str]:
        """Every sub-resource document of a bucket by kind, in one read (authorization needs several)."""
        ...
    def set_bucket_versioning(self, bucket: str, document: str) -> None:
        """Store the bucket config VERSIONING and mark the bucket versioned for good (it never goes back):
        writes then look for a key's noncurrent null version. NoSuchBucketError when it is gone."""
        ...

    def put_bucket_config(self, bucket: str, kind: str, document: str | None) -> None:
        """Store (or with None remove) a bucket sub-resource document: 'encryption', 'policy', ..."""
        ...

    # --- objects ---
    def put_object(
        self, version: ObjectVersion, *, if_none_match: bool = False, if_match: str | None = None,
        acl: str | None = None, lock: Lock | None = None,
    ) -> ObjectVersion | None:
        """Make `version` the current version of its key; return the version it replaced.

        if_none_match: fail with CatalogConflict when the key has a current version.
        if_match: fail with CatalogConflict unless the current version's etag equals it.
        acl: the version's ACL document, stored in the same transaction (get_object_acl(version_id)).
        lock: the version's Object Lock, stored in the same transaction (get_lock(version_id)).
        A `null` version (`version.null_version`) replaces the key's null version, which is removed (its
        blobs are recorded garbage) and returned; any other is added to the key's versions.
        Raises NoSuchBucketError when the bucket is gone.
        """
        ...

    def put_statement(
        self, version: ObjectVersion, *, if_none_match: bool = False, if_match: str | None = None,
        acl: str | None = None, lock: Lock | None = None,
    ) -> OneStatement[ObjectVersion | None] | None:
        """`put_object` as one statement, its own transaction, when this engine can run it as one (on
        PostgreSQL: without If-Match or a lock to write), for the server to run where it costs least;
        None otherwise. Its errors are put_object's, plus NeedsTransaction."""
        ...

    def rekey_version(self, version: ObjectVersion) -> bool:
        """Replace a stored version's sealing and piece keys in place (same version id, same blobs):
        root key rotation and UpdateObjectEncryption. False when the version is gone."""
        ...

    def set_object_tags(self, version: ObjectVersion, tags: dict[str, str]) -> bool:
        """Replace the tags of `version` in place; False when it is no longer the current version."""
        ...

    def get_object(self, bucket: str, key: str) -> ObjectVersion | None: ...  # the current version
    def get_version(self, bucket: str, key: str, version_id: str) -> ObjectVersion | None:
        """A version by the id S3 shows ("null": the null version), delete markers included."""
        ...

    def get_latest(self, bucket: str, key: str) -> ObjectVersion | None: ...  # the newest, maybe a marker
    # The same three as point reads (db.OneStatement: a statement and its decoder), for the server to run
    # where they cost least; `fetch` runs one (or a put_statement) in the calling thread.
    def object_read(self, bucket: str, key: str) -> OneStatement[ObjectVersion | None]: ...
    def version_read(self, bucket: str, key: str, version_id: str) -> OneStatement[ObjectVersion | None]: ...
    def latest_read(self, bucket: str, key: str) -> OneStatement[ObjectVersion | None]: ...
    def fetch(self, read: OneStatement[T]) -> T: ...
    def delete_object(self, bucket: str, key: str, marker: ObjectVersion | None = None, *,
                      if_match: str | None = None) -> ObjectVersion | None:
        """DeleteObject without a version id; returns the version removed (its blobs recorded garbage).
        Without `marker` (an unversioned bucket) the current version is removed; with one the marker
        becomes the newest version (the key has no current version), and a `null` marker replaces the
        null version (a suspended bucket). NoSuchBucketError when a marker's bucket is gone.
        if_match (a conditional delete: unquoted ETag or "*") is checked against the current version in
        the same transaction: NoCurrentVersion when there is none, CatalogConflict when its etag differs;
        either way nothing changes."""
        ...

    def delete_version(self, bucket: str, key: str, version_id: str, *, bypass_governance: bool = False
                       ) -> ObjectVersion | None:
        """Remove one version (or delete marker) for good; the newest left becomes current unless it is a
        delete marker. Returns it (its blobs recorded garbage), or None when there is no such version.
        A version under Object Lock is refused (S3Error AccessDenied, object_lock.object_locked): so is
        every removal of a version (an overwritten or deleted `null` version too), on the database's
        clock; an active GOVERNANCE retention gives way to `bypass_governance`."""
        ...

    # --- Object Lock of versions (catalog/sql_locks.py) ---
    def get_lock(self, version_id: str) -> Lock | None: ...  # by the version's internal id
    def put_retention(self, bucket: str, key: str, version_id: str | None, retention: Retention | None, *,
                      bypass_governance: bool = False) -> ObjectVersion | None:
        """Set (None: remove) the retention of a version (S3's id; None: the current one) as
        object_lock.check_retention_change allows (its S3Error otherwise). The version, a delete marker
        untouched, or None when there is none."""
        ...

    def put_legal_hold(self, bucket: str, key: str, version_id: str | None, on: bool) -> ObjectVersion | None:
        ...

    def kms_key_protects(self, kms_key_arn: str) -> bool:
        """Whether the key seals a version under an unexpired retention or a legal hold."""
        ...

    def list_versions(
        self, bucket: str, *, prefix: str = "", delimiter: str = "", key_marker: str = "",
        version_id_marker: str | None = None, max_keys: int = 1000,
    ) -> VersionPage:
        """ListObjectVersions: versions and markers by key, newest first, after (key_marker,
        version_id_marker), grouped by delimiter; max_keys counts versions and common prefixes."""
        ...

    def list_objects(
        self, bucket: str, *, prefix: str = "", delimiter: str = "", after: str = "", max_keys: int = 1000
    ) -> ListPage:
        """Keys starting with prefix and sorting strictly after `after`, grouped by delimiter.

        Never scans keys it does not return: a common prefix is skipped with one index seek.
        max_keys counts objects and common prefixes together; max_keys=0 returns an empty page.
        """
        ...

    # --- multipart uploads ---
    def create_upload(self, upload: Upload, *, acl: str | None = None, lock: Lock | None = None) -> None:
        """Store a new upload (CatalogConflict if its id exists; NoSuchBucketError when the bucket is
        gone), with `acl` as its pending ACL and `lock` as its pending Object Lock in the same transaction:
        complete_upload moves them to the object's version, abort_upload drops them."""
        ...

    def get_upload(self, upload_id: str) -> Upload | None: ...

    def put_part(
        self, part: Part
    ) -> Part | None: ...  # returns the part it replaced; NoSuchUpload -> CatalogConflict
    def list_parts(
        self, upload_id: str, *, after: int = 0, max_parts: int = 1000
    ) -> tuple[list[Part], bool]: ...
    def all_parts(self, upload_id: str) -> list[Part]: ...
    def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> UploadPage: ...
    def complete_upload(
        self,
        upload_id: str,
        version: ObjectVersion,
        *,
        if_none_match: bool = False,
        if_match: str | None = None,
        lock: Lock | None = None,
    ) -> tuple[ObjectVersion | None, list[Part]]:
        """Atomically: remove the upload and its parts, make `version` current, and move the
        upload's pending ACL (if any) to `version`.

        Returns (replaced version, parts that `version.pieces` does not use): the caller deletes their blobs.
        Raises CatalogConflict if the upload is gone (or a condition fails).
        """
        ...

    def abort_upload(self, upload_id: str) -> list[Part] | None:
        """Remove the upload, its parts and its pending ACL; its parts (their blobs are recorded garbage),
        or None when there is no such upload."""
        ...

    def replace_upload_sealing(self, upload_id: str, sealing: Sealing) -> bool:
        """Store an upload's re-sealed KEK record (root key rotation)."""
        ...

    # --- access control: policies attached to users, object ACLs ---
    def put_user_policy(self, user_id: str, name: str, document: str) -> None:
        """Attach (or replace) the policy `name` of the user with id `user_id`."""
        ...

    def delete_user_policy(self, user_id: str, name: str) -> bool: ...  # False when no such policy
    def list_user_policies(self, user_id: str) -> list[tuple[str, str]]: ...  # (name, document), by name
    def get_object_acl(self, acl_id: str) -> str | None: ...  # by version id (or 'upload:<upload id>')
    def put_object_acl(self, acl_id: str, document: str | None) -> None: ...  # None removes it

    # --- maintenance ---
    def reseal_metadata(self) -> int:
        """Re-seal every private field (metadata, tags, ETags, ...) sealed under a root key other than
        the current one (root key rotation); the number of rows re-sealed."""
        ...

    def referenced_blob_ids(self) -> Iterator[str]: ...
    def known_blob_ids(self) -> Iterator[str]:
        """Every blob id referenced or recorded, from one snapshot (the orphan scan)."""
        ...

    # --- blob records (sql_garbage): garbage is decided here, not by a scan ---
    def record_pending(self, blob_id: str) -> None:
        """Before a blob's file is created. The commit of a piece using it (put_object, put_part,
        complete_upload) deletes the record, or raises BlobExpired when the sweep removed it; every
        call that replaces or drops pieces records their blobs as garbage in its transaction."""
        ...

    def forget_pending(self, ids: Sequence[str]) -> None: ...  # a failed write deleted its blobs
    def catalog_time(self) -> float: ...  # the database's clock, seconds since the epoch
    def count_versions(self) -> list[tuple[str, str, int, int]]:
        """(bucket, encryption algorithm, versions, plaintext bytes) of every stored version: a scan,
        for the metrics inventory (inventory.py), which runs it in one server at a time."""
        ...
    def expired_blobs(self, state: State, grace: float, limit: int) -> list[str]: ...
    def forget_blobs(self, state: State, ids: Sequence[str]) -> int: ...
    def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Hold lease `name` for `seconds` (database clock) unless another holder has it unexpired."""
        ...

    def renew_lease(self, name: str, holder: str, seconds: float) -> bool: ...
    def release_lease(self, name: str, holder: str) -> None: ...

    # --- the database's clock, and the registry of live processes (servers.py) ---
    def now(self) -> float: ...  # the database's time, epoch seconds
    def register_server(self, server: Server) -> float:
        """Add the process (started and heartbeat: the database's time); returns that time."""
        ...
    def heartbeat(self, server_id: str) -> float | None: ...  # the database's time; None: not registered
    def deregister_server(self, server_id: str) -> None: ...
    def list_servers(self) -> tuple[list[Server], float]: ...  # every registered one, and the time
    def close(self) -> None: ...
