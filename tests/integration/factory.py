"""The server factory behind the `start_server` and `start_module_server` fixtures (conftest.py).

A test asks for the flags, environment or TLS it needs instead of spawning a process of its own; the
factory stops every server it started (restarts included) and then checks each one's log
(server_log.py): a traceback or an undeclared ERROR record fails the test, as does a server that a
SIGTERM did not stop (killed after STOP_SECONDS: such a stop made every run wait).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from tests.integration.helpers import self_signed
from tests.integration.server import (
    STOP_SECONDS,
    RunningServer,
    clean_env,
    new_root_key,
    server_env,
    spawn,
)
from tests.integration.server_log import LogWatch


class ServerFactory:
    """Starts servers for one test or one module; `close` stops them all and checks their logs."""

    def __init__(self, new_directory: Callable[[], Path]) -> None:
        self._new_directory = new_directory
        self._started: list[list[RunningServer]] = []  # per server asked for: it and its restarts
        self._watches: dict[Path, LogWatch] = {}  # a second server on the same data shares the log

    def __call__(
        self,
        *flags: str,
        env: Mapping[str, str] | None = None,
        tls: bool = False,
        data_dir: Path | None = None,
        like: RunningServer | None = None,
        bare: bool = False,
        ready_by_env: bool = False,
    ) -> RunningServer:
        """A server with these `serve` flags and extra environment variables, in a fresh data directory
        (or `data_dir`). `tls`: it serves https with a self-signed certificate (`.cert`). `like`: a
        second server on `like`'s data directory, root key and environment. `bare`: no test defaults
        at all (no key file, no credentials: a first start as a user makes it)."""
        if like is not None:
            data_dir, base, key_file = like.data_dir, dict(like.env), like.key_file
        else:
            data_dir = data_dir or self._new_directory() / "data"
            key_file = data_dir.parent / (data_dir.name + ".root-key")
            if bare:
                base = clean_env()
            else:
                base = server_env(data_dir, new_root_key(key_file))
        cert = None
        if tls:
            cert, key = self_signed(data_dir.parent)
            flags = ("--tls-cert", str(cert), "--tls-key", str(key), *flags)
        started: list[RunningServer] = []
        self._started.append(started)
        log_path = data_dir.parent / (data_dir.name + ".log")
        watch = self._watches.setdefault(log_path, LogWatch(log_path))
        return spawn(
            data_dir,
            {**base, **(env or {})},
            *flags,
            ready_by_env=ready_by_env,
            key_file=key_file,
            cert=cert,
            watch=watch,
            started=started,
        )

    def close(self) -> None:
        for started in self._started:
            for running in started:
                running.stop()
        problems = [(w.path, p) for w in self._watches.values() for p in w.problems()]
        assert not problems, "the server logged what no test expected:\n" + "\n\n".join(
            f"{path}:\n{text}" for path, text in problems
        )
        hung = [running.endpoint for started in self._started for running in started if running.hung]
        assert not hung, f"not stopped {STOP_SECONDS} s after SIGTERM, so killed: {', '.join(hung)}"
