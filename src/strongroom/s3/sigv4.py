"""AWS Signature Version 4 as S3 checks it: parse, canonicalise, verify (signing: sigv4_signer.py).

Owns reading the credentials of a request (the Authorization header or the
presigned query parameters), rebuilding the canonical request the way S3 does
(the path decoded then encoded once, never twice; the query decoded with '+'
as a space), verifying the signature in constant time and the request's time,
and handing the signing key on to aws-chunked verification. Errors are S3's
own codes and messages. Pure: it sees an `AuthRequest`, never aiohttp.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import quote_from_bytes

from strongroom.errors import (
    S3Error,
    access_denied,
    authorization_header_malformed,
    authorization_query_parameters_error,
    headers_not_signed,
    invalid_argument,
    invalid_request,
    request_has_expired,
    request_not_yet_valid,
    request_time_too_skewed,
    signature_does_not_match,
)

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW = timedelta(minutes=15)
MAX_EXPIRES = 604800  # seconds: a week
PAYLOAD_MODES = frozenset(
    {
        UNSIGNED_PAYLOAD,
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    }
)

_MECHANISM = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
_ONE_MECHANISM = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string "
    "parameter or the Authorization header should be specified"
)
_REQUIRED_PARAMS = (
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, "
    "X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
)
_BAD_PAYLOAD_HASH = (
    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER "
    "or a valid sha256 value."
)
_NO_DATE = "AWS authentication requires a valid Date or x-amz-date header"
_BAD_CREDENTIAL = (
    'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
)
_DATE_FORMAT = 'This date in the credential must be in the format "yyyyMMdd".'
_THREE_COMPONENTS = (
    "the authorization header requires three components: Credential, SignedHeaders, and Signature."
)
_PRESIGN_PARAMS = (
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-signature",
    "x-amz-date",
    "x-amz-signedheaders",
    "x-amz-expires",
)
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_SPACES = re.compile(r"[ \t]+")
_SEPARATORS = re.compile(r"[\s,]+")
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_SECRET_HEADERS = frozenset(
    {
        "x-amz-server-side-encryption-customer-key",
        "x-amz-copy-source-server-side-encryption-customer-key",
        "x-amz-security-token",
    }
)
_TOKEN_PARAM = re.compile(r"(?i)(^|&)(x-amz-security-token)=[^&]*")
_REDACTED = "REDACTED"
_SERVER_TIME = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """What SigV4 needs of a request: the path and query exactly as on the request line."""

    method: str
    raw_path: str  # percent-encoded as sent, without the query
    raw_query: str  # after '?', as sent
    headers: Mapping[str, str]  # any case; a multidict's repeated headers are all seen


@dataclass(frozen=True, slots=True)
class ParsedAuth:
    kind: Literal["header", "presigned"]
    access_key: str
    date: str  # YYYYMMDD, from the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str = field(repr=False)
    amz_date: datetime  # aware, UTC
    expires: int | None  # presigned only
    content_sha256: str | None  # x-amz-content-sha256; presigned: UNSIGNED-PAYLOAD when absent
    request_time: str = ""  # the date text as sent, for RequestTimeTooSkewed
    security_token: str | None = field(default=None, repr=False)

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@dataclass(frozen=True, slots=True)
class SigningContext:
    """All that aws-chunked verification needs: the chain starts at the request's own signature."""

    signing_key: bytes = field(repr=False)
    scope: str
    amz_date: str  # the X-Amz-Date text of the string to sign
    seed_signature: str = field(repr=False)


# ---------------------------------------------------------------- canonical form


def _unquote(text: str, plus_is_space: bool) -> bytes:
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
    return uri_encode(_unquote(raw_path, plus_is_space=False), safe="/") or "/"


