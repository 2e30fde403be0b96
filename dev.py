#!/usr/bin/env python3
"""The README's two set-up commands, and the benchmark, on a machine with nothing but Python 3.11+:

    python3 dev.py serve     # install into ./.venv if needed, then run `strongroom serve` (SQLite, ./data)
    python3 dev.py test      # install the development tools too, then run the whole test suite
    python3 dev.py bench     # install the development tools too, then run the benchmark (bench/README.md)

Dependencies come from the lock files (requirements.lock, requirements-dev.lock); the virtual
environment is rebuilt when they change. `test` also installs the Debian packages the tests need
(SYSTEM_PACKAGES) when they are missing and apt-get can (as root); where it cannot, the tests that
need them skip, saying why. Anything after the command is passed on.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"

# The commands the tests run and the Debian package of each: installed by `test` when missing.
SYSTEM_PACKAGES = {
    "faketime": "faketime",  # a server started with its clock shifted (tests/integration/test_clock.py)
    "rclone": "rclone",  # a third-party client (tests/integration/test_clients.py)
    "chromium": "chromium",  # a real browser, headless (tests/integration/test_cors_browser.py)
    "chromedriver": "chromium-driver",  # ... driven over WebDriver (the same test)
    "restic": "restic",  # a backup tool on a locked bucket (tests/integration/test_object_lock_scenario.py)
}

# The tests spend most of their time waiting (servers starting, sweeps, heartbeats), not computing: two
# pytest-xdist workers, each given whole files (a module's server is started once), in the order
# collected (xdist's default, most tests first, left the longest one-test files, the benchmark's smoke
# run and the scale-out chaos, for last). `-n 0` after `test` runs them in one process (the last -n counts).
TEST_WORKERS = ["-n", "2", "--dist", "loadfile", "--no-loadscope-reorder"]


def ensure_venv(dev: bool) -> None:
    locks = [ROOT / "requirements.lock"] + ([ROOT / "requirements-dev.lock"] if dev else [])
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in [*locks, ROOT / "pyproject.toml"])).hexdigest()
    stamp = VENV / (".installed-dev" if dev else ".installed")
    if stamp.exists() and stamp.read_text() == digest:
        return
    if not (BIN / "python").exists():
        print("creating .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    for lock in locks:
        print(f"installing {lock.name} ...", flush=True)
        subprocess.run([*pip, "-r", str(lock)], check=True)
    subprocess.run([*pip, "--no-deps", "--no-build-isolation", "-e", str(ROOT)], check=True)
    stamp.write_text(digest)


def ensure_system_packages() -> None:
    """apt-get install what SYSTEM_PACKAGES names and PATH lacks (one apt-get update first). Never
    fatal: a machine without apt-get, or a user who is not root, runs the tests that can run."""
    missing = sorted({pkg for command, pkg in SYSTEM_PACKAGES.items() if shutil.which(command) is None})
    if not missing:
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        print(f"dev.py: not installing {', '.join(missing)} (needs apt-get as root): "
              "the tests that need them will skip", flush=True)
        return
    print(f"installing {', '.join(missing)} (apt-get) ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    updated = subprocess.run(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL, env=env).returncode == 0
    installed = updated and subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
        stdout=subprocess.DEVNULL,
        env=env,
    ).returncode == 0
    if not installed:
        print(f"dev.py: could not install {', '.join(missing)}: the tests that need them will skip",
              flush=True)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("serve", "test", "bench"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_venv(dev=command in ("test", "bench"))
    if command == "test":
        ensure_system_packages()
    if command == "serve":
        os.execv(str(BIN / "strongroom"), [str(BIN / "strongroom"), "serve", *rest])
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    runner = ["-m", "pytest", *TEST_WORKERS] if command == "test" else ["-m", "bench"]
    return subprocess.run([str(BIN / "python"), *runner, *rest], cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
