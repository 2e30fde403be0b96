"""Request payloads: streamed, de-framed (aws-chunked) and verified as S3 verifies them.

`Body` yields the decoded payload in pieces. It knows the payload mode from
`x-amz-content-sha256`: a hex digest is checked against the bytes received,
aws-chunked framing is removed (chunk signatures checked when signed), and
trailers are collected for the caller to compare with its own checksums.
A body that ends early, or stalls, is a clean S3 error.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator

from strongroom.errors import S3Error, incomplete_body, invalid_argument, malformed_trailer
from strongroom.s3.chunked import ChunkedDecoder
from strongroom.s3.context import Ctx

UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")  # S3 takes the digest in either case
IDLE_TIMEOUT = 20.0  # S3 answers RequestTimeout when a client stops sending for about 20 s

BAD_CONTENT_SHA256 = (
    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER "
    "or a valid sha256 value."
)


def request_timeout() -> S3Error:
    return S3Error(
        "RequestTimeout", 400,
        "Your socket connection to the server was not read from or written to within the timeout period. "
        "Idle connections will be closed.",
    )


def content_sha256_mismatch(client: str, server: str) -> S3Error:
    return S3Error(
        "XAmzContentSHA256Mismatch", 400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ClientComputedContentSHA256=client, S3ComputedContentSHA256=server,
    )


def missing_content_length() -> S3Error:
    return S3Error("MissingContentLength", 411, "You must provide the Content-Length HTTP header.")


def short_body(expected: int, provided: int) -> S3Error:
    err = incomplete_body()
    err.details.update(NumberBytesExpected=str(expected), NumberBytesProvided=str(provided))
    return err


def payload_mode(ctx: Ctx) -> str:
    """UNSIGNED-PAYLOAD, a hex digest, or one of the STREAMING-* modes; validated."""
    if ctx.auth is None:
        return UNSIGNED
    mode = ctx.auth.content_sha256 or UNSIGNED
    if mode in (UNSIGNED, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER):
        return mode
    if _HEX64.fullmatch(mode):
        return mode
    raise invalid_argument(BAD_CONTENT_SHA256, "x-amz-content-sha256", mode)


def decoded_length(ctx: Ctx) -> int | None:
    """The payload's length as the client declared it (x-amz-decoded-content-length for aws-chunked)."""
    streaming = payload_mode(ctx).startswith("STREAMING-")
    name = "x-amz-decoded-content-length" if streaming else "content-length"
    header = ctx.headers.get(name)
    if header is None:
        return None
    if not header.strip().isdigit():
        # S3 answers an unusable x-amz-decoded-content-length as if it were missing.
        if streaming:
            raise missing_content_length()
        raise invalid_argument("Invalid content length", "Content-Length", header)
    return int(header)


class Body:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.mode = payload_mode(ctx)
        self.length = decoded_length(ctx)
        self.trailers: dict[str, str] = {}
        self.received = 0  # decoded payload bytes
        self._decoder: ChunkedDecoder | None = None
        if ctx.headers.get("x-amz-trailer") and not self.mode.startswith("STREAMING-"):
            raise malformed_trailer()  # a trailer promised on a body that cannot carry one
        if self.mode.startswith("STREAMING-"):
            names = tuple(
                n.strip().lower() for n in ctx.headers.get("x-amz-trailer", "").split(",") if n.strip()
            )
            signing = ctx.signing if self.mode.startswith("STREAMING-AWS4") else None
            self._decoder = ChunkedDecoder(signing=signing, trailer_names=names, decoded_length=self.length)

    async def _raw(self) -> AsyncIterator[bytes]:
        content = self.ctx.request.content
        wire_length = self.ctx.request.content_length
        config = self.ctx.config
        # A body must bring min_body_rate bytes/s over each window of body_rate_window seconds, and
        # never stop for IDLE_TIMEOUT: a client that trickles (or stalls) holds a body slot and
        # memory for nothing, and S3 cuts it with RequestTimeout too.
        floor = config.min_body_rate * config.body_rate_window
        loop = asyncio.get_running_loop()
        window_end = loop.time() + config.body_rate_window
        in_window = 0
        seen = 0
        while True:
            wait = min(IDLE_TIMEOUT, window_end - loop.time())
            data = None
            try:
                # What has arrived is taken without a timer (a small body is all there with its headers);
                # only a wait for more is timed.
                buffered = content.read_nowait()
                if buffered or content.at_eof():
                    data = buffered
                else:
                    async with asyncio.timeout(max(wait, 0.0)):
                        data = await content.readany()
            except TimeoutError:
                if wait >= IDLE_TIMEOUT:
                    raise request_timeout() from None
            except (ConnectionError, asyncio.IncompleteReadError):
                raise incomplete_body() from None
            except Exception as e:  # aiohttp's payload errors when the peer goes away mid-body
                if type(e).__name__ in {"ClientPayloadError", "ContentLengthError", "PayloadEncodingError"}:
                    raise incomplete_body() from None
                raise
            if data is not None:
                if not data:
                    break
                in_window += len(data)
                seen += len(data)
            if loop.time() >= window_end:
                if in_window < floor:
                    raise request_timeout()
                window_end, in_window = loop.time() + config.body_rate_window, 0
            if data:
                yield data
        if wire_length is not None and seen < wire_length:
            raise short_body(wire_length, seen)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The decoded payload. Raises the S3 error for a body that does not verify, after the last byte."""
        sha = hashlib.sha256() if _HEX64.fullmatch(self.mode) else None
        async for data in self._raw():
            if self._decoder is not None:
                for piece in self._decoder.feed(data):
                    self.received += len(piece)
                    yield piece  # type: ignore[misc]  # views of immutable input: no copy
                continue
            if sha is not None:
                sha.update(data)
            self.received += len(data)
            yield data
        if self._decoder is not None:
            self.trailers = self._decoder.finish()
        elif self.length is not None and self.received != self.length:
            raise short_body(self.length, self.received)
        if sha is not None and sha.hexdigest() != self.mode.lower():
            raise content_sha256_mismatch(self.mode, sha.hexdigest())

    async def read_all(self, limit: int, too_large: S3Error) -> bytes:
        """The whole payload, for documents (XML, JSON). Over `limit` bytes is `too_large`."""
        if self.length is not None and self.length > limit:
            raise too_large
        parts: list[bytes] = []
        size = 0
        async for data in self.chunks():
            size += len(data)
            if size > limit:
                raise too_large
            parts.append(data)
        return b"".join(parts)
