"""Request payloads on the wire: every x-amz-content-sha256 mode, aws-chunked framing, bodies that lie.

The SDKs will not send a wrong chunk signature, a missing trailer or a Content-Length that lies, so
these tests build requests by hand (SigV4 from `strongroom.sigv4`, framing from
`strongroom.s3.chunked`) and send them with http.client or a bare socket. Every failure must be the
S3 error AWS gives and must leave the stored object as it was. Also here: boto3 at its default
settings over HTTPS, which sends STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer; the stored
object must be the payload, not the framing.

The helpers at the top (`send`, `signed`, `Reply`...) are shared with the other integration modules.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import re
import secrets
import socket
import ssl
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.config import Config as BotoConfig

from strongroom.s3.chunked import encode
from strongroom.sigv4 import SigningContext, sign_headers, signing_key
from tests.integration.server import RunningServer, start_server

REGION = "us-east-1"
UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


# --- raw requests, shared with the other integration modules --------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def _error(self) -> ET.Element | None:
        if not self.body.startswith(b"<?xml") and not self.body.startswith(b"<Error"):
            return None
        root = ET.fromstring(self.body)
        return root if root.tag == "Error" else None

    @property
    def code(self) -> str | None:
        root = self._error()
        return root.findtext("Code") if root is not None else None

    def detail(self, name: str) -> str | None:
        root = self._error()
        return root.findtext(name) if root is not None else None


def connection(server: RunningServer, timeout: float = 30) -> http.client.HTTPConnection:
    if server.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection("127.0.0.1", server.port, timeout=timeout, context=context)
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)


def send(
    server: RunningServer,
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 30,
) -> Reply:
    """One request as given (path already percent-encoded), read to the end."""
    conn = connection(server, timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


def sign(
    server: RunningServer,
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    *,
    content_sha256: str,
    access_key: str | None = None,
    secret_key: str | None = None,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers given plus Authorization, x-amz-date and x-amz-content-sha256 (all given are signed)."""
    given = dict(headers or {})
    added = sign_headers(
        method,
        server.endpoint + path,
        given,
        content_sha256,
        access_key or server.access_key,
        secret_key or server.secret_key,
        REGION,
        "s3",
        now or datetime.now(UTC),
    )
    return {**given, **added}


