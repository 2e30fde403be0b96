"""The workloads: how each kind of row is prepared and measured against one server.

A `Side` is one server as the benchmark client sees it. A timed row (small, large,
list) runs `concurrency` workers in a loop for a fixed time, recording every
request's latency; a fixed-work row (multipart, memory, compare) moves a given number
of bytes. Every measurement reads the server's CPU time (its process tree), the
benchmark process's own CPU time and the wall time around the work (`Meter`).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench.client import S3Client, sse_c_headers
from bench.plan import MiB, Profile, Row, count_text
from bench.servers import MemorySampler, Server, machine_busy_seconds

BUCKET = "bench"
VERSIONED_BUCKET = "bench-versioned"
SSEC_KEY = hashlib.sha256(b"strongroom benchmark customer key").digest()
SMALL_OBJECTS = 64  # distinct objects the small GET and HEAD rows cycle through

Op = Callable[[int, int], Awaitable[int]]  # (worker, n) -> bytes moved


class Unavailable(Exception):
    """This row cannot run on this server; the reason is reported instead of figures."""


@dataclass
class Sample:
    ops: int
    nbytes: int
    elapsed: float
    latencies: list[float]
    server_cpu: float
    client_cpu: float
    other_cpu: float = 0.0  # CPU the rest of the machine used meanwhile: other people's work is noise
    extra: dict[str, float] = field(default_factory=dict)
    db_cpu: float = 0.0  # CPU of the PostgreSQL backends serving the server (PostgreSQL-mode rows)


@dataclass
class Side:
    name: str  # the name results are reported under: strongroom | moto | bare
    server: Server
    client: S3Client
    profile: Profile
    prepared: set[str] = field(default_factory=set)
    kms_arn: str | None = None
    kms_error: str | None = None


class Meter:
    """Wall time, server CPU, its database's CPU and client CPU around a block."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.elapsed = self.server_cpu = self.client_cpu = self.other_cpu = self.db_cpu = 0.0

    def __enter__(self) -> Meter:
        self._db = self.server.db_cpu()
        self._busy = machine_busy_seconds()
        self._cpu, self._cli, self._t = self.server.cpu(), time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.perf_counter() - self._t
        self.client_cpu = time.process_time() - self._cli
        self.server_cpu = self.server.cpu() - self._cpu
        busy = machine_busy_seconds() - self._busy
        self.db_cpu = self.server.db_cpu() - self._db
        self.other_cpu = max(0.0, busy - self.server_cpu - self.client_cpu - self.db_cpu)


async def timed(side: Side, op: Op, concurrency: int, seconds: float) -> Sample:
    latencies: list[float] = []
    moved = [0]
    deadline = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        for n in itertools.count():
            start = time.perf_counter()
            if start >= deadline and n > 0:  # every worker makes one request, however late it starts
                return
            got = await op(w, n)  # awaited first: `x += await f()` would lose concurrent updates
            moved[0] += got
            latencies.append(time.perf_counter() - start)

    with Meter(side.server) as m:
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return Sample(len(latencies), moved[0], m.elapsed, latencies, m.server_cpu, m.client_cpu, m.other_cpu,
                  db_cpu=m.db_cpu)


# --- encryption headers ------------------------------------------------------------------------------


async def ensure_kms(side: Side) -> str:
    if side.name == "bare":
        return "arn:aws:kms:us-east-1:000000000000:key/bare-app-ignores-it"
    if side.kms_arn is None and side.kms_error is None:
        try:
            side.kms_arn = await side.client.kms_create_key("strongroom benchmark")
        except Exception as e:  # noqa: BLE001 - any failure means: no KMS on this server (yet)
            side.kms_error = f"the KMS is not available: CreateKey failed: {e}"
    if side.kms_arn is None:
        raise Unavailable(side.kms_error)
    return side.kms_arn


