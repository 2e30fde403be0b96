"""The benchmark's output: one printed table, the issue's targets judged, JSON and a PNG chart.

The table has a group per row (its id and title) and a line per server with the rate,
p50 and p99 latency, server CPU per operation and as a share of one core, the
benchmark client's own CPU likewise, and strongroom's ratio to moto and to the bare
app (rate over rate: above 1 is faster; for the memory row, above 1 is more memory).
The JSON holds the same figures and more (each run's rate, the profile); the chart
draws the ratios.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

COLUMNS = (
    f"{'server':<17}{'rate':>16}{'p50 ms':>9}{'p99 ms':>9}{'srv ms/op':>11}{'srv %cpu':>9}"
    f"{'cli ms/op':>11}{'cli %cpu':>9}{'bg %cpu':>8}{'vs moto':>9}{'vs bare':>9}"
)


def rate_text(rate: float, unit: str) -> str:
    if unit == "MiB":
        return f"{rate:,.0f} MiB"
    return f"{rate:,.0f} {unit}" if rate >= 100 else f"{rate:,.1f} {unit}"


def _num(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if value < 1000 else f"{value:,.0f}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"x{value:.2f}"


def _extra(row: dict[str, Any], name: str, f: dict[str, Any]) -> str:
    parts = []
    if row["kind"] == "memory":
        parts.append(
            f"baseline {f['baseline_mib']:.0f} MiB, PUT {f['put_mib_s']:,.0f} MiB/s, "
            f"GET {f['get_mib_s']:,.0f} MiB/s"
        )
        if "long_running_server_rss_mib" in f:
            parts.append(f"the long-running server's RSS now: {f['long_running_server_rss_mib']:.0f} MiB")
    if name == "strongroom" and "fraction" in row:
        if "md5_mib_s" in f:
            parts.append(f"single-stream MD5 {f['md5_mib_s']:,.0f} MiB/s")
        parts.append(f"= {row['fraction']:.2f} of {row['fraction_of']}")
    if f.get("reused"):
        parts.append(f["reused"])
    if "db_cpu_ms_per_op" in f:
        parts.append(f"PostgreSQL {f['db_cpu_ms_per_op']:.3f} ms/op; strongroom + PostgreSQL "
                     f"{f['total_cpu_ms_per_op']:.3f} ms/op")
    return "; ".join(parts)


def table(results: list[dict[str, Any]]) -> str:
    lines = [COLUMNS, "-" * len(COLUMNS)]
    for row in results:
        lines.append(f"{row['id']}: {row['title']}" + (f"  [{row['note']}]" if row.get("note") else ""))
        for name, f in row["servers"].items():
            if "unavailable" in f:
                lines.append(f"  {name:<15}  unavailable: {f['unavailable']}")
                continue
            mine = name == "strongroom"
            timing = row["kind"] != "memory"
            line = (
                f"  {name:<15}{rate_text(f['rate'], row['unit']):>16}"
                f"{_num(f['p50_ms'] if timing else None):>9}{_num(f['p99_ms'] if timing else None):>9}"
                f"{_num(f['server_cpu_ms_per_op'], 3):>11}{_num(f['server_cpu_pct'], 0):>9}"
                f"{_num(f['client_cpu_ms_per_op'], 3):>11}{_num(f['client_cpu_pct'], 0):>9}"
                f"{_num(f.get('other_cpu_pct'), 0):>8}"
                f"{_ratio(row.get('ratio_moto') if mine else None):>9}"
                f"{_ratio(row.get('ratio_bare') if mine else None):>9}"
            )
            extra = _extra(row, name, f)
            lines.append(line + (f"   ({extra})" if extra else ""))
    return "\n".join(lines)


def baseline_table(results: list[dict[str, Any]]) -> str:
    """strongroom against the --baseline checkout, row by row ('' when there was no baseline)."""
    lines = []
    for row in results:
        ratio = row.get("ratio_base")
        if "ratio_base" not in row:
            continue
        now = row["servers"].get("strongroom", {})
        base = row["servers"].get("strongroom-base", {})
        if ratio is None:
            lines.append(f"  {row['id']:<26} unavailable")
            continue
        lines.append(
            f"  {row['id']:<26}{rate_text(now['rate'], row['unit']):>16}"
            f"{rate_text(base['rate'], row['unit']):>16}"
            f"{(ratio - 1) * 100:>+9.1f}%{_num(now['server_cpu_ms_per_op'], 3):>11}"
            f"{_num(base['server_cpu_ms_per_op'], 3):>11}"
        )
    if not lines:
        return ""
    head = f"  {'row':<26}{'this':>16}{'baseline':>16}{'change':>10}{'srv ms/op':>11}{'base ms/op':>11}"
    return "\n".join([head, *lines])


def postgres_table(results: list[dict[str, Any]]) -> str:
    """Each PostgreSQL-mode row's CPU per op, strongroom + PostgreSQL, over SQLite's on the same work
    (the put-4k-c8 / get-4k-c8 row of the same run); '' when no such row ran."""
    by_id = {r["id"]: r for r in results}
    lines = []
    for row in results:
        if not row["id"].startswith(("put-4k-pg", "get-4k-pg")):
            continue
        sqlite = by_id.get(f"{row['id'].split('-')[0]}-4k-c8", {}).get("servers", {})
        for name, f in row["servers"].items():
            if "total_cpu_ms_per_op" not in f:
                continue
            lite = sqlite.get(name, {}).get("server_cpu_ms_per_op")
            ratio = f"x{f['total_cpu_ms_per_op'] / lite:.2f}" if lite else "-"
            lines.append(
                f"  {row['id']:<18}{name:<17}{rate_text(f['rate'], row['unit']):>12}"
                f"{_num(f['server_cpu_ms_per_op'], 3):>9}{_num(f['db_cpu_ms_per_op'], 3):>9}"
                f"{_num(f['total_cpu_ms_per_op'], 3):>9}{_num(lite, 3):>10}{ratio:>9}"
            )
    if not lines:
        return ""
    head = (f"  {'row':<18}{'server':<17}{'rate':>12}{'srv ms':>9}{'pg ms':>9}{'total':>9}"
            f"{'sqlite ms':>10}{'ratio':>9}")
    return "\n".join([head, *lines])


# --- the targets ---------------------------------------------------------------------------------


def _fig(results: dict[str, dict[str, Any]], rid: str, key: str = "rate") -> float | None:
    return results.get(rid, {}).get("servers", {}).get("strongroom", {}).get(key)


def _all_met(checks: list[tuple[float | None, float, str]]) -> bool | None:
    """(value, bound, '>=' | '<=') each; None when any value is missing."""
    values = [(v, b, op) for v, b, op in checks if v is not None]
    if len(values) < len(checks):
        return None
    return all((v >= b) if op == ">=" else (v <= b) for v, b, op in values)


def targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    r = {row["id"]: row for row in results}

    def f(rid: str, key: str = "rate") -> float | None:
        return _fig(r, rid, key)

    def show(v: float | None, fmt: str) -> str:
        return "n/a" if v is None else fmt.format(v)

    out = []
    put8, put1 = f("put-4k-c8"), f("put-4k-c1", "p50_ms")
    out.append(
        (
            "4 KiB PUT, SSE-S3, durable, c=8",
            ">= 2,000/s; p50 <= 1.5 ms at c=1",
            f"{show(put8, '{:,.0f}/s')}; p50 {show(put1, '{:.2f} ms')}",
            _all_met([(put8, 2000, ">="), (put1, 1.5, "<=")]),
        )
    )
    get8, get1 = f("get-4k-c8"), f("get-4k-c1", "p50_ms")
    out.append(
        (
            "4 KiB GET, c=8",
            ">= 5,000/s; p50 <= 1 ms at c=1",
            f"{show(get8, '{:,.0f}/s')}; p50 {show(get1, '{:.2f} ms')}",
            _all_met([(get8, 5000, ">="), (get1, 1.0, "<=")]),
        )
    )
    p1, p4 = f("put-64m-sse-s3-c1"), f("put-64m-sse-s3-c4")
    out.append(
        (
            "64 MiB PUT, SSE-S3, c=1 / c=4",
            ">= 500 / >= 650 MiB/s",
            f"{show(p1, '{:,.0f}')} / {show(p4, '{:,.0f}')} MiB/s",
            _all_met([(p1, 500, ">="), (p4, 650, ">=")]),
        )
    )
    g1, g4 = f("get-64m-sse-s3-c1"), f("get-64m-sse-s3-c4")
    out.append(
        (
            "64 MiB GET, SSE-S3, c=1 / c=4",
            ">= 1.5 / >= 2 GiB/s",
            f"{show(g1 and g1 / 1024, '{:.2f}')} / {show(g4 and g4 / 1024, '{:.2f}')} GiB/s",
            _all_met([(g1, 1536, ">="), (g4, 2048, ">=")]),
        )
    )
    shares, checks = [], []
    for op in ("put", "get"):
        for c in (1, 4):
            bk, s3 = f(f"{op}-64m-sse-kms-bk-c{c}"), f(f"{op}-64m-sse-s3-c{c}")
            share = bk / s3 if bk and s3 else None
            shares.append(f"{op.upper()} c={c} {show(share and 100 * share, '{:.0f}%')}")
            checks.append((share, 0.9, ">="))
    why = "; ".join(
        v.get("unavailable", "")
        for v in r.get("put-64m-sse-kms-bk-c1", {}).get("servers", {}).values()
        if "unavailable" in v
    )
    out.append(
        (
            "SSE-KMS with Bucket Key",
            "within 10% of SSE-S3 on every row",
            ", ".join(shares) + (f" ({why})" if why else ""),
            _all_met(checks),
        )
    )
    l1, l4, l1m = f("list-100k-c1"), f("list-100k-c4"), f("list-1m-c1", "p50_ms")
    best = max((v for v in (l1, l4) if v is not None), default=None)
    out.append(
        (
            "ListObjectsV2, 1000-key page",
            ">= 300 pages/s at 100k keys; p50 <= 10 ms at 1M keys",
            f"{show(l1, '{:,.0f}')} (c=1) / {show(l4, '{:,.0f}')} (c=4) pages/s; "
            f"p50 {show(l1m, '{:.1f} ms')} at 1M",
            _all_met([(best, 300, ">="), (l1m, 10, "<=")]),
        )
    )
    mem = f("memory-2g")
    out.append(
        (
            "server memory, 2 GiB up and down",
            "<= 200 MiB resident",
            show(mem, "{:,.0f} MiB peak"),
            _all_met([(mem, 200, "<=")]),
        )
    )
    return [{"target": t, "goal": g, "measured": m, "met": met} for t, g, m, met in out]


def targets_table(judged: list[dict[str, Any]]) -> str:
    lines = ["| target | goal | measured | met |", "| --- | --- | --- | --- |"]
    for t in judged:
        met = {True: "yes", False: "NO", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {t['goal']} | {t['measured']} | {met} |")
    return "\n".join(lines)


# --- files ------------------------------------------------------------------------------------------------


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")


def chart(path: Path, results: list[dict[str, Any]]) -> bool:
    """Bars of strongroom's ratio to moto and to the bare app (log scale); False if nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results if r["kind"] != "memory" and (r.get("ratio_moto") or r.get("ratio_bare"))]
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(rows) + 1.6))
    ys = range(len(rows))
    for offset, peer, colour in ((-0.2, "moto", "#4c72b0"), (0.2, "bare", "#dd8452")):
        values = [r.get(f"ratio_{peer}") or 0 for r in rows]
        ax.barh([y + offset for y in ys], values, height=0.4, label=f"strongroom / {peer}", color=colour)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yticks(list(ys), [r["id"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    top = max(max(r.get("ratio_moto") or 1, r.get("ratio_bare") or 1) for r in rows)
    ax.set_xlim(
        min(0.05, *(v for r in rows for v in (r.get("ratio_moto"), r.get("ratio_bare")) if v)) * 0.8,
        max(2.0, top * 1.5),
    )
    ax.set_xlabel("strongroom rate / peer rate (log scale; > 1: strongroom is faster)")
    ax.set_title("strongroom beside moto and the bare aiohttp app")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return not math.isnan(top)