def signed(
    server: RunningServer,
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    *,
    content_sha256: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    now: datetime | None = None,
) -> Reply:
    """A SigV4-signed request; the payload hash is the body's unless `content_sha256` says otherwise."""
    payload = content_sha256 or hashlib.sha256(body or b"").hexdigest()
    all_headers = sign(
        server,
        method,
        path,
        headers,
        content_sha256=payload,
        access_key=access_key,
        secret_key=secret_key,
        now=now,
    )
    return send(server, method, path, all_headers, body)


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


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def raw_exchange(
    server: RunningServer, head: bytes, body: bytes, *, close_write: bool = True, timeout: float = 10
) -> bytes:
    """Send `head` + `body` on a bare socket, half-close, and return whatever the server answers."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        sock.sendall(head + body)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return received


def status_line(raw: bytes) -> int:
    return int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/") else 0


def error_code_in(raw: bytes) -> str | None:
    found = re.search(rb"<Code>([^<]+)</Code>", raw)
    return found.group(1).decode() if found else None


def request_head(method: str, path: str, headers: Mapping[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wire_bucket(server: RunningServer) -> str:
    name = "wire-" + secrets.token_hex(5)
    server.client().create_bucket(Bucket=name)
    return name


def body_of(server: RunningServer, bucket: str, key: str) -> bytes | None:
    reply = signed(server, "GET", f"/{bucket}/{key}")
    if reply.status == 404:
        return None
    assert reply.status == 200, reply.body
    return reply.body


def put_original(server: RunningServer, bucket: str, key: str) -> bytes:
    original = b"original " + secrets.token_bytes(32)
    reply = signed(server, "PUT", f"/{bucket}/{key}", body=original)
    assert reply.status == 200, reply.body
    return original


def streaming_put(
    server: RunningServer,
    bucket: str,
    key: str,
    payload: bytes,
    mode: str,
    *,
    trailer: str | None = None,
    trailer_value: str | None = None,
    chunk_size: int = 64 * 1024,
    tamper: bytes | None = None,
) -> Reply:
    """A PUT with an aws-chunked body in `mode`, built exactly as the SDKs build it."""
    headers = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(payload))}
    if trailer:
        headers["x-amz-trailer"] = trailer
    path = f"/{bucket}/{key}"
    all_headers = sign(server, "PUT", path, headers, content_sha256=mode)
    signing = chunk_signing(all_headers, server.secret_key) if mode.startswith("STREAMING-AWS4") else None
    trailers = [(trailer, trailer_value)] if trailer and trailer_value is not None else []
    body = encode(payload, chunk_size=chunk_size, signing=signing, trailers=trailers)
    if tamper is not None:
        body = tamper
    return send(server, "PUT", path, all_headers, body)


# --- the plain payload modes ----------------------------------------------------------------------


def test_unsigned_payload_stores_the_body(server: RunningServer, wire_bucket: str) -> None:
    payload = secrets.token_bytes(70_000)
    reply = signed(server, "PUT", f"/{wire_bucket}/unsigned", body=payload, content_sha256=UNSIGNED)
    assert reply.status == 200, reply.body
    assert reply.headers["etag"] == f'"{hashlib.md5(payload).hexdigest()}"'
    assert body_of(server, wire_bucket, "unsigned") == payload


def test_signed_payload_hash_is_checked(server: RunningServer, wire_bucket: str) -> None:
    original = put_original(server, wire_bucket, "hashed")
    other = b"something else entirely"
    wrong = hashlib.sha256(b"not the body").hexdigest()
    reply = signed(server, "PUT", f"/{wire_bucket}/hashed", body=other, content_sha256=wrong)
    assert reply.status == 400
    assert reply.code == "XAmzContentSHA256Mismatch"
    assert reply.detail("ClientComputedContentSHA256") == wrong
    assert reply.detail("S3ComputedContentSHA256") == hashlib.sha256(other).hexdigest()
    assert body_of(server, wire_bucket, "hashed") == original


def test_content_sha256_that_is_no_mode_is_invalid_argument(server: RunningServer, wire_bucket: str) -> None:
    reply = signed(server, "PUT", f"/{wire_bucket}/badmode", body=b"x", content_sha256="NOT-A-MODE")
    assert reply.status == 400
    assert reply.code == "InvalidArgument"
    assert body_of(server, wire_bucket, "badmode") is None


# --- aws-chunked, signed --------------------------------------------------------------------------


def test_streaming_signed_payload_round_trips(server: RunningServer, wire_bucket: str) -> None:
    payload = secrets.token_bytes(200_000)  # four chunks: three full, one short
    reply = streaming_put(server, wire_bucket, "signed-chunks", payload, STREAMING_SIGNED)
    assert reply.status == 200, reply.body
    assert body_of(server, wire_bucket, "signed-chunks") == payload


def test_streaming_signed_wrong_chunk_signature_stores_nothing(
    server: RunningServer, wire_bucket: str
) -> None:
    payload = secrets.token_bytes(150_000)
    path = f"/{wire_bucket}/bad-chunk-sig"
    headers = sign(
        server,
        "PUT",
        path,
        {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(payload))},
        content_sha256=STREAMING_SIGNED,
    )
    signing = chunk_signing(headers, server.secret_key)
    body = bytearray(encode(payload, signing=signing))
    # The second chunk's signature: flip one hex digit.
    second = body.index(b";chunk-signature=", body.index(b";chunk-signature=") + 1) + len(
        b";chunk-signature="
    )
    body[second] = ord("0") if body[second] != ord("0") else ord("1")
    reply = send(server, "PUT", path, headers, bytes(body))
    assert reply.status == 403
    assert reply.code == "SignatureDoesNotMatch"
    assert body_of(server, wire_bucket, "bad-chunk-sig") is None


def test_streaming_signed_tampered_data_is_refused(server: RunningServer, wire_bucket: str) -> None:
    original = put_original(server, wire_bucket, "tampered")
    payload = b"A" * 100_000
    path = f"/{wire_bucket}/tampered"
    headers = sign(
        server,
        "PUT",
        path,
        {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(payload))},
        content_sha256=STREAMING_SIGNED,
    )
    body = encode(payload, signing=chunk_signing(headers, server.secret_key))
    body = body.replace(b"AAAA", b"AAAB", 1)  # same length, signatures untouched
    reply = send(server, "PUT", path, headers, body)
    assert reply.status == 403
    assert reply.code == "SignatureDoesNotMatch"
    assert body_of(server, wire_bucket, "tampered") == original


def blob_files(server: RunningServer) -> set[Path]:
    return {p for p in (server.data_dir / "blobs").rglob("*") if p.is_file()}


def test_streaming_signed_huge_chunk_is_streamed_and_checked(server: RunningServer, wire_bucket: str) -> None:
    """One 20 MiB signed chunk (beyond the 16 MiB the decoder used to buffer, issue 14): stored as sent;
    the same with one byte changed is refused at the chunk's end and leaves neither object nor blob."""
    payload = secrets.token_bytes(20 * 1024 * 1024)
    reply = streaming_put(server, wire_bucket, "huge-chunk", payload, STREAMING_SIGNED,
                          chunk_size=len(payload))
    assert reply.status == 200, reply.body
    assert body_of(server, wire_bucket, "huge-chunk") == payload
    original = put_original(server, wire_bucket, "huge-tampered")
    blobs_before = blob_files(server)
    path = f"/{wire_bucket}/huge-tampered"
    headers = sign(server, "PUT", path, {"content-encoding": "aws-chunked",
                                         "x-amz-decoded-content-length": str(len(payload))},
                   content_sha256=STREAMING_SIGNED)
    signing = chunk_signing(headers, server.secret_key)
    body = bytearray(encode(payload, chunk_size=len(payload), signing=signing))
    body[len(body) // 2] ^= 0xFF  # a byte in the middle of the chunk's data
    reply = send(server, "PUT", path, headers, bytes(body))
    assert (reply.status, reply.code) == (403, "SignatureDoesNotMatch")
    assert body_of(server, wire_bucket, "huge-tampered") == original
    assert blob_files(server) == blobs_before  # the unverified bytes' blob is gone


def test_streaming_signed_chunks_under_8_kib_are_refused(server: RunningServer, wire_bucket: str) -> None:
    payload = secrets.token_bytes(5000)
    reply = streaming_put(server, wire_bucket, "tiny-chunks", payload, STREAMING_SIGNED, chunk_size=1000)
    assert reply.code == "InvalidChunkSizeError"
    assert reply.detail("Message") == "Only the last chunk is allowed to have a size less than 8192 bytes"
    assert (reply.detail("Chunk"), reply.detail("BadChunkSize")) == ("2", "1000")  # AWS names the next one
    assert body_of(server, wire_bucket, "tiny-chunks") is None


def test_streaming_signed_chunks_under_8_kib_are_403(server: RunningServer, wire_bucket: str) -> None:
    reply = streaming_put(
        server, wire_bucket, "tiny-chunks", secrets.token_bytes(5000), STREAMING_SIGNED, chunk_size=1000
    )
    assert reply.status == 403


def test_streaming_signed_trailer_round_trips_and_checks_crc(server: RunningServer, wire_bucket: str) -> None:
    payload = secrets.token_bytes(100_000)
    good = streaming_put(
        server,
        wire_bucket,
        "signed-trailer",
        payload,
        STREAMING_SIGNED_TRAILER,
        trailer="x-amz-checksum-crc32",
        trailer_value=crc32_b64(payload),
    )
    assert good.status == 200, good.body
    assert good.headers["x-amz-checksum-crc32"] == crc32_b64(payload)
    assert body_of(server, wire_bucket, "signed-trailer") == payload

    bad = streaming_put(
        server,
        wire_bucket,
        "signed-trailer",
        b"B" * 100_000,
        STREAMING_SIGNED_TRAILER,
        trailer="x-amz-checksum-crc32",
        trailer_value=crc32_b64(b"not it"),
    )
    assert bad.status == 400
    assert bad.code == "BadDigest"
    assert body_of(server, wire_bucket, "signed-trailer") == payload


def test_streaming_signed_trailer_with_a_bad_trailer_signature(
    server: RunningServer, wire_bucket: str
) -> None:
    payload = secrets.token_bytes(20_000)
    path = f"/{wire_bucket}/trailer-sig"
    headers = sign(
        server,
        "PUT",
        path,
        {
            "content-encoding": "aws-chunked",
            "x-amz-trailer": "x-amz-checksum-crc32",
            "x-amz-decoded-content-length": str(len(payload)),
        },
        content_sha256=STREAMING_SIGNED_TRAILER,
    )
    body = encode(
        payload,
        signing=chunk_signing(headers, server.secret_key),
        trailers=[("x-amz-checksum-crc32", crc32_b64(payload))],
    )
    body = re.sub(rb"x-amz-trailer-signature:[0-9a-f]{64}", b"x-amz-trailer-signature:" + b"0" * 64, body)
    reply = send(server, "PUT", path, headers, body)
    assert reply.status == 403
    assert reply.code == "SignatureDoesNotMatch"
    assert body_of(server, wire_bucket, "trailer-sig") is None


# --- aws-chunked, unsigned with a trailer ---------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"])
def test_streaming_unsigned_trailer_every_algorithm(
    server: RunningServer, wire_bucket: str, algorithm: str
) -> None:
    from strongroom import checksums

    payload = secrets.token_bytes(70_000)
    hasher = checksums.new(algorithm.upper())
    hasher.update(payload)
    key = f"unsigned-trailer-{algorithm}"
    reply = streaming_put(
        server,
        wire_bucket,
        key,
        payload,
        STREAMING_UNSIGNED_TRAILER,
        trailer=f"x-amz-checksum-{algorithm}",
        trailer_value=hasher.b64digest(),
    )
    assert reply.status == 200, reply.body
    assert body_of(server, wire_bucket, key) == payload
    head = signed(server, "HEAD", f"/{wire_bucket}/{key}", {"x-amz-checksum-mode": "ENABLED"})
    assert head.headers[f"x-amz-checksum-{algorithm}"] == hasher.b64digest()


def test_streaming_unsigned_trailer_wrong_crc_is_bad_digest(server: RunningServer, wire_bucket: str) -> None:
    original = put_original(server, wire_bucket, "wrong-crc")
    reply = streaming_put(
        server,
        wire_bucket,
        "wrong-crc",
        b"new bytes" * 1000,
        STREAMING_UNSIGNED_TRAILER,
        trailer="x-amz-checksum-crc32",
        trailer_value=crc32_b64(b"other bytes"),
    )
    assert reply.status == 400
    assert reply.code == "BadDigest"
    assert body_of(server, wire_bucket, "wrong-crc") == original


def test_streaming_unsigned_trailer_missing_is_malformed_trailer(
    server: RunningServer, wire_bucket: str
) -> None:
    original = put_original(server, wire_bucket, "no-trailer")
    reply = streaming_put(
        server,
        wire_bucket,
        "no-trailer",
        b"z" * 9000,
        STREAMING_UNSIGNED_TRAILER,
        trailer="x-amz-checksum-crc32",
        trailer_value=None,
    )
    assert reply.status == 400
    assert reply.code == "MalformedTrailerError"
    assert body_of(server, wire_bucket, "no-trailer") == original


def test_unsupported_trailer_name_is_invalid_request(server: RunningServer, wire_bucket: str) -> None:
    reply = streaming_put(
        server,
        wire_bucket,
        "odd-trailer",
        b"q" * 10,
        STREAMING_UNSIGNED_TRAILER,
        trailer="x-amz-checksum-sha10",
        trailer_value="AAAA",
    )
    assert reply.status == 400
    assert reply.code == "InvalidRequest"
    assert body_of(server, wire_bucket, "odd-trailer") is None


def test_streaming_upload_drops_aws_chunked_from_content_encoding(
    server: RunningServer, wire_bucket: str
) -> None:
    payload = b"gzipped, say" * 1000
    for given, stored in (
        ("aws-chunked", None),
        ("gzip, aws-chunked", "gzip"),
        ("aws-chunked, gzip", "gzip"),
        ("foo, aws-chunked, bar", "foo, bar"),
    ):
        path = f"/{wire_bucket}/coding"
        headers = sign(
            server,
            "PUT",
            path,
            {"content-encoding": given, "x-amz-decoded-content-length": str(len(payload))},
            content_sha256=STREAMING_UNSIGNED_TRAILER,
        )
        assert send(server, "PUT", path, headers, encode(payload)).status == 200
        got = signed(server, "GET", path)
        assert got.body == payload
        assert got.headers.get("content-encoding") == stored, given
    # Without aws-chunked framing, a declared aws-chunked coding is just the object's Content-Encoding.
    reply = signed(server, "PUT", f"/{wire_bucket}/coding", {"content-encoding": "aws-chunked"}, b"plain")
    assert reply.status == 200
    assert signed(server, "GET", f"/{wire_bucket}/coding").headers["content-encoding"] == "aws-chunked"


def test_uppercase_payload_digest_is_accepted(server: RunningServer, wire_bucket: str) -> None:
    payload = b"upper case hex"
    reply = signed(
        server,
        "PUT",
        f"/{wire_bucket}/upper",
        body=payload,
        content_sha256=hashlib.sha256(payload).hexdigest().upper(),
    )
    assert reply.status == 200, reply.body
    assert body_of(server, wire_bucket, "upper") == payload


def test_trailer_promised_on_a_plain_body_is_malformed_trailer(
    server: RunningServer, wire_bucket: str
) -> None:
    reply = signed(
        server,
        "PUT",
        f"/{wire_bucket}/plain-trailer",
        {"x-amz-trailer": "x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm": "CRC32"},
        b"body",
    )
    assert reply.status == 400
    assert reply.code == "MalformedTrailerError"
    assert body_of(server, wire_bucket, "plain-trailer") is None


def test_checksum_in_a_header_and_a_trailer_is_invalid_request(
    server: RunningServer, wire_bucket: str
) -> None:
    payload = b"two checksums" * 1000
    path = f"/{wire_bucket}/both"
    headers = sign(
        server,
        "PUT",
        path,
        {
            "content-encoding": "aws-chunked",
            "x-amz-trailer": "x-amz-checksum-crc32",
            "x-amz-checksum-crc32": crc32_b64(payload),
            "x-amz-decoded-content-length": str(len(payload)),
        },
        content_sha256=STREAMING_UNSIGNED_TRAILER,
    )
    reply = send(
        server, "PUT", path, headers, encode(payload, trailers=[("x-amz-checksum-crc32", crc32_b64(payload))])
    )
    assert reply.status == 400
    assert reply.code == "InvalidRequest"
    assert reply.detail("Message") == "Expecting a single x-amz-checksum- header"


@pytest.mark.parametrize("decoded", [None, "not a number"])
def test_streaming_without_a_usable_decoded_length_is_411(
    server: RunningServer, wire_bucket: str, decoded: str | None
) -> None:
    headers = {"content-encoding": "aws-chunked"}
    if decoded is not None:
        headers["x-amz-decoded-content-length"] = decoded
    path = f"/{wire_bucket}/no-decoded"
    reply = send(
        server,
        "PUT",
        path,
        sign(server, "PUT", path, headers, content_sha256=STREAMING_UNSIGNED_TRAILER),
        encode(b"x" * 10),
    )
    assert reply.status == 411
    assert reply.code == "MissingContentLength"


def test_streaming_body_without_the_final_crlf_is_accepted(server: RunningServer, wire_bucket: str) -> None:
    payload = b"y" * 100
    path = f"/{wire_bucket}/no-final-crlf"
    headers = sign(
        server,
        "PUT",
        path,
        {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(payload))},
        content_sha256=STREAMING_UNSIGNED_TRAILER,
    )
    reply = send(server, "PUT", path, headers, encode(payload)[:-2])
    assert reply.status == 200


