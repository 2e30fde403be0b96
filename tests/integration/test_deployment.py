"""What ties a deployment's parts together, and what its servers know of each other: the deployment id
(data directory <-> catalog), the registry of live servers (`strongroom servers`), and `root-key rotate`
coordinated with the servers through the catalog."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from strongroom.catalog import MetadataSealer, open_catalog
from strongroom.config import Config, read_key_file
from strongroom.servers import RotationLock
from tests.integration.factory import ServerFactory
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path


@pytest.fixture
def catalog_url() -> Iterator[str]:
    with fresh_schema("deploy") as schema:
        yield with_search_path(POSTGRES_URL, schema)


@pytest.fixture
def start(catalog_url: str, start_server: ServerFactory) -> ServerFactory:
    """`start_server`, whose servers stop before the catalog's schema is dropped."""
    return start_server


def serve(env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    """`strongroom serve` expected to refuse: it ends by itself."""
    return subprocess.run([sys.executable, "-m", "strongroom", "serve", "--port", "0", *flags],
                          env=env, capture_output=True, text=True, timeout=60)


def deployment_id(server: RunningServer) -> str:
    return (server.data_dir / "deployment-id").read_text().strip()


# --- the deployment id ---------------------------------------------------------------------------------


def test_a_first_start_gives_the_catalog_and_the_data_directory_one_id(start_server: ServerFactory) -> None:
    server = start_server()
    path = server.data_dir / "deployment-id"
    assert path.stat().st_mode & 0o777 == 0o600
    ours = deployment_id(server)
    assert len(ours) == 32
    catalog = open_catalog(_location(server), MetadataSealer.of(read_key_file(server.key_file)))
    try:
        assert catalog.get_setting("deployment_id") == ours
    finally:
        catalog.close()
    assert deployment_id(server.restart()) == ours  # kept


def test_an_empty_data_directory_on_a_shared_catalog_is_refused(start: ServerFactory, catalog_url: str,
                                                                tmp_path) -> None:
    first = start(env={"STRONGROOM_CATALOG": catalog_url})
    empty = tmp_path / "not-mounted"
    empty.mkdir(mode=0o700)
    refused = serve({**first.env, "STRONGROOM_DATA_DIR": str(empty)})
    assert refused.returncode != 0
    assert (f"the data directory {empty} holds no deployment id, but the catalog at" in refused.stderr
            and f"belongs to deployment {deployment_id(first)}: is the shared filesystem mounted?"
            in refused.stderr), refused.stderr
    assert not (empty / "blobs").exists() and not (empty / "deployment-id").exists()  # nothing written
    # A command uses the catalog alone: it runs from a machine of its own, and gives that directory no id.
    listed = subprocess.run([sys.executable, "-m", "strongroom", "user", "list"], capture_output=True,
                            env={**first.env, "STRONGROOM_DATA_DIR": str(empty)}, text=True)
    assert listed.returncode == 0 and not (empty / "deployment-id").exists()


def test_a_data_directory_of_another_deployment_is_refused(start: ServerFactory, catalog_url: str) -> None:
    ours = start(env={"STRONGROOM_CATALOG": catalog_url})
    other = start()  # another deployment (its own SQLite catalog, data directory and id)
    other.stop()
    env = {**other.env, "STRONGROOM_CATALOG": catalog_url, "STRONGROOM_ROOT_KEY_FILE": str(ours.key_file)}
    for refused in (serve(env), subprocess.run([sys.executable, "-m", "strongroom", "user", "list"],
                                               env=env, capture_output=True, text=True)):
        assert refused.returncode != 0  # a server, and a command too
        assert (f"the data directory {other.data_dir} belongs to deployment {deployment_id(other)}, the "
                f"catalog at" in refused.stderr
                and f"to deployment {deployment_id(ours)}: refusing to start" in refused.stderr)


def test_a_new_catalog_for_a_data_directory_that_has_one_is_refused(start: ServerFactory) -> None:
    server = start()
    server.stop()
    with fresh_schema("deploy") as schema:
        refused = serve({**server.env, "STRONGROOM_CATALOG": with_search_path(POSTGRES_URL, schema)})
    assert refused.returncode != 0
    assert (f"belongs to deployment {deployment_id(server)}, but the catalog at" in refused.stderr
            and "has no deployment id" in refused.stderr), refused.stderr


def test_a_lost_deployment_id_file_is_refused_on_sqlite_too(start_server: ServerFactory) -> None:
    server = start_server()
    ours = deployment_id(server)
    server.stop()
    (server.data_dir / "deployment-id").unlink()
    refused = serve(server.env)
    assert refused.returncode != 0
    assert f"write {ours} into {server.data_dir / 'deployment-id'}" in refused.stderr


# --- the registry of live servers ---------------------------------------------------------------------


def test_strongroom_servers_lists_the_servers_of_one_postgresql_catalog(start: ServerFactory,
                                                                          catalog_url: str) -> None:
    a = start(env={"STRONGROOM_CATALOG": catalog_url})
    b = start(like=a)
    listed = a.cli("servers").stdout.splitlines()
    assert len(listed) == 2
    by_address = {line.split("\t")[2]: line for line in listed}
    assert set(by_address) == {a.endpoint, b.endpoint}
    for server in (a, b):
        line = by_address[server.endpoint]
        assert "\talive\t" in line and f"(pid {server.process.pid}, {server.endpoint}" in line
        assert "serve on " in line
    b.stop()  # a clean stop deregisters at once
    assert [line.split("\t")[2] for line in a.cli("servers").stdout.splitlines()] == [a.endpoint]


def test_a_killed_server_counts_as_alive_for_three_heartbeats(start: ServerFactory, catalog_url: str) -> None:
    a = start("--heartbeat-interval", "3", env={"STRONGROOM_CATALOG": catalog_url})
    a.stop(signal.SIGKILL)  # no deregistration
    killed = time.monotonic()
    assert "\talive\t" in a.cli("servers").stdout
    refused = a.cli("root-key", "rotate", check=False)
    assert refused.returncode != 0 and f"(pid {a.process.pid}, {a.endpoint}" in refused.stderr
    assert time.monotonic() - killed < 9, "too slow to see it alive: the test proves nothing"
    time.sleep(max(0.0, killed + 9.5 - time.monotonic()))
    assert a.cli("servers").stdout == ""
    assert "\tdead\t" in a.cli("servers", "--all").stdout
    assert "re-sealed" in a.cli("root-key", "rotate").stdout  # dead: it no longer holds rotation back


# --- root-key rotation and the servers ----------------------------------------------------------------


def test_rotation_refuses_while_servers_run_naming_them(start: ServerFactory, catalog_url: str) -> None:
    a = start(env={"STRONGROOM_CATALOG": catalog_url})
    b = start(like=a)
    key_before = a.key_file.read_text()
    refused = a.cli("root-key", "rotate", check=False)
    assert refused.returncode != 0
    assert "2 server(s) are running on this catalog" in refused.stderr
    assert a.endpoint in refused.stderr and b.endpoint in refused.stderr
    assert a.key_file.read_text() == key_before  # nothing was done
    a.client().list_buckets()  # and both still serve
    b.client().list_buckets()
    a.stop()
    b.stop()
    assert "re-sealed" in a.cli("root-key", "rotate").stdout
    assert a.key_file.read_text() != key_before
    assert a.restart().client().list_buckets()["Buckets"] == []


def test_a_server_does_not_start_while_a_rotation_holds_the_catalog(start_server: ServerFactory) -> None:
    server = start_server()
    server.stop()
    catalog = open_catalog(_location(server), MetadataSealer.of(read_key_file(server.key_file)))
    lock = RotationLock(catalog)
    lock.acquire()  # as `root-key rotate` does for as long as it runs
    try:
        refused = serve(server.env)
        assert refused.returncode != 0
        assert "a root-key rotation is running on this catalog (root-key rotate on" in refused.stderr
        assert f"pid {os.getpid()}" in refused.stderr
        assert "start the server once it has finished" in refused.stderr
        # and a second rotation does not run beside it
        second = server.cli("root-key", "rotate", check=False)
        assert second.returncode != 0 and "another root-key rotation is running" in second.stderr
    finally:
        lock.release()
        catalog.close()
    assert server.restart().client().list_buckets()["Buckets"] == []  # released: it starts


def _location(server: RunningServer) -> Config:
    """Where the server's catalog is (a Config is a Location)."""
    return Config(data_dir=server.data_dir, catalog_url=server.env.get("STRONGROOM_CATALOG", ""))
