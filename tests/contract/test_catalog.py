"""The Catalog contract: what every implementation (the `catalog` fixture's params) must do.

Listing is checked against `reference_listing`, S3's semantics written as the
plainest function over a sorted list, on random key sets with awkward alphabets.
"""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import pytest

from strongroom.catalog.api import (
    BucketExists,
    BucketNotEmpty,
    Catalog,
    CatalogConflict,
    NoCurrentVersion,
    NoSuchBucketError,
)
from strongroom.catalog.listing import key_successor, walk
from strongroom.catalog.model import (
    AccessKey,
    Bucket,
    ListPage,
    ObjectSummary,
    ObjectVersion,
    Part,
    Piece,
    Sealing,
    Upload,
    User,
)

OWNER = "a" * 64
SSE_S3 = Sealing("AES256", wrapping={"kek": "root", "root_key_id": "r1"})


# --- record factories (deterministic from their arguments, so another process can rebuild them) ---


def piece(n: int = 1, tag: str = "p", *, inline: bytes | None = None, where: str = "", **kw: Any) -> Piece:
    """`where`: the object's bucket/key, in its blob id (two objects never share a blob)."""
    name = f"{tag}/{n}" + (f"@{where}" if where else "")
    blob_id = None if inline is not None else hashlib.md5(name.encode()).hexdigest()
    return Piece(part_number=n, size=10 * n, etag=f"{tag}-etag-{n}", sealed_key=f"key-{tag}-{n}".encode(),
                 blob_id=blob_id, inline=inline, **kw)


def version(bucket: str, key: str, tag: str = "v", **kw: Any) -> ObjectVersion:
    fields: dict[str, Any] = dict(
        bucket=bucket, key=key, version_id=f"vid-{tag}-{key}", size=10, etag=f"etag-{tag}",
        last_modified=1_700_000_000.5, owner_id=OWNER, sealing=SSE_S3,
        pieces=(piece(1, tag, where=f"{bucket}/{key}"),),
        metadata={"writer": tag},
    )
    fields.update(kw)
    return ObjectVersion(**fields)


def upload(bucket: str, key: str, upload_id: str, initiated: float = 1_700_000_000.0, **kw: Any) -> Upload:
    return Upload(upload_id=upload_id, bucket=bucket, key=key, initiated=initiated, owner_id=OWNER,
                  sealing=SSE_S3, **kw)


def make_bucket(catalog: Catalog, name: str = "bkt", owner_id: str = OWNER) -> Bucket:
    b = Bucket(name=name, owner_id=owner_id, region="us-east-1", created=1_700_000_000.0)
    catalog.create_bucket(b)
    return b


def fill(catalog: Catalog, bucket: str, keys: list[str]) -> None:
    bulk = getattr(catalog, "bulk_put_objects", None)
    if bulk is not None:
        bulk([version(bucket, k) for k in keys])
    else:
        for k in keys:
            catalog.put_object(version(bucket, k))


# --- settings ---


def test_settings(catalog: Catalog) -> None:
    assert catalog.get_setting("account_id") is None
    assert catalog.set_setting_if_absent("account_id", "123456789012") == "123456789012"
    assert catalog.set_setting_if_absent("account_id", "999999999999") == "123456789012"
    assert catalog.get_setting("account_id") == "123456789012"


# --- users and access keys ---


def user(name: str, n: int = 1, root: bool = False) -> tuple[User, AccessKey]:
    u = User(name=name, user_id=f"{n:064x}", created=1_700_000_000.0 + n, is_root=root)
    return u, AccessKey(f"AK{name.upper()}", name, f"sealed-{name}".encode(), created=u.created)


def test_users_and_keys(catalog: Catalog) -> None:
    alice, alice_key = user("alice", 1, root=True)
    bob, bob_key = user("bob", 2)
    catalog.add_user(bob, bob_key)
    catalog.add_user(alice, alice_key)
    assert catalog.get_user("alice") == alice
    assert catalog.get_user("nobody") is None
    assert catalog.get_user_by_id(bob.user_id) == bob
    assert catalog.list_users() == [alice, bob]
    assert catalog.lookup_access_key(alice_key.access_key) == (alice_key, alice)
    assert catalog.lookup_access_key("AKNONE") is None

    second = AccessKey("AKBOB2", "bob", b"\x00\xffsecret", created=bob.created + 5, active=False)
    catalog.add_access_key(second)
    assert catalog.list_access_keys("bob") == [bob_key, second]
    assert catalog.list_access_keys() == [alice_key, bob_key, second]

    assert catalog.set_access_key_active("AKBOB2", True)
    activated = AccessKey("AKBOB2", "bob", b"\x00\xffsecret", bob.created + 5, active=True)
    assert catalog.lookup_access_key("AKBOB2") == (activated, bob)
    assert not catalog.set_access_key_active("AKNONE", True)
    assert catalog.remove_access_key("AKBOB2")
    assert not catalog.remove_access_key("AKBOB2")

    assert catalog.remove_user("bob")
    assert not catalog.remove_user("bob")
    assert catalog.lookup_access_key(bob_key.access_key) is None
    assert catalog.list_access_keys() == [alice_key]