def test_signed_trailer_without_its_signature_is_incomplete_body(
    server: RunningServer, wire_bucket: str
) -> None:
    payload = secrets.token_bytes(9000)
    path = f"/{wire_bucket}/no-trailer-sig"
    headers = sign(
        server,
        "PUT",
        path,
        {
            "content-encoding": "aws-chunked",
            "x-amz-trailer": "x-amz-checksum-crc32",
            "x-amz-decoded-content-length": str(len(payload)),
        },
        content_sha256=STREAMING_SIGNED_TRAILER,
    )
    body = encode(
        payload,
        signing=chunk_signing(headers, server.secret_key),
        trailers=[("x-amz-checksum-crc32", crc32_b64(payload))],
    )
    body = re.sub(rb"x-amz-trailer-signature:[0-9a-f]{64}\r\n", b"", body)
    reply = send(server, "PUT", path, headers, body)
    assert reply.code == "IncompleteBody"


# --- bodies that end early or lie -----------------------------------------------------------------


def test_truncated_aws_chunked_body_is_incomplete_body(server: RunningServer, wire_bucket: str) -> None:
    original = put_original(server, wire_bucket, "truncated")
    payload = secrets.token_bytes(100_000)
    path = f"/{wire_bucket}/truncated"
    headers = sign(
        server,
        "PUT",
        path,
        {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(payload))},
        content_sha256=STREAMING_SIGNED,
    )
    whole = encode(payload, signing=chunk_signing(headers, server.secret_key))
    reply = send(server, "PUT", path, headers, whole[: len(whole) // 2])  # Content-Length says the half
    assert reply.status == 400
    assert reply.code == "IncompleteBody"
    assert body_of(server, wire_bucket, "truncated") == original


def test_decoded_length_that_disagrees_with_the_chunks(server: RunningServer, wire_bucket: str) -> None:
    payload = secrets.token_bytes(30_000)
    path = f"/{wire_bucket}/length-lies"
    headers = sign(
        server,
        "PUT",
        path,
        {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(payload) + 5)},
        content_sha256=STREAMING_UNSIGNED_TRAILER,
    )
    reply = send(server, "PUT", path, headers, encode(payload))
    assert reply.status == 400
    assert reply.code == "IncompleteBody"
    assert body_of(server, wire_bucket, "length-lies") is None


def test_content_length_that_lies_then_the_connection_closes(server: RunningServer, wire_bucket: str) -> None:
    original = put_original(server, wire_bucket, "liar")
    path = f"/{wire_bucket}/liar"
    sent = b"short body"
    headers = sign(server, "PUT", path, {"content-length": "100000"}, content_sha256=UNSIGNED)
    headers["host"] = f"127.0.0.1:{server.port}"
    raw = raw_exchange(server, request_head("PUT", path, headers), sent)
    # The client went away: a 400 IncompleteBody if the answer still gets out, never a 2xx or a 500.
    assert status_line(raw) in (0, 400), raw[:300]
    if raw:
        assert error_code_in(raw) == "IncompleteBody"
    assert body_of(server, wire_bucket, "liar") == original
    assert signed(server, "GET", f"/{wire_bucket}/liar").status == 200  # the server is still fine


# --- boto3 at its default settings over HTTPS -----------------------------------------------------


def self_signed(directory: Path) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    root = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(root)
    running = start_server(
        root / "data", extra_args=("--tls-cert", str(cert), "--tls-key", str(key)), scheme="https"
    )
    yield running, cert
    running.stop()


def test_boto3_default_over_https_stores_exact_bytes(tls_server: tuple[RunningServer, Path]) -> None:
    server, cert = tls_server
    s3 = boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=REGION,
        verify=str(cert),
    )
    seen: list[dict[str, str]] = []
    s3.meta.events.register(
        "before-send.s3.PutObject",
        lambda request, **_: seen.append(
            {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        ),
    )
    s3.create_bucket(Bucket="tls-bucket")
    payload = secrets.token_bytes(300_000)
    import io

    s3.put_object(Bucket="tls-bucket", Key="streamed", Body=io.BytesIO(payload))
    sent = seen[-1]
    assert sent["x-amz-content-sha256"] == STREAMING_UNSIGNED_TRAILER  # the mode this test is about
    assert sent["x-amz-trailer"] == "x-amz-checksum-crc32"
    got = s3.get_object(Bucket="tls-bucket", Key="streamed", ChecksumMode="ENABLED")
    assert got["Body"].read() == payload  # no aws-chunked framing inside
    assert got["ContentLength"] == len(payload)
    assert got["ChecksumCRC32"] == crc32_b64(payload)
    assert got["ETag"] == f'"{hashlib.md5(payload).hexdigest()}"'
    assert "ContentEncoding" not in got  # the aws-chunked framing is not the object's coding
    # A plain bytes body (not a stream) and an empty one take the same path.
    s3.put_object(Bucket="tls-bucket", Key="bytes", Body=b"hello over tls")
    assert s3.get_object(Bucket="tls-bucket", Key="bytes")["Body"].read() == b"hello over tls"
    s3.put_object(Bucket="tls-bucket", Key="empty", Body=b"")
    assert s3.head_object(Bucket="tls-bucket", Key="empty")["ContentLength"] == 0


def test_boto3_upload_fileobj_over_https_multipart(tls_server: tuple[RunningServer, Path]) -> None:
    server, cert = tls_server
    s3 = boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=REGION,
        verify=str(cert),
        config=BotoConfig(retries={"max_attempts": 1}),
    )
    import io

    from boto3.s3.transfer import TransferConfig

    s3.create_bucket(Bucket="tls-multi")
    payload = secrets.token_bytes(6 * 1024 * 1024 + 123)
    s3.upload_fileobj(
        io.BytesIO(payload),
        "tls-multi",
        "big",
        Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024),
    )
    assert s3.get_object(Bucket="tls-multi", Key="big")["Body"].read() == payload


def test_server_logs_have_no_tracebacks(
    server: RunningServer, tls_server: tuple[RunningServer, Path]
) -> None:
    for running in (server, tls_server[0]):
        assert "Traceback" not in running.log()
