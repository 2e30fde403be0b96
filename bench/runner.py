"""Running one row against every server it names, and reducing runs to the reported figures.

Each server runs the row `profile.runs` times after an unrecorded warm-up; every figure
reported (rate, p50, p99, CPU per operation) is the median over the runs, each taken
separately. The machine may be shared: before each run the runner waits (up to
`quiet_wait` seconds) until other processes use less than `max_background` of a core; a
run they disturbed anyway may be repeated (`retries`, the quietest kept); each run's
background CPU is reported. A row that cannot run on a server (no KMS yet,
a request refused) is reported as unavailable with the reason, and the benchmark goes on.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import bench.workloads as w
from bench.clusters import Clusters
from bench.plan import BASELINE, MiB, Profile, Row
from bench.profiling import PySpy, summarize
from bench.servers import machine_busy_seconds, rss_bytes


def percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))
    return ordered[index]


def reduce(samples: list[w.Sample], row: Row) -> dict[str, Any]:
    per_run = []
    for s in samples:
        if row.unit == "MiB":
            rate = s.extra["peak_mib"]
        elif row.unit == "MiB/s":
            rate = s.nbytes / MiB / s.elapsed
        else:
            rate = s.ops / s.elapsed
        ordered = sorted(s.latencies)
        ops = max(s.ops, 1)
        per_run.append(
            {
                "rate": rate,
                "p50_ms": percentile(ordered, 0.50) * 1e3,
                "p99_ms": percentile(ordered, 0.99) * 1e3,
                "server_cpu_ms_per_op": s.server_cpu / ops * 1e3,
                "server_cpu_pct": 100 * s.server_cpu / s.elapsed,
                "client_cpu_ms_per_op": s.client_cpu / ops * 1e3,
                "client_cpu_pct": 100 * s.client_cpu / s.elapsed,
                "other_cpu_pct": 100 * s.other_cpu / s.elapsed,
                **({"db_cpu_ms_per_op": s.db_cpu / ops * 1e3,
                    "total_cpu_ms_per_op": (s.server_cpu + s.db_cpu) / ops * 1e3} if row.catalog else {}),
                "ops": s.ops,
                "seconds": s.elapsed,
                **s.extra,
            }
        )
    out: dict[str, Any] = {k: statistics.median(r[k] for r in per_run) for k in per_run[0]}
    out["runs"] = [round(r["rate"], 3) for r in per_run]
    return out


class Runner:
    def __init__(
        self,
        profile: Profile,
        sides: dict[str, w.Side],
        spy_rows: set[str],
        results_dir: Path,
        stem: str,
        max_background: float = 0.35,
        retries: int = 0,
        quiet_wait: float = 15.0,
    ) -> None:
        self.profile = profile
        self.max_background = max_background  # cores other processes may use during a run ...
        self.retries = retries  # ... before it is repeated (at most this often; the quietest is kept)
        self.quiet_wait = quiet_wait  # seconds to wait for a quiet machine before each run
        self.waited = 0.0
        self.sides = sides  # strongroom, strongroom-ssec, moto, bare: those started
        self.clusters: Clusters | None = None  # the PostgreSQL-mode servers, started for their rows
        self.spy_rows = spy_rows
        self.results_dir = results_dir
        self.stem = stem
        self._bare_large: dict[tuple[str, int, int], dict[str, Any]] = {}
        self._md5: float | None = None

    async def side_for(self, name: str, row: Row) -> w.Side | None:
        if row.catalog:  # a PostgreSQL-mode row: its cluster, started now
            return await self.clusters.side(f"{name}-{row.catalog}") if self.clusters else None
        if name in ("strongroom", BASELINE) and row.sse == "sse-c" and row.kind == "large":
            return self.sides.get("strongroom-ssec") if name == "strongroom" else None
        if name == "strongroom" and row.kind == "memory":
            return self.sides.get("strongroom-mem", self.sides.get("strongroom"))
        return self.sides.get(name)

    async def run(self, row: Row) -> dict[str, Any]:
        result: dict[str, Any] = {
            "id": row.id,
            "title": row.title,
            "kind": row.kind,
            "unit": row.unit,
            "concurrency": row.concurrency,
            "note": row.note,
            "servers": {},
        }
        for name in row.servers:
            side = await self.side_for(name, row)
            if side is None:
                failed = self.clusters.failed if self.clusters else {}
                why = failed.get(f"{name}-{row.catalog}", "server not started")
                result["servers"][name] = {"unavailable": why}
                continue
            try:
                figures = await self.measure(row, name, side)
            except w.Unavailable as e:
                figures = {"unavailable": str(e)}
            except Exception as e:  # noqa: BLE001 - reported, and the benchmark goes on
                figures = {"unavailable": f"failed: {type(e).__name__}: {e}"}
            result["servers"][name] = figures
            shown = (
                f"{figures['rate']:.1f} {row.unit}"
                if "rate" in figures
                else f"unavailable ({figures['unavailable']})"
            )
            print(f"  {row.id:<24} {name:<10} {shown}", file=sys.stderr, flush=True)
        self._ratios(row, result)
        return result

    async def measure(self, row: Row, name: str, side: w.Side) -> dict[str, Any]:
        cache_key = (row.op, row.concurrency, row.size)
        if name == "bare" and row.kind == "large" and cache_key in self._bare_large:
            return {
                **self._bare_large[cache_key],
                "reused": "same work as the SSE-S3 row: the bare app ignores SSE headers",
            }
        p = self.profile
        runs = p.runs
        if row.kind in ("small", "large", "list"):
            op = await w.make_op(row, side)
            await w.timed(side, op, row.concurrency, min(1.0, max(0.1, p.seconds * 0.1)))  # warm-up

            async def job() -> w.Sample:
                return await w.timed(side, op, row.concurrency, p.seconds)
        elif row.kind == "multipart":

            async def job() -> w.Sample:
                return await w.multipart_once(side, row)
        elif row.kind == "compare":

            async def job() -> w.Sample:
                return await w.transfer_once(side, row, row.op)
        else:
            runs = 1  # one 2 GiB round trip: the peak does not need a median

            async def job() -> w.Sample:
                return await w.memory_once(side, row)

        samples, retried = [], 0
        for _ in range(runs):
            await self.quiet()
            sample = await job()
            for _retry in range(self.retries):  # a run the rest of the machine disturbed is done again
                if sample.other_cpu <= self.max_background * sample.elapsed:
                    break
                retried += 1
                await self.quiet()
                again = await job()
                sample = min(sample, again, key=lambda s: s.other_cpu / s.elapsed)
            samples.append(sample)
        figures = reduce(samples, row)
        figures["noisy_runs_repeated"] = retried
        if row.kind == "memory" and name == "strongroom" and "strongroom" in self.sides:
            # The server every other row ran on, for comparison with the fresh one measured here.
            figures["long_running_server_rss_mib"] = rss_bytes(self.sides["strongroom"].server.pid) / MiB
        if name == "bare" and row.kind == "large" and row.sse == "sse-s3":
            self._bare_large[cache_key] = figures
        if row.kind == "compare" and row.op == "put" and name == "strongroom":
            figures["md5_mib_s"] = self.md5()
        if name == "strongroom" and row.id in self.spy_rows and row.kind != "memory":
            out = self.results_dir / f"{self.stem}-{row.id}.pyspy.txt"
            with PySpy(side.server.pid, out):
                await job()
            figures["profile"] = summarize(out)
        return figures

    async def quiet(self) -> None:
        """Wait until the rest of the machine uses less than `max_background` of a core (or time is up)."""
        start = time.perf_counter()
        while time.perf_counter() - start < self.quiet_wait:
            busy, ours = machine_busy_seconds(), self._own_cpu()
            await asyncio.sleep(0.5)
            other = (machine_busy_seconds() - busy) - (self._own_cpu() - ours)
            if other <= self.max_background * 0.5:
                break
        self.waited += time.perf_counter() - start

    def _own_cpu(self) -> float:
        return time.process_time() + sum(side.server.cpu() for side in self.sides.values())

    def md5(self) -> float:
        if self._md5 is None:
            size = self.profile.compare_size
            self._md5 = statistics.median(w.md5_rate(size) for _ in range(self.profile.runs))
        return self._md5

    def _ratios(self, row: Row, result: dict[str, Any]) -> None:
        figures = result["servers"]
        mine = figures.get("strongroom", {}).get("rate")
        for peer, name in (("moto", "moto"), ("bare", "bare"), ("base", BASELINE)):
            theirs = figures.get(name, {}).get("rate")
            if name in figures or peer != "base":
                result[f"ratio_{peer}"] = mine / theirs if mine and theirs else None
        if row.kind == "memory":
            result["lower_is_better"] = True
        if row.kind == "compare" and mine and (bare := figures.get("bare", {}).get("rate")):
            if row.op == "put":
                md5 = figures["strongroom"]["md5_mib_s"]
                result["fraction"] = mine / min(bare, md5)
                result["fraction_of"] = f"min(bare upload {bare:.0f} MiB/s, MD5 {md5:.0f} MiB/s)"
            else:
                result["fraction"] = mine / bare
                result["fraction_of"] = f"bare download {bare:.0f} MiB/s"