def test_user_conflicts(catalog: Catalog) -> None:
    alice, alice_key = user("alice", 1)
    catalog.add_user(alice, alice_key)
    with pytest.raises(CatalogConflict):  # same name
        catalog.add_user(User("alice", f"{9:064x}", 0.0), AccessKey("AKOTHER", "alice", b"s", 0.0))
    carol, _ = user("carol", 3)
    with pytest.raises(CatalogConflict):  # same access key
        catalog.add_user(carol, AccessKey(alice_key.access_key, "carol", b"s", 0.0))
    with pytest.raises(CatalogConflict):  # same user id
        catalog.add_user(User("dave", alice.user_id, 0.0), AccessKey("AKDAVE", "dave", b"s", 0.0))
    with pytest.raises(CatalogConflict):
        catalog.add_access_key(AccessKey(alice_key.access_key, "alice", b"s", 0.0))
    with pytest.raises(CatalogConflict):
        catalog.add_access_key(AccessKey("AKGHOST", "ghost", b"s", 0.0))
    assert catalog.list_users() == [alice]  # nothing half-added
    assert catalog.list_access_keys() == [alice_key]


# --- buckets ---


def test_buckets(catalog: Catalog) -> None:
    b2 = make_bucket(catalog, "zeta", owner_id="b" * 64)
    b1 = make_bucket(catalog, "alpha")
    assert catalog.get_bucket("alpha") == b1
    assert catalog.get_bucket("nope") is None
    assert catalog.list_buckets() == [b1, b2]
    assert catalog.list_buckets(owner_id="b" * 64) == [b2]
    with pytest.raises(BucketExists) as e:
        make_bucket(catalog, "zeta")
    assert e.value.owner_id == "b" * 64


def test_bucket_configs(catalog: Catalog) -> None:
    make_bucket(catalog)
    assert catalog.get_bucket_config("bkt", "policy") is None
    catalog.put_bucket_config("bkt", "policy", '{"Version": "2012-10-17"}')
    catalog.put_bucket_config("bkt", "encryption", "<x/>")
    catalog.put_bucket_config("bkt", "policy", '{"v": 2}')
    assert catalog.get_bucket_config("bkt", "policy") == '{"v": 2}'
    catalog.put_bucket_config("bkt", "policy", None)
    assert catalog.get_bucket_config("bkt", "policy") is None
    assert catalog.get_bucket_config("bkt", "encryption") == "<x/>"
    with pytest.raises(NoSuchBucketError):
        catalog.put_bucket_config("nope", "policy", "{}")
    make_bucket(catalog, "other")
    catalog.put_bucket_config("other", "acl", "{}")
    catalog.put_bucket_config("bkt", "ownership", "BucketOwnerEnforced")
    assert catalog.get_bucket_configs("bkt") == {"encryption": "<x/>", "ownership": "BucketOwnerEnforced"}
    assert catalog.get_bucket_configs("nope") == {}


def test_delete_bucket(catalog: Catalog) -> None:
    with pytest.raises(NoSuchBucketError):
        catalog.delete_bucket("bkt")
    make_bucket(catalog)
    catalog.put_bucket_config("bkt", "encryption", "<x/>")
    catalog.put_object(version("bkt", "k"))
    with pytest.raises(BucketNotEmpty):
        catalog.delete_bucket("bkt")
    catalog.delete_object("bkt", "k")
    # In-progress uploads do not keep a general purpose bucket alive on AWS; they go with it.
    catalog.create_upload(upload("bkt", "big", "u1"))
    catalog.put_part(Part("u1", piece(1, "u1"), 1.0))
    catalog.delete_bucket("bkt")
    assert catalog.get_bucket("bkt") is None
    assert catalog.get_upload("u1") is None
    assert list(catalog.referenced_blob_ids()) == []
    make_bucket(catalog)  # the name is free again, with nothing of the old bucket
    assert catalog.get_bucket_config("bkt", "encryption") is None
    assert catalog.list_uploads("bkt").uploads == ()


# --- objects ---


def test_put_get_round_trip(catalog: Catalog) -> None:
    make_bucket(catalog)
    v = version(
        "bkt", "dir/ünïcødé 😀 key", size=1234, etag="abc-3", content_type="text/plain; charset=utf-8",
        sealing=Sealing("aws:kms", kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/x", bucket_key=True,
                        context="eyJhIjoiYiJ9", wrapping={"kek": "kms", "blob": "AAAA"}),
        pieces=(piece(1, checksums={"CRC32": "AAAAAA=="}), piece(2, inline=b"\x00ciphertext\xff"), piece(3),
                piece(4, inline=b"")),
        headers={"cache-control": "no-cache", "content-encoding": "gzip"},
        metadata={"clé": "välue", "empty": ""}, checksums={"CRC32": "AAAAAA=="}, checksum_type="COMPOSITE",
        tags={"k": "v", "": ""}, storage_class="STANDARD_IA",
    )
    assert catalog.put_object(v) is None
    assert catalog.get_object("bkt", v.key) == v
    assert catalog.get_object("bkt", "dir/") is None
    summary = ObjectSummary(v.key, 1234, "abc-3", v.last_modified, v.owner_id, "STANDARD_IA", "COMPOSITE",
                            ("CRC32",))
    assert catalog.list_objects("bkt").objects == (summary,)
    assert catalog.list_objects("bkt", delimiter="🙃").objects == (summary,)
    # a metadata entry named like the checksums field is not taken for checksums
    plain = version("bkt", "plain", metadata={"checksums": '"checksums"'})
    catalog.put_object(plain)
    assert catalog.list_objects("bkt", prefix="plain").objects == (ObjectSummary.of(plain),)
    assert ObjectSummary.of(plain).checksum_algorithms == ()


