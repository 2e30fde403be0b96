"""py-spy on a server while a row runs: raw stacks on disk, top functions by self time in the report.

`--py-spy ROWS` (ids or patterns, as `--only`) adds one extra, unrecorded run of each
chosen row with `py-spy record --native --format raw --nolineno --subprocesses` attached
to strongroom (it pauses the process for each sample: the run is slower, its figures are
not reported). The raw file (collapsed stacks: `frame;frame;... count`) is kept beside
the JSON results and can be turned into a flame graph with any collapsed-stack tool.
Idle threads (waiting in epoll, on a lock) are not sampled. Three views are reported:
`self` (the deepest named frame, native code included: where the CPU went),
`python_self` (the deepest Python frame: which of our lines asked for it) and `total`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*)\)$")


def py_spy_binary() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class PySpy:
    """`with PySpy(pid, out):` samples the process tree for as long as the block runs."""

    def __init__(self, pid: int, out: Path, rate: int = 200) -> None:
        binary = py_spy_binary()
        if binary is None:
            raise RuntimeError("py-spy is not installed (python3 dev.py test installs the dev tools)")
        self.out = out
        self.log = out.with_suffix(".log")
        self._cmd = [
            binary,
            "record",
            "--pid",
            str(pid),
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--nolineno",
            "--subprocesses",
            "--native",
            *(["--gil"] if os.environ.get("BENCH_PYSPY_GIL") else []),
            "--output",
            str(out),
        ]
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PySpy:
        import time

        with open(self.log, "wb") as log:
            self._proc = subprocess.Popen(self._cmd, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(0.5)  # let it attach before the workload starts
        if self._proc.poll() is not None:
            raise RuntimeError(f"py-spy exited: {self.log.read_text(errors='replace')[-500:]}")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            self._proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def frame_name(frame: str) -> str:
    found = _FRAME.match(frame.strip())
    if not found:
        return frame.strip()
    file = found["file"]
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{found['func']} ({file})"


def _is_python(frame: str) -> bool:
    return frame.endswith(".py)") or "(<frozen" in frame


def summarize(raw: Path, top: int = 15) -> dict[str, object]:
    """Top functions by self time (deepest named frame), by Python self time, and by total time."""
    own: Counter[str] = Counter()
    python_own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    if not raw.exists():
        return {"samples": 0, "self": [], "python_self": [], "total": [], "raw": str(raw)}
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_name(f) for f in stack.split(";")]
        # Drop py-spy's process/thread labels and unnamed native addresses ("0x7f... (libcrypto.so.3)").
        frames = [f for f in frames if not f.startswith(("process ", "thread ", "0x"))]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        python_frames = [f for f in frames if _is_python(f)]
        if python_frames:
            python_own[python_frames[-1]] += count
        for name in set(frames):
            total[name] += count

    def share(counter: Counter[str]) -> list[dict[str, object]]:
        return [
            {"function": name, "samples": n, "percent": round(100.0 * n / samples, 1)}
            for name, n in counter.most_common(top)
        ]

    return {
        "samples": samples,
        "self": share(own),
        "python_self": share(python_own),
        "total": share(total),
        "raw": str(raw),
    }
