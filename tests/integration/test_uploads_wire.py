"""Request payloads on the wire: every x-amz-content-sha256 mode, aws-chunked framing, bodies that lie.

The SDKs will not send a wrong chunk signature, a missing trailer or a Content-Length that lies, so
these tests build requests by hand (SigV4 from `strongroom.sigv4`, framing from
`strongroom.s3.chunked`) and send them with http.client or a bare socket. Every failure must be the
S3 error AWS gives and must leave the stored object as it was. Also here: boto3 at its default
settings over HTTPS, which sends STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer; the stored
object must be the payload, not the framing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from strongroom.s3.chunked import encode
from tests.integration.helpers import blob_files, crc32_b64
from tests.integration.raw import RawResponse, chunk_signing, error_code_in, request_head, status_line
from tests.integration.server import RunningServer

UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wire_bucket(server: RunningServer) -> str:
    name = "wire-" + secrets.token_hex(5)
    server.client().create_bucket(Bucket=name)
    return name


def body_of(server: RunningServer, bucket: str, key: str) -> bytes | None:
    reply = server.raw("GET", f"/{bucket}/{key}")
    if reply.status == 404:
        return None
    assert reply.status == 200, reply.body
    return reply.body


def put_original(server: RunningServer, bucket: str, key: str) -> bytes:
    original = b"original " + secrets.token_bytes(32)
    reply = server.raw("PUT", f"/{bucket}/{key}", original)
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
    headers: Mapping[str, str] | None = None,
    tamper: Callable[[bytes], bytes] | None = None,
) -> RawResponse:
    """A PUT with an aws-chunked body in `mode`, built exactly as the SDKs build it; `headers` are added
    to (or replace) the framing's own, and `tamper` changes the body once it is encoded and signed."""
    framing = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(payload))}
    if trailer:
        framing["x-amz-trailer"] = trailer
    path = f"/{bucket}/{key}"
    all_headers = server.sign("PUT", path, {**framing, **(headers or {})}, content_sha256=mode)
    signing = chunk_signing(all_headers, server.secret_key) if mode.startswith("STREAMING-AWS4") else None
    trailers = [(trailer, trailer_value)] if trailer and trailer_value is not None else []
    body = encode(payload, chunk_size=chunk_size, signing=signing, trailers=trailers)
    if tamper is not None:
        body = tamper(body)
    return server.raw("PUT", path, body, all_headers, sign=False)


# --- the plain payload modes ----------------------------------------------------------------------


def test_unsigned_payload_stores_the_body(server: RunningServer, wire_bucket: str) -> None:
    payload = secrets.token_bytes(70_000)
    reply = server.raw("PUT", f"/{wire_bucket}/unsigned", payload, content_sha256=UNSIGNED)
    assert reply.status == 200, reply.body
    assert reply.headers["etag"] == f'"{hashlib.md5(payload).hexdigest()}"'
    assert body_of(server, wire_bucket, "unsigned") == payload


def test_signed_payload_hash_is_checked(server: RunningServer, wire_bucket: str) -> None:
    original = put_original(server, wire_bucket, "hashed")
    other = b"something else entirely"
    wrong = hashlib.sha256(b"not the body").hexdigest()
    reply = server.raw("PUT", f"/{wire_bucket}/hashed", other, content_sha256=wrong)
    assert reply.status == 400
    assert reply.code == "XAmzContentSHA256Mismatch"
    assert reply.detail("ClientComputedContentSHA256") == wrong
    assert reply.detail("S3ComputedContentSHA256") == hashlib.sha256(other).hexdigest()
    assert body_of(server, wire_bucket, "hashed") == original