def test_replace_and_delete(catalog: Catalog) -> None:
    make_bucket(catalog)
    make_bucket(catalog, "other")
    v1, v2 = version("bkt", "k", "one"), version("bkt", "k", "two")
    assert catalog.put_object(v1) is None
    catalog.put_object(version("other", "k", "elsewhere"))
    assert catalog.put_object(v2) == v1
    assert catalog.get_object("bkt", "k") == v2
    assert catalog.delete_object("bkt", "k") == v2
    assert catalog.delete_object("bkt", "k") is None
    assert catalog.get_object("bkt", "k") is None
    assert catalog.get_object("other", "k") == version("other", "k", "elsewhere")
    assert list(catalog.referenced_blob_ids()) == [piece(1, "elsewhere", where="other/k").blob_id]


def test_conditional_delete(catalog: Catalog) -> None:
    """delete_object(if_match=...) removes the current version only when its etag matches ("*": any);
    otherwise CatalogConflict and the version, its blobs included, stays as it was."""
    make_bucket(catalog)
    v = version("bkt", "k", "one")
    catalog.put_object(v)
    with pytest.raises(CatalogConflict):
        catalog.delete_object("bkt", "k", if_match="0" * 32)
    assert catalog.get_object("bkt", "k") == v
    assert list(catalog.referenced_blob_ids()) == [piece(1, "one", where="bkt/k").blob_id]
    assert catalog.delete_object("bkt", "k", if_match=v.etag) == v
    with pytest.raises(NoCurrentVersion):  # nothing left: the caller answers 404 NoSuchKey
        catalog.delete_object("bkt", "k", if_match=v.etag)
    catalog.put_object(v)
    assert catalog.delete_object("bkt", "k", if_match="*") == v
    assert catalog.get_object("bkt", "k") is None


def test_set_object_tags_in_place(catalog: Catalog) -> None:
    make_bucket(catalog)
    v = version("bkt", "k", tags={"a": "1"})
    catalog.put_object(v)
    assert catalog.set_object_tags(v, {"b": "2"})
    stored = catalog.get_object("bkt", "k")
    assert stored is not None and stored.tags == {"b": "2"}
    assert dataclasses.replace(stored, tags=v.tags) == v  # nothing else changed
    newer = version("bkt", "k", "w")
    catalog.put_object(newer)
    assert not catalog.set_object_tags(v, {"c": "3"})  # no longer current: refused
    assert catalog.get_object("bkt", "k") == newer


def test_rekey_version_in_place(catalog: Catalog) -> None:
    make_bucket(catalog)
    v = version("bkt", "k")
    catalog.put_object(v)
    rekeyed = dataclasses.replace(
        v, sealing=Sealing("aws:kms", kms_key_arn="arn:k", wrapping={"kek": "kms", "blob": "eA=="}),
        pieces=tuple(dataclasses.replace(p, sealed_key=b"resealed" + p.sealed_key) for p in v.pieces),
    )
    assert catalog.rekey_version(rekeyed)
    assert catalog.get_object("bkt", "k") == rekeyed
    assert not catalog.rekey_version(dataclasses.replace(rekeyed, version_id="gone"))


def test_put_into_missing_bucket(catalog: Catalog) -> None:
    with pytest.raises(NoSuchBucketError):
        catalog.put_object(version("nope", "k"))


def test_conditional_puts(catalog: Catalog) -> None:
    make_bucket(catalog)
    v1 = version("bkt", "k", "one")
    with pytest.raises(CatalogConflict):
        catalog.put_object(v1, if_match=v1.etag)  # nothing to match
    assert catalog.put_object(v1, if_none_match=True) is None
    with pytest.raises(CatalogConflict):
        catalog.put_object(version("bkt", "k", "two"), if_none_match=True)
    with pytest.raises(CatalogConflict):
        catalog.put_object(version("bkt", "k", "two"), if_match="some-other-etag")
    assert catalog.get_object("bkt", "k") == v1
    v2 = version("bkt", "k", "two")
    assert catalog.put_object(v2, if_match=v1.etag) == v1
    assert catalog.get_object("bkt", "k") == v2


def test_if_none_match_race_threads(catalog: Catalog) -> None:
    make_bucket(catalog)
    n = 8
    barrier = threading.Barrier(n)

    def attempt(i: int) -> bool:
        barrier.wait()
        try:
            catalog.put_object(version("bkt", "k", f"t{i}"), if_none_match=True)
        except CatalogConflict:
            return False
        return True

    with ThreadPoolExecutor(n) as pool:
        won = [i for i, ok in enumerate(pool.map(attempt, range(n))) if ok]
    assert len(won) == 1
    assert catalog.get_object("bkt", "k") == version("bkt", "k", f"t{won[0]}")


