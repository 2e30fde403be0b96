"""`python -m bench`: run strongroom beside moto and the bare app, print the table, write JSON and a chart.

    python -m bench                       # the full run (about 25 minutes on 2 cores)
    python -m bench --quick               # a short version: 1 s cells, one run, smaller objects
    python -m bench --only 'put-4k-*,list-*' --seconds 3
    python -m bench --only get-64m-sse-s3-c4 --py-spy get-64m-sse-s3-c4   # plus a py-spy profile

Results go to bench/results/<timestamp>.json and .png (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

import bench.fill as fill
import bench.plan as plan
import bench.report as report
import bench.servers as srv
from bench.client import S3Client
from bench.clusters import Clusters
from bench.runner import Runner
from bench.workloads import BUCKET, Side

ROOT = Path(__file__).resolve().parent.parent
SSEC_ARGS = ("--behind-tls-proxy", "--allow-sse-c-new-buckets")
BASELINE = plan.BASELINE


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="strongroom beside moto and a bare app"
    )
    parser.add_argument(
        "--quick", action="store_true", help="the quick profile: 1 s cells, one run, small sizes"
    )
    parser.add_argument("--profile", choices=sorted(plan.PROFILES), help="full (default), quick or smoke")
    parser.add_argument("--seconds", type=float, help="seconds per measured cell (default 5; quick 1)")
    parser.add_argument("--runs", type=int, help="runs per cell; the median is reported (default 3)")
    parser.add_argument("--only", metavar="ROWS", help="comma-separated row ids or patterns, e.g. 'put-4k-*'")
    parser.add_argument("--py-spy", metavar="ROWS", help="profile strongroom with py-spy during these rows")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results", help="where results are written"
    )
    parser.add_argument(
        "--work", type=Path, help="where the servers' data directories go (default: a temp dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data directories and server logs")
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    parser.add_argument(
        "--strongroom-args",
        default="",
        help="extra `strongroom serve` options for every strongroom started, e.g. '--workers 2'",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="CHECKOUT",
        help="also run every strongroom row on a second strongroom started from CHECKOUT/src "
        "(e.g. `git worktree add /tmp/base <rev>`): before and after in one run",
    )
    parser.add_argument(
        "--max-background",
        type=float,
        default=0.35,
        help="cores other processes may use: before each run wait for less (default 0.35)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        help="seconds to wait at most for a quiet machine before each run (default 15; smoke 0)",
    )
    parser.add_argument(
        "--retries", type=int, default=2, help="repeat a run disturbed by other processes this often at most"
    )
    return parser.parse_args(argv)


def describe(checkout: Path) -> str:
    return (
        subprocess.run(
            ["git", "-C", str(checkout), "describe", "--always", "--dirty"], capture_output=True, text=True
        ).stdout.strip()
        or "unknown"
    )


def machine(baseline: Path | None = None) -> dict[str, Any]:
    mem = next(
        (
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        ),
        "0",
    )
    commit = describe(ROOT)
    extra = {"baseline_commit": describe(baseline)} if baseline else {}
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(int(mem) / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "strongroom_commit": commit,
        **extra,
    }


def _fill(data_dir: Path, key_file: Path, bucket: str, n: int, checkout: Path | None) -> float:
    """fill.fill, through the code of `checkout` (a baseline: its catalog format may differ from
    ours) when given, else in this process."""
    if checkout is None:
        return fill.fill(data_dir, key_file, bucket, n)
    script = ("import sys; from pathlib import Path; import bench.fill as f; "
              "print(f.fill(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])))")
    env = {**os.environ, "PYTHONPATH": f"{checkout}{os.pathsep}{checkout / 'src'}"}
    done = subprocess.run([sys.executable, "-c", script, str(data_dir), str(key_file), bucket, str(n)],
                          cwd=checkout, env=env, check=True, capture_output=True, text=True)
    return float(done.stdout.split()[-1])


async def prepare_listing(rows: list[plan.Row], strongroom: srv.Server, notes: dict[str, Any],
                          checkout: Path | None = None) -> srv.Server:
    """Create the listing buckets, stop the server, fill them through the catalog (with the code of
    `checkout`, for a baseline), start it again."""
    counts = sorted({r.keys for r in rows if r.kind == "list" and "strongroom" in r.servers})
    if not counts:
        return strongroom
    async with S3Client(strongroom.endpoint, strongroom.access_key, strongroom.secret_key) as client:
        for n in counts:
            await client.create_bucket(f"list-{plan.count_text(n).lower()}")
    key_file = Path(strongroom.env["STRONGROOM_ROOT_KEY_FILE"])
    assert strongroom.data_dir is not None
    data_dir = strongroom.data_dir
    strongroom.stop()
    for n in counts:
        bucket = f"list-{plan.count_text(n).lower()}"
        print(
            f"filling {bucket} with {n:,} encrypted objects through the catalog ...",
            file=sys.stderr,
            flush=True,
        )
        seconds = _fill(data_dir, key_file, bucket, n, checkout)
        notes[bucket] = {
            "keys": n,
            "seconds": round(seconds, 1),
            "how": "SqliteCatalog.bulk_put_objects, "
            "real SSE-S3 objects kept inline, built as the vault builds them (bench/fill.py)",
        }
    strongroom = srv.restart(strongroom)
    async with S3Client(strongroom.endpoint, strongroom.access_key, strongroom.secret_key) as client:
        for n in counts:  # the filled objects are real: the server decrypts them
            bucket = f"list-{plan.count_text(n).lower()}"
            for i in (0, n // 2, n - 1):
                reply = await client.request("GET", client.url(bucket, fill.object_key(i)), keep=True)
                if reply.body != fill.body(bucket, i):
                    raise RuntimeError(f"filled object {i} of {bucket} does not read back")
    return strongroom


async def run(args: argparse.Namespace) -> int:
    profile = plan.PROFILES[args.profile or ("quick" if args.quick else "full")]
    profile = plan.with_overrides(profile, args.seconds, args.runs, args.quiet_wait)
    all_rows = plan.rows(profile)
    if args.list:
        for r in all_rows:
            print(f"{r.id:<26} {r.title}")
        return 0
    rows = plan.select(all_rows, args.only)
    if args.baseline:
        rows = [plan.with_baseline(r) for r in rows]
    extra = tuple(shlex.split(args.strongroom_args))
    spy_rows = {r.id for r in plan.select(all_rows, args.py_spy)} if args.py_spy else set()
    stem = time.strftime("%Y%m%d-%H%M%S")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="strongroom-bench-", dir=args.work))
    wanted = {name for r in rows for name in r.servers}
    started: dict[str, srv.Server] = {}
    fills: dict[str, Any] = {}
    results: list[dict[str, Any]] = []
    runner: Runner | None = None
    t0 = time.perf_counter()
    json_path = args.out / f"{stem}.json"
    load_before = Path("/proc/loadavg").read_text().split()[:3]

    def save() -> None:  # after every row: an interrupted run keeps what it measured
        report.write_json(
            json_path,
            {
                "started": stem,
                "command": " ".join(["python -m bench", *args.argv]),
                "profile": asdict(profile),
                "seconds_taken": round(time.perf_counter() - t0, 1),
                "seconds_waiting_for_quiet": round(runner.waited, 1) if runner else 0.0,
                "load_average_before": load_before,
                "machine": machine(args.baseline),
                "servers": {k: {"pid": s.pid, "note": s.note} for k, s in started.items()},
                "listing_fill": {
                    **fills,
                    "moto": {
                        "bucket": "list-moto",
                        "keys": profile.moto_list_keys,
                        "how": "PutObject through its API",
                    },
                },
                "rows": results,
                "targets": report.targets(results),
            },
        )

    try:
        print(f"starting servers in {work} ...", file=sys.stderr, flush=True)
        first = srv.start_strongroom(work, extra_args=extra)
        started["strongroom"] = await prepare_listing(rows, first, fills)
        if args.baseline:
            base = srv.start_strongroom(work, BASELINE, extra_args=extra, src=args.baseline / "src")
            started[BASELINE] = await prepare_listing(rows, base, {}, args.baseline.resolve())
        if any(r.sse == "sse-c" and r.kind == "large" and "strongroom" in r.servers for r in rows):
            started["strongroom-ssec"] = srv.start_strongroom(work, "strongroom-ssec", SSEC_ARGS + extra)
        if any(r.kind == "memory" and "strongroom" in r.servers for r in rows):
            started["strongroom-mem"] = srv.start_strongroom(
                work, "strongroom-mem", extra
            )  # fresh for the memory row
        if "moto" in wanted:
            started["moto"] = srv.start_moto(work)
        if "bare" in wanted:
            started["bare"] = srv.start_bare(work)
        async with AsyncExitStack() as stack:
            sides: dict[str, Side] = {}
            for key, server in started.items():
                client = await stack.enter_async_context(
                    S3Client(server.endpoint, server.access_key, server.secret_key)
                )
                await client.create_bucket(BUCKET)
                sides[key] = Side(server.name.split("-")[0], server, client, profile)
            runner = Runner(
                profile,
                sides,
                spy_rows,
                args.out,
                stem,
                args.max_background,
                args.retries,
                profile.quiet_wait,
            )
            base_src = args.baseline / "src" if args.baseline else None
            runner.clusters = clusters = Clusters(work, profile, extra, base_src)
            stack.push_async_callback(clusters.close)
            for i, row in enumerate(rows, start=1):
                print(f"[{i}/{len(rows)}] {row.id}: {row.title}", file=sys.stderr, flush=True)
                results.append(await runner.run(row))
                save()
    finally:
        for server in started.values():
            server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(report.table(results))
    print()
    compared = report.baseline_table(results)
    if compared:
        print(f"against the baseline {describe(args.baseline)} ({args.baseline}):")
        print(compared)
        print()
    on_postgres = report.postgres_table(results)
    if on_postgres:
        print("CPU per op on PostgreSQL (strongroom + its backends) against SQLite's (the c=8 row):")
        print(on_postgres)
        print()
    print(f"targets (profile {profile.name}; the issue's goals are for the full profile):")
    print(report.targets_table(report.targets(results)))
    background = [f["other_cpu_pct"] for r in results for f in r["servers"].values() if "other_cpu_pct" in f]
    if background:
        print(
            f"\nother processes used a median {statistics.median(background):.0f}% of a core during the runs "
            f"(max {max(background):.0f}%); {runner.waited if runner else 0:.0f} s went waiting for quiet"
        )
    png = json_path.with_suffix(".png")
    drew = report.chart(png, results)
    print(f"\nwrote {json_path}" + (f" and {png}" if drew else ""))
    if args.keep:
        print(f"kept the servers' data and logs in {work}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    args.argv = argv
    try:
        import uvloop
    except ImportError:
        return asyncio.run(run(args))
    return uvloop.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
