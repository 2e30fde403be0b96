"""The servers a benchmark run starts, side by side on free loopback ports, and what they cost.

Owns starting and stopping strongroom (`python -m strongroom serve --port 0` with a fresh
data directory, default settings, root credentials from the environment and a root key
file beside the data directory, as tests/integration/server.py does), moto's
`moto_server` (in memory; it encrypts nothing) and the bare app (`bench.bare_app`), and
reading each one's CPU time and resident memory from /proc for its whole process tree
(strongroom's --workers are child processes).
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import bench.postgres as pg

ROOT_AK = "SRBENCHROOTKEY000001"
_TICK = os.sysconf("SC_CLK_TCK")


# --- /proc -----------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants alive now."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, ()))
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the tree (plus the root's reaped children), in seconds."""
    total = 0
    for i, p in enumerate(process_tree(pid)):
        fields = _stat(p)
        if fields is None:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if i == 0:
            total += int(fields[13]) + int(fields[14])  # cutime, cstime: children already reaped
    return total / _TICK


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of one process (not its children), in seconds; None when it is gone."""
    fields = _stat(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / _TICK


def machine_busy_seconds() -> float:
    """CPU time all processes of the machine spent busy (every core), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


def _status_kib(pid: int, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_bytes(pid: int) -> int:
    return sum(_status_kib(p, "VmRSS") for p in process_tree(pid)) * 1024


def hwm_bytes(pid: int) -> int:
    return sum(_status_kib(p, "VmHWM") for p in process_tree(pid)) * 1024


def reset_hwm(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs). False if not allowed."""
    ok = True
    for p in process_tree(pid):
        try:
            Path(f"/proc/{p}/clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok


class MemorySampler:
    """Peak resident memory of a process tree: VmHWM after a reset, and VmRSS sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_sampled = 0
        self.baseline = rss_bytes(pid)
        self.hwm_reset = reset_hwm(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_sampled = max(self.peak_sampled, rss_bytes(self.pid))

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_sampled = max(self.peak_sampled, rss_bytes(self.pid))

    @property
    def peak(self) -> int:
        return max(self.peak_sampled, hwm_bytes(self.pid) if self.hwm_reset else 0)


# --- servers ---------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the benchmark process dies, however it dies (Linux)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(condition, process: subprocess.Popen[bytes], log: Path, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{what} did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.05)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Server:
    name: str  # "strongroom", "moto", "bare"
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    access_key: str = "bench"
    secret_key: str = field(default="bench-secret", repr=False)
    note: str = ""
    data_dir: Path | None = None
    env: dict[str, str] = field(default_factory=dict, repr=False)
    args: tuple[str, ...] = ()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def db_cpu(self) -> float:
        """CPU of the database processes serving it (PostgreSQL's backends): none for an embedded one."""
        return 0.0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _launch(name: str, argv: list[str], work: Path, env: dict[str, str], cwd: Path | None = None
            ) -> tuple[subprocess.Popen[bytes], int, Path]:
    """`python argv... --port 0 --ready-file F` with its output in work/name.log; wait until it listens."""
    ready = work / (name + ".ready")
    ready.unlink(missing_ok=True)
    log = work / (name + ".log")
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, *argv, "--port", "0", "--ready-file", str(ready)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            cwd=cwd,
        )
    _wait(lambda: ready.exists() and ready.read_text().strip() != "", process, log, name)
    port = int(ready.read_text())
    _wait(lambda: _listening(port), process, log, name)
    return process, port, log


def start_strongroom(
    work: Path,
    name: str = "strongroom",
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    src: Path | None = None,
) -> Server:
    """A strongroom on a free port; a fresh data directory `work/name` unless `env` names one already.
    `src`: run the strongroom package found there (another checkout's src/) instead of the installed one."""
    data_dir = work / name
    key_file = work / (name + ".root-key")
    if env is None:
        if not key_file.exists():
            key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
            key_file.chmod(0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM_", "AWS_"))}
        env.update(
            {
                "STRONGROOM_DATA_DIR": str(data_dir),
                "STRONGROOM_ROOT_KEY_FILE": str(key_file),
                "STRONGROOM_ROOT_ACCESS_KEY": ROOT_AK,
                "STRONGROOM_ROOT_SECRET_KEY": "bench-secret-" + secrets.token_hex(12),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if src is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src.resolve()), env.get("PYTHONPATH")]))
    process, port, log = _launch(name, ["-m", "strongroom", "serve", *extra_args], work, env)
    return Server(
        name,
        port,
        process,
        log,
        ROOT_AK,
        env["STRONGROOM_ROOT_SECRET_KEY"],
        note=" ".join(extra_args),
        data_dir=data_dir,
        env=env,
        args=extra_args,
    )


