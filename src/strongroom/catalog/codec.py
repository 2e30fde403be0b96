"""Row <-> record encoding for the SQL catalogs: the one place that knows how records sit in columns.

Scalar fields are columns of their own. Nested values are compact JSON:

- sealing: an object (few distinct values exist; decoding is memoized, so a
  listing of a million SSE-S3 objects decodes the sealing once).
- pieces: an array of arrays `[part_number, size, etag, sealed_key_b64, blob_id,
  inline_length | null, checksums | null]`. Inline ciphertext is not inside the
  JSON: the inline bytes of all pieces are concatenated, in piece order, into a
  separate BLOB column, so they are neither base64-inflated nor parsed as text.
- listed, private: sealed fields (sealer.py): what a copy of the catalog must not
  reveal (ETags, content types, headers, metadata, checksums, tags), sealed under a
  key derived from the root key and bound to the row's identity. A listing unseals
  `listed` alone.

Column order of the SELECTs lives here too (`VERSION_COLUMNS`, ...), so a query
and its decoder cannot drift apart.
"""

from __future__ import annotations

import binascii
import dataclasses
import json
import struct
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from cryptography.exceptions import InvalidTag

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
from strongroom.catalog.sealer import VERSION_BYTE, MetadataSealer

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
_tuple_new = tuple.__new__
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
    """Return (pieces JSON, concatenated inline ciphertext or None). A piece's ETag and checksums are
    not in it: they are sealed with the record's private fields (`private` of a version or part)."""
    items = []
    inline: list[bytes] = []
    for p in pieces:
        if p.inline is not None:
            inline.append(p.inline)
        items.append([
            p.part_number,
            p.size,
            None,
            _b64encode(p.sealed_key, newline=False).decode("ascii"),
            p.blob_id,
            None if p.inline is None else len(p.inline),
            None,
        ])
    return _dumps(items), (b"".join(inline) if inline else None)


def decode_pieces(text: str, inline: bytes | None, private: list[list[Any]]) -> tuple[Piece, ...]:
    """The pieces of `text`, with their ETags and checksums from `private` ([etag, checksums], in order)."""
    items = _loads(text)
    pos = 0
    out = []
    for (pn, size, _, key, blob_id, ilen, _), (etag, sums) in zip(items, private, strict=True):
        data = None
        if ilen is not None and inline is not None:
            data = bytes(inline[pos:pos + ilen])
            pos += ilen
        out.append(_new_piece(pn, size, etag, _b64decode(key), blob_id, data, sums or {}))
    return tuple(out)


def blob_ids_in(pieces_text: str) -> list[str]:
    """The blob ids an encoded pieces array refers to, without building the pieces."""
    return [item[4] for item in _loads(pieces_text) if item[4] is not None]


# --- sealed fields --------------------------------------------------------------
#
# What a copy of the catalog must not reveal is sealed (sealer.py): per version, `listed` (the
# ETag and the names of the checksum algorithms: what a listing shows) and `private` (content
# type, stored headers, metadata, checksums, tags, and each piece's ETag and checksums); per
# upload, `private` (content type, headers, metadata, tags); per part, `private` (its ETag and
# checksums). The associated data is the row's identity and the field's name (crypto/FORMAT.md).

_LEN = struct.Struct(">I").pack
_UINT = struct.Struct(">Q").pack


def _s(text: str) -> bytes:
    """crypto.keys.object_context's encoding of one str part, inlined for the listing's hot loop."""
    b = text.encode("utf-8", "surrogatepass")
    return b"s" + _LEN(len(b)) + b


_LISTED = _s("listed")
_PRIVATE = _s("private")
_VERSION = _s("version")


def _version_head(bucket: str, key: str, version_id: str) -> bytes:
    """The context of a version's sealed fields but the field's name: encoded once for both fields."""
    return _VERSION + _s(bucket) + _s(key) + _s(version_id)


def version_context(bucket: str, key: str, version_id: str, name: str) -> bytes:
    """object_context("version", bucket, key, version_id, name)."""
    return _version_head(bucket, key, version_id) + _s(name)


def upload_context(bucket: str, key: str, upload_id: str) -> bytes:
    """object_context("upload", bucket, key, upload_id, "private")."""
    return _s("upload") + _s(bucket) + _s(key) + _s(upload_id) + _PRIVATE