async def sse_headers(side: Side, sse: str, write: bool) -> dict[str, str]:
    if sse == "sse-c":
        return sse_c_headers(SSEC_KEY)
    if not write:
        return {}
    if sse == "sse-s3":
        return {"x-amz-server-side-encryption": "AES256"}
    return {
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": await ensure_kms(side),
        "x-amz-server-side-encryption-bucket-key-enabled": "true" if sse == "sse-kms-bk" else "false",
    }


# --- preparing the data a row reads ---------------------------------------------------------------------


async def _put_many(
    side: Side, bucket: str, keys: list[str], size: int, headers: dict[str, str], concurrency: int = 16
) -> None:
    todo = iter(keys)

    async def worker() -> None:
        for key in todo:
            await side.client.put(bucket, key, size, headers)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _once(side: Side, tag: str, make: Callable[[], Awaitable[object]]) -> None:
    if tag not in side.prepared:
        await make()
        side.prepared.add(tag)


def list_bucket(side: Side, keys: int) -> str:
    return "list-moto" if side.name == "moto" else f"list-{count_text(keys).lower()}"


def _expect(reply_bytes: int, want: int, what: str) -> int:
    if reply_bytes != want:
        raise RuntimeError(f"{what}: got {reply_bytes} bytes, expected {want}")
    return reply_bytes


# --- the ops of the timed rows ---------------------------------------------------------------------------


async def make_op(row: Row, side: Side) -> Op:
    client = side.client
    if row.kind == "small":
        bucket = BUCKET
        if row.versioned:
            bucket = VERSIONED_BUCKET
            await _once(side, "versioned-bucket", lambda: client.create_versioned_bucket(bucket))
        if row.op == "put":
            run = time.monotonic_ns()

            async def put_small(w: int, n: int) -> int:
                await client.put(bucket, f"put4k/{run}/{w}/{n}", row.size)
                return row.size

            return put_small
        keys = [f"obj4k/{i}" for i in range(SMALL_OBJECTS)]
        for _ in range(2 if row.versioned else 1):  # versioned: each key with an older version
            await _once(side, f"small-{row.size}-{bucket}-{_}",
                        lambda: _put_many(side, bucket, keys, row.size, {}))
        if row.op == "head":

            async def head_small(w: int, n: int) -> int:
                await client.head(bucket, keys[(w * 7 + n) % SMALL_OBJECTS])
                return 0

            return head_small

        async def get_small(w: int, n: int) -> int:
            reply = await client.get(bucket, keys[(w * 7 + n) % SMALL_OBJECTS])
            return _expect(reply.nbytes, row.size, "GET")

        return get_small
    if row.kind == "large":
        write = await sse_headers(side, row.sse, True)
        if row.op == "put":

            async def put_large(w: int, n: int) -> int:
                # Two keys per worker, overwritten in turn: the disk does not fill up.
                await client.put(BUCKET, f"put64/{row.sse}/{w}-{n % 2}", row.size, write)
                return row.size

            return put_large
        read = await sse_headers(side, row.sse, False)
        keys = [f"obj64/{row.sse}/{i}" for i in range(4)]
        await _once(
            side, f"large-{row.sse}-{row.size}", lambda: _put_many(side, BUCKET, keys, row.size, write, 4)
        )

        async def get_large(w: int, n: int) -> int:
            reply = await client.get(BUCKET, keys[w % len(keys)], read)
            return _expect(reply.nbytes, row.size, "GET")

        return get_large
    if row.kind == "list":
        bucket = list_bucket(side, row.keys)
        if side.name == "moto":
            count = side.profile.moto_list_keys
            await _once(side, "list-fill", lambda: fill_through_api(side, bucket, count))
        tokens: dict[int, str | None] = {}
        if row.versioned:
            markers: dict[int, tuple[str, str] | None] = {}

            async def list_versions_page(w: int, n: int) -> int:
                on_page, markers[w] = await client.list_versions_page(bucket, markers.get(w))
                if on_page == 0:
                    raise RuntimeError(f"ListObjectVersions of {bucket} returned an empty page")
                return 0

            return list_versions_page

        async def list_page(w: int, n: int) -> int:
            keys_on_page, tokens[w] = await client.list_page(bucket, tokens.get(w))
            if keys_on_page == 0:
                raise RuntimeError(f"ListObjectsV2 of {bucket} returned an empty page")
            return 0

        return list_page
    raise ValueError(row.kind)


