"""Signing AWS Signature Version 4 requests, for strongroom's own clients: the external KMS client,
the benchmark and the tests. The canonical form is canonical.py's, the one the server verifies against."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

from strongroom.sigv4.canonical import (
    ALGORITHM,
    AMZ_DATE_FORMAT,
    UNSIGNED_PAYLOAD,
    AuthRequest,
    canonical_query,
    canonical_request,
    canonical_uri,
    sign_string,
    signing_key,
    string_to_sign,
    uri_encode,
)


def _host(url: str) -> tuple[str, str, str, str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and (parts.scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return parts.scheme, host, parts.path or "/", parts.query


def sign_headers(
    method: str,
    url: str,
    headers: Mapping[str, str],
    payload_sha256: str,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    now: datetime,
) -> dict[str, str]:
    """The headers to add (Authorization, x-amz-date, x-amz-content-sha256); every header given is signed."""
    _, host, path, query = _host(url)
    amz_date = now.astimezone(UTC).strftime(AMZ_DATE_FORMAT)
    signed = {k.lower(): v for k, v in headers.items()}
    signed.setdefault("host", host)
    signed.update({"x-amz-date": amz_date, "x-amz-content-sha256": payload_sha256})
    names = sorted(signed)
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    canonical = canonical_request(AuthRequest(method, path, query, signed), names, payload_sha256)
    signature = sign_string(
        signing_key(secret_key, *scope.split("/")[:3]), string_to_sign(amz_date, scope, canonical)
    )
    return {
        "Authorization": f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}",
        "x-amz-date": amz_date,
        "x-amz-content-sha256": payload_sha256,
    }


def presign_url(
    method: str,
    url: str,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    expires: int,
    now: datetime,
) -> str:
    """`url` with the X-Amz-* parameters of a presigned request; only `host` is signed."""
    scheme, host, path, query = _host(url)
    amz_date = now.astimezone(UTC).strftime(AMZ_DATE_FORMAT)
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    added = {
        "X-Amz-Algorithm": ALGORITHM,
        "X-Amz-Credential": f"{access_key}/{scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(expires),
        "X-Amz-SignedHeaders": "host",
    }
    extra = "&".join(f"{n}={uri_encode(v.encode())}" for n, v in added.items())
    query = canonical_query(f"{query}&{extra}" if query else extra)
    req = AuthRequest(method, path, query, {"host": host})
    canonical = canonical_request(req, ("host",), UNSIGNED_PAYLOAD, presigned=True)
    signature = sign_string(
        signing_key(secret_key, *scope.split("/")[:3]), string_to_sign(amz_date, scope, canonical)
    )
    return f"{scheme}://{host}{canonical_uri(path)}?{query}&X-Amz-Signature={signature}"