@dataclass
class Cluster(Server):
    """Several strongrooms on one PostgreSQL schema and one data directory, each on its own port, seen
    as one server: the first one's fields, the CPU of all of them, and PostgreSQL's CPU as `db_cpu`.
    The benchmark client spreads its requests over `endpoints`."""

    others: list[Server] = field(default_factory=list)
    schema: pg.Schema | None = None
    _backend_cpu: dict[int, float] = field(default_factory=dict)  # pid -> its CPU when last read

    @property
    def endpoints(self) -> list[str]:
        return [self.endpoint, *(s.endpoint for s in self.others)]

    def cpu(self) -> float:
        return cpu_seconds(self.pid) + sum(s.cpu() for s in self.others)

    def db_cpu(self) -> float:
        """CPU the schema's backends have used: those that exited since count what they had used when
        last seen (a pool that closes connections is under-counted by what they did after that)."""
        for pid in self.schema.backends() if self.schema is not None else ():
            used = process_cpu_seconds(pid)
            if used is not None:
                self._backend_cpu[pid] = used
        return sum(self._backend_cpu.values())

    def stop(self) -> None:
        for server in (*self.others, Server(self.name, self.port, self.process, self.log)):
            server.stop()
        if self.schema is not None:
            self.schema.drop()
            self.schema = None


def start_cluster(work: Path, name: str, count: int, extra_args: tuple[str, ...] = (),
                  src: Path | None = None) -> Cluster:
    """`count` strongrooms on a fresh PostgreSQL schema (bench/postgres.py) and one data directory,
    each on its own port. RuntimeError saying why when PostgreSQL cannot be used."""
    reason = pg.unreachable()
    if reason is not None:
        raise RuntimeError(reason)
    schema = pg.Schema(name.replace("-", "_")).create()
    started: list[Server] = []
    try:
        args = (*extra_args, "--catalog", schema.url)
        started.append(start_strongroom(work, name, args, src=src))
        for i in range(1, count):  # the first one's environment: its data directory, root key and root user
            started.append(start_strongroom(work, f"{name}.{i}", args, env=started[0].env))
    except BaseException:
        for server in started:
            server.stop()
        schema.drop()
        raise
    first = started[0]
    note = f"{count} strongroom serve --catalog postgresql (one schema, one data directory)"
    return Cluster(first.name, first.port, first.process, first.log, first.access_key, first.secret_key,
                   note, first.data_dir, first.env, first.args, others=started[1:], schema=schema)


def restart(server: Server) -> Server:
    """Stop a strongroom and start it again on the same data (e.g. after filling its catalog)."""
    server.stop()
    assert server.data_dir is not None
    return start_strongroom(server.data_dir.parent, server.name, server.args, env=server.env)


def start_moto(work: Path) -> Server:
    binary = Path(sys.executable).parent / "moto_server"
    if not binary.exists():
        raise RuntimeError(
            f"moto_server is not installed beside {sys.executable} (python3 dev.py test installs it)"
        )
    port = free_port()
    log = work / "moto.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [str(binary), "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    _wait(lambda: _listening(port), process, log, "moto_server")
    return Server("moto", port, process, log, note="moto_server, in memory, encrypts nothing")


def start_bare(work: Path) -> Server:
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    argv = ["-m", "bench.bare_app", "--data-dir", str(work / "bare")]
    process, port, log = _launch("bare", argv, work, env, cwd=root)
    return Server("bare", port, process, log, note="aiohttp+uvloop, file + fsync, no auth, no crypto")
