"""Requests the SDKs will not send, written once: signed (or not) exactly as given, answered in full.

`RunningServer.raw` is the entry point; this module holds the pieces beneath it so that a test can
also take a request apart (sign the headers, then send a body of its own making, on a connection of
its own or a bare socket). Signing is SigV4 by `strongroom.sigv4`, whatever payload hash
the test names (UNSIGNED-PAYLOAD, a STREAMING-* mode, a wrong one), at whatever time it names.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from strongroom.sigv4 import SigningContext, sign_headers, signing_key

REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    complete: bool = True  # False when the server cut the body short of its Content-Length

    def _error(self) -> ET.Element | None:
        if not self.body.startswith(b"<?xml") and not self.body.startswith(b"<Error"):
            return None
        root = ET.fromstring(self.body)
        return root if root.tag == "Error" else None

    @property
    def code(self) -> str | None:
        """The S3 error document's Code, or None when the body is no error document."""
        root = self._error()
        return root.findtext("Code") if root is not None else None

    def detail(self, name: str) -> str | None:
        """One element of the S3 error document (Message, ArgumentName...), or None."""
        root = self._error()
        return root.findtext(name) if root is not None else None

    def json(self) -> Any:
        """The body as JSON (the KMS API's answers); an empty body is {}."""
        return json.loads(self.body or b"{}")


def connection(scheme: str, port: int, timeout: float = 30) -> http.client.HTTPConnection:
    """A connection to the server on 127.0.0.1 (over TLS without verification when it serves https)."""
    if scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def send(
    conn: http.client.HTTPConnection,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes | None,
    *,
    allow_incomplete: bool = False,
) -> RawResponse:
    """One request as given (`target` already percent-encoded), read to the end; closes `conn`."""
    try:
        conn.request(method, target, body=body, headers=dict(headers))
        response = conn.getresponse()
        found = {k.lower(): v for k, v in response.getheaders()}
        try:
            return RawResponse(response.status, found, response.read())
        except http.client.IncompleteRead as short:
            if not allow_incomplete:
                raise
            return RawResponse(response.status, found, short.partial, complete=False)
    finally:
        conn.close()


def sign(
    endpoint: str,
    method: str,
    target: str,
    headers: Mapping[str, str] | None,
    *,
    content_sha256: str,
    access_key: str,
    secret_key: str,
    service: str = "s3",
    region: str = REGION,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers given plus Authorization, x-amz-date and x-amz-content-sha256 (all given are signed)."""
    given = dict(headers or {})
    added = sign_headers(
        method,
        endpoint + target,
        given,
        content_sha256,
        access_key,
        secret_key,
        region,
        service,
        now or datetime.now(UTC),
    )
    return {**given, **added}


def chunk_signing(headers: Mapping[str, str], secret_key: str) -> SigningContext:
    """The aws-chunked signing chain that starts at a signed request's own signature."""
    found = re.search(
        r"Credential=[^/]+/(\d{8})/([^/]+)/([^/]+)/aws4_request.*Signature=([0-9a-f]{64})",
        headers["Authorization"],
    )
    assert found is not None
    date, region, service, seed = found.groups()
    return SigningContext(
        signing_key(secret_key, date, region, service),
        f"{date}/{region}/{service}/aws4_request",
        headers["x-amz-date"],
        seed,
    )


# --- below HTTP: a bare socket, for bodies http.client will not send --------------------------------


def raw_exchange(
    port: int, head: bytes, body: bytes, *, close_write: bool = True, timeout: float = 10
) -> bytes:
    """Send `head` + `body` on a bare socket, half-close, and return whatever the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head + body)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        return read_until_closed(sock)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or resets it, or goes quiet)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return received


def request_head(method: str, path: str, headers: Mapping[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status_line(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/") else 0


def error_code_in(raw: bytes) -> str | None:
    found = re.search(rb"<Code>([^<]+)</Code>", raw)
    return found.group(1).decode() if found else None