def part_context(upload_id: str, part_number: int) -> bytes:
    """object_context("part", upload_id, part_number, "private")."""
    return _s("part") + _s(upload_id) + b"i" + _UINT(part_number) + _PRIVATE


def _seal_doc(sealer: MetadataSealer, doc: Any, context: bytes) -> bytes:
    return sealer.seal(_dumps(doc).encode(), context)


def _unseal_doc(sealer: MetadataSealer, sealed: bytes, context: bytes, what: str) -> Any:
    return _loads(sealer.unseal(bytes(sealed), context, what).decode())


def encode_listed(etag: str, algorithms: Iterable[str]) -> bytes:
    """The plaintext of `listed`: the ETag, then the checksum algorithms, space-separated."""
    return " ".join((etag, *algorithms)).encode()


# --- object versions ---------------------------------------------------------

# The columns a version is decoded from, in order; queries select exactly these.
# The key comes first: listing.walk reads a row's key from row[0].
VERSION_COLUMNS = (
    "key", "version_id", "bucket", "size", "last_modified", "owner_id", "storage_class", "checksum_type",
    "sealing", "pieces", "inline", "listed", "private", "null_version", "delete_marker",
)


LISTED_AT, PRIVATE_AT = VERSION_COLUMNS.index("listed"), VERSION_COLUMNS.index("private")
MARKER_AT = VERSION_COLUMNS.index("delete_marker")


def encode_version(v: ObjectVersion, sealer: MetadataSealer) -> tuple[Any, ...]:
    """Values for VERSION_COLUMNS, in order."""
    pieces, inline = encode_pieces(v.pieces)
    doc: dict[str, Any] = {"ct": v.content_type, "p": [[p.etag, p.checksums or None] for p in v.pieces]}
    for name, value in (("h", v.headers), ("m", v.metadata), ("c", v.checksums), ("t", v.tags)):
        if value:
            doc[name] = value
    head = _version_head(v.bucket, v.key, v.version_id)
    listed, private = sealer.seal_each(((encode_listed(v.etag, v.checksums), head + _LISTED),
                                        (_dumps(doc).encode(), head + _PRIVATE)))
    return (
        v.key, v.version_id, v.bucket, v.size, v.last_modified, v.owner_id, v.storage_class, v.checksum_type,
        encode_sealing(v.sealing), pieces, inline, listed, private, int(v.null_version), int(v.delete_marker),
    )


def encode_private(v: ObjectVersion, sealer: MetadataSealer) -> bytes:
    """The `private` column of `v` alone (PutObjectTagging)."""
    return encode_version(v, sealer)[PRIVATE_AT]  # type: ignore[no-any-return]


def decode_version(row: tuple[Any, ...], sealer: MetadataSealer) -> ObjectVersion:
    (key, version_id, bucket, size, last_modified, owner_id, storage_class, checksum_type, sealing, pieces,
     inline, listed, private, null_version, delete_marker) = row
    what = f"{bucket}/{key} (version {version_id})"
    head = _version_head(bucket, key, version_id)
    etag = sealer.unseal(bytes(listed), head + _LISTED, what).decode()
    x = _unseal_doc(sealer, private, head + _PRIVATE, what)
    return _new_version(
        bucket, key, version_id, size, etag.split(" ", 1)[0], last_modified, owner_id,
        decode_sealing(sealing), decode_pieces(pieces, inline, x["p"]), x["ct"], x.get("h", {}),
        x.get("m", {}), x.get("c", {}), checksum_type, x.get("t", {}), storage_class, bool(null_version),
        bool(delete_marker),
    )


# The columns a listed object is decoded from (ObjectSummary); the key first, as above.
SUMMARY_COLUMNS = (
    "key", "version_id", "size", "last_modified", "owner_id", "storage_class", "checksum_type", "listed",
)


# What listings unsealed, by bucket, then by sealed `listed` value: (key, version id, etag, algorithms).
ListedCache = dict[str, dict[bytes, tuple[str, str, str, tuple[str, ...]]]]
# Entries a catalog keeps (about 300 bytes each); a full cache is emptied and fills again.
LISTED_CACHE_ENTRIES = 1 << 17


