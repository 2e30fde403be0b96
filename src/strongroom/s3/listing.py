"""Bucket listings: ListObjectsV2, ListObjects (v1) and ListObjectVersions.

Owns the listing query parameters (max-keys, prefix, delimiter, start-after,
marker, continuation-token, key-marker, version-id-marker, encoding-type,
fetch-owner) with AWS's error wording, the continuation-token codec, S3's
`encoding-type=url` encoding, and the response documents. The catalog does the
paging (`Catalog.list_objects`); this module only translates.

The XML is built from strings, not a DOM: a 1000-key page renders in about a
millisecond. Element order follows responses recorded from AWS.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable

from aiohttp import web
from multidict import MultiDict

from strongroom.catalog.api import NoSuchBucketError
from strongroom.catalog.model import ListPage, ObjectSummary, VersionSummary
from strongroom.errors import S3Error, invalid_argument, no_such_bucket
from strongroom.s3 import version_ids, xml
from strongroom.s3.context import Ctx

MAX_KEYS = 1000  # the most entries one page holds, whatever max-keys asks for
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INTEGER = re.compile(r"[+-]?[0-9]+")  # as Java's Integer.parseInt reads it: ASCII digits, optional sign

# --- errors, worded as AWS words them (responses recorded from AWS) ---


def max_keys_not_integer(value: str) -> S3Error:
    return invalid_argument("Provided max-keys not an integer or within integer range", "max-keys", value)


def max_keys_negative(value: str) -> S3Error:
    """ListObjects and ListObjectsV2 name the argument maxKeys here, unlike every other max-keys error."""
    return invalid_argument("Argument maxKeys must be an integer between 0 and 2147483647", "maxKeys", value)


def versions_max_keys_negative() -> S3Error:
    return invalid_argument("max-keys cannot be negative", "max-keys")


def invalid_encoding_type(value: str) -> S3Error:
    return invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", value)


def invalid_continuation_token() -> S3Error:
    return invalid_argument("The continuation token provided is incorrect", "continuation-token")


def version_id_marker_without_key_marker(value: str) -> S3Error:
    return invalid_argument("A version-id marker cannot be specified without a key marker.",
                            "version-id-marker", value)


def empty_version_id_marker() -> S3Error:
    return invalid_argument("A version-id marker cannot be empty.", "version-id-marker", "")


def invalid_version_id_marker(value: str) -> S3Error:
    return invalid_argument("Invalid version id specified", "version-id-marker", value)


# --- query parameters ---


def parse_max_keys(raw: str | None, *, versions: bool = False) -> int:
    """The max-keys a request asked for (echoed in MaxKeys); pages are cut at MAX_KEYS regardless.

    Absent or empty means 1000, as on S3. Anything but a 32-bit integer, and any negative
    value, is InvalidArgument.
    """
    if raw is None or raw == "":
        return MAX_KEYS
    if not _INTEGER.fullmatch(raw):
        raise max_keys_not_integer(raw)
    value = int(raw)
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise max_keys_not_integer(raw)
    if value < 0:
        raise versions_max_keys_negative() if versions else max_keys_negative(raw)
    return value


def parse_encoding_type(raw: str | None) -> bool:
    """True for encoding-type=url; absent is False; any other value (empty included) is InvalidArgument."""
    if raw is None:
        return False
    if raw != "url":
        raise invalid_encoding_type(raw)
    return True


# Continuation tokens are opaque to clients: a version byte and the UTF-8 of the last key (or
# common prefix) returned, in URL-safe base64 without padding so that no client can mangle it in
# a query string. A token that does not decode to that shape is refused.
_TOKEN_VERSION = b"\x01"
_TOKEN_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


def encode_token(key: str) -> str:
    raw = _TOKEN_VERSION + key.encode("utf-8", "surrogatepass")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_token(token: str) -> str | None:
    """The key a token carries, or None when it is not a token this server issued."""
    if not _TOKEN_ALPHABET.fullmatch(token) or len(token) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_TOKEN_VERSION) or len(raw) < 2:
        return None
    try:
        return raw[len(_TOKEN_VERSION):].decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None


# --- encoding of names in the response ---

# XML text escaping, plus the C0 controls XML 1.0 cannot carry literally, written as character
# references as S3 writes them (`&#x1;`). Such a document only parses in lenient parsers: clients
# that care ask for encoding-type=url, as boto3 always does. CR is a reference too, so that a
# parser's newline normalisation cannot turn it into LF.
_NEEDS_ESCAPE = re.compile("[&<>\"'\x00-\x08\x0b-\x1f]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f]")
_CONTROLS = {c: f"&#x{c:x};" for c in range(0x20) if c not in (0x9, 0xA)}


def escape(text: str) -> str:
    if not _NEEDS_ESCAPE.search(text):
        return text
    # A chain of str.replace is several times faster than str.translate with a dict.
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace('"', "&quot;").replace("'", "&apos;")
    return text.translate(_CONTROLS) if _CONTROL.search(text) else text


_URL_PLAIN = re.compile(r"[A-Za-z0-9\-_.*/]*")
_URL_KEEP = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.*/")
# What each byte of the UTF-8 becomes, indexed by byte value.
_URL_BYTES = [chr(b) if b in _URL_KEEP else "+" if b == 0x20 else f"%{b:02X}" for b in range(256)]


def url_encode(text: str) -> str:
    """A name as S3 writes it for encoding-type=url (recorded from AWS).

    Form encoding of the UTF-8 bytes, as Java's URLEncoder does it, except that '/' stays:
    letters, digits and `-_.*/` are kept, a space becomes '+', every other byte is %XX with
    upper-case hex ('~' included). botocore decodes it with unquote_plus.
    """
    if _URL_PLAIN.fullmatch(text):
        return text
    # Spelling the UTF-8 bytes as Latin-1 characters lets one str.translate map each byte.
    return text.encode("utf-8", "surrogatepass").decode("latin-1").translate(_URL_BYTES)


def _names(url: bool) -> Callable[[str], str]:
    """How names (keys, prefixes, markers, the delimiter) are written; URL-encoded text needs no escaping."""
    return url_encode if url else escape


@functools.lru_cache(maxsize=8192)
def _timestamp(seconds: int) -> str:
    return xml.timestamp(seconds)


def last_modified(epoch: float) -> str:
    """LastModified in listings has whole seconds, as S3 lists it (`...:30.000Z`) and Last-Modified says."""
    return _timestamp(int(epoch))


def _checksums(v: ObjectSummary) -> str:
    if not v.checksum_algorithms:
        return ""
    algorithms = "".join(f"<ChecksumAlgorithm>{alg}</ChecksumAlgorithm>" for alg in v.checksum_algorithms)
    return f"{algorithms}<ChecksumType>{v.checksum_type or 'FULL_OBJECT'}</ChecksumType>"


@functools.lru_cache(maxsize=256)
def _owner(owner_id: str) -> str:
    # Only the ID: S3 stopped returning DisplayName on 2025-11-21.
    return f"<Owner><ID>{escape(owner_id)}</ID></Owner>"


# Storage classes are a handful of names: escaped once each, not once per listed object.
_storage_class = functools.lru_cache(maxsize=64)(escape)


def render_contents(objects: tuple[ObjectSummary, ...], name: Callable[[str], str], owner: bool) -> str:
    return "".join(
        f"<Contents><Key>{name(v.key)}</Key><LastModified>{last_modified(v.last_modified)}</LastModified>"
        f"<ETag>&quot;{escape(v.etag)}&quot;</ETag>{_checksums(v)}<Size>{v.size}</Size>"
        f"{_owner(v.owner_id) if owner else ''}"
        f"<StorageClass>{_storage_class(v.storage_class)}</StorageClass></Contents>"
        for v in objects
    )


def render_versions(versions: tuple[VersionSummary, ...], name: Callable[[str], str]) -> str:
    """ListObjectVersions' entries, in the catalog's order: a Version or a DeleteMarker each."""
    out = []
    for v, version_id, latest, marker in versions:
        head = (f"<Key>{name(v.key)}</Key><VersionId>{escape(version_id)}</VersionId>"
                f"<IsLatest>{_bool(latest)}</IsLatest><LastModified>{last_modified(v.last_modified)}</LastModified>")
        if marker:
            out.append(f"<DeleteMarker>{head}{_owner(v.owner_id)}</DeleteMarker>")
        else:
            out.append(f"<Version>{head}<ETag>&quot;{escape(v.etag)}&quot;</ETag>{_checksums(v)}<Size>{v.size}"
                       f"</Size>{_owner(v.owner_id)}<StorageClass>{_storage_class(v.storage_class)}</StorageClass>"
                       "</Version>")
    return "".join(out)


def render_common_prefixes(prefixes: tuple[str, ...], name: Callable[[str], str]) -> str:
    return "".join(f"<CommonPrefixes><Prefix>{name(p)}</Prefix></CommonPrefixes>" for p in prefixes)


def _optional(tag: str, value: str | None, name: Callable[[str], str] = escape) -> str:
    return f"<{tag}>{name(value)}</{tag}>" if value else ""


def _bool(value: bool) -> str:
    return "true" if value else "false"


# --- the operations ---


async def _page(ctx: Ctx, *, prefix: str, delimiter: str, after: str, max_keys: int) -> ListPage:
    assert ctx.bucket is not None
    try:
        return await ctx.services.listing(ctx.services.catalog.list_objects, ctx.bucket.name, prefix=prefix,
                                     delimiter=delimiter, after=after, max_keys=min(max_keys, MAX_KEYS))
    except NoSuchBucketError:  # deleted since the dispatcher loaded it
        raise no_such_bucket(ctx.bucket.name) from None


def _next_marker(page: ListPage) -> str | None:
    if not page.is_truncated:
        return None
    if page.next_marker is not None:
        return page.next_marker
    last = [v.key for v in page.objects[-1:]] + list(page.common_prefixes[-1:])
    return max(last) if last else None


def _xml_response(root: str, body: str) -> web.Response:
    return web.Response(body=xml.document(root, body), content_type="application/xml")


async def list_objects_v2(ctx: Ctx) -> web.StreamResponse:
    q: MultiDict[str] = ctx.query
    if q.get("list-type") != "2":  # only list-type=2 is version 2; anything else is the original listing
        return await list_objects(ctx)
    max_keys = parse_max_keys(q.get("max-keys"))
    url = parse_encoding_type(q.get("encoding-type"))
    token = q.get("continuation-token")
    start_after: str | None = None
    if token is not None:
        # With a token, S3 ignores start-after and does not echo it (recorded from AWS).
        decoded = decode_token(token)
        if decoded is None:
            raise invalid_continuation_token()
        after = decoded
    else:
        start_after = q.get("start-after") or None
        after = start_after or ""
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    page = await _page(ctx, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys)
    name = _names(url)
    next_marker = _next_marker(page)
    next_token = encode_token(next_marker) if next_marker is not None else None
    assert ctx.bucket is not None
    body = (
        f"<Name>{escape(ctx.bucket.name)}</Name><Prefix>{name(prefix)}</Prefix>"
        f"{_optional('StartAfter', start_after, name)}{_optional('ContinuationToken', token)}"
        f"{_optional('NextContinuationToken', next_token)}"
        f"<KeyCount>{len(page.objects) + len(page.common_prefixes)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>"
        f"{_optional('Delimiter', delimiter, name)}{'<EncodingType>url</EncodingType>' if url else ''}"
        f"<IsTruncated>{_bool(page.is_truncated)}</IsTruncated>"
        f"{render_contents(page.objects, name, q.get('fetch-owner', '').lower() == 'true')}"
        f"{render_common_prefixes(page.common_prefixes, name)}"
    )
    return _xml_response("ListBucketResult", body)


async def list_objects(ctx: Ctx) -> web.StreamResponse:
    q: MultiDict[str] = ctx.query
    max_keys = parse_max_keys(q.get("max-keys"))
    url = parse_encoding_type(q.get("encoding-type"))
    prefix, delimiter, marker = q.get("prefix", ""), q.get("delimiter", ""), q.get("marker", "")
    page = await _page(ctx, prefix=prefix, delimiter=delimiter, after=marker, max_keys=max_keys)
    name = _names(url)
    # NextMarker only with a delimiter, as S3 does; without one a client continues from the last key.
    next_marker = _next_marker(page) if delimiter else None
    assert ctx.bucket is not None
    body = (
        f"<Name>{escape(ctx.bucket.name)}</Name><Prefix>{name(prefix)}</Prefix><Marker>{name(marker)}</Marker>"
        f"{_optional('NextMarker', next_marker, name)}<MaxKeys>{max_keys}</MaxKeys>"
        f"{_optional('Delimiter', delimiter, name)}{'<EncodingType>url</EncodingType>' if url else ''}"
        f"<IsTruncated>{_bool(page.is_truncated)}</IsTruncated>"
        f"{render_contents(page.objects, name, True)}{render_common_prefixes(page.common_prefixes, name)}"
    )
    return _xml_response("ListBucketResult", body)


def _version_start(q: MultiDict[str]) -> tuple[str, str | None]:
    """(key-marker, version-id-marker), the version id marker checked as S3 does."""
    key_marker, version_marker = q.get("key-marker"), q.get("version-id-marker")
    if version_marker is not None:
        if key_marker is None:
            raise version_id_marker_without_key_marker(version_marker)
        if version_marker == "":
            raise empty_version_id_marker()
        if not version_ids.well_formed(version_marker):
            raise invalid_version_id_marker(version_marker)
    return key_marker or "", version_marker


async def list_object_versions(ctx: Ctx) -> web.StreamResponse:
    q: MultiDict[str] = ctx.query
    # S3 checks max-keys, then the markers, then encoding-type (recorded from AWS).
    max_keys = parse_max_keys(q.get("max-keys"), versions=True)
    key_marker, version_marker = _version_start(q)
    url = parse_encoding_type(q.get("encoding-type"))
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    assert ctx.bucket is not None
    try:
        page = await ctx.services.listing(
            ctx.services.catalog.list_versions, ctx.bucket.name, prefix=prefix, delimiter=delimiter,
            key_marker=key_marker, version_id_marker=version_marker, max_keys=min(max_keys, MAX_KEYS))
    except NoSuchBucketError:  # deleted since the dispatcher loaded it
        raise no_such_bucket(ctx.bucket.name) from None
    name = _names(url)
    if page.common_prefixes:  # they interleave with entries by name, a key's versions newest first
        items = sorted([(v.summary.key, render_versions((v,), name)) for v in page.versions]
                       + [(p, render_common_prefixes((p,), name)) for p in page.common_prefixes],
                       key=lambda item: item[0])
        entries = "".join(text for _, text in items)
    else:
        entries = render_versions(page.versions, name)
    body = (
        f"<Name>{escape(ctx.bucket.name)}</Name><Prefix>{name(prefix)}</Prefix>"
        f"<KeyMarker>{name(key_marker)}</KeyMarker>"
        f"<VersionIdMarker>{escape(version_marker or '')}</VersionIdMarker>"
        f"{_optional('NextKeyMarker', page.next_key_marker, name)}"
        f"{_optional('NextVersionIdMarker', page.next_version_id_marker)}"
        f"<MaxKeys>{max_keys}</MaxKeys>{_optional('Delimiter', delimiter, name)}"
        f"{'<EncodingType>url</EncodingType>' if url else ''}"
        f"<IsTruncated>{_bool(page.is_truncated)}</IsTruncated>{entries}"
    )
    return _xml_response("ListVersionsResult", body)
