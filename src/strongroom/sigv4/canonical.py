"""The canonical form of AWS Signature Version 4, shared by the server that checks and the clients that sign.

Owns the canonical request (the path decoded then encoded once, never twice, as
S3 does; the query decoded with '+' as a space, sorted; headers lower-cased,
trimmed and joined), the string to sign, the signing-key chain and the HMAC.
Pure: bytes and strings in and out, no errors of its own.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote_from_bytes

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_SPACES = re.compile(r"[ \t]+")


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """What SigV4 needs of a request: the path and query exactly as on the request line."""

    method: str
    raw_path: str  # percent-encoded as sent, without the query
    raw_query: str  # after '?', as sent
    headers: Mapping[str, str]  # any case; a multidict's repeated headers are all seen


def percent_decode(text: str, plus_is_space: bool) -> bytes:
    # Lenient as S3 is: a '%' not followed by two hex digits is a literal '%'.
    raw = text.encode("utf-8", "surrogateescape")
    if plus_is_space:
        raw = raw.replace(b"+", b" ")
    return _ESCAPE.sub(lambda m: bytes((int(m.group(1), 16),)), raw) if b"%" in raw else raw


def uri_encode(raw: bytes, safe: str = "") -> str:
    # quote_from_bytes keeps exactly the unreserved set A-Za-z0-9-_.~ (plus `safe`), with upper-case hex.
    return quote_from_bytes(raw, safe=safe)


def canonical_uri(raw_path: str) -> str:
    """The path decoded once and encoded once with '/' kept: S3 neither double-encodes nor normalises."""
    return uri_encode(percent_decode(raw_path, plus_is_space=False), safe="/") or "/"


def _query_pairs(raw_query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((uri_encode(percent_decode(name, True)), uri_encode(percent_decode(value, True))))
    return pairs


def canonical_query(raw_query: str, *, presigned: bool = False) -> str:
    pairs = _query_pairs(raw_query)
    if presigned:  # the signature cannot sign itself
        pairs = [(n, v) for n, v in pairs if n.lower() != "x-amz-signature"]
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def header_map(headers: Mapping[str, str]) -> dict[str, list[str]]:
    """Every value of every header, by lower-case name."""
    found: dict[str, list[str]] = {}
    for name, value in headers.items():  # a multidict yields each repeated header
        found.setdefault(name.lower(), []).append(value)
    return found


def first_header(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def _canonical_value(values: Iterable[str]) -> str:
    return ",".join(_SPACES.sub(" ", v.strip(" \t")) for v in values)


def canonical_request(
    req: AuthRequest, signed_headers: Iterable[str], payload_hash: str, *, presigned: bool = False
) -> str:
    signed = tuple(signed_headers)
    headers = header_map(req.headers)
    lines = "".join(f"{n.lower()}:{_canonical_value(headers.get(n.lower(), ()))}\n" for n in signed)
    query = canonical_query(req.raw_query, presigned=presigned)
    return (
        f"{req.method}\n{canonical_uri(req.raw_path)}\n{query}\n{lines}\n{';'.join(signed)}\n{payload_hash}"
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


@functools.lru_cache(maxsize=256)
def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """HMAC chain of the date, region and service; cached, as it changes once a day per key."""
    key = f"AWS4{secret_key}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def sign_string(key: bytes, text: str) -> str:
    """Hex HMAC-SHA256 of `text` under a derived signing key."""
    return hmac.new(key, text.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()
