"""Audit: what a fresh deployment creates and reads at start-up (issues 2 and 3), end to end.

A server started with nothing configured generates its root credentials (config.json, mode 0600,
the secret printed once), its account id (kept across restarts) and its root key (a 0600 file beside
the data directory, with a warning); every `serve` option is also a STRONGROOM_* variable (port,
region, base domain, ready file), a flag wins over its variable, STRONGROOM_ACCOUNT_ID and
STRONGROOM_ROOT_KEY are honoured; the SQLite catalog runs in WAL mode; an error document names its
Resource; a bad variable is a clean error, not a traceback.
"""

from __future__ import annotations

import base64
import secrets
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import free_port, virtual_client
from tests.integration.server import RunningServer, clean_env


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- nothing configured: everything generated once, and kept -------------------------------------------


def test_first_start_generates_credentials_account_and_root_key(start_server: ServerFactory) -> None:
    server = start_server(bare=True)
    data_dir = server.data_dir
    try:
        config = data_dir / "config.json"
        key_file = data_dir.parent / "data.root-key"
        assert mode(config) == 0o600
        assert key_file.exists() and mode(key_file) == 0o600  # beside the data directory, not in it
        assert len(base64.b64decode(key_file.read_text().strip())) == 32
        assert not any(p.name.endswith("root-key") for p in data_dir.rglob("*"))
        first_log = server.log()
        assert "generated a new root key" in first_log and "back it up" in first_log
        # Not a terminal: the secret stays in config.json (mode 0600), whose path is printed (issue 14).
        assert first_log.count(server.secret_key) == 0 and str(config.resolve()) in first_log
        who = server.client("sts").get_caller_identity()
        account = who["Account"]
        assert len(account) == 12 and account.isdigit()
        assert who["Arn"] == f"arn:aws:iam::{account}:root"
        s3 = server.client("s3")
        s3.create_bucket(Bucket="kept")
        s3.put_object(Bucket="kept", Key="k", Body=b"written under the generated key")
    finally:
        server.stop()
    again = server.restart()
    try:
        log = again.log()
        assert log.count(again.secret_key) == 0, "the secret is never printed to a log"
        assert log.count("generated a new root key") == 1
        assert again.client("sts").get_caller_identity()["Account"] == account  # kept
        s3 = again.client("s3")
        assert s3.get_object(Bucket="kept", Key="k")["Body"].read() == b"written under the generated key"
    finally:
        again.stop()


# --- everything from the environment -----------------------------------------------------------------


def test_serve_options_account_and_root_key_from_the_environment(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    port, root_key = free_port(), secrets.token_bytes(32)
    env = clean_env(
        STRONGROOM_PORT=str(port), STRONGROOM_REGION="eu-west-3", STRONGROOM_BASE_DOMAIN="s3.example.test",
        STRONGROOM_ACCOUNT_ID="123456789012", STRONGROOM_ROOT_KEY=base64.b64encode(root_key).decode(),
        STRONGROOM_ROOT_ACCESS_KEY="SRAUDITENVROOT000001",
        STRONGROOM_ROOT_SECRET_KEY="audit-" + secrets.token_hex(8))
    server = start_server(env=env, bare=True, ready_by_env=True, data_dir=tmp_path / "data")
    try:
        assert server.port == port
        assert not (tmp_path / "data.root-key").exists()  # the key came from STRONGROOM_ROOT_KEY
        assert not (tmp_path / "data" / "config.json").exists()  # the credentials came from the environment
        who = server.client("sts", region="eu-west-3").get_caller_identity()
        assert (who["Account"], who["Arn"]) == ("123456789012", "arn:aws:iam::123456789012:root")
        arn = server.client("kms", region="eu-west-3").create_key()["KeyMetadata"]["Arn"]
        assert arn.startswith("arn:aws:kms:eu-west-3:123456789012:key/")
        s3 = server.client("s3", region="eu-west-3")
        s3.create_bucket(Bucket="paris", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
        assert s3.get_bucket_location(Bucket="paris")["LocationConstraint"] == "eu-west-3"
        vs3, hosts = virtual_client(server, "s3.example.test", "eu-west-3")
        vs3.put_object(Bucket="paris", Key="v", Body=b"virtually")
        assert hosts[-1] == f"paris.s3.example.test:{port}"
        assert s3.get_object(Bucket="paris", Key="v")["Body"].read() == b"virtually"
    finally:
        server.stop()
    # A flag wins over its variable.
    flagged = server.restart("--port", "0", "--region", "us-east-1")
    try:
        assert flagged.port != port
        assert flagged.client("s3").get_object(Bucket="paris", Key="v")["Body"].read() == b"virtually"
        assert flagged.client("kms").create_key()["KeyMetadata"]["Arn"].startswith("arn:aws:kms:us-east-1:")
    finally:
        flagged.stop()


@pytest.mark.parametrize("variable", ["STRONGROOM_ACCOUNT_ID", "STRONGROOM_ROOT_KEY"])
def test_bad_account_id_or_root_key_is_a_clean_refusal(tmp_path: Path, variable: str) -> None:
    env = clean_env(**{variable: "12" if variable == "STRONGROOM_ACCOUNT_ID" else "bm90IDMyIGJ5dGVz"},
                    STRONGROOM_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run([sys.executable, "-m", "strongroom", "serve", "--port", "0"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "strongroom:" in done.stderr


@pytest.mark.parametrize("variable", ["STRONGROOM_PORT", "STRONGROOM_WORKERS"])
def test_non_integer_port_or_workers_variable_is_a_clean_error(tmp_path: Path, variable: str) -> None:
    env = clean_env(**{variable: "abc"}, STRONGROOM_DATA_DIR=str(tmp_path / "data"))
    for command in (["serve"], ["user", "list"]):
        done = subprocess.run([sys.executable, "-m", "strongroom", *command], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode != 0
        assert "Traceback" not in done.stderr, done.stderr


# --- the shared test server: the catalog's journal, the error document -------------------------------


def test_catalog_runs_in_wal_mode(server: RunningServer, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    db = sqlite3.connect(f"file:{server.data_dir / 'catalog.sqlite3'}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    finally:
        db.close()


def test_error_document_names_the_resource_and_request(server: RunningServer, bucket: str) -> None:
    reply = server.raw("GET", f"/{bucket}/no/such%20key")
    assert (reply.status, reply.code) == (404, "NoSuchKey")
    assert reply.detail("Resource") == f"/{bucket}/no/such key"
    assert reply.detail("RequestId") == reply.headers["x-amz-request-id"]
    assert reply.detail("Message") == "The specified key does not exist."
    missing = server.raw("GET", f"/absent-{secrets.token_hex(4)}")
    assert missing.code == "NoSuchBucket" and missing.detail("Resource") is not None


# --- a port already served -------------------------------------------------------------------------


def test_a_second_server_on_a_taken_port_is_refused(server: RunningServer,
                                                    start_server: ServerFactory) -> None:
    try:
        other = start_server("--port", str(server.port), env={"STRONGROOM_ROOT_SECRET_KEY": "another-store"})
    except RuntimeError as e:  # it exits: what a user should see
        assert "Traceback" not in str(e)
        return
    try:
        answers = {server.raw("GET", "/").code or "OK" for _ in range(30)}
    finally:
        other.stop()
    pytest.fail(f"a second store serves port {server.port} too; 30 ListBuckets answered {sorted(answers)}")
