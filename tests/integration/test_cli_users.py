"""`strongroom user ...` against the data directory of a running server: what it prints, what it refuses,
and that the running server sees every change at once (keys are looked up on each request)."""

from __future__ import annotations

import re
import secrets

import pytest
from botocore.exceptions import ClientError

from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_code, keys_in
from tests.integration.server import RunningServer


def listing(server: RunningServer) -> dict[str, list[str]]:
    """`user list` as {name: [id, kind, keys]}."""
    rows = {}
    for line in server.cli("user", "list").stdout.splitlines():
        name, user_id, kind, keys = (line.split("\t") + [""])[:4]
        rows[name] = [user_id, kind, keys]
    return rows


def client_for(server: RunningServer, access: str, secret: str):
    return server.client("s3", access_key=access, secret_key=secret, retries={"max_attempts": 1})


def test_user_add_prints_generated_keys_once(server: RunningServer) -> None:
    added = server.cli("user", "add", "erin")
    access, secret = keys_in(added.stdout)
    assert re.fullmatch(r"[A-Z0-9]{20}", access)
    assert len(secret) >= 30
    assert "shown only now" in added.stdout
    erin = client_for(server, access, secret)
    name = "erin-" + secrets.token_hex(4)
    erin.create_bucket(Bucket=name)  # works at once, with no restart
    assert [b["Name"] for b in erin.list_buckets()["Buckets"]] == [name]
    # never shown again: not by `user list`, not in the catalog in plaintext
    rows = listing(server)
    assert rows["erin"][1:] == ["user", access]
    listed = server.cli("user", "list").stdout
    assert secret not in listed
    for path in server.data_dir.glob("catalog.sqlite3*"):
        assert secret.encode() not in path.read_bytes(), path


def test_user_add_with_chosen_keys(server: RunningServer) -> None:
    access, secret = "FRANKACCESSKEY000001", "frank-secret-" + secrets.token_hex(8)
    out = server.cli("user", "add", "frank", "--access-key", access, "--secret-key", secret).stdout
    assert keys_in(out) == (access, secret)
    frank = client_for(server, access, secret)
    assert frank.list_buckets()["Buckets"] == []
    with pytest.raises(ClientError) as caught:
        client_for(server, access, "frank-wrong-secret").list_buckets()
    assert error_code(caught.value) == "SignatureDoesNotMatch"


REFUSED = [
    (("user", "add", "root"), "invalid user name"),
    (("user", "add", "bad name!"), "invalid user name"),
    (("user", "add", "x" * 65), "invalid user name"),
    (("user", "add", "shorty", "--secret-key", "short"), "at least 8"),
    (("user", "add", "oddkey", "--access-key", "has space"), "access key"),
    (("user", "remove", "nobody"), "no user"),
    (("user", "remove", "root"), "cannot be removed"),
    (("user", "disable-key", "AKIANOSUCHKEY0000000"), "no access key"),
]


def test_refused_commands_change_nothing(server: RunningServer) -> None:
    before = listing(server)
    for args, message in REFUSED:
        result = server.cli(*args, check=False)
        assert result.returncode == 1, (args, result)
        assert message in result.stderr, (args, result.stderr)
    assert listing(server) == before


def test_duplicate_user_and_duplicate_key_are_refused(server: RunningServer) -> None:
    access, _ = keys_in(server.cli("user", "add", "gina").stdout)
    again = server.cli("user", "add", "gina", check=False)
    assert again.returncode == 1 and "exists already" in again.stderr
    taken = server.cli("user", "add", "hank", "--access-key", access, check=False)
    assert taken.returncode == 1 and "exists already" in taken.stderr
    assert "hank" not in listing(server)


def test_root_is_listed_and_works(server: RunningServer, s3) -> None:
    rows = listing(server)
    assert rows["root"][1] == "root"
    assert server.access_key in rows["root"][2]
    s3.list_buckets()