def test_content_sha256_that_is_no_mode_is_invalid_argument(server: RunningServer, wire_bucket: str) -> None:
    reply = server.raw("PUT", f"/{wire_bucket}/badmode", b"x", content_sha256="NOT-A-MODE")
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
    def flip_second_signature(encoded: bytes) -> bytes:
        body = bytearray(encoded)
        # The second chunk's signature: flip one hex digit.
        second = body.index(b";chunk-signature=", body.index(b";chunk-signature=") + 1) + len(
            b";chunk-signature="
        )
        body[second] = ord("0") if body[second] != ord("0") else ord("1")
        return bytes(body)

    payload = secrets.token_bytes(150_000)
    reply = streaming_put(
        server, wire_bucket, "bad-chunk-sig", payload, STREAMING_SIGNED, tamper=flip_second_signature
    )
    assert reply.status == 403
    assert reply.code == "SignatureDoesNotMatch"
    assert body_of(server, wire_bucket, "bad-chunk-sig") is None


def test_streaming_signed_tampered_data_is_refused(server: RunningServer, wire_bucket: str) -> None:
    original = put_original(server, wire_bucket, "tampered")
    payload = b"A" * 100_000
    reply = streaming_put(
        server,
        wire_bucket,
        "tampered",
        payload,
        STREAMING_SIGNED,
        tamper=lambda body: body.replace(b"AAAA", b"AAAB", 1),  # same length, signatures untouched
    )
    assert reply.status == 403
    assert reply.code == "SignatureDoesNotMatch"
    assert body_of(server, wire_bucket, "tampered") == original


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

    def flip_a_middle_byte(body: bytes) -> bytes:
        middle = len(body) // 2
        return body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1 :]

    reply = streaming_put(server, wire_bucket, "huge-tampered", payload, STREAMING_SIGNED,
                          chunk_size=len(payload), tamper=flip_a_middle_byte)
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
    reply = streaming_put(
        server,
        wire_bucket,
        "trailer-sig",
        payload,
        STREAMING_SIGNED_TRAILER,
        trailer="x-amz-checksum-crc32",
        trailer_value=crc32_b64(payload),
        tamper=lambda body: re.sub(
            rb"x-amz-trailer-signature:[0-9a-f]{64}", b"x-amz-trailer-signature:" + b"0" * 64, body
        ),
    )
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
    head = server.raw("HEAD", f"/{wire_bucket}/{key}", headers={"x-amz-checksum-mode": "ENABLED"})
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
        reply = streaming_put(
            server,
            wire_bucket,
            "coding",
            payload,
            STREAMING_UNSIGNED_TRAILER,
            headers={"content-encoding": given},
        )
        assert reply.status == 200
        got = server.raw("GET", path)
        assert got.body == payload
        assert got.headers.get("content-encoding") == stored, given
    # Without aws-chunked framing, a declared aws-chunked coding is just the object's Content-Encoding.
    reply = server.raw("PUT", f"/{wire_bucket}/coding", b"plain", {"content-encoding": "aws-chunked"})
    assert reply.status == 200
    assert server.raw("GET", f"/{wire_bucket}/coding").headers["content-encoding"] == "aws-chunked"


def test_uppercase_payload_digest_is_accepted(server: RunningServer, wire_bucket: str) -> None:
    payload = b"upper case hex"
    reply = server.raw(
        "PUT", f"/{wire_bucket}/upper", payload, content_sha256=hashlib.sha256(payload).hexdigest().upper()
    )
    assert reply.status == 200, reply.body
    assert body_of(server, wire_bucket, "upper") == payload


def test_trailer_promised_on_a_plain_body_is_malformed_trailer(
    server: RunningServer, wire_bucket: str
) -> None:
    reply = server.raw(
        "PUT",
        f"/{wire_bucket}/plain-trailer",
        b"body",
        {"x-amz-trailer": "x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm": "CRC32"},
    )
    assert reply.status == 400
    assert reply.code == "MalformedTrailerError"
    assert body_of(server, wire_bucket, "plain-trailer") is None