def _check_replacement_chain(results: list[list[tuple[str, str | None]]], final: ObjectVersion) -> None:
    """Every put replaced exactly the version current at that moment: each version written is
    replaced exactly once, except the last, and exactly one put found the key empty."""
    written = [vid for r in results for vid, _ in r]
    replaced = [old for r in results for _, old in r]
    assert replaced.count(None) == 1
    replaced_ids = [old for old in replaced if old is not None]
    assert len(replaced_ids) == len(set(replaced_ids))
    assert set(replaced_ids) | {final.version_id} == set(written)
    assert final.version_id not in replaced_ids


def test_concurrent_puts_threads(catalog: Catalog) -> None:
    make_bucket(catalog)
    barrier = threading.Barrier(4)

    def writer(tag: str) -> list[tuple[str, str | None]]:
        barrier.wait()
        out = []
        for i in range(25):
            v = version("bkt", "k", f"{tag}-{i}")
            old = catalog.put_object(v)
            out.append((v.version_id, None if old is None else old.version_id))
        return out

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(writer, ["a", "b", "c", "d"]))
    final = catalog.get_object("bkt", "k")
    assert final is not None
    _check_replacement_chain(results, final)
    tag = final.metadata["writer"]
    assert final == version("bkt", "k", tag)  # one writer's version, whole


def _process_writer(opener: Callable[[], Catalog], tag: str, keys: list[str], rounds: int, start_at: float
                    ) -> dict[str, Any]:
    """Runs in another process: race to create `keys`, then overwrite key "shared" `rounds` times."""
    catalog = opener()
    try:
        time.sleep(max(0.0, start_at - time.time()))
        created = []
        for k in keys:
            try:
                catalog.put_object(version("bkt", k, tag), if_none_match=True)
                created.append(k)
            except CatalogConflict:
                pass
        chain = []
        for i in range(rounds):
            v = version("bkt", "shared", f"{tag}-{i}")
            old = catalog.put_object(v)
            chain.append((v.version_id, None if old is None else old.version_id))
        return {"created": created, "chain": chain}
    finally:
        catalog.close()


def test_concurrent_puts_processes(catalog: Catalog, catalog_opener: Callable[[], Catalog]) -> None:
    make_bucket(catalog)
    keys = [f"key-{i:03d}" for i in range(40)]
    start_at = time.time() + 2.0  # both children are up by then: a real race, not one after the other
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_process_writer, catalog_opener, t, keys, 30, start_at) for t in ["p1", "p2"]]
        r1, r2 = (f.result(timeout=120) for f in futures)
    assert set(r1["created"]).isdisjoint(r2["created"])
    assert set(r1["created"]) | set(r2["created"]) == set(keys)
    for tag, r in (("p1", r1), ("p2", r2)):
        for k in r["created"]:
            assert catalog.get_object("bkt", k) == version("bkt", k, tag)
    final = catalog.get_object("bkt", "shared")
    assert final is not None
    _check_replacement_chain([r1["chain"], r2["chain"]], final)
    assert final == version("bkt", "shared", final.metadata["writer"])


def test_changes_are_seen_at_once_by_another_instance(catalog: Catalog, other_catalog: Catalog) -> None:
    assert other_catalog.get_bucket("bkt") is None  # warm the other instance first: nothing may be cached
    assert other_catalog.lookup_access_key("AKALICE") is None
    b = make_bucket(catalog)
    assert other_catalog.get_bucket("bkt") == b
    alice, key = user("alice")
    catalog.add_user(alice, key)
    assert other_catalog.lookup_access_key("AKALICE") == (key, alice)
    catalog.set_access_key_active("AKALICE", False)
    found = other_catalog.lookup_access_key("AKALICE")
    assert found is not None and not found[0].active
    v = version("bkt", "k")
    catalog.put_object(v)
    assert other_catalog.get_object("bkt", "k") == v
    assert other_catalog.list_objects("bkt").objects == (ObjectSummary.of(v),)
    other_catalog.delete_object("bkt", "k")
    assert catalog.get_object("bkt", "k") is None
    catalog.put_bucket_config("bkt", "policy", "{}")
    assert other_catalog.get_bucket_config("bkt", "policy") == "{}"