async def fill_through_api(side: Side, bucket: str, count: int) -> None:
    from bench.fill import object_key

    await side.client.create_bucket(bucket)
    await _put_many(side, bucket, [object_key(i) for i in range(count)], 48, {}, concurrency=32)


# --- the fixed-work rows -----------------------------------------------------------------------------------


async def multipart_once(side: Side, row: Row) -> Sample:
    part = side.profile.multipart_part
    count = -(-row.size // part)
    numbers = iter(range(1, count + 1))
    etags: dict[int, str] = {}
    latencies: list[float] = []
    client, key = side.client, "multipart/object"

    async def worker(upload_id: str) -> None:
        for number in numbers:
            size = min(part, row.size - (number - 1) * part)
            start = time.perf_counter()
            etags[number] = await client.upload_part(BUCKET, key, upload_id, number, size)
            latencies.append(time.perf_counter() - start)

    with Meter(side.server) as m:
        upload_id = await client.create_multipart(BUCKET, key)
        await asyncio.gather(*(worker(upload_id) for _ in range(row.concurrency)))
        await client.complete_multipart(BUCKET, key, upload_id, [etags[i] for i in range(1, count + 1)])
    return Sample(count, row.size, m.elapsed, latencies, m.server_cpu, m.client_cpu, m.other_cpu)


async def transfer_once(side: Side, row: Row, op: str) -> Sample:
    """One object of `row.size` up (op "put") or down ("get"), SSE-S3, at c=1."""
    key = f"compare/{row.size}"
    headers = await sse_headers(side, "sse-s3", True)
    if op == "get":
        await _once(side, f"compare-{row.size}", lambda: side.client.put(BUCKET, key, row.size, headers))
    with Meter(side.server) as m:
        if op == "put":
            await side.client.put(BUCKET, key, row.size, headers)
        else:
            _expect((await side.client.get(BUCKET, key)).nbytes, row.size, "GET")
    if op == "put":
        side.prepared.add(f"compare-{row.size}")
    return Sample(1, row.size, m.elapsed, [m.elapsed], m.server_cpu, m.client_cpu, m.other_cpu)


async def memory_once(side: Side, row: Row) -> Sample:
    """One object of `row.size` streamed up then down, the server's peak resident memory sampled."""
    key = "memory/object"
    headers = await sse_headers(side, "sse-s3", True)
    with MemorySampler(side.server.pid) as mem, Meter(side.server) as m:
        start = time.perf_counter()
        await side.client.put(BUCKET, key, row.size, headers)
        put_s = time.perf_counter() - start
        start = time.perf_counter()
        _expect((await side.client.get(BUCKET, key)).nbytes, row.size, "GET")
        get_s = time.perf_counter() - start
    extra = {
        "peak_mib": mem.peak / MiB,
        "baseline_mib": mem.baseline / MiB,
        "put_mib_s": row.size / MiB / put_s,
        "get_mib_s": row.size / MiB / get_s,
        "hwm_reset": float(mem.hwm_reset),
    }
    return Sample(2, 2 * row.size, m.elapsed, [put_s, get_s], m.server_cpu, m.client_cpu, m.other_cpu, extra)


def md5_rate(size: int) -> float:
    """Single-stream MD5 (hashlib) over `size` bytes fed in 1 MiB pieces, in MiB/s."""
    buffer = memoryview(bytes(range(256)) * 4096)  # 1 MiB
    digest = hashlib.md5(usedforsecurity=False)
    start = time.perf_counter()
    for _ in range(size // len(buffer)):
        digest.update(buffer)
    return size / MiB / (time.perf_counter() - start)
