"""AWS Signature Version 2 (HMAC-SHA1), server side: header and query-string (presigned) forms.

S3 in us-east-1 still accepts it, and boto3 at its default settings presigns
URLs (`generate_presigned_url`, `generate_presigned_post`) with it there, so
refusing it would break users' first presigned URL. Operations that AWS
documents as SigV4-only refuse it (see auth.SIGV4_ONLY). Pure: no aiohttp.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote

from strongroom.errors import (
    S3Error,
    authorization_query_parameters_error,
    request_time_too_skewed,
    signature_does_not_match,
)
from strongroom.sigv4 import AuthRequest

# The query parameters that belong to the resource being signed (botocore's HmacV1Auth list).
SUBRESOURCES = frozenset(
    {
        "accelerate",
        "acl",
        "cors",
        "defaultObjectAcl",
        "location",
        "logging",
        "partNumber",
        "policy",
        "requestPayment",
        "torrent",
        "versioning",
        "versionId",
        "versions",
        "website",
        "uploads",
        "uploadId",
        "response-content-type",
        "response-content-language",
        "response-expires",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "delete",
        "lifecycle",
        "tagging",
        "restore",
        "storageClass",
        "notification",
        "replication",
        "analytics",
        "metrics",
        "inventory",
        "select",
        "select-type",
        "object-lock",
        "encryption",
        "ownershipControls",
        "publicAccessBlock",
        "policyStatus",
    }
)
MAX_SKEW = 15 * 60
# A presigned URL's Expires may lie at most a week ahead (plus the clock skew allowed everywhere else).
# S3 itself sets no limit on SigV2 URLs (only SigV4's X-Amz-Expires is capped: aws/aws-sdk-ruby#927), so
# this is strongroom's own cap, the same week as SigV4's, answered with S3's error for a longer SigV4 URL
# (400 AuthorizationQueryParametersError, its message as S3 words it: aws/aws-cli#5464).
MAX_EXPIRES = 604800
_TOO_LONG = (
    "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less "
    "than 604800 seconds"
)


@dataclass(frozen=True, slots=True)
class ParsedV2:
    access_key: str
    signature: str = field(repr=False)
    expires: int | None  # query form: epoch seconds


def _query_pairs(raw_query: str) -> list[tuple[str, str]]:
    pairs = []
    for item in raw_query.split("&") if raw_query else []:
        name, _, value = item.partition("=")
        pairs.append((unquote(name), value))
    return pairs


def _utf8(text: str) -> bytes:
    """A header or parameter as UTF-8; one that is not (aiohttp keeps such bytes as surrogates) signs
    nothing: SignatureDoesNotMatch, never an error further on."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise signature_does_not_match() from None


def parse(req: AuthRequest) -> ParsedV2 | None:
    """The SigV2 credentials of a request, or None when it is not signed with SigV2."""
    auth = req.headers.get("authorization") or req.headers.get("Authorization")
    if auth and auth.startswith("AWS ") and ":" in auth:
        _utf8(auth)
        access_key, _, signature = auth[4:].strip().rpartition(":")
        return ParsedV2(access_key, signature, None)
    params = dict(_query_pairs(req.raw_query))
    if "AWSAccessKeyId" in params and "Signature" in params:
        try:
            expires = int(unquote(params.get("Expires", "")))
        except ValueError:
            raise S3Error(
                "AccessDenied",
                403,
                "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
            ) from None
        access_key, signature = unquote(params["AWSAccessKeyId"]), unquote(params["Signature"])
        _utf8(access_key)
        _utf8(signature)
        return ParsedV2(access_key, signature, expires)
    return None


def string_to_sign(req: AuthRequest, resource_path: str, expires: int | None, bare_empty: bool = True) -> str:
    """bare_empty: sign an empty-valued sub-resource as its bare name (`uploads`), as S3 and the Go and
    Java SDKs do even when the URL says `uploads=`; False signs it as written (botocore's HmacV1)."""
    headers = {k.lower(): v for k, v in req.headers.items()}
    amz = sorted((k, v.strip()) for k, v in headers.items() if k.startswith("x-amz-"))
    if expires is not None:
        date = str(expires)
    else:
        date = "" if "x-amz-date" in headers else headers.get("date", "")
    # As botocore builds it: "name" for a bare keyword, "name=value" (value unquoted) otherwise.
    subresources = sorted(
        (item.partition("=")[0], item)
        for item in (req.raw_query.split("&") if req.raw_query else [])
        if item.partition("=")[0] in SUBRESOURCES
    )
    resource = resource_path
    if subresources:
        parts = []
        for name, item in subresources:
            _, eq, value = item.partition("=")
            parts.append(f"{name}={unquote(value)}" if value or (eq and not bare_empty) else name)
        resource += "?" + "&".join(parts)
    lines = [req.method.upper(), headers.get("content-md5", ""), headers.get("content-type", ""), date]
    lines += [f"{k}:{v}" for k, v in amz]
    return "\n".join(lines) + "\n" + resource


def verify(parsed: ParsedV2, req: AuthRequest, resource_paths: Sequence[str], secret_key: str,
           now: datetime) -> None:
    """Raise the S3 error for a SigV2 request that does not verify (signature, expiry, clock skew).
    `resource_paths`: the forms of the path a client may have signed (see auth.v2_resource_paths)."""
    if parsed.expires is not None:
        if parsed.expires - now.timestamp() > MAX_EXPIRES + MAX_SKEW:
            raise authorization_query_parameters_error(_TOO_LONG)
        if now.timestamp() > parsed.expires:
            raise S3Error(
                "AccessDenied",
                403,
                "Request has expired",
                Expires=_iso(parsed.expires),
                ServerTime=_iso(now.timestamp()),
            )
    else:
        headers = {k.lower(): v for k, v in req.headers.items()}
        sent = headers.get("x-amz-date") or headers.get("date")
        when = _parse_date(sent)
        if when is None:
            raise S3Error(
                "AccessDenied", 403, "AWS authentication requires a valid Date or x-amz-date header"
            )
        if abs(now.timestamp() - when) > MAX_SKEW:
            raise request_time_too_skewed(sent or "", now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    for resource_path in resource_paths:
        for bare_empty in (True, False):
            text = string_to_sign(req, resource_path, parsed.expires, bare_empty)
            expected = base64.b64encode(
                hmac.new(secret_key.encode(), _utf8(text), hashlib.sha1).digest()
            ).decode()
            if hmac.compare_digest(expected.encode(), _utf8(parsed.signature)):
                return
    raise signature_does_not_match()


def _parse_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
