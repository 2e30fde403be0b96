"""The data directory, the root key and the server's memory are its user's alone (issue 14).

Each test drives a real `strongroom serve` (or a refused start of one) on real files.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.server import ROOT_AK

NOBODY = 65534


def serve_fails(data_dir: Path, key_file: Path | None = None, *args: str,
                env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`strongroom serve` that must refuse to start: its exit status and what it said."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM_", "AWS_"))}
    env.update({"STRONGROOM_ROOT_ACCESS_KEY": ROOT_AK, "STRONGROOM_ROOT_SECRET_KEY": "s" * 40})
    env.update(env_extra or {})
    cmd = [sys.executable, "-m", "strongroom", "serve", "--port", "0", "--data-dir", str(data_dir)]
    if key_file is not None:
        cmd += ["--root-key-file", str(key_file)]
    result = subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0, f"strongroom started:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def new_key_file(path: Path, mode: int = 0o600) -> Path:
    path.write_text(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    path.chmod(mode)
    return path


def modes_open_to_others(root: Path) -> list[str]:
    found = []
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and mode & 0o077:
            found.append(f"{path} {stat.S_IMODE(mode):o}")
    return found


def test_everything_the_server_creates_is_private(start_server: ServerFactory) -> None:
    server = start_server()
    try:
        s3 = server.client()
        s3.create_bucket(Bucket="private")
        s3.put_object(Bucket="private", Key="big", Body=os.urandom(200_000))  # a blob file, not inline
        server.cli("user", "add", "alice")
        created = modes_open_to_others(server.data_dir)
        assert (server.data_dir / "catalog.sqlite3").exists()
        assert created == []
    finally:
        server.stop()


def test_a_key_file_open_to_others_is_refused(tmp_path: Path) -> None:
    key = new_key_file(tmp_path / "data.root-key", 0o644)
    result = serve_fails(tmp_path / "data", key)
    assert "chmod 600" in result.stderr and str(key) in result.stderr


def test_a_key_file_of_another_user_is_refused(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    key = new_key_file(tmp_path / "data.root-key")
    os.chown(key, NOBODY, NOBODY)  # planted beside the data directory by another account
    result = serve_fails(tmp_path / "data")
    assert f"belongs to uid {NOBODY}" in result.stderr


def test_a_key_file_behind_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    real = new_key_file(tmp_path / "elsewhere.key")
    link = tmp_path / "data.root-key"
    link.symlink_to(real)
    result = serve_fails(tmp_path / "data", link)
    assert "cannot open the root key file" in result.stderr


def test_a_data_directory_open_to_others_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    result = serve_fails(data, new_key_file(tmp_path / "k"))
    assert "chmod 700" in result.stderr


def test_a_readable_config_json_is_refused(start_server: ServerFactory) -> None:
    server = start_server()
    server.stop()
    config = server.data_dir / "config.json"
    config.write_text('{"root_access_key": "SRX", "root_secret_key": "y"}\n')
    config.chmod(0o644)
    env = {"STRONGROOM_ROOT_ACCESS_KEY": "", "STRONGROOM_ROOT_SECRET_KEY": ""}
    result = serve_fails(server.data_dir, server.key_file, env_extra=env)
    assert "config.json" in result.stderr and "chmod 600" in result.stderr


def test_a_root_key_the_catalog_does_not_know_is_refused(
        tmp_path: Path, start_server: ServerFactory) -> None:
    server = start_server()
    s3 = server.client()
    s3.create_bucket(Bucket="right-key")
    s3.put_object(Bucket="right-key", Key="k", Body=b"sealed under the right key")
    server.stop()
    wrong = new_key_file(tmp_path / "wrong.key")
    result = serve_fails(server.data_dir, wrong)
    assert "is not the one this catalog's data is sealed under" in result.stderr
    # The CLI refuses the wrong key as well: it would seal new secrets under it.
    env = {**server.env, "STRONGROOM_ROOT_KEY_FILE": str(wrong)}
    refused = subprocess.run([sys.executable, "-m", "strongroom", "user", "add", "mallory"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "is not the one" in refused.stderr
    again = server.restart()  # the right key: everything is there
    try:
        body = again.client().get_object(Bucket="right-key", Key="k")["Body"].read()
        assert body == b"sealed under the right key"
    finally:
        again.stop()


def test_the_generated_root_secret_is_not_printed_to_a_log(start_server: ServerFactory) -> None:
    env = {"STRONGROOM_ROOT_ACCESS_KEY": "", "STRONGROOM_ROOT_SECRET_KEY": ""}
    server = start_server(env=env)
    try:
        stored = (server.data_dir / "config.json").read_text()
        secret = stored.split('"root_secret_key": "')[1].split('"')[0]
        log = server.log()
        assert secret not in log
        assert str((server.data_dir / "config.json").resolve()) in log
        assert stat.S_IMODE((server.data_dir / "config.json").stat().st_mode) == 0o600
    finally:
        server.stop()


def test_no_core_dumps_and_not_dumpable(start_server: ServerFactory) -> None:
    server = start_server()
    try:
        limits = Path(f"/proc/{server.process.pid}/limits").read_text()
        core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
        assert core.split()[4:6] == ["0", "0"], core
    finally:
        server.stop()
    probe = ("from strongroom import process; assert process.dumpable(); process.harden(); "
             "print(process.dumpable())")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_secrets_on_the_command_line_warn_and_files_serve_instead(tmp_path: Path) -> None:
    secret_file = tmp_path / "kms-secret"
    secret_file.write_text("from-a-file\n")
    secret_file.chmod(0o600)
    catalog_file = tmp_path / "catalog-url"
    catalog_file.write_text("mysql://not-a-catalog\n")
    catalog_file.chmod(0o600)
    # A password in --catalog is warned about before anything else happens (the URL is refused after).
    result = serve_fails(tmp_path / "data", new_key_file(tmp_path / "k"), "--catalog",
                         "postgresql://user:hunter2@127.0.0.1:1/db", "--kms-secret-key", "on-the-line")
    assert "--catalog carries a password on the command line" in result.stderr
    assert "--kms-secret-key on the command line" in result.stderr
    assert "hunter2" not in result.stderr and "on-the-line" not in result.stderr
    # --catalog-file is read (its URL is the one checked: refused here as not postgresql://)
    result = serve_fails(tmp_path / "data", tmp_path / "k", "--catalog-file", str(catalog_file))
    assert "--catalog must be a postgresql:// URL" in result.stderr and "warning" not in result.stderr
