"""Servers on one PostgreSQL cache access keys, user policies, buckets and bucket configurations: every
change reaches every server promptly (catalog/read_cache.py, catalog/change_feed.py).

Two server processes share one schema and one data directory, as behind a load balancer. A change
made through one server or the CLI (a third process) must be seen by the other within PROMPTLY
seconds: far below the cache's MAX_AGE, so these tests fail if announcements were not heard. Below
them, the catalog itself: it does cache (a row changed behind its back without an announcement is
still served), and an announcement or its own change clears it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from botocore.exceptions import ClientError

from strongroom.catalog.change_feed import RETRY_S, announce
from strongroom.catalog.model import AccessKey, Bucket, User
from strongroom.catalog.postgres import PostgresCatalog
from strongroom.catalog.read_cache import MAX_AGE
from strongroom.catalog.sealer import MetadataSealer
from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_code
from tests.integration.principals import new_user
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

pytestmark = pytest.mark.postgres

PROMPTLY = 1.0  # seconds: what "at once" means across servers here (the cache trusts entries for 5 s)
assert PROMPTLY < MAX_AGE


@pytest.fixture(scope="module")
def schema() -> Iterator[str]:
    with fresh_schema("cache") as name:
        yield name


@pytest.fixture(scope="module")
def catalog_url(schema: str) -> str:
    return with_search_path(POSTGRES_URL, schema)


@pytest.fixture(scope="module")
def servers(catalog_url: str, start_module_server: ServerFactory) -> tuple[RunningServer, RunningServer]:
    first = start_module_server(env={"STRONGROOM_CATALOG": catalog_url})
    return first, start_module_server(like=first)


def code_of(call: Callable[[], object]) -> str:
    """The S3 error code `call` answers, or "ok"."""
    try:
        call()
    except ClientError as e:
        return error_code(e)
    return "ok"


def becomes(want: str, call: Callable[[], object]) -> float:
    """Seconds until `call` answers `want` (an error code or "ok"); fails after PROMPTLY."""
    start = time.monotonic()
    while (got := code_of(call)) != want:
        assert time.monotonic() - start < PROMPTLY, f"still {got} after {PROMPTLY} s, expected {want}"
        time.sleep(0.01)
    return time.monotonic() - start


def warm(call: Callable[[], object], times: int = 3) -> None:
    for _ in range(times):
        assert code_of(call) == "ok"


def policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_a_key_disabled_or_removed_elsewhere_is_refused_by_every_server(servers) -> None:
    a, b = servers
    root = a.client("s3")
    name = f"keys-{secrets.token_hex(4)}"
    root.create_bucket(Bucket=name)
    user = new_user(a, "kim")
    root.put_bucket_policy(Bucket=name, Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": user.arn}, "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{name}"}))
    clients = [b.client("s3", access_key=user.access, secret_key=user.secret, retries={"max_attempts": 1}),
               a.client("s3", access_key=user.access, secret_key=user.secret, retries={"max_attempts": 1})]
    for c in clients:
        warm(lambda c=c: c.list_objects_v2(Bucket=name))  # the key is in both servers' caches
    a.cli("user", "disable-key", user.access)  # a third process: the CLI on the same catalog
    for c in clients:
        becomes("InvalidAccessKeyId", lambda c=c: c.list_objects_v2(Bucket=name))
    a.cli("user", "enable-key", user.access)
    for c in clients:
        becomes("ok", lambda c=c: c.list_objects_v2(Bucket=name))
        warm(lambda c=c: c.list_objects_v2(Bucket=name))
    a.cli("user", "delete-key", user.access)
    for c in clients:
        becomes("InvalidAccessKeyId", lambda c=c: c.list_objects_v2(Bucket=name))


def test_a_bucket_policy_changed_on_one_server_is_enforced_by_the_other(servers) -> None:
    a, b = servers
    name = f"policy-{secrets.token_hex(4)}"
    a.client("s3").create_bucket(Bucket=name)
    user = new_user(a, "lee")
    allow = {"Effect": "Allow", "Principal": {"AWS": user.arn}, "Action": ["s3:PutObject", "s3:GetObject"],
             "Resource": f"arn:aws:s3:::{name}/*"}
    a.client("s3").put_bucket_policy(Bucket=name, Policy=policy(allow))
    on_b = b.client("s3", access_key=user.access, secret_key=user.secret, retries={"max_attempts": 1})
    becomes("ok", lambda: on_b.put_object(Bucket=name, Key="k", Body=b"v"))
    warm(lambda: on_b.get_object(Bucket=name, Key="k"))
    deny = {"Effect": "Deny", "Principal": {"AWS": user.arn}, "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{name}/*"}
    a.client("s3").put_bucket_policy(Bucket=name, Policy=policy(allow, deny))
    becomes("AccessDenied", lambda: on_b.get_object(Bucket=name, Key="k"))
    assert code_of(lambda: on_b.put_object(Bucket=name, Key="k2", Body=b"v")) == "ok"
    a.client("s3").delete_bucket_policy(Bucket=name)
    becomes("AccessDenied", lambda: on_b.put_object(Bucket=name, Key="k3", Body=b"v"))


def test_a_user_policy_detached_elsewhere_stops_granting_on_every_server(servers, tmp_path: Path) -> None:
    a, b = servers
    name = f"userpol-{secrets.token_hex(4)}"
    a.client("s3").create_bucket(Bucket=name)
    user = new_user(a, "max")
    reader = tmp_path / "reader.json"
    reader.write_text(policy({"Effect": "Allow", "Action": "s3:ListBucket",
                              "Resource": f"arn:aws:s3:::{name}"}))
    on_b = b.client("s3", access_key=user.access, secret_key=user.secret, retries={"max_attempts": 1})
    assert code_of(lambda: on_b.list_objects_v2(Bucket=name)) == "AccessDenied"
    a.cli("policy", "attach", user.name, str(reader), "--name", "reader")
    becomes("ok", lambda: on_b.list_objects_v2(Bucket=name))
    warm(lambda: on_b.list_objects_v2(Bucket=name))  # the user's policies in b's cache
    a.cli("policy", "detach", user.name, "reader")
    becomes("AccessDenied", lambda: on_b.list_objects_v2(Bucket=name))


def test_a_bucket_made_again_by_another_owner_is_not_served_from_the_old_one(servers, tmp_path: Path) -> None:
    a, b = servers
    name = f"again-{secrets.token_hex(4)}"
    first, second = new_user(a, "ann"), new_user(a, "bo")
    everything = tmp_path / "all.json"
    everything.write_text(policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
    for user in (first, second):
        a.cli("policy", "attach", user.name, str(everything), "--name", "all")
    first.client().create_bucket(Bucket=name)
    first_on_b = b.client("s3", access_key=first.access, secret_key=first.secret, retries={"max_attempts": 1})
    first_on_b.put_object(Bucket=name, Key="old", Body=b"old")
    first_on_b.put_bucket_policy(Bucket=name, Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": first.arn}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*"}))
    warm(lambda: first_on_b.get_bucket_policy(Bucket=name))  # bucket and configs cached by b
    root_on_b = b.client("s3")
    owner = root_on_b.get_bucket_acl(Bucket=name)["Owner"]["ID"]
    first.client().delete_object(Bucket=name, Key="old")
    first.client().delete_bucket(Bucket=name)
    second.client().create_bucket(Bucket=name)  # the same name, another owner, no configs
    becomes("NoSuchBucketPolicy", lambda: root_on_b.get_bucket_policy(Bucket=name))
    assert root_on_b.get_bucket_acl(Bucket=name)["Owner"]["ID"] != owner
    second_on_b = b.client("s3", access_key=second.access, secret_key=second.secret)
    second_on_b.put_object(Bucket=name, Key="new", Body=b"new")
    assert [o["Key"] for o in root_on_b.list_objects_v2(Bucket=name)["Contents"]] == ["new"]


def test_a_bucket_deleted_on_one_server_is_gone_on_the_other(servers) -> None:
    a, b = servers
    name = f"gone-{secrets.token_hex(4)}"
    a.client("s3").create_bucket(Bucket=name)
    warm(lambda: b.client("s3").head_bucket(Bucket=name))
    a.client("s3").delete_bucket(Bucket=name)
    becomes("404", lambda: b.client("s3").head_bucket(Bucket=name))
    assert code_of(lambda: b.client("s3").list_objects_v2(Bucket=name)) == "NoSuchBucket"


def test_cors_rules_changed_on_one_server_answer_preflights_on_the_other(servers) -> None:
    """A preflight is answered from the cached bucket configuration: a change elsewhere reaches it."""
    a, b = servers
    name = f"cors-{secrets.token_hex(4)}"
    a.client("s3").create_bucket(Bucket=name)

    def preflight_on_b() -> int:
        headers = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"}
        return b.raw("OPTIONS", f"/{name}/k", headers=headers, sign=False).status

    for _ in range(3):
        assert preflight_on_b() == 403  # cached: CORS is not enabled
    rules = {"CORSRules": [{"AllowedOrigins": ["https://app.example.com"], "AllowedMethods": ["GET"]}]}
    a.client("s3").put_bucket_cors(Bucket=name, CORSConfiguration=rules)
    until(lambda: preflight_on_b() == 200, "the rules put on one server are not applied by the other")
    a.client("s3").delete_bucket_cors(Bucket=name)
    until(lambda: preflight_on_b() == 403, "the rules deleted on one server still answer on the other")


# --- the catalog itself -----------------------------------------------------------------------------------

SEALER = MetadataSealer.of([bytes(range(32))])


@pytest.fixture
def following(catalog_url: str) -> Iterator[PostgresCatalog]:
    catalog = PostgresCatalog.open(catalog_url, SEALER)
    catalog.follow_changes()
    yield catalog
    catalog.close()


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PROMPTLY
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_the_catalog_caches_until_a_change_is_announced(following: PostgresCatalog, schema: str) -> None:
    until(lambda: following.cache.generation > 0 and following.cache.on, "never started listening")
    name = f"cached-{secrets.token_hex(4)}"
    following.create_bucket(Bucket(name, "owner-1", "us-east-1", 0.0))
    following.put_bucket_config(name, "tagging", "<Tagging/>")
    assert following.get_bucket_configs(name) == {"tagging": "<Tagging/>"}

    def cached() -> bool:  # read, and still kept once the announcements of the writes above arrived
        following.get_bucket(name), following.get_bucket_configs(name)
        time.sleep(0.05)
        return following.cache.bucket(name) is not None and following.cache.bucket_configs(name) is not None

    until(cached, "never kept")
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        # Behind the catalog's back, without announcing it: the cache still answers.
        conn.execute(f"UPDATE {schema}.buckets SET owner_id = 'owner-2' WHERE name = %s", (name,))
        conn.execute(f"DELETE FROM {schema}.bucket_configs WHERE bucket = %s", (name,))
        bucket = following.get_bucket(name)
        assert bucket is not None and bucket.owner_id == "owner-1"
        assert following.get_bucket_configs(name) == {"tagging": "<Tagging/>"}
        conn.execute(f"SET search_path = {schema}")
        conn.execute(*announce())  # what every change does in its transaction
    until(lambda: getattr(following.get_bucket(name), "owner_id", None) == "owner-2", "the change not heard")
    assert following.get_bucket_configs(name) == {}


def test_the_catalogs_own_changes_clear_its_cache_at_once(following: PostgresCatalog) -> None:
    user = User("pat", "u" * 64, 0.0, False)
    key = AccessKey("AKPAT" + secrets.token_hex(6).upper(), "pat", b"sealed", 0.0, True)
    following.add_user(user, key)
    until(lambda: following.cache.on, "never started listening")
    found = following.lookup_access_key(key.access_key)
    assert found is not None and found[0].active
    following.set_access_key_active(key.access_key, False)
    found = following.lookup_access_key(key.access_key)  # no wait: this process made the change
    assert found is not None and not found[0].active
    following.remove_access_key(key.access_key)
    assert following.lookup_access_key(key.access_key) is None


def test_a_lost_listening_connection_turns_the_cache_off_until_listening_again(
        following: PostgresCatalog, schema: str) -> None:
    until(lambda: following.cache.on, "never started listening")
    name = f"lost-{secrets.token_hex(4)}"
    following.create_bucket(Bucket(name, "owner-1", "us-east-1", 0.0))

    def cached() -> bool:
        following.get_bucket(name)
        time.sleep(0.05)
        return following.cache.bucket(name) is not None

    until(cached, "never kept")
    feed = following._feed
    assert feed is not None and feed.backend_pid is not None
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (feed.backend_pid,)).fetchone() == (True,)
        until(lambda: not following.cache.on, "the lost connection not noticed")
        # Made without an announcement while nobody listens: never served from memory.
        conn.execute(f"UPDATE {schema}.buckets SET owner_id = 'owner-2' WHERE name = %s", (name,))
    deadline = time.monotonic() + RETRY_S + PROMPTLY
    while not following.cache.on:
        bucket = following.get_bucket(name)
        assert bucket is not None and bucket.owner_id == "owner-2"
        assert time.monotonic() < deadline, "never listening again"
        time.sleep(0.01)
    bucket = following.get_bucket(name)
    assert bucket is not None and bucket.owner_id == "owner-2"
