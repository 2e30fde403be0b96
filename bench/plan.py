"""What a benchmark run measures: the profiles (sizes and times) and the rows.

A row's id names its full-profile size ("put-64m-sse-s3-c4", "list-1m-c1"); its title
states the sizes actually used, which `--quick` and the smoke profile shrink. `--only`
takes comma-separated ids or shell patterns (`put-4k-*,list-*`).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace
from typing import Literal

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

Kind = Literal["small", "large", "multipart", "list", "memory", "compare"]
SSE_MODES = ("sse-s3", "sse-kms", "sse-kms-bk", "sse-c")
SSE_TITLES = {"sse-s3": "SSE-S3", "sse-kms": "SSE-KMS", "sse-kms-bk": "SSE-KMS+BucketKey", "sse-c": "SSE-C"}
SERVERS = ("strongroom", "moto", "bare")


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    seconds: float = 5.0  # per measured cell
    runs: int = 3  # the median of this many is reported
    small: int = 4 * KiB
    large: int = 64 * MiB
    multipart_total: int = 1 * GiB
    multipart_part: int = 16 * MiB
    list_keys: tuple[int, int] = (100_000, 1_000_000)
    moto_list_keys: int = 10_000  # moto is filled through its API: more would take too long
    memory_total: int = 2 * GiB
    compare_size: int = 256 * MiB
    moto_large: bool = True  # run moto on the large, multipart and listing rows
    quiet_wait: float = 15.0  # seconds to wait at most, before each run, for other processes to calm down


FULL = Profile("full")
QUICK = Profile(
    "quick",
    seconds=1.0,
    runs=1,
    large=16 * MiB,
    multipart_total=128 * MiB,
    list_keys=(20_000, 100_000),
    moto_list_keys=2_000,
    memory_total=512 * MiB,
    compare_size=64 * MiB,
)
SMOKE = Profile(
    "smoke",
    seconds=0.15,
    runs=1,
    large=1 * MiB,
    multipart_total=10 * MiB,
    multipart_part=5 * MiB,
    list_keys=(2_000, 4_000),
    moto_list_keys=200,
    memory_total=8 * MiB,
    compare_size=4 * MiB,
    moto_large=False,
    quiet_wait=0.0,
)
PROFILES = {p.name: p for p in (FULL, QUICK, SMOKE)}


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    title: str
    kind: Kind
    unit: str  # "op/s", "MiB/s", "pages/s", "MiB" (memory)
    op: str = ""  # put | get | head | list
    concurrency: int = 1
    sse: str = "sse-s3"
    size: int = 0
    keys: int = 0  # listing rows: keys in the bucket
    servers: tuple[str, ...] = SERVERS
    note: str = ""
    catalog: str = ""  # "pg1", "pg3": on that many servers sharing one PostgreSQL catalog (else SQLite)
    versioned: bool = False  # on a bucket whose versioning is Enabled (or ListObjectVersions, for a list)


BASELINE = "strongroom-base"  # --baseline: the same rows on strongroom from another checkout


def with_baseline(row: Row) -> Row:
    """The row run on the baseline strongroom too, right after strongroom itself."""
    if "strongroom" not in row.servers or row.kind == "memory" or row.versioned:
        return row  # (a baseline from before versioning has none to compare)
    at = row.servers.index("strongroom") + 1
    return replace(row, servers=(*row.servers[:at], BASELINE, *row.servers[at:]))


def size_text(n: int) -> str:
    for unit, div in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}"
    return f"{n} B"


def count_text(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def rows(p: Profile) -> list[Row]:
    out: list[Row] = []
    for op in ("put", "get", "head"):
        for c in (1, 8, 32):
            sse = ", SSE-S3 (bucket default), durable" if op == "put" else ""
            out.append(
                Row(
                    f"{op}-4k-c{c}",
                    f"{size_text(p.small)} {op.upper()}{sse}, c={c}",
                    "small",
                    "op/s",
                    op,
                    c,
                    size=p.small,
                )
            )
    for servers, c in ((1, 8), (3, 24)):  # c=8 per server, as put-4k-c8 on SQLite
        for op in ("put", "get"):
            spread = "one server" if servers == 1 else f"{servers} servers, requests spread over them"
            out.append(
                Row(
                    f"{op}-4k-pg{servers}-c{c}",
                    f"{size_text(p.small)} {op.upper()}, PostgreSQL catalog, {spread}, c={c}",
                    "small",
                    "op/s",
                    op,
                    c,
                    size=p.small,
                    servers=("strongroom",),
                    note="srv ms/op is strongroom's; PostgreSQL's backends beside it",
                    catalog=f"pg{servers}",
                )
            )
    for op in ("put", "get"):
        out.append(
            Row(
                f"{op}-4k-versioned-c8",
                f"{size_text(p.small)} {op.upper()}, versioning Enabled (every key has older versions), c=8",
                "small",
                "op/s",
                op,
                8,
                size=p.small,
                servers=("strongroom",),
                versioned=True,
            )
        )
    big = ("strongroom", "moto", "bare") if p.moto_large else ("strongroom", "bare")
    for sse in SSE_MODES:
        for op in ("put", "get"):
            for c in (1, 4):
                note = (
                    "strongroom started with --behind-tls-proxy (SSE-C needs TLS)" if sse == "sse-c" else ""
                )
                out.append(
                    Row(
                        f"{op}-64m-{sse}-c{c}",
                        f"{size_text(p.large)} {op.upper()}, {SSE_TITLES[sse]}, c={c}",
                        "large",
                        "MiB/s",
                        op,
                        c,
                        sse,
                        size=p.large,
                        servers=big,
                        note=note,
                    )
                )
    out.append(
        Row(
            "multipart-1g",
            f"multipart upload {size_text(p.multipart_total)}, {size_text(p.multipart_part)} parts, c=4",
            "multipart",
            "MiB/s",
            "put",
            4,
            size=p.multipart_total,
            servers=big[:2] if p.moto_large else ("strongroom",),
        )
    )
    listing = ("strongroom", "moto") if p.moto_large else ("strongroom",)
    moto_note = f"moto: its bucket holds {count_text(p.moto_list_keys)} keys (filled through its API)"
    for keys_, c, rid in (
        (p.list_keys[0], 1, "list-100k-c1"),
        (p.list_keys[0], 4, "list-100k-c4"),
        (p.list_keys[1], 1, "list-1m-c1"),
    ):
        out.append(
            Row(
                rid,
                f"ListObjectsV2 1000-key page, {count_text(keys_)}-key bucket, c={c}",
                "list",
                "pages/s",
                "list",
                c,
                keys=keys_,
                servers=listing,
                note=moto_note,
            )
        )
    out.append(
        Row(
            "list-versions-100k-c1",
            f"ListObjectVersions 1000-version page, {count_text(p.list_keys[0])} versions, c=1",
            "list",
            "pages/s",
            "list",
            1,
            keys=p.list_keys[0],
            servers=("strongroom",),
            note="the list-100k bucket's objects: each is a version (null) of its key",
            versioned=True,
        )
    )
    out.append(
        Row(
            "memory-2g",
            f"server peak RSS, {size_text(p.memory_total)} PUT then GET (streamed)",
            "memory",
            "MiB",
            size=p.memory_total,
            servers=("strongroom", "bare"),
            note="peak RSS of a freshly started strongroom's process tree (the long-running one's beside)",
        )
    )
    for op in ("put", "get"):
        peer = "min(bare upload, single-stream MD5)" if op == "put" else "bare download"
        out.append(
            Row(
                f"issue3-{op}-256m",
                f"{size_text(p.compare_size)} {op.upper()}, SSE-S3, c=1, vs {peer}",
                "compare",
                "MiB/s",
                op,
                size=p.compare_size,
                servers=("strongroom", "bare"),
            )
        )
    return out


def select(all_rows: list[Row], only: str | None) -> list[Row]:
    if not only:
        return all_rows
    patterns = [s.strip() for s in only.split(",") if s.strip()]
    chosen = [r for r in all_rows if any(fnmatch.fnmatchcase(r.id, pat) for pat in patterns)]
    if not chosen:
        raise SystemExit(f"--only {only!r} matches no row; rows are: {', '.join(r.id for r in all_rows)}")
    return chosen


def with_overrides(
    p: Profile, seconds: float | None, runs: int | None, quiet_wait: float | None = None
) -> Profile:
    return replace(
        p,
        seconds=p.seconds if seconds is None else seconds,
        runs=p.runs if runs is None else runs,
        quiet_wait=p.quiet_wait if quiet_wait is None else quiet_wait,
    )