def summary_decoder(sealer: MetadataSealer, bucket: str, cache: ListedCache
                    ) -> Callable[[tuple[Any, ...]], ObjectSummary]:
    """A decoder of SUMMARY_COLUMNS rows of one bucket: unseals `listed` alone, with one cipher
    and the bucket's part of the context encoded once (a listing decodes a thousand per page).

    An AES-GCM open costs about 2 us, nearly as much as the rest of a listed row's path through
    the server, so what was opened is remembered in `cache` (the catalog's, per process): a
    sealed value is unique (random nonce), and a hit counts only for the row it was opened for
    (same bucket, key and version id, as the associated data), so a value moved to another row is
    opened, and refused, again. Measured on 100 pages of 100k keys, listed in turn: decoding a page
    costs what it did before sealing (0.37-0.47 ms against 0.45 ms) once its values are known,
    about 1.7 ms more the first time."""
    head = _VERSION + _s(bucket)
    cipher = sealer.ciphers[0]
    version = VERSION_BYTE
    mine = cache.get(bucket)
    if mine is None:
        mine = cache[bucket] = {}
    get = mine.get

    def decode(row: tuple[Any, ...]) -> ObjectSummary:
        key, version_id, size, last_modified, owner_id, storage_class, checksum_type, listed = row
        hit = get(listed)
        if hit is not None and hit[0] == key and hit[1] == version_id:
            return _tuple_new(ObjectSummary, (key, size, hit[2], last_modified, owner_id, storage_class,
                                              checksum_type, hit[3]))
        context = head + _s(key) + _s(version_id) + _LISTED
        try:
            if listed[0] != 1:
                raise InvalidTag
            text = cipher.decrypt(listed[1:13], listed[13:], version + context).decode()
        except (InvalidTag, IndexError):  # not under the current key: rotation in progress, or damage
            text = sealer.unseal(bytes(listed), context, f"{bucket}/{key} (version {version_id})").decode()
        etag, *names = text.split(" ")
        algorithms = tuple(names)
        if len(mine) >= LISTED_CACHE_ENTRIES:
            mine.clear()
        mine[bytes(listed)] = (key, version_id, etag, algorithms)
        return ObjectSummary(key, size, etag, last_modified, owner_id, storage_class, checksum_type,
                             algorithms)

    return decode


# --- uploads and parts --------------------------------------------------------

UPLOAD_COLUMNS = (
    "key", "upload_id", "bucket", "initiated", "owner_id", "sealing", "checksum_algorithm",
    "checksum_type", "storage_class", "private",
)


def encode_upload(u: Upload, sealer: MetadataSealer) -> tuple[Any, ...]:
    doc: dict[str, Any] = {"ct": u.content_type}
    for name, value in (("h", u.headers), ("m", u.metadata), ("t", u.tags)):
        if value:
            doc[name] = value
    private = _seal_doc(sealer, doc, upload_context(u.bucket, u.key, u.upload_id))
    return (
        u.key, u.upload_id, u.bucket, u.initiated, u.owner_id, encode_sealing(u.sealing),
        u.checksum_algorithm, u.checksum_type, u.storage_class, private,
    )


def decode_upload(row: Sequence[Any], sealer: MetadataSealer) -> Upload:
    (key, upload_id, bucket, initiated, owner_id, sealing, checksum_algorithm, checksum_type, storage_class,
     private) = row
    x = _unseal_doc(sealer, private, upload_context(bucket, key, upload_id), f"upload {upload_id}")
    return Upload(
        upload_id, bucket, key, initiated, owner_id, decode_sealing(sealing), x["ct"],
        x.get("h") or {}, x.get("m") or {}, checksum_algorithm, checksum_type, x.get("t") or {},
        storage_class,
    )


PART_COLUMNS = ("upload_id", "part_number", "last_modified", "piece", "inline", "private")


def encode_part(p: Part, sealer: MetadataSealer) -> tuple[Any, ...]:
    piece, inline = encode_pieces((p.piece,))
    private = _seal_doc(sealer, [p.piece.etag, p.piece.checksums or None],
                        part_context(p.upload_id, p.piece.part_number))
    return (p.upload_id, p.piece.part_number, p.last_modified, piece, inline, private)


def decode_part(row: Sequence[Any], sealer: MetadataSealer) -> Part:
    upload_id, part_number, last_modified, piece, inline, private = row
    x = _unseal_doc(sealer, private, part_context(upload_id, part_number),
                    f"upload {upload_id} part {part_number}")
    return Part(upload_id, decode_pieces(piece, inline, [x])[0], last_modified)


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
