"""Row <-> record encoding for the SQL catalogs: the one place that knows how records sit in columns.

Scalar fields are columns of their own. Nested values are compact JSON:

- sealing: an object (few distinct values exist; decoding is memoized, so a
  listing of a million SSE-S3 objects decodes the sealing once).
- pieces: an array of arrays `[part_number, size, etag, sealed_key_b64, blob_id,
  inline_length | null, checksums | null]`. Inline ciphertext is not inside the
  JSON: the inline bytes of all pieces are concatenated, in piece order, into a
  separate BLOB column, so they are neither base64-inflated nor parsed as text.
- extra: an object holding only the non-empty ones of headers/metadata/checksums/
  tags (and for uploads the same); NULL when all are empty, the common case.

Column order of the SELECTs lives here too (`VERSION_COLUMNS`, ...), so a query
and its decoder cannot drift apart.
"""

from __future__ import annotations

import binascii
import dataclasses
import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from strongroom.catalog.model import (
    AccessKey,
    Bucket,
    ObjectSummary,
    ObjectVersion,
    Part,
    Piece,
    Sealing,
    Upload,
    User,
)

_b64encode = binascii.b2a_base64
_b64decode = binascii.a2b_base64
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
_raw_decode = json.JSONDecoder().raw_decode


def _loads(text: str) -> Any:
    # raw_decode skips json.loads' Python-level wrapper: 0.4 us instead of 1.1 us for a
    # one-piece array, which is a third of the cost of a listed record. Safe because we
    # wrote the text ourselves (no surrounding whitespace).
    return _raw_decode(text)[0]


_T = TypeVar("_T")


def _builder(cls: type[_T]) -> Callable[..., _T]:
    """A positional constructor for a frozen, slotted dataclass that skips its __init__.

    A frozen dataclass's __init__ assigns each field through object.__setattr__ (1.4 us
    for an ObjectVersion); setting the slots directly costs half. Only for records we
    decode by the thousand, and only while the class has no __post_init__ to skip.
    """
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls} needs its __init__")
    names = [f.name for f in dataclasses.fields(cls)]
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    body = [f"def build({', '.join(names)}):", "    o = _new(_cls)"]
    for i, name in enumerate(names):
        env[f"_set{i}"] = getattr(cls, name).__set__
        body.append(f"    _set{i}(o, {name})")
    body.append("    return o")
    exec("\n".join(body), env)  # the source is built from the dataclass's own field names only
    return env["build"]  # type: ignore[no-any-return]


_new_version = _builder(ObjectVersion)
_new_summary = _builder(ObjectSummary)
_new_piece = _builder(Piece)

# --- sealing ---------------------------------------------------------------


def encode_sealing(s: Sealing) -> str:
    doc: dict[str, Any] = {"algorithm": s.algorithm}
    if s.kms_key_arn is not None:
        doc["kms_key_arn"] = s.kms_key_arn
    if s.bucket_key:
        doc["bucket_key"] = True
    if s.context is not None:
        doc["context"] = s.context
    if s.wrapping:
        doc["wrapping"] = s.wrapping
    return _dumps(doc)


@lru_cache(maxsize=4096)
def decode_sealing(text: str) -> Sealing:
    # Memoized: records are frozen, and the few distinct sealings (one per bucket
    # default or KMS key, typically) are shared between the records that use them.
    doc = _loads(text)
    return Sealing(
        algorithm=doc["algorithm"],
        kms_key_arn=doc.get("kms_key_arn"),
        bucket_key=doc.get("bucket_key", False),
        context=doc.get("context"),
        wrapping=doc.get("wrapping", {}),
    )


# --- pieces ----------------------------------------------------------------


def encode_pieces(pieces: tuple[Piece, ...] | list[Piece]) -> tuple[str, bytes | None]:
    """Return (pieces JSON, concatenated inline ciphertext or None)."""
    items = []
    inline: list[bytes] = []
    for p in pieces:
        if p.inline is not None:
            inline.append(p.inline)
        items.append([
            p.part_number,
            p.size,
            p.etag,
            _b64encode(p.sealed_key, newline=False).decode("ascii"),
            p.blob_id,
            None if p.inline is None else len(p.inline),
            p.checksums or None,
        ])
    return _dumps(items), (b"".join(inline) if inline else None)


def decode_pieces(text: str, inline: bytes | None) -> tuple[Piece, ...]:
    items = _loads(text)
    if inline is None:
        # the common cases, kept free of the inline bookkeeping (a listing decodes thousands)
        if len(items) == 1:
            pn, size, etag, key, blob_id, _, sums = items[0]
            return (_new_piece(pn, size, etag, _b64decode(key), blob_id, None, sums or {}),)
        return tuple([_new_piece(pn, size, etag, _b64decode(key), blob_id, None, sums or {})
                      for pn, size, etag, key, blob_id, _, sums in items])
    pos = 0
    out = []
    for pn, size, etag, key, blob_id, ilen, sums in items:
        data = None
        if ilen is not None:
            data = inline[pos:pos + ilen]
            pos += ilen
        out.append(_new_piece(pn, size, etag, _b64decode(key), blob_id, data, sums or {}))
    return tuple(out)


def blob_ids_in(pieces_text: str) -> list[str]:
    """The blob ids an encoded pieces array refers to, without building the pieces."""
    return [item[4] for item in _loads(pieces_text) if item[4] is not None]


# --- extras (dicts that are usually empty) ----------------------------------


def _encode_extra(**fields: dict[str, str]) -> str | None:
    doc = {name: value for name, value in fields.items() if value}
    return _dumps(doc) if doc else None


_NO_EXTRA: dict[str, dict[str, str]] = {}

