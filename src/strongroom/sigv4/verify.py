"""Checking a SigV4 signature as S3 checks it: the payload hash mode, the signed headers, the signature
(constant time, either hex case) and then the request's time; the signing key is handed on to
aws-chunked verification. A mismatch answers with what the server signed, secrets redacted.
Pure: it sees an `AuthRequest`, never aiohttp.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from strongroom.errors import (
    S3Error,
    headers_not_signed,
    invalid_argument,
    invalid_request,
    request_has_expired,
    request_not_yet_valid,
    request_time_too_skewed,
    signature_does_not_match,
)
from strongroom.sigv4.canonical import (
    AMZ_DATE_FORMAT,
    UNSIGNED_PAYLOAD,
    AuthRequest,
    canonical_request,
    header_map,
    sign_string,
    signing_key,
    string_to_sign,
)
from strongroom.sigv4.parse import ParsedAuth

MAX_SKEW = timedelta(minutes=15)
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
_BAD_PAYLOAD_HASH = (
    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER "
    "or a valid sha256 value."
)
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
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
class SigningContext:
    """All that aws-chunked verification needs: the chain starts at the request's own signature."""

    signing_key: bytes = field(repr=False)
    scope: str
    amz_date: str  # the X-Amz-Date text of the string to sign
    seed_signature: str = field(repr=False)


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
    headers = header_map(req.headers)
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
