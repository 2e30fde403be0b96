"""aws-chunked decoding: the S3 documents' examples, botocore's bodies, any split of the input, and faults."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
from pathlib import Path

import pytest
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum, CrtCrc64NvmeChecksum

from strongroom import checksums, sigv4
from strongroom.errors import S3Error
from strongroom.s3 import chunked
from strongroom.s3.chunked import ChunkedDecoder

S3 = json.loads((Path(__file__).parent / "vectors" / "sigv4" / "s3-examples.json").read_text())
SK = S3["credentials"]["secret_key"]
KEY = sigv4.signing_key(SK, "20130524", "us-east-1", "s3")
SCOPE = "20130524/us-east-1/s3/aws4_request"
EXAMPLE = S3["streaming"]
SEED = EXAMPLE["authorization"].rsplit("=", 1)[1]
CTX = sigv4.SigningContext(KEY, SCOPE, "20130524T000000Z", SEED)
CRC = "x-amz-checksum-crc32"


def example_body() -> bytes:
    parts = []
    for size, signature in EXAMPLE["chunks"]:
        parts.append(b"%x;chunk-signature=%s\r\n" % (size, signature.encode()) + b"a" * size + b"\r\n")
    return b"".join(parts)


def decode(body: bytes, pieces: list[int] | None = None, **kw) -> tuple[bytes, dict[str, str]]:  # type: ignore[no-untyped-def]
    """Feed `body` cut at the given sizes (all at once by default)."""
    kw.setdefault("signing", None)
    kw.setdefault("trailer_names", ())
    kw.setdefault("decoded_length", None)
    decoder = ChunkedDecoder(**kw)
    out = bytearray()
    at = 0
    for size in [*(pieces or []), len(body)]:
        for piece in decoder.feed(body[at : at + size]):
            out += piece
        at = min(at + size, len(body))
    trailers = decoder.finish()
    assert decoder.decoded == len(out)
    return bytes(out), trailers


def random_cuts(length: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    cuts = []
    while sum(cuts) < length:
        cuts.append(rng.choice((1, 2, 3, 7, 100, 8191, 65537)))
    return cuts


def error(body: bytes, **kw) -> S3Error:  # type: ignore[no-untyped-def]
    with pytest.raises(S3Error) as info:
        decode(body, **kw)
    return info.value


# ---------------------------------------------------------------- the S3 documents


def test_aws_example_multiple_chunks() -> None:
    body = example_body()
    assert len(body) == int(EXAMPLE["headers"]["Content-Length"])
    for pieces in (None, [1] * len(body), random_cuts(len(body), 1), random_cuts(len(body), 2)):
        data, trailers = decode(body, pieces, signing=CTX, decoded_length=66560)
        assert data == b"a" * 66560 and trailers == {}


def test_aws_example_context_comes_from_verify() -> None:
    req = sigv4.AuthRequest(
        "PUT", EXAMPLE["path"], "", {**EXAMPLE["headers"], "Authorization": EXAMPLE["authorization"]}
    )
    parsed = sigv4.parse(req)
    assert parsed is not None
    context = sigv4.verify(parsed, req, SK, parsed.amz_date)
    assert decode(example_body(), signing=context)[0] == b"a" * 66560
    assert chunked.encode(b"a" * 66560, signing=context) == example_body()


def test_aws_example_trailer_signature() -> None:
    example = S3["trailer"]
    trailers = [tuple(t) for t in example["trailer"]]
    context = sigv4.SigningContext(KEY, SCOPE, "20130524T000000Z", example["authorization"].rsplit("=", 1)[1])
    assert (
        chunked.sign_trailer(context, example["final_chunk_signature"], trailers)
        == example["trailer_signature"]
    )


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("size", [0, 1, 8191, 8192, 65536, 65537, 200_000])
@pytest.mark.parametrize("signed", [False, True])
def test_round_trip_any_split(size: int, signed: bool) -> None:
    payload = os.urandom(size)
    h = checksums.new("CRC32")
    h.update(payload)
    trailers = [(CRC, h.b64digest())]
    body = chunked.encode(payload, chunk_size=65536, signing=CTX if signed else None, trailers=trailers)
    for seed in range(3):
        data, got = decode(
            body,
            random_cuts(len(body), seed),
            signing=CTX if signed else None,
            trailer_names=(CRC,),
            decoded_length=size,
        )
        assert data == payload and got == dict(trailers)


@pytest.mark.parametrize("checksum", [Crc32Checksum, CrtCrc64NvmeChecksum])
@pytest.mark.parametrize("chunk_size", [8192, None])
def test_botocore_unsigned_trailer_bodies(checksum, chunk_size) -> None:  # type: ignore[no-untyped-def]
    payload = os.urandom(3 * 1024 * 1024 + 123)
    name = "x-amz-checksum-crc32" if checksum is Crc32Checksum else "x-amz-checksum-crc64nvme"
    wrapper = AwsChunkedWrapper(io.BytesIO(payload), checksum, name, chunk_size)
    body = wrapper.read()
    data, trailers = decode(
        body, random_cuts(len(body), 5), trailer_names=(name,), decoded_length=len(payload)
    )
    assert data == payload
    ours = checksums.new(checksums.algorithm_for_header(name) or "")
    ours.update(data)
    assert trailers == {name: ours.b64digest()}


def test_unsigned_data_flows_as_it_arrives() -> None:
    body = chunked.encode(b"x" * 10_000, chunk_size=10_000)
    decoder = ChunkedDecoder(signing=None, trailer_names=(), decoded_length=10_000)
    assert b"".join(decoder.feed(body[:10])) == b"x" * 4  # "2710\r\n" then 4 bytes
    assert b"".join(decoder.feed(body[10:5000])) == b"x" * 4990


def test_signed_data_flows_as_it_arrives_and_is_checked_at_the_chunk_end() -> None:
    body = example_body()
    first_end = body.index(b"\r\n", 100) + 2  # after the first chunk's data and CRLF
    decoder = ChunkedDecoder(signing=CTX, trailer_names=(), decoded_length=66560)
    header = body.index(b"\r\n") + 2
    assert b"".join(decoder.feed(body[: header + 1000])) == b"a" * 1000  # nothing held back
    assert b"".join(decoder.feed(body[header + 1000 : first_end])) == b"a" * 64536
    tampered = bytearray(example_body())
    tampered[header + 5] ^= 1  # one data byte: the chunk's signature fails at the chunk's end
    decoder = ChunkedDecoder(signing=CTX, trailer_names=(), decoded_length=66560)
    assert len(b"".join(decoder.feed(bytes(tampered[: first_end - 2])))) == 65536
    with pytest.raises(S3Error) as info:
        decoder.feed(bytes(tampered[first_end - 2 :]))
    assert info.value.code == "SignatureDoesNotMatch"
    with pytest.raises(S3Error):  # the body can never end well: its data is never committed
        decoder.finish()


def test_a_huge_signed_chunk_is_streamed_not_buffered() -> None:
    """Memory per upload does not grow with the chunk size: a 32 MiB signed chunk comes out as fed."""
    payload = b"z" * (32 * 1024 * 1024)
    body = chunked.encode(payload, chunk_size=len(payload), signing=CTX)
    decoder = ChunkedDecoder(signing=CTX, trailer_names=(), decoded_length=len(payload))
    out = 0
    for at in range(0, len(body), 1 << 20):
        pieces = decoder.feed(body[at : at + (1 << 20)])
        assert sum(len(p) for p in pieces) <= 1 << 20
        out += sum(len(p) for p in pieces)
    decoder.finish()
    assert out == len(payload)


# ---------------------------------------------------------------- faults


def signed_body(trailers: list[tuple[str, str]] | None = None) -> bytes:
    return chunked.encode(b"b" * 20_000, chunk_size=8192, signing=CTX, trailers=trailers or [])


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_bad_chunk_signature(index: int) -> None:
    body = bytearray(signed_body())
    at = -1
    for _ in range(index + 1):
        at = body.index(b"chunk-signature=", at + 1)
    at += len("chunk-signature=")
    body[at] = ord("0") if body[at] != ord("0") else ord("1")
    decoder = ChunkedDecoder(signing=CTX, trailer_names=(), decoded_length=20_000)
    released = bytearray()
    with pytest.raises(S3Error) as info:
        for at in range(0, len(body), 1000):
            for piece in decoder.feed(bytes(body[at : at + 1000])):
                released += piece
    assert (info.value.code, info.value.status) == ("SignatureDoesNotMatch", 403)
    assert info.value.details["StringToSign"].startswith("AWS4-HMAC-SHA256-PAYLOAD\n20130524T000000Z\n")
    # Data flows as it arrives; the body fails at the end of the chunk whose signature is wrong.
    assert released == b"b" * len(released) and len(released) <= (index + 1) * 8192
    with pytest.raises(S3Error):  # and the decoder stays failed
        decoder.feed(b"0")
    with pytest.raises(S3Error):
        decoder.finish()


def test_signed_trailer_faults() -> None:
    good = [(CRC, "AAAAAA==")]
    body = signed_body(good)
    assert decode(body, signing=CTX, trailer_names=(CRC,))[1] == {CRC: "AAAAAA=="}
    tampered = body.replace(b"AAAAAA==", b"AAAAAQ==")
    assert error(tampered, signing=CTX, trailer_names=(CRC,)).code == "SignatureDoesNotMatch"
    unsigned = body[: body.index(b"x-amz-trailer-signature")] + b"\r\n"
    # AWS: a signed trailer without its signature is an incomplete body (swift s3api, run against AWS)
    assert error(unsigned, signing=CTX, trailer_names=(CRC,)).code == "IncompleteBody"


MALFORMED_TRAILER = "MalformedTrailerError"


@pytest.mark.parametrize(
    ("ending", "names", "code"),
    [
        (b"0\r\n\r\n", (CRC,), MALFORMED_TRAILER),  # the promised trailer is missing
        (b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", (), MALFORMED_TRAILER),  # not promised
        (b"0\r\nx-amz-checksum-crc32c:AAAAAA==\r\n\r\n", (CRC,), MALFORMED_TRAILER),  # another one
        (
            b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
            (CRC,),
            MALFORMED_TRAILER,
        ),
        (b"0\r\nx-amz-checksum-crc32AAAAAA==\r\n\r\n", (CRC,), MALFORMED_TRAILER),
        (b"0\r\n:AAAAAA==\r\n\r\n", (CRC,), MALFORMED_TRAILER),
        (
            b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:00\r\n\r\n",
            (CRC,),
            MALFORMED_TRAILER,
        ),
        (b"0\r\nx-amz-checksum-crc32:AAAAAA==\n\r\n", (CRC,), MALFORMED_TRAILER),
        (b"0\r\nx-amz-checksum-crc32:AAAAAA\r\n\r\n", (CRC,), "InvalidRequest"),
        (b"0\r\n\r\n\r\n", (), "IncompleteBody"),  # bytes after the end
    ],
)
def test_unsigned_trailer_faults(ending: bytes, names: tuple[str, ...], code: str) -> None:
    body = b"4\r\ndata\r\n" + ending
    err = error(body, trailer_names=names)
    assert (err.code, err.status) == (code, 400)
    if code == "InvalidRequest":
        assert err.message == "Value for x-amz-checksum-crc32 trailing header is invalid."


def test_trailer_values_and_spacing() -> None:
    body = b"4\r\ndata\r\n0\r\nX-Amz-Checksum-CRC32 : AAAAAA== \r\n\r\n"
    assert decode(body, trailer_names=("X-Amz-Checksum-Crc32",)) == (b"data", {CRC: "AAAAAA=="})


def test_unsupported_trailer_name() -> None:
    with pytest.raises(S3Error) as info:
        ChunkedDecoder(signing=None, trailer_names=("x-amz-checksum-sha10",), decoded_length=None)
    assert (info.value.code, info.value.message) == (
        "InvalidRequest",
        "The value specified in the x-amz-trailer header is not supported",
    )


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\ndata\r\n0\r\n\r\n",  # not hex
        b"\r\n",  # no size
        b"4 \r\ndata\r\n0\r\n\r\n",
        b"-4\r\ndata\r\n0\r\n\r\n",
        b"4\ndata\r\n0\r\n\r\n",  # bare LF
        b"4\r\ndataX\r\n0\r\n\r\n",  # no CRLF after the data
        b"4\r\ndata\r0\r\n\r\n",
        b"ffffffffffffffff\r\n",  # absurd
        b"11111111111111111\r\n",  # more than 16 hex digits
        b"5" * 5000,  # a header line that never ends: refused at the cap, not buffered
    ],
)
def test_malformed_framing(body: bytes) -> None:
    err = error(body)
    assert (err.code, err.status, err.message) == (
        "IncompleteBody",
        400,
        "The request body terminated unexpectedly",
    )


@pytest.mark.parametrize(
    "body",
    [
        b"4\r\ndata\r\n0\r\n\r\n",  # no chunk-signature
        b"4;chunk-signature=00\r\ndata\r\n",  # not 64 hex digits
        b"4;chunk-signatur=" + b"0" * 64 + b"\r\ndata\r\n",
        b"140000001;chunk-signature=" + b"0" * 64 + b"\r\n",  # a chunk beyond S3's largest object
    ],
)
def test_malformed_signed_framing(body: bytes) -> None:
    assert error(body, signing=CTX).code == "IncompleteBody"


def test_trailer_flood_is_refused_while_it_arrives() -> None:
    decoder = ChunkedDecoder(signing=None, trailer_names=(CRC,), decoded_length=4)
    decoder.feed(b"4\r\ndata\r\n0\r\n")
    with pytest.raises(S3Error) as info:
        for _ in range(2000):
            decoder.feed(b"x-amz-meta-a:b\r\n")
    assert info.value.code == "MalformedTrailerError"


def test_a_body_without_its_final_crlf_is_accepted() -> None:
    """AWS accepts an unsigned-trailer body that stops after its trailer line (swift s3api, run on AWS)."""
    body = b"4\r\ndata\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n"
    assert decode(body, trailer_names=(CRC,)) == (b"data", {CRC: "AAAAAA=="})
    assert decode(b"4\r\ndata\r\n0\r\n")[0] == b"data"


def test_every_truncation_is_incomplete_body() -> None:
    for signed in (False, True):
        body = chunked.encode(
            b"c" * 9000, chunk_size=8192, signing=CTX if signed else None, trailers=[(CRC, "AAAAAA==")]
        )
        for end in range(len(body) - 2):  # body[:-2] lacks only the final CRLF, which AWS accepts
            err = error(
                body[:end], signing=CTX if signed else None, trailer_names=(CRC,), decoded_length=9000
            )
            assert err.code in ("IncompleteBody", "MalformedTrailerError"), (signed, end, err.code)
            if err.code == "MalformedTrailerError":
                assert end > body.index(b"\r\n0") + 3  # only once the body is into its trailer


@pytest.mark.parametrize("declared", [8999, 9001, 0])
def test_decoded_length_mismatch(declared: int) -> None:
    body = chunked.encode(b"c" * 9000, chunk_size=8192)
    assert error(body, decoded_length=declared).code == "IncompleteBody"


def test_small_chunk_that_is_not_the_last() -> None:
    body = chunked.encode(b"hello", chunk_size=3)  # chunks of 3 and 2 bytes, as in versitygw#1683 against AWS
    err = error(body)
    assert (err.code, err.message) == (
        "InvalidChunkSizeError",
        "Only the last chunk is allowed to have a size less than 8192 bytes",
    )
    assert err.details == {"Chunk": "2", "BadChunkSize": "3"}
    assert (
        error(chunked.encode(b"d" * 20_000, chunk_size=8191, signing=CTX), signing=CTX).code
        == "InvalidChunkSizeError"
    )
    assert decode(chunked.encode(b"hello", chunk_size=8192))[0] == b"hello"  # the last chunk may be small


def test_faults_are_only_ever_s3_errors() -> None:
    rng = random.Random(7)
    for signed in (False, True):
        good = chunked.encode(
            os.urandom(20_000), chunk_size=8192, signing=CTX if signed else None, trailers=[(CRC, "AAAAAA==")]
        )
        for _ in range(300):
            body = bytearray(good)
            for _ in range(rng.randint(1, 4)):
                body[rng.randrange(len(body))] = rng.randrange(256)
            cuts = random_cuts(len(body), rng.randrange(99))
            with contextlib.suppress(S3Error):  # any other exception fails the test
                decode(
                    bytes(body),
                    cuts,
                    signing=CTX if signed else None,
                    trailer_names=(CRC,),
                    decoded_length=20_000,
                )