# --- object versions ---------------------------------------------------------

# The columns a version is decoded from, in order; queries select exactly these.
# The key comes first: listing.walk reads a row's key from row[0].
VERSION_COLUMNS = (
    "key", "version_id", "bucket", "size", "etag", "last_modified", "owner_id", "content_type",
    "storage_class", "checksum_type", "sealing", "pieces", "inline", "extra",
)


def encode_version(v: ObjectVersion) -> tuple[Any, ...]:
    """Values for VERSION_COLUMNS, in order."""
    pieces, inline = encode_pieces(v.pieces)
    extra = _encode_extra(headers=v.headers, metadata=v.metadata, checksums=v.checksums, tags=v.tags)
    return (
        v.key, v.version_id, v.bucket, v.size, v.etag, v.last_modified, v.owner_id, v.content_type,
        v.storage_class, v.checksum_type, encode_sealing(v.sealing), pieces, inline, extra,
    )


def decode_version(row: tuple[Any, ...]) -> ObjectVersion:
    (key, version_id, bucket, size, etag, last_modified, owner_id, content_type, storage_class,
     checksum_type, sealing, pieces, inline, extra) = row
    if extra is None:
        headers: dict[str, str] = {}
        metadata: dict[str, str] = {}
        checksums: dict[str, str] = {}
        tags: dict[str, str] = {}
    else:
        x = _loads(extra)
        headers, metadata, checksums, tags = (
            x.get("headers", {}), x.get("metadata", {}), x.get("checksums", {}), x.get("tags", {}))
    return _new_version(
        bucket, key, version_id, size, etag, last_modified, owner_id, decode_sealing(sealing),
        decode_pieces(pieces, inline), content_type, headers, metadata, checksums, checksum_type, tags,
        storage_class,
    )


# The columns a listed object is decoded from (ObjectSummary); the key first, as above.
SUMMARY_COLUMNS = (
    "key", "size", "etag", "last_modified", "owner_id", "storage_class", "checksum_type", "extra",
)


def decode_summary(row: tuple[Any, ...]) -> ObjectSummary:
    key, size, etag, last_modified, owner_id, storage_class, checksum_type, extra = row
    algorithms: tuple[str, ...] = ()
    if extra is not None and '"checksums"' in extra:  # most extras hold only headers or metadata
        algorithms = tuple(_loads(extra).get("checksums", ()))
    return _new_summary(key, size, etag, last_modified, owner_id, storage_class, checksum_type, algorithms)


# --- uploads and parts --------------------------------------------------------

UPLOAD_COLUMNS = (
    "key", "upload_id", "bucket", "initiated", "owner_id", "sealing", "content_type", "checksum_algorithm",
    "checksum_type", "storage_class", "extra",
)


def encode_upload(u: Upload) -> tuple[Any, ...]:
    extra = _encode_extra(headers=u.headers, metadata=u.metadata, tags=u.tags)
    return (
        u.key, u.upload_id, u.bucket, u.initiated, u.owner_id, encode_sealing(u.sealing), u.content_type,
        u.checksum_algorithm, u.checksum_type, u.storage_class, extra,
    )


def decode_upload(row: tuple[Any, ...]) -> Upload:
    (key, upload_id, bucket, initiated, owner_id, sealing, content_type, checksum_algorithm,
     checksum_type, storage_class, extra) = row
    x = _loads(extra) if extra is not None else _NO_EXTRA
    return Upload(
        upload_id, bucket, key, initiated, owner_id, decode_sealing(sealing), content_type,
        x.get("headers") or {}, x.get("metadata") or {}, checksum_algorithm, checksum_type,
        x.get("tags") or {}, storage_class,
    )


PART_COLUMNS = ("upload_id", "part_number", "last_modified", "piece", "inline")


def encode_part(p: Part) -> tuple[Any, ...]:
    piece, inline = encode_pieces((p.piece,))
    return (p.upload_id, p.piece.part_number, p.last_modified, piece, inline)


def decode_part(row: tuple[Any, ...]) -> Part:
    upload_id, _part_number, last_modified, piece, inline = row
    return Part(upload_id, decode_pieces(piece, inline)[0], last_modified)


# --- users, access keys, buckets ------------------------------------------------

USER_COLUMNS = ("name", "user_id", "created", "is_root")


def encode_user(u: User) -> tuple[Any, ...]:
    return (u.name, u.user_id, u.created, int(u.is_root))


def decode_user(row: tuple[Any, ...]) -> User:
    name, user_id, created, is_root = row
    return User(name, user_id, created, bool(is_root))


ACCESS_KEY_COLUMNS = ("access_key", "user_name", "sealed_secret", "created", "active")


def encode_access_key(k: AccessKey) -> tuple[Any, ...]:
    return (k.access_key, k.user_name, k.sealed_secret, k.created, int(k.active))


def decode_access_key(row: tuple[Any, ...]) -> AccessKey:
    access_key, user_name, sealed_secret, created, active = row
    return AccessKey(access_key, user_name, bytes(sealed_secret), created, bool(active))


BUCKET_COLUMNS = ("name", "owner_id", "region", "created")


def encode_bucket(b: Bucket) -> tuple[Any, ...]:
    return (b.name, b.owner_id, b.region, b.created)


def decode_bucket(row: tuple[Any, ...]) -> Bucket:
    return Bucket(*row)


def columns(names: tuple[str, ...], table: str = "") -> str:
    """A SELECT list for `names`, optionally qualified by a table alias."""
    return ", ".join(f"{table}.{n}" if table else n for n in names)


def placeholders(names: tuple[str, ...]) -> str:
    return ", ".join("?" * len(names))
