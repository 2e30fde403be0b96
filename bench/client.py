"""The one benchmark client: a low-overhead asynchronous S3 client used against every server.

It owns how requests leave the benchmark: an aiohttp `ClientSession` with a keep-alive
connection pool, SigV4 header signing with `UNSIGNED-PAYLOAD` for bodies (which S3
accepts, so no byte of a body is hashed), request bodies streamed from one reusable
random buffer (never a whole large object in memory), and response bodies drained in
chunks and counted. The same client talks to strongroom, moto and the bare app, so the
client's cost is the same on every side of a comparison.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import aiohttp

from strongroom.sigv4 import sign_headers

UNSIGNED = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
SOURCE_SIZE = 1 << 20  # the reusable buffer bodies are cut from
_TOKEN = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")
_UPLOAD_ID = re.compile(rb"<UploadId>([^<]*)</UploadId>")
_KEY_COUNT = re.compile(rb"<KeyCount>(\d+)</KeyCount>")
_NEXT_KEY = re.compile(rb"<NextKeyMarker>([^<]*)</NextKeyMarker>")
_NEXT_VERSION = re.compile(rb"<NextVersionIdMarker>([^<]*)</NextVersionIdMarker>")


class RequestFailed(Exception):
    """A request answered with a status the benchmark did not expect."""

    def __init__(self, method: str, path: str, status: int, body: bytes) -> None:
        code = re.search(rb"<Code>([^<]*)</Code>", body)
        detail = code.group(1).decode() if code else body[:200].decode(errors="replace")
        super().__init__(f"{method} {path} answered {status} {detail}".strip())
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    nbytes: int  # response body bytes drained
    body: bytes  # kept only when asked for (small documents)


_SOURCE = memoryview(os.urandom(SOURCE_SIZE))


def source_bytes(size: int) -> bytes:
    """A small body, as bytes (cut from the shared random buffer)."""
    if size > SOURCE_SIZE:
        raise ValueError("use stream_body for large bodies")
    return bytes(_SOURCE[:size])


async def stream_body(size: int, chunk: int = 256 * 1024) -> AsyncIterator[memoryview]:
    """`size` bytes yielded as views of one shared random buffer: memory does not grow with size."""
    sent = 0
    while sent < size:
        n = min(chunk, size - sent)
        start = sent % (SOURCE_SIZE - chunk) if chunk < SOURCE_SIZE else 0
        yield _SOURCE[start : start + n]
        sent += n


def sse_c_headers(key: bytes) -> dict[str, str]:
    return {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }


class Signer:
    """SigV4 headers, cached per (method, url, headers) for the current second.

    A signature depends only on the request line, the signed headers and the time to the
    second, so a request repeated within a second (GET and HEAD loops) reuses it.
    """

    def __init__(self, access_key: str, secret_key: str, region: str) -> None:
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self._second = 0
        self._cache: dict[tuple[str, str, tuple[tuple[str, str], ...], str, str], dict[str, str]] = {}

    def sign(
        self, method: str, url: str, headers: Mapping[str, str], payload: str, service: str = "s3"
    ) -> dict[str, str]:
        now = int(time.time())
        if now != self._second:
            self._second, self._cache = now, {}
        cache_key = (method, url, tuple(headers.items()), payload, service)
        signed = self._cache.get(cache_key)
        if signed is None:
            signed = sign_headers(
                method,
                url,
                headers,
                payload,
                self.access_key,
                self.secret_key,
                self.region,
                service,
                datetime.fromtimestamp(now, UTC),
            )
            if len(self._cache) < 4096:
                self._cache[cache_key] = signed
        return signed


class S3Client:
    """Path-style requests to one endpoint, or spread in turn over several (`spread`: servers sharing
    one catalog); use as `async with S3Client(...) as c`."""

    def __init__(
        self, endpoint: str, access_key: str, secret_key: str, region: str = "us-east-1", pool: int = 64,
        spread: Sequence[str] = (),
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._endpoints = itertools.cycle([e.rstrip("/") for e in spread] or [self.endpoint])
        self.signer = Signer(access_key, secret_key, region)
        self._pool = pool
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> S3Client:
        connector = aiohttp.TCPConnector(
            limit=self._pool,
            limit_per_host=self._pool,
            keepalive_timeout=60,
            force_close=False,
            enable_cleanup_closed=False,
        )
        self.session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            read_bufsize=1 << 20,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300),
            skip_auto_headers=("User-Agent", "Content-Type", "Accept-Encoding", "Accept"),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()

    def url(self, bucket: str, key: str = "") -> str:
        return f"{next(self._endpoints)}/{bucket}" + (f"/{quote(key, safe='/-_.~')}" if key else "")

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | AsyncIterator[memoryview] | None = None,
        length: int | None = None,
        keep: bool = False,
        expect: tuple[int, ...] = (200,),
        service: str = "s3",
    ) -> Reply:
        """One request; the response body is drained in chunks (and kept only if `keep`)."""
        assert self.session is not None
        extra = dict(headers or {})
        payload = UNSIGNED if body is not None else EMPTY_SHA256
        if isinstance(body, bytes) and service != "s3":
            payload = hashlib.sha256(body).hexdigest()
        out = {**extra, **self.signer.sign(method, url, extra, payload, service)}
        if body is not None:
            out["Content-Length"] = str(len(body) if isinstance(body, bytes) else length)
        async with self.session.request(method, url, headers=out, data=body, allow_redirects=False) as resp:
            kept: list[bytes] = []
            n = 0
            async for chunk in resp.content.iter_any():
                n += len(chunk)
                if keep or resp.status not in expect:
                    kept.append(chunk)
            data = b"".join(kept)
            if resp.status not in expect:
                raise RequestFailed(method, "/" + url.split("/", 3)[-1], resp.status, data)
            return Reply(resp.status, resp.headers, n, data)

    # --- the operations the workloads use ---

    async def create_bucket(self, bucket: str) -> None:
        await self.request("PUT", self.url(bucket), expect=(200,))

    async def put(self, bucket: str, key: str, size: int, headers: Mapping[str, str] | None = None) -> Reply:
        if size <= SOURCE_SIZE:
            return await self.request("PUT", self.url(bucket, key), headers, source_bytes(size))
        return await self.request("PUT", self.url(bucket, key), headers, stream_body(size), length=size)

    async def get(self, bucket: str, key: str, headers: Mapping[str, str] | None = None) -> Reply:
        return await self.request("GET", self.url(bucket, key), headers)

    async def head(self, bucket: str, key: str, headers: Mapping[str, str] | None = None) -> Reply:
        return await self.request("HEAD", self.url(bucket, key), headers)

    async def list_page(self, bucket: str, token: str | None, max_keys: int = 1000) -> tuple[int, str | None]:
        """One ListObjectsV2 page: (keys on it, next continuation token or None)."""
        query = f"?list-type=2&max-keys={max_keys}"
        if token:
            query += "&continuation-token=" + quote(token, safe="")
        reply = await self.request("GET", self.url(bucket) + query, keep=True)
        count = _KEY_COUNT.search(reply.body)
        nxt = _TOKEN.search(reply.body)
        return (int(count.group(1)) if count else 0), (nxt.group(1).decode() if nxt else None)

    async def create_versioned_bucket(self, bucket: str) -> None:
        await self.create_bucket(bucket)
        body = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        await self.request("PUT", self.url(bucket) + "?versioning", {"Content-MD5": md5}, body)

    async def list_versions_page(self, bucket: str, marker: tuple[str, str] | None, max_keys: int = 1000
                                 ) -> tuple[int, tuple[str, str] | None]:
        """One ListObjectVersions page from (key marker, version id marker): (versions on it, next marker)."""
        query = f"?versions&max-keys={max_keys}"
        if marker:
            query += f"&key-marker={quote(marker[0], safe='')}&version-id-marker={quote(marker[1], safe='')}"
        reply = await self.request("GET", self.url(bucket) + query, keep=True)
        key, version = _NEXT_KEY.search(reply.body), _NEXT_VERSION.search(reply.body)
        nxt = (key.group(1).decode(), version.group(1).decode()) if key and version else None
        return reply.body.count(b"<Version>"), nxt

    async def create_multipart(self, bucket: str, key: str, headers: Mapping[str, str] | None = None) -> str:
        reply = await self.request("POST", self.url(bucket, key) + "?uploads", headers, keep=True)
        found = _UPLOAD_ID.search(reply.body)
        if not found:
            raise RequestFailed("POST", key, reply.status, reply.body)
        return found.group(1).decode()

    async def upload_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        number: int,
        size: int,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        url = self.url(bucket, key) + f"?partNumber={number}&uploadId={quote(upload_id, safe='')}"
        reply = await self.request("PUT", url, headers, stream_body(size), length=size)
        return reply.headers.get("ETag", "")

    async def complete_multipart(self, bucket: str, key: str, upload_id: str, etags: list[str]) -> None:
        parts = "".join(
            f"<Part><PartNumber>{i}</PartNumber><ETag>{e}</ETag></Part>" for i, e in enumerate(etags, start=1)
        )
        doc = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
        reply = await self.request(
            "POST",
            self.url(bucket, key) + f"?uploadId={quote(upload_id, safe='')}",
            {"Content-Type": "application/xml"},
            doc,
            keep=True,
        )
        if b"<Error>" in reply.body:  # S3 may answer 200 and put the error in the body
            raise RequestFailed("POST", key, reply.status, reply.body)

    async def kms_create_key(self, description: str) -> str:
        """CreateKey through the KMS JSON protocol on the same endpoint; returns the key ARN."""
        body = json.dumps({"Description": description}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.CreateKey"}
        reply = await self.request("POST", self.endpoint + "/", headers, body, keep=True, service="kms")
        return json.loads(reply.body)["KeyMetadata"]["Arn"]
