"""aws-chunked request bodies: incremental decoding, chunk and trailer signatures, encoding for our clients.

Owns the framing S3 defines for STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER)
(`hex-size;chunk-signature=sig CRLF data CRLF`, each chunk signed over the
previous signature) and STREAMING-UNSIGNED-PAYLOAD-TRAILER (`hex-size CRLF
data CRLF`), ending with a zero-size chunk and the trailer lines. Data flows
out as it arrives, as views of the bytes fed in (no copying), signed or not:
memory does not grow with the chunk size (a signed chunk used to be buffered
until its signature verified: 16 MiB per upload, and more per upload in
flight). Bytes of a signed chunk are hashed as they pass and the chunk's
signature is checked at its end; a bad one fails the body there, before the
caller can reach its end, so what it carried is never committed: unverified
bytes may be encrypted into a blob that is then discarded, never become
visible. Header lines and trailers are capped. Every fault is an S3Error
with AWS's code. The payload's
checksum is not computed here: the caller hashes the plaintext once and
compares it with the trailers `finish()` returns. Pure: no aiohttp.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from strongroom import checksums
from strongroom.errors import (
    S3Error,
    body_terminated_unexpectedly,
    invalid_chunk_size,
    invalid_request,
    malformed_trailer,
)
from strongroom.sigv4 import EMPTY_SHA256, SigningContext, mismatch, sign_string, signatures_equal

MIN_CHUNK = 8192  # S3: only the last data chunk may be smaller
MAX_CHUNK = 5 * 1024**3  # chunks are not buffered; beyond S3's largest PUT is nonsense
MAX_LINE = 4096  # a chunk header is about 90 bytes
MAX_TRAILER = 16 * 1024
TRAILER_SIGNATURE = "x-amz-trailer-signature"

_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_CHUNK_SIGNATURE = re.compile(rb"chunk-signature=([0-9A-Fa-f]{64})")
_HEADER, _DATA, _DATA_CRLF, _TRAILER, _DONE = range(5)


def chunk_string_to_sign(signing: SigningContext, previous: str, data_sha256: str) -> str:
    head = f"AWS4-HMAC-SHA256-PAYLOAD\n{signing.amz_date}\n{signing.scope}"
    return f"{head}\n{previous}\n{EMPTY_SHA256}\n{data_sha256}"


def trailer_string_to_sign(
    signing: SigningContext, previous: str, trailers: Sequence[tuple[str, str]]
) -> str:
    # The trailing headers are signed as `name:value\n` lines, whatever line ends they travel with.
    canonical = "".join(f"{name}:{value}\n" for name, value in trailers)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"AWS4-HMAC-SHA256-TRAILER\n{signing.amz_date}\n{signing.scope}\n{previous}\n{digest}"


def sign_chunk(signing: SigningContext, previous: str, data: bytes | memoryview) -> str:
    return sign_string(
        signing.signing_key, chunk_string_to_sign(signing, previous, hashlib.sha256(data).hexdigest())
    )


def sign_trailer(signing: SigningContext, previous: str, trailers: Sequence[tuple[str, str]]) -> str:
    return sign_string(signing.signing_key, trailer_string_to_sign(signing, previous, trailers))


class ChunkedDecoder:
    """Feed the raw body in pieces of any size; get the payload back in pieces; `finish()` at the end."""

    def __init__(
        self, *, signing: SigningContext | None, trailer_names: tuple[str, ...], decoded_length: int | None
    ) -> None:
        self._signing = signing
        self._expected = tuple(name.strip().lower() for name in trailer_names)
        for name in self._expected:
            if checksums.algorithm_for_header(name) is None:
                raise invalid_request("The value specified in the x-amz-trailer header is not supported")
        self._decoded_length = decoded_length
        self._previous = signing.seed_signature if signing is not None else ""
        self._state = _HEADER
        self._line = bytearray()  # a header or trailer line split across feeds
        self._remaining = 0  # data bytes left in the current chunk
        self._crlf = 0  # bytes of the CRLF after the data already matched
        self._sha = hashlib.sha256()  # the current signed chunk's data, as it passes
        self._chunk_signature = ""
        self._announced = 0  # sum of the chunk sizes seen
        self._released = 0
        self._chunks = 0
        self._last_size = -1
        self._trailers: list[tuple[str, str]] = []
        self._trailer_signature: str | None = None
        self._trailer_bytes = 0
        self._error: S3Error | None = None

    @property
    def decoded(self) -> int:
        """Payload bytes released so far."""
        return self._released

    def feed(self, data: bytes | bytearray) -> list[bytes | memoryview]:
        """The payload pieces that `data` completes. Unsigned pieces are views of `data`."""
        if self._error is not None:
            raise self._error
        try:
            return self._feed(data)
        except S3Error as err:
            self._error = err
            raise

    def finish(self) -> dict[str, str]:
        """The trailers (lower-case name -> value) once the body has ended; the S3 error if it ended early."""
        if self._error is None and self._state == _TRAILER and not self._line:
            # AWS accepts a body that stops after "0\r\n" or after its trailer lines, without the
            # final empty line (swift s3api test_strm_unsgnd_pyld_trl_no_trailing_crlf_ok, run against AWS).
            try:
                self._end_of_trailers()
                self._state = _DONE
            except Exception as e:  # noqa: BLE001 - kept and raised below like any decoding error
                self._error = e if isinstance(e, S3Error) else body_terminated_unexpectedly()
        short = self._decoded_length is not None and self._released != self._decoded_length
        if self._error is None and (self._state != _DONE or short):
            self._error = body_terminated_unexpectedly()
        if self._error is not None:
            raise self._error
        return dict(self._trailers)

    # -------------------------------------------------------------- the state machine

    def _feed(self, data: bytes | bytearray) -> list[bytes | memoryview]:
        out: list[bytes | memoryview] = []
        view = memoryview(data)
        pos, end = 0, len(data)
        while pos < end:
            state = self._state
            if state == _DATA:
                take = min(self._remaining, end - pos)
                piece = view[pos : pos + take]
                out.append(piece)
                self._released += take
                if self._signing is not None:
                    self._sha.update(piece)
                self._remaining -= take
                pos += take
                if self._remaining == 0:
                    self._state = _DATA_CRLF
            elif state == _DATA_CRLF:
                if data[pos] != b"\r\n"[self._crlf]:
                    raise body_terminated_unexpectedly()
                pos += 1
                self._crlf += 1
                if self._crlf == 2:
                    self._crlf = 0
                    self._end_of_chunk()
            elif state == _DONE:
                raise body_terminated_unexpectedly()  # bytes after the end of the body
            else:
                newline = data.find(b"\n", pos)
                stop = end if newline < 0 else newline + 1
                self._line += view[pos:stop]
                pos = stop
                if len(self._line) > MAX_LINE:
                    raise body_terminated_unexpectedly() if state == _HEADER else malformed_trailer()
                if newline >= 0:
                    line = bytes(self._line)
                    self._line.clear()
                    if not line.endswith(b"\r\n"):
                        raise body_terminated_unexpectedly() if state == _HEADER else malformed_trailer()
                    if state == _HEADER:
                        self._chunk_header(line[:-2])
                    else:
                        self._trailer_line(line[:-2])
        return out

    def _chunk_header(self, line: bytes) -> None:
        size_text, _, extension = line.partition(b";")
        if not _SIZE.fullmatch(size_text):
            raise body_terminated_unexpectedly()
        size = int(size_text, 16)
        if self._signing is not None:
            found = _CHUNK_SIGNATURE.fullmatch(extension)
            if found is None:
                raise body_terminated_unexpectedly()
            self._chunk_signature = found.group(1).decode()
        if size == 0:
            if self._decoded_length is not None and self._announced != self._decoded_length:
                raise body_terminated_unexpectedly()
            if self._signing is not None:
                self._verify_chunk(EMPTY_SHA256)
            self._state = _TRAILER
            return
        self._chunks += 1
        if 0 <= self._last_size < MIN_CHUNK:
            raise invalid_chunk_size(self._chunks, self._last_size)
        if size > MAX_CHUNK or (
            self._decoded_length is not None and self._announced + size > self._decoded_length
        ):
            raise body_terminated_unexpectedly()
        self._last_size = size
        self._announced += size
        self._remaining = size
        self._state = _DATA
        if self._signing is not None:
            self._sha = hashlib.sha256()

    def _verify_chunk(self, data_sha256: str) -> None:
        assert self._signing is not None
        string = chunk_string_to_sign(self._signing, self._previous, data_sha256)
        expected = sign_string(self._signing.signing_key, string)
        if not signatures_equal(expected, self._chunk_signature):
            raise mismatch(string)
        self._previous = expected

    def _end_of_chunk(self) -> None:
        self._state = _HEADER
        if self._signing is None:
            return
        self._verify_chunk(self._sha.hexdigest())

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._end_of_trailers()
            self._state = _DONE
            return
        self._trailer_bytes += len(line)
        name_bytes, colon, value_bytes = line.partition(b":")
        if not colon or self._trailer_bytes > MAX_TRAILER or self._trailer_signature is not None:
            raise malformed_trailer()
        try:
            name = name_bytes.decode("ascii").strip().lower()
            value = value_bytes.decode("ascii").strip()
        except UnicodeDecodeError:
            raise malformed_trailer() from None
        if not name:
            raise malformed_trailer()
        if name == TRAILER_SIGNATURE:
            if self._signing is None:
                raise malformed_trailer()
            self._trailer_signature = value
        else:
            self._trailers.append((name, value))

    def _end_of_trailers(self) -> None:
        names = [name for name, _ in self._trailers]
        # Each promised trailer exactly once, and nothing that was not promised.
        if len(set(names)) != len(names) or set(names) != set(self._expected):
            raise malformed_trailer()
        if self._signing is not None and (self._trailers or self._trailer_signature is not None):
            if self._trailer_signature is None:
                # AWS: a signed trailer without its signature is an incomplete body
                raise body_terminated_unexpectedly()
            string = trailer_string_to_sign(self._signing, self._previous, self._trailers)
            expected = sign_string(self._signing.signing_key, string)
            if not signatures_equal(expected, self._trailer_signature):
                raise mismatch(string)
            self._previous = expected
        for name, value in self._trailers:
            algorithm = checksums.algorithm_for_header(name)
            if algorithm is not None and not checksums.is_valid_b64(algorithm, value):
                raise invalid_request(f"Value for {name} trailing header is invalid.")


def encode(
    payload: bytes,
    *,
    chunk_size: int = 64 * 1024,
    signing: SigningContext | None = None,
    trailers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """`payload` as an aws-chunked body, signed when `signing` is given: for our own clients and tests."""
    parts: list[bytes] = []
    previous = signing.seed_signature if signing is not None else ""
    view = memoryview(payload)
    for start in [*range(0, len(payload), chunk_size), len(payload)]:
        chunk = view[start : start + chunk_size]
        if signing is None:
            parts.append(b"%x\r\n" % len(chunk))
        else:
            previous = sign_chunk(signing, previous, chunk)
            parts.append(b"%x;chunk-signature=%s\r\n" % (len(chunk), previous.encode()))
        if len(chunk):
            parts += [chunk.tobytes(), b"\r\n"]
    parts += [f"{name}:{value}\r\n".encode() for name, value in trailers]
    if signing is not None and trailers:
        parts.append(f"{TRAILER_SIGNATURE}:{sign_trailer(signing, previous, trailers)}\r\n".encode())
    parts.append(b"\r\n")
    return b"".join(parts)