def test_concurrent_writes_fail_alone(catalog: Catalog, catalog_opener: Callable[[], Catalog]) -> None:
    """Writes that arrive together (and may share one transaction, as the SQLite catalog's group
    commit does) succeed or fail each on its own: a failed one changes nothing, and the others land
    and stay after a reopen."""
    make_bucket(catalog)
    catalog.put_object(version("bkt", "taken", "first"))
    n = 24
    barrier = threading.Barrier(n)

    def attempt(i: int) -> str:
        barrier.wait()
        try:
            if i % 3 == 0:
                catalog.put_object(version("nobkt", f"k{i}"))
            elif i % 3 == 1:
                catalog.put_object(version("bkt", "taken", f"t{i}"), if_none_match=True)
            else:
                catalog.put_object(version("bkt", f"k{i}"))
                catalog.delete_object("bkt", f"k{i - 1}")
        except NoSuchBucketError:
            return "no bucket"
        except CatalogConflict:
            return "conflict"
        return "ok"

    with ThreadPoolExecutor(n) as pool:
        outcomes = list(pool.map(attempt, range(n)))
    assert outcomes == [("no bucket", "conflict", "ok")[i % 3] for i in range(n)]
    reopened = catalog_opener()
    try:
        for c in (catalog, reopened):
            assert c.get_object("bkt", "taken") == version("bkt", "taken", "first")
            keys = [v.key for v in c.list_objects("bkt").objects]
            assert keys == sorted(["taken", *(f"k{i}" for i in range(2, n, 3))])
    finally:
        reopened.close()


def test_used_from_many_threads(catalog: Catalog) -> None:
    make_bucket(catalog)

    def work(i: int) -> ObjectVersion | None:
        catalog.put_object(version("bkt", f"k{i}"))
        catalog.list_objects("bkt", max_keys=5)
        return catalog.get_object("bkt", f"k{i}")

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(work, range(40)))
    assert got == [version("bkt", f"k{i}") for i in range(40)]


# --- listing ---


def reference_listing(keys: list[str], prefix: str = "", delimiter: str = "", after: str = "",
                      max_keys: int = 1000) -> tuple[list[str], list[str], bool, str | None]:
    """S3 listing by definition: (object keys, common prefixes, truncated, next marker)."""
    entries: dict[str, bool] = {}  # name -> is a common prefix
    for k in keys:
        if not k.startswith(prefix):
            continue
        i = k.find(delimiter, len(prefix)) if delimiter else -1
        if i >= 0:
            entries[k[:i + len(delimiter)]] = True
        else:
            entries[k] = False
    names = sorted(n for n in entries if n > after)
    page = names[:max(max_keys, 0)]
    truncated = len(names) > len(page) and max_keys > 0
    return ([n for n in page if not entries[n]], [n for n in page if entries[n]], truncated,
            page[-1] if truncated else None)


def listed(page: ListPage) -> tuple[list[str], list[str], bool, str | None]:
    return [o.key for o in page.objects], list(page.common_prefixes), page.is_truncated, page.next_marker


def assert_lists_like_reference(catalog: Catalog, keys: list[str], **query: Any) -> None:
    expected = reference_listing(keys, **query)
    assert listed(catalog.list_objects("bkt", **query)) == expected, query


TREE = ["a", "a/1", "a/2", "a/b/c", "a/b/d", "a/c", "ab", "b/1", "b/2", "c", "c/", "c//", "d/x/y"]


@pytest.mark.parametrize("query", [
    {},
    {"delimiter": "/"},
    {"prefix": "a"},
    {"prefix": "a", "delimiter": "/"},
    {"prefix": "a/", "delimiter": "/"},       # prefix ending in the delimiter
    {"prefix": "a/b/", "delimiter": "/"},
    {"prefix": "c/", "delimiter": "/"},       # a key equal to the prefix; a delimiter right after it
    {"prefix": "zzz", "delimiter": "/"},
    {"delimiter": "/", "after": "a/"},        # after = a common prefix: not returned again
    {"delimiter": "/", "after": "a/1"},       # after inside a common prefix: it sorts before after
    {"delimiter": "/", "after": "a"},         # after = a proper prefix of a common prefix: returned
    {"delimiter": "/", "after": "a/b/zzz"},
    {"prefix": "b", "after": "a"},            # after before the prefix: no effect
    {"prefix": "a", "after": "b"},            # after past the prefix: nothing
    {"delimiter": "/b/"},                     # multi-character delimiter
    {"delimiter": "b/"},
    {"delimiter": "/", "max_keys": 0},
    {"max_keys": 0},
    {"delimiter": "/", "max_keys": 1},
    {"delimiter": "/", "max_keys": 3},
    {"delimiter": "/", "max_keys": 3, "after": "ab"},
    {"max_keys": 2, "after": "a/2"},
    {"delimiter": "x"},
])
def test_listing_cases(catalog: Catalog, query: dict[str, Any]) -> None:
    make_bucket(catalog)
    make_bucket(catalog, "bkt0")
    make_bucket(catalog, "bkt1")
    fill(catalog, "bkt", TREE)
    fill(catalog, "bkt0", ["a/zzz", "zzz"])  # neighbours in the index must not leak in
    fill(catalog, "bkt1", ["0", "a/0"])
    assert_lists_like_reference(catalog, TREE, **query)


def test_listing_known_answers(catalog: Catalog) -> None:
    make_bucket(catalog)
    fill(catalog, "bkt", ["asdf", "boo/bar", "boo/baz/xyzzy", "cquux/thud", "cquux/bla"])
    page = catalog.list_objects("bkt", delimiter="/", max_keys=1)
    assert listed(page) == (["asdf"], [], True, "asdf")
    page = catalog.list_objects("bkt", delimiter="/", after="asdf", max_keys=1)
    assert listed(page) == ([], ["boo/"], True, "boo/")
    page = catalog.list_objects("bkt", delimiter="/", after="boo/", max_keys=1)
    assert listed(page) == ([], ["cquux/"], False, None)
    page = catalog.list_objects("bkt", prefix="boo/", delimiter="/")
    assert listed(page) == (["boo/bar"], ["boo/baz/"], False, None)


