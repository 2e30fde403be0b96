"""The tree stays clean for the linter and the type checker (configured in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_ruff_finds_nothing() -> None:
    done = _run("ruff", "check", "src", "tests", "bench")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing_in_src_and_bench() -> None:
    # mypy's own incremental cache (.mypy_cache, ignored by git): a fresh one each run made every run
    # check the whole tree and its libraries' stubs again (~30-60 s instead of ~2 s once warm).
    for target in (["src"], ["-p", "bench"]):
        done = _run("mypy", *target)
        assert done.returncode == 0, done.stdout + done.stderr
