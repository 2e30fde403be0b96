"""A real `strongroom serve` process for tests: fresh data directory, free port, real credentials.

Tests get servers from the `start_server` / `start_module_server` fixtures (factory.py), which also
check each server's log at teardown (server_log.py). `RunningServer.raw` sends the requests the
SDKs will not send (raw.py).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from botocore.config import Config as BotoConfig

from tests.integration import raw as wire
from tests.integration.helpers import boto_session
from tests.integration.raw import RawResponse
from tests.integration.server_log import LogWatch

ROOT_AK = "SRTESTROOTKEY0000001"
STOP_SECONDS = 15  # a server stops within this of a SIGTERM (it takes well under a second), or is killed


@dataclass
class RunningServer:
    data_dir: Path
    key_file: Path
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(repr=False)
    access_key: str = ROOT_AK
    secret_key: str = field(default="", repr=False)
    scheme: str = "http"
    cert: Path | None = None  # the self-signed certificate it serves, when it serves https
    watch: LogWatch | None = field(default=None, repr=False)
    started: list[RunningServer] = field(default_factory=list, repr=False)  # it and its restarts
    hung: bool = field(default=False, repr=False)  # it did not stop within STOP_SECONDS: it was killed

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def client(
        self,
        service: str = "s3",
        access_key: str | None = None,
        secret_key: str | None = None,
        *,
        region: str = wire.REGION,
        verify: bool | str = False,
        **config: object,
    ):
        """A boto3 client of this server (`verify`: the CA bundle to check its certificate against)."""
        return boto_session().client(
            service,
            endpoint_url=self.endpoint,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name=region,
            config=BotoConfig(**config) if config else None,
            verify=verify,
        )

    # --- raw requests ---------------------------------------------------------------------------------

    def raw(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        sign: bool = True,
        query: Mapping[str, str] | None = None,
        content_sha256: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        service: str = "s3",
        region: str = wire.REGION,
        now: datetime | None = None,
        timeout: float = 30,
        allow_incomplete: bool = False,
    ) -> RawResponse:
        """One request exactly as given, read to the end.

        `path` is percent-encoded and may carry a query (or give `query`, encoded here); it may also be
        a whole URL to this server (a presigned one), sent as is. Signed with SigV4 unless `sign` is
        False; the payload hash is the body's unless `content_sha256` names another.
        """
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            path = parts.path + ("?" + parts.query if parts.query else "")
        if query:
            path += ("&" if "?" in path else "?") + urlencode(query)
        if sign:
            headers = self.sign(
                method,
                path,
                headers,
                content_sha256=content_sha256 or hashlib.sha256(body or b"").hexdigest(),
                access_key=access_key,
                secret_key=secret_key,
                service=service,
                region=region,
                now=now,
            )
        conn = self.connection(timeout)
        return wire.send(conn, method, path, headers or {}, body, allow_incomplete=allow_incomplete)

    def sign(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        *,
        content_sha256: str,
        access_key: str | None = None,
        secret_key: str | None = None,
        service: str = "s3",
        region: str = wire.REGION,
        now: datetime | None = None,
    ) -> dict[str, str]:
        """The headers given plus SigV4's (for a test that sends a body of its own making)."""
        return wire.sign(
            self.endpoint,
            method,
            path,
            headers,
            content_sha256=content_sha256,
            access_key=access_key or self.access_key,
            secret_key=secret_key or self.secret_key,
            service=service,
            region=region,
            now=now,
        )

    def connection(self, timeout: float = 30) -> http.client.HTTPConnection:
        return wire.connection(self.scheme, self.port, timeout)

    def exchange(self, head: bytes, body: bytes, *, close_write: bool = True, timeout: float = 10) -> bytes:
        """`head` + `body` on a bare socket; whatever the server answers (raw.raw_exchange)."""
        return wire.raw_exchange(self.port, head, body, close_write=close_write, timeout=timeout)

    # --- the command line, the log, the process -----------------------------------------------------

    def aws(
        self,
        *args: str,
        check: bool = True,
        access_key: str | None = None,
        secret_key: str | None = None,
        input_: bytes | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the aws cli against the server."""
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": access_key or self.access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key or self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }
        aws = Path(sys.executable).parent / "aws"
        cmd = [str(aws) if aws.exists() else "aws", "--endpoint-url", self.endpoint, *args]
        result = subprocess.run(
            cmd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            input=input_.decode() if input_ else None,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `strongroom ...` on this server's data directory."""
        result = subprocess.run(
            [sys.executable, "-m", "strongroom", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"strongroom {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def expect_log_errors(self, *patterns: str) -> None:
        """ERROR records (regular expressions, searched in the record's first line) this test provokes on
        purpose; the teardown check lets them, and a traceback logged with them, pass."""
        assert self.watch is not None
        self.watch.expected.extend(re.compile(p) for p in patterns)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.hung = True  # the factory's teardown fails the test for it
                self.process.kill()
                self.process.wait()

    def restart(self, *extra: str) -> RunningServer:
        """Stop, then serve the same data directory with the same environment and these flags."""
        self.stop()
        return spawn(
            self.data_dir, self.env, *extra, key_file=self.key_file, watch=self.watch, started=self.started
        )


# --- starting servers ---------------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without its STRONGROOM_/AWS_ variables (as a user's shell has it),
    plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM_", "AWS_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def server_env(data_dir: Path, key_file: Path) -> dict[str, str]:
    """The environment of a test server: a data directory, a root key file and root credentials."""
    return clean_env(
        STRONGROOM_DATA_DIR=str(data_dir),
        STRONGROOM_ROOT_KEY_FILE=str(key_file),
        STRONGROOM_ROOT_ACCESS_KEY=ROOT_AK,
        STRONGROOM_ROOT_SECRET_KEY="test-secret-" + secrets.token_hex(12),
    )


def new_root_key(key_file: Path) -> Path:
    if not key_file.exists():
        key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        key_file.chmod(0o600)
    return key_file


def spawn(
    data_dir: Path,
    env: Mapping[str, str],
    *flags: str,
    ready_by_env: bool = False,
    key_file: Path | None = None,
    cert: Path | None = None,
    watch: LogWatch | None = None,
    started: list[RunningServer] | None = None,
) -> RunningServer:
    """`strongroom serve` with exactly this environment (STRONGROOM_DATA_DIR set to `data_dir`) and these
    flags; it listens when this returns. Credentials from the environment, else from config.json."""
    ready = data_dir.parent / (data_dir.name + ".ready")
    ready.unlink(missing_ok=True)
    env = dict(env, STRONGROOM_DATA_DIR=str(data_dir))
    args = list(flags)
    if ready_by_env:
        env["STRONGROOM_READY_FILE"] = str(ready)
    else:
        args = ["--ready-file", str(ready), *args]
    if "STRONGROOM_PORT" not in env and "--port" not in args:
        args = ["--port", "0", *args]
    log_path = data_dir.parent / (data_dir.name + ".log")
    with open(log_path, "ab") as log_file:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "strongroom", "serve", *args],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while not ready.exists() or not ready.read_text().strip():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"strongroom did not start:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.05)
    port = int(ready.read_text())
    wait_listening(port, process, log_path)
    if "STRONGROOM_ROOT_SECRET_KEY" in env:
        access_key, secret_key = env["STRONGROOM_ROOT_ACCESS_KEY"], env["STRONGROOM_ROOT_SECRET_KEY"]
    else:
        stored = json.loads((data_dir / "config.json").read_text())
        access_key, secret_key = stored["root_access_key"], stored["root_secret_key"]
    started = started if started is not None else []
    running = RunningServer(
        data_dir,
        key_file or data_dir.parent / (data_dir.name + ".root-key"),
        port,
        process,
        log_path,
        env,
        access_key=access_key,
        secret_key=secret_key,
        scheme="https" if "--tls-cert" in args else "http",
        cert=cert,
        watch=watch or LogWatch(log_path),
        started=started,
    )
    started.append(running)
    return running


def wait_listening(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"strongroom exited:\n{log_path.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("strongroom is not listening")