UNICODE_KEYS = [
    "a", "a\x7f", "a\x80", "aé", "a\u07ff", "a\u0800", "a\ud7ff", "a\ue000", "a\uffff", "a\U00010000",
    "a😀", "a😀/x", "a\U0010ffff", "a\U0010ffff/x", "a\U0010ffff\U0010ffff", "b", "中/文", "中文",
]


def test_unicode_order_is_utf8_byte_order(catalog: Catalog) -> None:
    make_bucket(catalog)
    fill(catalog, "bkt", UNICODE_KEYS)
    keys = [o.key for o in catalog.list_objects("bkt").objects]
    assert keys == sorted(UNICODE_KEYS, key=lambda k: k.encode("utf-8"))
    for prefix in ["a", "a\ud7ff", "a\U0010ffff", "a\uffff", "中", "a😀"]:
        for delimiter in ["", "/", "\U0010ffff", "😀"]:
            for after in ["", "a\U0010ffff", "a\ud7ff", "a😀/", "a\uffff"]:
                query = {"prefix": prefix, "delimiter": delimiter, "after": after}
                assert_lists_like_reference(catalog, UNICODE_KEYS, **query)


ALPHABET = ["a", "b", "/", "-", "é", "中", "😀", "\U0010ffff", "\uffff", "\ud7ff", "\ue000"]
DELIMITERS = ["", "/", "-", "/-", "a", "é", "😀", "\U0010ffff", "ab", "//"]


def random_key(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 6)))


@pytest.mark.parametrize("seed", range(4))
def test_listing_matches_reference_on_random_keys(catalog: Catalog, seed: int) -> None:
    rng = random.Random(seed)
    make_bucket(catalog)
    keys = sorted({random_key(rng) for _ in range(300)})
    fill(catalog, "bkt", keys)
    for _ in range(400):
        some = rng.choice(keys)
        prefix = rng.choice(["", "", some[: rng.randint(0, len(some))], random_key(rng)[:2]])
        delimiter = rng.choice(DELIMITERS)
        after = rng.choice(["", some, some[: rng.randint(0, len(some))], random_key(rng), prefix])
        max_keys = rng.choice([0, 1, 2, 3, 7, 50, 1000])
        assert_lists_like_reference(catalog, keys, prefix=prefix, delimiter=delimiter, after=after,
                                    max_keys=max_keys)


@pytest.mark.parametrize("seed", range(3))
def test_listing_pages_add_up(catalog: Catalog, seed: int) -> None:
    rng = random.Random(100 + seed)
    make_bucket(catalog)
    keys = sorted({random_key(rng) for _ in range(200)})
    fill(catalog, "bkt", keys)
    for _ in range(40):
        prefix = rng.choice(["", rng.choice(keys)[:1], rng.choice(keys)[:2]])
        delimiter = rng.choice(DELIMITERS)
        page_size = rng.choice([1, 2, 5])
        everything = reference_listing(keys, prefix, delimiter)
        got_keys: list[str] = []
        got_prefixes: list[str] = []
        after = ""
        for _ in range(len(keys) + 1):  # bounded: a marker that does not advance must fail, not hang
            page = catalog.list_objects("bkt", prefix=prefix, delimiter=delimiter, after=after,
                                        max_keys=page_size)
            got_keys += [o.key for o in page.objects]
            got_prefixes += page.common_prefixes
            if not page.is_truncated:
                break
            assert page.next_marker is not None
            after = page.next_marker
        else:
            pytest.fail("pagination does not end")
        assert (got_keys, got_prefixes) == (everything[0], everything[1])


def test_delimiter_listing_seeks_past_common_prefixes() -> None:
    # walk() is what every backend lists with: count the rows it asks for.
    keys = sorted(f"dir{d:04d}/file{f:03d}" for d in range(1000) for f in range(100))
    read = 0

    def fetch(lo: str, inclusive: bool, hi: str | None, n: int) -> Any:
        nonlocal read
        import bisect
        i = bisect.bisect_left(keys, lo) if inclusive else bisect.bisect_right(keys, lo)
        for k in keys[i:]:
            if (hi is not None and k >= hi) or n == 0:
                return
            read += 1
            n -= 1
            yield (k,)

    entries = walk(fetch, "", "/", "", 1001)
    assert [name for name, _ in entries] == [f"dir{d:04d}/" for d in range(1000)]
    assert read == 1000  # one row per common prefix, not 100,000


def test_key_successor() -> None:
    assert key_successor("") is None
    assert key_successor("a") == "b"
    assert key_successor("a/") == "a0"
    assert key_successor("a\ud7ff") == "a\ue000"  # no surrogates
    assert key_successor("a\U0010ffff") == "b"
    assert key_successor("\U0010ffff\U0010ffff") is None