def _query_pairs(raw_query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((uri_encode(_unquote(name, True)), uri_encode(_unquote(value, True))))
    return pairs


def canonical_query(raw_query: str, *, presigned: bool = False) -> str:
    pairs = _query_pairs(raw_query)
    if presigned:  # the signature cannot sign itself
        pairs = [(n, v) for n, v in pairs if n.lower() != "x-amz-signature"]
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def _header_map(headers: Mapping[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in headers.items():  # a multidict yields each repeated header
        found.setdefault(name.lower(), []).append(value)
    return found


def _first(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def _canonical_value(values: Iterable[str]) -> str:
    return ",".join(_SPACES.sub(" ", v.strip(" \t")) for v in values)


def canonical_request(
    req: AuthRequest, signed_headers: Iterable[str], payload_hash: str, *, presigned: bool = False
) -> str:
    signed = tuple(signed_headers)
    headers = _header_map(req.headers)
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


# ---------------------------------------------------------------- parsing


def _malformed(kind: str, detail: str, **details: str) -> S3Error:
    if kind == "header":
        err = authorization_header_malformed(f"The authorization header is malformed; {detail}")
        err.details.update(details)
        return err
    message = f"Error parsing the X-Amz-Credential parameter; {detail}"
    return authorization_query_parameters_error(message, **details)


def _credential(kind: str, credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5:
        raise _malformed(kind, _BAD_CREDENTIAL)
    access_key, date, region, service, terminal = parts
    if not access_key:
        raise _malformed(kind, "a non-empty Access Key (AKID) must be provided in the credential.")
    if not (len(date) == 8 and date.isascii() and date.isdigit()):
        raise _malformed(kind, f'incorrect date format "{date}". {_DATE_FORMAT}')
    if terminal != "aws4_request":
        raise _malformed(kind, f'incorrect terminal "{terminal}". This endpoint uses "aws4_request".')
    return access_key, date, region, service


def _amz_date(text: str) -> datetime | None:
    if not _AMZ_DATE.fullmatch(text):
        return None
    try:  # by hand: strptime was 5% of a small GET
        return datetime(int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[9:11]), int(text[11:13]),
                        int(text[13:15]), tzinfo=UTC)
    except ValueError:
        return None


def _http_date(text: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return _amz_date(text)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _query_params(raw_query: str) -> tuple[dict[str, str], set[str]]:
    """Decoded parameters by lower-case name (the first of repeats: S3 matches SigV4's names in any
    case), and the names exactly as sent (Signature Version 2's are case-sensitive)."""
    params: dict[str, str] = {}
    names: set[str] = set()
    for part in raw_query.split("&") if raw_query else ():
        name, _, value = part.partition("=")
        key = _unquote(name, True).decode("utf-8", "replace")
        names.add(key)
        params.setdefault(key.lower(), _unquote(value, True).decode("utf-8", "replace"))
    return params, names


def parse(req: AuthRequest) -> ParsedAuth | None:
    """The credentials a request carries; None when it carries none (anonymous)."""
    headers = _header_map(req.headers)
    authorization = (_first(headers, "authorization") or "").strip()
    params, names = _query_params(req.raw_query)
    presigned = any(p in params for p in _PRESIGN_PARAMS)
    if authorization and (presigned or "Signature" in names):
        raise invalid_argument(_ONE_MECHANISM, "Authorization")  # AWS echoes the header: it holds a signature
    if authorization:
        return _parse_header(authorization, headers)
    if presigned:
        return _parse_presigned(params, headers)
    if "AWSAccessKeyId" in names and "Signature" in names:
        raise invalid_request(_MECHANISM)  # a Signature Version 2 presigned URL
    return None


def _parse_header(authorization: str, headers: dict[str, list[str]]) -> ParsedAuth:
    algorithm, _, rest = authorization.partition(" ")
    if algorithm != ALGORITHM:
        if algorithm == "AWS" or algorithm.startswith("AWS4-"):
            raise invalid_request(_MECHANISM)
        raise invalid_argument("Unsupported Authorization Type", "Authorization")  # the value may be a token
    components: dict[str, str] = {}
    for token in _SEPARATORS.split(rest.strip()):
        if not token:
            continue
        name, eq, value = token.partition("=")
        if not eq or name not in ("Credential", "SignedHeaders", "Signature") or name in components:
            raise _malformed("header", f'the authorization component "{name}" is malformed.')
        components[name] = value
    if len(components) != 3:
        raise _malformed("header", _THREE_COMPONENTS)
    access_key, date, region, service = _credential("header", components["Credential"])
    # The request time: x-amz-date, else Date. A present x-amz-date must itself be valid.
    if "x-amz-date" in headers:
        request_time = headers["x-amz-date"][0].strip()
        when = _amz_date(request_time)
    elif "date" in headers:
        request_time = headers["date"][0].strip()
        when = _http_date(request_time)
    else:
        request_time, when = "", None
    if when is None:
        raise access_denied(_NO_DATE)
    _check_scope_date("header", date, when)
    return ParsedAuth(
        kind="header",
        access_key=access_key,
        date=date,
        region=region,
        service=service,
        signed_headers=tuple(components["SignedHeaders"].split(";")),
        signature=components["Signature"],
        amz_date=when,
        expires=None,
        content_sha256=_first(headers, "x-amz-content-sha256"),
        request_time=request_time,
        security_token=_first(headers, "x-amz-security-token"),
    )


def _check_scope_date(kind: str, date: str, when: datetime) -> None:
    if date != when.strftime("%Y%m%d"):
        raise _malformed(
            kind,
            f'Invalid credential date "{date}". This date is not the same as X-Amz-Date: "{when:%Y%m%d}".',
        )


def _parse_presigned(params: dict[str, str], headers: dict[str, list[str]]) -> ParsedAuth:
    if not all(p in params for p in _PRESIGN_PARAMS):
        raise authorization_query_parameters_error(_REQUIRED_PARAMS)
    algorithm = params["x-amz-algorithm"]
    if algorithm == "AWS4-ECDSA-P256-SHA256":
        raise invalid_request(_MECHANISM)  # SigV4a: AWS has it, strongroom does not
    if algorithm != ALGORITHM:
        raise authorization_query_parameters_error(
            'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256 and AWS4-ECDSA-P256-SHA256"'
        )
    access_key, date, region, service = _credential("presigned", params["x-amz-credential"])
    when = _amz_date(params["x-amz-date"])
    if when is None:
        raise authorization_query_parameters_error(
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
        )
    text = params["x-amz-expires"].strip()
    if not re.fullmatch(r"[+-]?\d{1,12}", text):
        raise authorization_query_parameters_error("X-Amz-Expires should be a number")
    expires = int(text)
    if expires < 0:
        raise authorization_query_parameters_error("X-Amz-Expires must be non-negative")
    if expires > MAX_EXPIRES:
        raise authorization_query_parameters_error(
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be "
            "less than 604800 seconds"
        )
    _check_scope_date("presigned", date, when)
    content = _first(headers, "x-amz-content-sha256") or params.get("x-amz-content-sha256")
    return ParsedAuth(
        kind="presigned",
        access_key=access_key,
        date=date,
        region=region,
        service=service,
        signed_headers=tuple(params["x-amz-signedheaders"].split(";")),
        signature=params["x-amz-signature"],
        amz_date=when,
        expires=expires,
        content_sha256=content or UNSIGNED_PAYLOAD,
        request_time=params["x-amz-date"],
        security_token=params.get("x-amz-security-token"),
    )


def check_scope(parsed: ParsedAuth, *, service: str = "s3", region: str | None = None) -> None:
    """The credential scope names this endpoint: its service and, when the server has one, its region."""
    if parsed.service != service:
        detail = f'incorrect service "{parsed.service}". This endpoint belongs to "{service}".'
        raise _malformed(parsed.kind, detail)
    if region is not None and parsed.region != region:
        detail = f"the region '{parsed.region}' is wrong; expecting '{region}'"
        raise _malformed(parsed.kind, detail, Region=region)


# ---------------------------------------------------------------- verification


def _payload_hash(parsed: ParsedAuth, payload_sha256: str | None) -> str:
    value = parsed.content_sha256
    if value is None:
        # S3 requires the header; another service (the KMS JSON API) signs a body the server hashes.
        if parsed.service == "s3" or payload_sha256 is None:
            raise invalid_request("Missing required header for this request: x-amz-content-sha256")
        return payload_sha256
    if value not in PAYLOAD_MODES and not _HEX64.fullmatch(value):
        raise invalid_argument(_BAD_PAYLOAD_HASH, "x-amz-content-sha256", value)
    return value


def _check_signed_headers(parsed: ParsedAuth, headers: dict[str, list[str]]) -> None:
    signed = {h.lower() for h in parsed.signed_headers}
    # Host must be signed, and so must every x-amz-* header (its hash is already in the
    # canonical request as the payload line, so x-amz-content-sha256 need not be).
    missing = [] if "host" in signed else ["host"]
    missing += sorted(
        n for n in headers if n.startswith("x-amz-") and n not in signed and n != "x-amz-content-sha256"
    )
    if parsed.kind == "header" and "x-amz-date" not in headers and "date" not in signed:
        missing.append("date")  # an unsigned Date would let anyone replay the request at another time
    if missing:
        raise headers_not_signed(", ".join(missing))


def _redacted(canonical: str) -> str:
    """The canonical request for an error body, customer keys and session tokens replaced: no secrets."""
    lines = canonical.split("\n")
    for i, line in enumerate(lines):
        name, colon, _ = line.partition(":")
        if colon and name in _SECRET_HEADERS:
            lines[i] = f"{name}:{_REDACTED}"
    if len(lines) > 2:  # the query: a presigned request's X-Amz-Security-Token
        lines[2] = _TOKEN_PARAM.sub(rf"\1\2={_REDACTED}", lines[2])
    return "\n".join(lines)


def _hex_bytes(text: str) -> str:
    return " ".join(f"{b:02x}" for b in text.encode("utf-8", "surrogateescape"))


def mismatch(string: str, canonical: str | None = None, access_key: str | None = None) -> S3Error:
    """SignatureDoesNotMatch with what the server signed, as S3 shows it (never the signature itself)."""
    err = signature_does_not_match()
    if access_key is not None:
        err.details["AWSAccessKeyId"] = access_key
    err.details["StringToSign"] = string
    err.details["StringToSignBytes"] = _hex_bytes(string)
    if canonical is not None:
        err.details["CanonicalRequest"] = canonical
        err.details["CanonicalRequestBytes"] = _hex_bytes(canonical)
    return err


def _server_time(now: datetime) -> str:
    return now.astimezone(UTC).strftime(_SERVER_TIME)


def signatures_equal(expected: str, provided: str) -> bool:
    """Constant-time; S3 accepts the hex in either case."""
    return _HEX64.fullmatch(provided) is not None and hmac.compare_digest(expected, provided.lower())


def verify(
    parsed: ParsedAuth, req: AuthRequest, secret_key: str, now: datetime, *, payload_sha256: str | None = None
) -> SigningContext:
    """Check the signature, then the time. `payload_sha256` is the body's hash, for services other than S3."""
    headers = _header_map(req.headers)
    payload = _payload_hash(parsed, payload_sha256)
    _check_signed_headers(parsed, headers)
    amz_date = parsed.amz_date.strftime(AMZ_DATE_FORMAT)
    canonical = canonical_request(req, parsed.signed_headers, payload, presigned=parsed.kind == "presigned")
    string = string_to_sign(amz_date, parsed.scope, canonical)
    key = signing_key(secret_key, parsed.date, parsed.region, parsed.service)
    expected = sign_string(key, string)
    if not signatures_equal(expected, parsed.signature):
        raise mismatch(string, _redacted(canonical), parsed.access_key)
    # The time is checked after the signature, as S3 does: an unsigned time means nothing.
    if parsed.kind == "header":
        if abs(now - parsed.amz_date) > MAX_SKEW:
            raise request_time_too_skewed(parsed.request_time, _server_time(now))
    else:
        assert parsed.expires is not None
        ends = parsed.amz_date + timedelta(seconds=parsed.expires)
        if parsed.amz_date - now > MAX_SKEW:
            millis = str(int(parsed.amz_date.timestamp()) * 1000)
            raise request_not_yet_valid(millis, ends.strftime(_SERVER_TIME), _server_time(now))
        if now > ends:
            raise request_has_expired(str(parsed.expires), ends.strftime(_SERVER_TIME), _server_time(now))
    return SigningContext(key, parsed.scope, amz_date, expected)