def test_key_changes_are_seen_at_once(server: RunningServer) -> None:
    first, first_secret = keys_in(server.cli("user", "add", "ivan").stdout)
    second, second_secret = keys_in(server.cli("user", "add-key", "ivan").stdout)
    assert first != second
    assert set(listing(server)["ivan"][2].split(", ")) == {first, second}
    one, two = client_for(server, first, first_secret), client_for(server, second, second_secret)
    one.list_buckets()
    two.list_buckets()
    server.cli("user", "disable-key", first)
    assert f"{first} (disabled)" in listing(server)["ivan"][2]
    with pytest.raises(ClientError) as caught:
        one.list_buckets()
    assert error_code(caught.value) == "InvalidAccessKeyId"
    two.list_buckets()
    server.cli("user", "enable-key", first)
    one.list_buckets()
    server.cli("user", "delete-key", second)
    with pytest.raises(ClientError) as caught:
        two.list_buckets()
    assert error_code(caught.value) == "InvalidAccessKeyId"
    one.list_buckets()


def test_user_remove_is_seen_at_once(server: RunningServer, s3) -> None:
    access, secret = keys_in(server.cli("user", "add", "judy").stdout)
    judy = client_for(server, access, secret)
    judy.list_buckets()
    out = server.cli("user", "remove", "judy").stdout
    assert "removed user judy" in out
    assert "judy" not in listing(server)
    with pytest.raises(ClientError) as caught:
        judy.list_buckets()
    assert error_code(caught.value) == "InvalidAccessKeyId"
    # the name can be used again, with new keys; the old ones stay dead
    new_access, new_secret = keys_in(server.cli("user", "add", "judy").stdout)
    client_for(server, new_access, new_secret).list_buckets()
    with pytest.raises(ClientError):
        judy.list_buckets()
    s3.list_buckets()


def test_cli_without_a_data_directory(server: RunningServer, tmp_path) -> None:
    import subprocess
    import sys

    env = {**server.env, "STRONGROOM_DATA_DIR": str(tmp_path / "absent")}
    result = subprocess.run(
        [sys.executable, "-m", "strongroom", "user", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "no data directory" in result.stderr
    assert not (tmp_path / "absent").exists()


# --- the root's access keys (issue 14) ------------------------------------------------------------


def test_a_new_root_access_key_disables_the_old_one(start_server: ServerFactory) -> None:
    first = start_server()
    old_access, old_secret = first.access_key, first.secret_key
    name = "root-" + secrets.token_hex(4)
    first.client("s3").create_bucket(Bucket=name)
    first.stop()
    new_access, new_secret = "SRNEWROOTKEY00000002", "new-root-secret-" + secrets.token_hex(8)
    second = start_server(like=first, env={"STRONGROOM_ROOT_ACCESS_KEY": new_access,
                                           "STRONGROOM_ROOT_SECRET_KEY": new_secret})
    assert second.access_key == new_access
    assert [b["Name"] for b in second.client("s3").list_buckets()["Buckets"]] == [name]
    with pytest.raises(ClientError) as caught:
        client_for(second, old_access, old_secret).list_buckets()
    assert error_code(caught.value) == "InvalidAccessKeyId"
    # disabled, not deleted: listed as such, and said so in the log at INFO with the key id, no secret
    keys = listing(second)["root"][2].split(", ")
    assert set(keys) == {new_access, f"{old_access} (disabled)"}
    log = second.log()
    assert re.search(rf"INFO strongroom\.identity: disabled root access key {old_access}\b", log), log
    assert old_secret not in log and new_secret not in log
    # the old key can be deleted; the configured one cannot be added to, and comes back enabled at start
    assert "deleted access key" in second.cli("user", "delete-key", old_access).stdout
    assert listing(second)["root"][2] == new_access
    refused = second.cli("user", "add-key", "root", check=False)
    assert refused.returncode == 1 and "STRONGROOM_ROOT_ACCESS_KEY" in refused.stderr
    assert "disabled access key" in second.cli("user", "disable-key", new_access).stdout
    assert listing(second)["root"][2] == f"{new_access} (disabled)"
    with pytest.raises(ClientError) as caught:
        second.client("s3", retries={"max_attempts": 1}).list_buckets()
    assert error_code(caught.value) == "InvalidAccessKeyId"
    third = second.restart()
    assert listing(third)["root"][2] == new_access
    third.client("s3").list_buckets()
    # and going back to the first key: it is enabled again (with its own secret), the second disabled
    third.stop()
    fourth = start_server(like=first)
    assert fourth.access_key == old_access
    fourth.client("s3").list_buckets()
    assert set(listing(fourth)["root"][2].split(", ")) == {old_access, f"{new_access} (disabled)"}
    with pytest.raises(ClientError) as caught:
        client_for(fourth, new_access, new_secret).list_buckets()
    assert error_code(caught.value) == "InvalidAccessKeyId"