def test_listing_large_delimited_bucket(catalog: Catalog) -> None:
    make_bucket(catalog)
    keys = [f"d{d:03d}/f{f:02d}" for d in range(300) for f in range(20)] + ["top"]
    fill(catalog, "bkt", keys)
    page = catalog.list_objects("bkt", delimiter="/", max_keys=1000)
    assert list(page.common_prefixes) == [f"d{d:03d}/" for d in range(300)]
    assert [o.key for o in page.objects] == ["top"]
    assert not page.is_truncated


# --- multipart ---


def test_upload_lifecycle(catalog: Catalog) -> None:
    make_bucket(catalog)
    with pytest.raises(NoSuchBucketError):
        catalog.create_upload(upload("nope", "k", "u0"))
    u = upload("bkt", "big", "u1", content_type="video/mp4", metadata={"m": "1"}, tags={"t": "2"},
               checksum_algorithm="CRC32", checksum_type="COMPOSITE", headers={"cache-control": "x"})
    catalog.create_upload(u)
    assert catalog.get_upload("u1") == u
    assert catalog.get_upload("nope") is None
    with pytest.raises(CatalogConflict):
        catalog.create_upload(u)
    with pytest.raises(CatalogConflict):
        catalog.put_part(Part("nope", piece(1), 1.0))

    p1, p2, p3 = (Part("u1", piece(n, "first"), float(n)) for n in (1, 2, 3))
    assert catalog.put_part(p2) is None
    assert catalog.put_part(p1) is None
    assert catalog.put_part(p3) is None
    p2b = Part("u1", piece(2, "second", inline=b"tiny"), 9.0)
    assert catalog.put_part(p2b) == p2
    assert catalog.all_parts("u1") == [p1, p2b, p3]
    assert catalog.list_parts("u1", max_parts=2) == ([p1, p2b], True)
    assert catalog.list_parts("u1", after=2, max_parts=2) == ([p3], False)
    assert catalog.list_parts("u1", after=3) == ([], False)
    assert catalog.list_parts("nope") == ([], False)
    assert set(catalog.referenced_blob_ids()) == {p1.piece.blob_id, p3.piece.blob_id}

    assert catalog.abort_upload("u1") == [p1, p2b, p3]
    assert catalog.abort_upload("u1") is None
    assert catalog.get_upload("u1") is None
    assert catalog.all_parts("u1") == []


def test_complete_upload(catalog: Catalog) -> None:
    make_bucket(catalog)
    old = version("bkt", "big", "old")
    catalog.put_object(old)
    catalog.create_upload(upload("bkt", "big", "u1"))
    parts = [Part("u1", piece(n, "u1"), float(n)) for n in (1, 2, 3)]
    for p in parts:
        catalog.put_part(p)
    v = version("bkt", "big", "new", pieces=(parts[0].piece, parts[2].piece), etag="x-2")

    with pytest.raises(CatalogConflict):  # a failed condition leaves the upload as it was
        catalog.complete_upload("u1", v, if_none_match=True)
    assert catalog.all_parts("u1") == parts
    with pytest.raises(CatalogConflict):  # a piece that is not the current part of its number
        catalog.complete_upload("u1", version("bkt", "big", "new", pieces=(piece(1, "stale"),)))

    replaced, unused = catalog.complete_upload("u1", v, if_match=old.etag)
    assert replaced == old
    assert unused == [parts[1]]
    assert catalog.get_object("bkt", "big") == v
    assert catalog.get_upload("u1") is None
    assert catalog.all_parts("u1") == []
    with pytest.raises(CatalogConflict):
        catalog.complete_upload("u1", v)


def reference_uploads(uploads: list[Upload], prefix: str, delimiter: str, key_marker: str,
                      upload_id_marker: str, max_uploads: int
                      ) -> tuple[list[str], list[str], bool, str | None, str | None]:
    """ListMultipartUploads by definition, over (key, initiated, upload_id) order."""
    ordered = sorted(uploads, key=lambda u: (u.key, u.initiated, u.upload_id))
    marker_pos = None
    if key_marker and upload_id_marker:
        marker_pos = next(((u.key, u.initiated, u.upload_id) for u in ordered
                           if u.upload_id == upload_id_marker and u.key == key_marker), None)
    entries: list[tuple[str, str | None]] = []  # (key or common prefix, upload id)
    for u in ordered:
        if not u.key.startswith(prefix):
            continue
        i = u.key.find(delimiter, len(prefix)) if delimiter else -1
        if i >= 0:
            cp = u.key[:i + len(delimiter)]
            if cp > key_marker and (cp, None) not in entries:
                entries.append((cp, None))
            continue
        if u.key > key_marker or (u.key == key_marker and upload_id_marker and (
                marker_pos is None or (u.key, u.initiated, u.upload_id) > marker_pos)):
            entries.append((u.key, u.upload_id))
    page = entries[:max(max_uploads, 0)]
    truncated = len(entries) > len(page) and max_uploads > 0
    last = page[-1] if truncated else (None, None)
    return ([uid for _, uid in page if uid is not None], [n for n, uid in page if uid is None], truncated,
            last[0], last[1])


