"""A real `strongroom serve` process for tests: fresh data directory, free port, real credentials."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config as BotoConfig

ROOT_AK = "SRTESTROOTKEY0000001"


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

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def client(
        self,
        service: str = "s3",
        access_key: str | None = None,
        secret_key: str | None = None,
        **config: object,
    ):
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name="us-east-1",
            config=BotoConfig(**config) if config else None,
            verify=False,
        )

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

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self, *extra: str) -> RunningServer:
        self.stop()
        return start_server(self.data_dir, self.key_file, extra_args=extra, env_extra=None, base_env=self.env)


def start_server(
    data_dir: Path,
    key_file: Path | None = None,
    extra_args: tuple[str, ...] = (),
    env_extra: dict[str, str] | None = None,
    base_env: dict[str, str] | None = None,
    scheme: str = "http",
) -> RunningServer:
    key_file = key_file or data_dir.parent / (data_dir.name + ".root-key")
    if not key_file.exists():
        key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        key_file.chmod(0o600)
    if base_env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM_", "AWS_"))}
        env.update(
            {
                "STRONGROOM_DATA_DIR": str(data_dir),
                "STRONGROOM_ROOT_KEY_FILE": str(key_file),
                "STRONGROOM_ROOT_ACCESS_KEY": ROOT_AK,
                "STRONGROOM_ROOT_SECRET_KEY": "test-secret-" + secrets.token_hex(12),
                "PYTHONUNBUFFERED": "1",
            }
        )
    else:
        env = dict(base_env)
    env.update(env_extra or {})
    ready = data_dir.parent / (data_dir.name + ".ready")
    ready.unlink(missing_ok=True)
    log_path = data_dir.parent / (data_dir.name + ".log")
    with open(log_path, "ab") as log_file:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "strongroom",
                "serve",
                "--port",
                "0",
                "--ready-file",
                str(ready),
                *extra_args,
            ],
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
    _wait_listening(port, process, log_path)
    return RunningServer(
        data_dir,
        key_file,
        port,
        process,
        log_path,
        env,
        secret_key=env["STRONGROOM_ROOT_SECRET_KEY"],
        scheme=scheme,
    )


def _wait_listening(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    import socket

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