def test_checksum_in_a_header_and_a_trailer_is_invalid_request(
    server: RunningServer, wire_bucket: str
) -> None:
    payload = b"two checksums" * 1000
    reply = streaming_put(
        server,
        wire_bucket,
        "both",
        payload,
        STREAMING_UNSIGNED_TRAILER,
        trailer="x-amz-checksum-crc32",
        trailer_value=crc32_b64(payload),
        headers={"x-amz-checksum-crc32": crc32_b64(payload)},
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
    reply = server.raw(
        "PUT",
        path,
        encode(b"x" * 10),
        server.sign("PUT", path, headers, content_sha256=STREAMING_UNSIGNED_TRAILER),
        sign=False,
    )
    assert reply.status == 411
    assert reply.code == "MissingContentLength"


def test_streaming_body_without_the_final_crlf_is_accepted(server: RunningServer, wire_bucket: str) -> None:
    payload = b"y" * 100
    reply = streaming_put(
        server,
        wire_bucket,
        "no-final-crlf",
        payload,
        STREAMING_UNSIGNED_TRAILER,
        tamper=lambda body: body[:-2],
    )
    assert reply.status == 200


def test_signed_trailer_without_its_signature_is_incomplete_body(
    server: RunningServer, wire_bucket: str
) -> None:
    payload = secrets.token_bytes(9000)
    reply = streaming_put(
        server,
        wire_bucket,
        "no-trailer-sig",
        payload,
        STREAMING_SIGNED_TRAILER,
        trailer="x-amz-checksum-crc32",
        trailer_value=crc32_b64(payload),
        tamper=lambda body: re.sub(rb"x-amz-trailer-signature:[0-9a-f]{64}\r\n", b"", body),
    )
    assert reply.code == "IncompleteBody"


# --- bodies that end early or lie -----------------------------------------------------------------


def test_truncated_aws_chunked_body_is_incomplete_body(server: RunningServer, wire_bucket: str) -> None:
    original = put_original(server, wire_bucket, "truncated")
    payload = secrets.token_bytes(100_000)
    reply = streaming_put(
        server,
        wire_bucket,
        "truncated",
        payload,
        STREAMING_SIGNED,
        tamper=lambda whole: whole[: len(whole) // 2],  # Content-Length says the half
    )
    assert reply.status == 400
    assert reply.code == "IncompleteBody"
    assert body_of(server, wire_bucket, "truncated") == original


def test_decoded_length_that_disagrees_with_the_chunks(server: RunningServer, wire_bucket: str) -> None:
    payload = secrets.token_bytes(30_000)
    reply = streaming_put(
        server,
        wire_bucket,
        "length-lies",
        payload,
        STREAMING_UNSIGNED_TRAILER,
        headers={"x-amz-decoded-content-length": str(len(payload) + 5)},
    )
    assert reply.status == 400
    assert reply.code == "IncompleteBody"
    assert body_of(server, wire_bucket, "length-lies") is None


def test_content_length_that_lies_then_the_connection_closes(server: RunningServer, wire_bucket: str) -> None:
    original = put_original(server, wire_bucket, "liar")
    path = f"/{wire_bucket}/liar"
    sent = b"short body"
    headers = server.sign("PUT", path, {"content-length": "100000"}, content_sha256=UNSIGNED)
    headers["host"] = f"127.0.0.1:{server.port}"
    raw = server.exchange(request_head("PUT", path, headers), sent)
    # The client went away: a 400 IncompleteBody if the answer still gets out, never a 2xx or a 500.
    assert status_line(raw) in (0, 400), raw[:300]
    if raw:
        assert error_code_in(raw) == "IncompleteBody"
    assert body_of(server, wire_bucket, "liar") == original
    assert server.raw("GET", f"/{wire_bucket}/liar").status == 200  # the server is still fine


# --- boto3 at its default settings over HTTPS -----------------------------------------------------


def test_boto3_default_over_https_stores_exact_bytes(tls_server: tuple[RunningServer, Path]) -> None:
    server, cert = tls_server
    s3 = server.client(verify=str(cert))
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
    s3 = server.client(verify=str(cert), retries={"max_attempts": 1})
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