def test_list_uploads(catalog: Catalog) -> None:
    make_bucket(catalog)
    make_bucket(catalog, "other")
    catalog.create_upload(upload("other", "a", "zz"))
    rng = random.Random(7)
    uploads = []
    for i in range(60):
        key = rng.choice(["a", "a/1", "a/2", "b", "b/x/y", "c", "c/", "é/1", "😀"])
        u = upload("bkt", key, f"u{i:03d}", initiated=float(rng.randint(0, 5)))
        catalog.create_upload(u)
        uploads.append(u)
    queries: list[dict[str, Any]] = [
        {}, {"delimiter": "/"}, {"prefix": "a"}, {"prefix": "a/", "delimiter": "/"}, {"max_uploads": 0},
        {"key_marker": "a"}, {"key_marker": "a/"}, {"key_marker": "a/1", "delimiter": "/"},
        {"key_marker": "b", "upload_id_marker": "u999"},  # an upload that is gone: its key's uploads again
    ]
    for u in rng.sample(uploads, 10):
        markers = {"key_marker": u.key, "upload_id_marker": u.upload_id}
        queries.append({**markers, "max_uploads": 5})
        queries.append({**markers, "delimiter": "/", "max_uploads": 3})
    for q in queries:
        args: dict[str, Any] = {"prefix": "", "delimiter": "", "key_marker": "", "upload_id_marker": "",
                                "max_uploads": 1000}
        args.update(q)
        page = catalog.list_uploads("bkt", **q)
        got = ([u.upload_id for u in page.uploads], list(page.common_prefixes), page.is_truncated,
               page.next_key_marker, page.next_upload_id_marker)
        assert got == reference_uploads(uploads, **args), q

    # Paging with the returned markers visits every upload once, in order.
    seen: list[str] = []
    key_marker = upload_id_marker = ""
    for _ in range(len(uploads) + 1):
        page = catalog.list_uploads("bkt", key_marker=key_marker, upload_id_marker=upload_id_marker,
                                    max_uploads=7)
        seen += [u.upload_id for u in page.uploads]
        if not page.is_truncated:
            break
        key_marker, upload_id_marker = page.next_key_marker or "", page.next_upload_id_marker or ""
    else:
        pytest.fail("pagination does not end")
    assert seen == [u.upload_id for u in sorted(uploads, key=lambda u: (u.key, u.initiated, u.upload_id))]
    assert catalog.list_uploads("bkt", max_uploads=1).uploads[0] == min(
        uploads, key=lambda u: (u.key, u.initiated, u.upload_id))


# --- maintenance ---


def test_referenced_blob_ids(catalog: Catalog) -> None:
    make_bucket(catalog)
    three = (piece(1, "a"), piece(2, "a"), piece(3, "a", inline=b"x"))
    catalog.put_object(version("bkt", "a", "a", pieces=three))
    catalog.put_object(version("bkt", "b", "b", pieces=(piece(1, "b", inline=b"y"),)))
    catalog.create_upload(upload("bkt", "c", "u1"))
    catalog.put_part(Part("u1", piece(5, "c"), 1.0))
    expected = {piece(1, "a").blob_id, piece(2, "a").blob_id, piece(5, "c").blob_id}
    ids = list(catalog.referenced_blob_ids())
    assert len(ids) == 3 and set(ids) == expected
    it = iter(catalog.referenced_blob_ids())
    first = next(it)
    catalog.delete_object("bkt", "a")  # the catalog stays usable while a sweep iterates
    assert {first, *it} <= expected


def test_close(catalog_opener: Callable[[], Catalog]) -> None:
    c = catalog_opener()
    make_bucket(c)
    c.close()
    with pytest.raises(Exception):  # noqa: B017 - which error is the implementation's business
        c.get_bucket("bkt")
    c2 = catalog_opener()  # reopening finds the data
    assert c2.get_bucket("bkt") is not None
    c2.close()


def test_bulk_put_objects(catalog: Catalog) -> None:
    bulk = getattr(catalog, "bulk_put_objects", None)
    if bulk is None:
        pytest.skip("not offered by this implementation")
    make_bucket(catalog)
    catalog.put_object(version("bkt", "k1", "old"))
    assert bulk([version("bkt", f"k{i}") for i in range(5)] + [version("bkt", "k2", "last")]) == 5
    assert catalog.get_object("bkt", "k1") == version("bkt", "k1")
    assert catalog.get_object("bkt", "k2") == version("bkt", "k2", "last")
    assert len(catalog.list_objects("bkt").objects) == 5
    assert piece(1, "old", where="bkt/k1").blob_id not in set(catalog.referenced_blob_ids())
    with pytest.raises(NoSuchBucketError):
        bulk([version("nope", "k")])



@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_usable_in_a_forked_child(catalog: Catalog) -> None:
    # A server may open the catalog and then fork its workers; each must work on its own.
    make_bucket(catalog)
    catalog.put_object(version("bkt", "k"))  # the parent has a connection by now
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            catalog.put_object(version("bkt", "from-child"))
            code = 0 if catalog.get_object("bkt", "k") == version("bkt", "k") else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert catalog.get_object("bkt", "from-child") == version("bkt", "from-child")
    catalog.put_object(version("bkt", "k2"))  # the parent's connection still works
