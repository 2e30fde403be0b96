"""The records the catalog stores: users, buckets, object versions, uploads, parts, live processes.

Plain frozen values. The catalog stores them and answers queries about them; it
never interprets encryption fields (`Sealing.wrapping`, `Piece.sealed_key`),
which belong to the vault.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

SSEAlgorithm = Literal["AES256", "aws:kms", "aws:kms:dsse", "SSE-C"]


@dataclass(frozen=True, slots=True)
class User:
    name: str
    user_id: str  # 64 hex characters, canonical-user-id style
    created: float  # epoch seconds
    is_root: bool = False


@dataclass(frozen=True, slots=True)
class AccessKey:
    access_key: str
    user_name: str
    sealed_secret: bytes = field(repr=False)  # sealed by the vault; the catalog never sees the secret
    created: float
    active: bool = True


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    owner_id: str
    region: str
    created: float


@dataclass(frozen=True, slots=True)
class Sealing:
    """How an object (or upload) is encrypted, as the S3 headers describe it, and how its keys are sealed."""

    algorithm: SSEAlgorithm
    kms_key_arn: str | None = None
    bucket_key: bool = False
    context: str | None = None  # the user's x-amz-server-side-encryption-context (base64 JSON), echoed back
    # How object keys are wrapped, for the vault alone: e.g. {"kek": "root", "root_key_id": "..."}.
    wrapping: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Piece:
    """One independently encrypted stream: a whole simple object, or one part of a multipart object."""

    part_number: int  # bound into the ciphertext's associated data; 1 for a simple PUT
    size: int  # plaintext bytes
    etag: str  # hex MD5 of the plaintext (unquoted), or for SSE-KMS/SSE-C a random hex
    sealed_key: bytes = field(repr=False)
    blob_id: str | None = None  # ciphertext file in the blob store ...
    inline: bytes | None = field(
        default=None, repr=False
    )  # ... or ciphertext kept in the catalog (small objects)
    checksums: dict[str, str] = field(default_factory=dict)  # algorithm (e.g. "CRC32") -> base64 value


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    bucket: str
    key: str
    version_id: str
    size: int
    etag: str  # unquoted, e.g. "9b2cf535f27731c974343645a3985328" or "...-3"
    last_modified: float  # epoch seconds
    owner_id: str
    sealing: Sealing
    pieces: tuple[Piece, ...]
    content_type: str = "binary/octet-stream"
    # Stored response headers: content-encoding, content-disposition, cache-control, expires, content-language
    headers: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(
        default_factory=dict
    )  # x-amz-meta-* (name without the prefix, lowercased)
    checksums: dict[str, str] = field(default_factory=dict)  # whole-object checksums: algorithm -> base64
    checksum_type: str | None = None  # "FULL_OBJECT" | "COMPOSITE" when checksums are present
    tags: dict[str, str] = field(default_factory=dict)
    storage_class: str = "STANDARD"
    # Written while the bucket's versioning was not Enabled (never configured, or Suspended): S3 calls it
    # the `null` version, and a key has at most one. `version_id` stays the internal, unique id that
    # sealing binds and ACLs are kept under; `s3_version_id` is what a client sees.
    null_version: bool = True
    delete_marker: bool = False  # a delete marker: no data, and a key whose newest version it is is absent

    @property
    def s3_version_id(self) -> str:
        return "null" if self.null_version else self.version_id

    def etag_matches(self, if_match: str | None) -> bool:
        """A conditional request's If-Match (unquoted ETag, "*" for any, None for no condition) holds."""
        return if_match is None or if_match == "*" or if_match == self.etag


class ObjectSummary(NamedTuple):
    """What a listing shows of an object. Listings decode a thousand of these per page, so they skip
    what only reads and writes need (sealing, pieces, headers, metadata, tags). A NamedTuple rather
    than a frozen dataclass: as immutable, and built in a quarter of the time (0.1 us against 0.4 us,
    which paid for unsealing the listed ETags: codec.summary_decoder)."""

    key: str
    size: int
    etag: str
    last_modified: float
    owner_id: str
    storage_class: str
    checksum_type: str | None
    checksum_algorithms: tuple[str, ...]

    @classmethod
    def of(cls, v: ObjectVersion) -> ObjectSummary:
        return cls(v.key, v.size, v.etag, v.last_modified, v.owner_id, v.storage_class, v.checksum_type,
                   tuple(v.checksums))


class VersionSummary(NamedTuple):
    """One entry of ListObjectVersions: a version or a delete marker, newest first within its key."""

    summary: ObjectSummary
    version_id: str  # as S3 shows it: "null" for the null version
    is_latest: bool
    delete_marker: bool


@dataclass(frozen=True, slots=True)
class VersionPage:
    """One page of ListObjectVersions: entries and common prefixes, in key order (newest first per key)."""

    versions: tuple[VersionSummary, ...]
    common_prefixes: tuple[str, ...]
    is_truncated: bool
    next_key_marker: str | None
    next_version_id_marker: str | None  # None when the page ends on a common prefix


@dataclass(frozen=True, slots=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiated: float
    owner_id: str
    sealing: Sealing
    content_type: str = "binary/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    checksum_algorithm: str | None = None
    checksum_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    storage_class: str = "STANDARD"


@dataclass(frozen=True, slots=True)
class Part:
    upload_id: str
    piece: Piece  # piece.part_number is the part number
    last_modified: float


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a listing: entries and common prefixes interleaved in key order."""

    objects: tuple[ObjectSummary, ...]
    common_prefixes: tuple[str, ...]
    is_truncated: bool
    next_marker: str | None  # the last key or common prefix returned, when truncated


@dataclass(frozen=True, slots=True)
class UploadPage:
    uploads: tuple[Upload, ...]
    common_prefixes: tuple[str, ...]
    is_truncated: bool
    next_key_marker: str | None
    next_upload_id_marker: str | None


ServerRole = Literal["serve", "root-key rotate"]


@dataclass(frozen=True, slots=True)
class Server:
    """A process registered in the catalog (servers.py): a server, or a root-key rotation. Times are
    the database's (epoch seconds); it counts as alive while its heartbeat is younger than
    `ALIVE_INTERVALS` of its own heartbeat interval."""

    server_id: str
    role: ServerRole
    host: str
    pid: int
    address: str  # where it listens (a URL), or "" for a command
    version: str
    started: float
    heartbeat: float
    interval: float  # seconds between its heartbeats

    ALIVE_INTERVALS = 3

    def alive(self, now: float) -> bool:
        return now - self.heartbeat < self.ALIVE_INTERVALS * self.interval
