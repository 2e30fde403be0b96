"""Versions in the catalog, on every engine: what an Enabled bucket keeps, the `null` version a Suspended
one replaces, delete markers, deletes by version id, the blobs that become garbage (only those of versions
really removed), and ListObjectVersions' order, IsLatest, delimiter and paging."""

from __future__ import annotations

import dataclasses
import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from strongroom.catalog.api import VERSIONING, Catalog, CatalogConflict, NoCurrentVersion, NoSuchBucketError
from strongroom.catalog.model import Bucket, ObjectVersion, VersionPage
from tests.contract.test_catalog import OWNER, SSE_S3, version


def garbage(catalog: Catalog) -> set[str]:
    return set(catalog.expired_blobs("garbage", -60.0, 1000))


@pytest.fixture
def bucket(catalog: Catalog) -> str:
    """A bucket whose versioning was configured (what the versions are, null or not, is each write's)."""
    catalog.create_bucket(Bucket("b", OWNER, "us-east-1", 1.0))
    catalog.set_bucket_versioning("b", '{"Status": "Enabled"}')
    assert catalog.get_bucket_config("b", VERSIONING) == '{"Status": "Enabled"}'
    return "b"


def v(key: str, tag: str, *, null: bool = False) -> ObjectVersion:
    return version("b", key, tag, version_id=f"{tag}-{key}".ljust(32, "x"), null_version=null)


def marker(key: str, tag: str, *, null: bool = False) -> ObjectVersion:
    return ObjectVersion("b", key, f"{tag}-{key}".ljust(32, "m"), 0, "", 1.0, OWNER, SSE_S3, (),
                         null_version=null, delete_marker=True)


def listed(page: VersionPage) -> list[tuple[str, str, bool, bool]]:
    return [(e.summary.key, e.version_id, e.is_latest, e.delete_marker) for e in page.versions]


def test_enabled_keeps_every_version_and_none_is_garbage(catalog: Catalog, bucket: str) -> None:
    v1, v2 = v("k", "one"), v("k", "two")
    assert catalog.put_object(v1) is None
    assert catalog.put_object(v2) is None
    assert catalog.get_object(bucket, "k").version_id == v2.version_id  # type: ignore[union-attr]
    assert catalog.get_version(bucket, "k", v1.version_id).metadata == {"writer": "one"}  # type: ignore[union-attr]
    assert garbage(catalog) == set()


def test_null_version_replaced_where_it_is_and_its_blobs_are_garbage(catalog: Catalog, bucket: str) -> None:
    old_null, kept = v("k", "old", null=True), v("k", "kept")
    catalog.put_object(old_null)
    catalog.put_object(kept)  # versioning Enabled: the null version is kept, noncurrent
    new_null = v("k", "new", null=True)
    assert catalog.put_object(new_null) == old_null  # Suspended: the null version is replaced
    assert garbage(catalog) == {old_null.pieces[0].blob_id}
    assert catalog.get_version(bucket, "k", "null").version_id == new_null.version_id  # type: ignore[union-attr]
    assert catalog.get_version(bucket, "k", kept.version_id) is not None
    page = catalog.list_versions(bucket)
    assert listed(page) == [("k", "null", True, False), ("k", kept.version_id, False, False)]


def test_delete_marker_hides_the_key_and_deleting_it_restores(catalog: Catalog, bucket: str) -> None:
    v1 = v("k", "one")
    catalog.put_object(v1)
    catalog.put_object(v("other", "x"))
    m = marker("k", "del")
    assert catalog.delete_object(bucket, "k", m) is None
    assert catalog.get_object(bucket, "k") is None
    assert catalog.get_latest(bucket, "k").delete_marker  # type: ignore[union-attr]
    assert [o.key for o in catalog.list_objects(bucket).objects] == ["other"]
    assert [o.key for o in catalog.list_objects(bucket, delimiter="/").objects] == ["other"]
    assert garbage(catalog) == set()
    assert catalog.delete_version(bucket, "k", m.version_id) == m
    assert catalog.get_object(bucket, "k").version_id == v1.version_id  # type: ignore[union-attr]


def test_delete_version_makes_the_next_newest_current(catalog: Catalog, bucket: str) -> None:
    v1, v2 = v("k", "one"), v("k", "two")
    catalog.put_object(v1)
    catalog.put_object(v2)
    assert catalog.delete_version(bucket, "k", v2.version_id) == v2
    assert garbage(catalog) == {v2.pieces[0].blob_id}
    assert catalog.get_object(bucket, "k").version_id == v1.version_id  # type: ignore[union-attr]
    assert catalog.delete_version(bucket, "k", v2.version_id) is None
    assert catalog.delete_version(bucket, "k", v1.version_id) == v1
    assert catalog.get_object(bucket, "k") is None and catalog.get_latest(bucket, "k") is None


def test_deleting_an_old_version_under_a_marker_keeps_the_key_deleted(catalog: Catalog, bucket: str) -> None:
    v1 = v("k", "one")
    catalog.put_object(v1)
    catalog.put_object(v("k", "two"))
    catalog.delete_object(bucket, "k", marker("k", "del"))
    catalog.delete_version(bucket, "k", v1.version_id)
    assert catalog.get_object(bucket, "k") is None


def test_suspended_marker_replaces_the_null_version(catalog: Catalog, bucket: str) -> None:
    null, kept = v("k", "n", null=True), v("k", "kept")
    catalog.put_object(null)
    catalog.put_object(kept)
    m = marker("k", "del", null=True)
    assert catalog.delete_object(bucket, "k", m) == null
    assert garbage(catalog) == {null.pieces[0].blob_id}
    assert listed(catalog.list_versions(bucket)) == [
        ("k", "null", True, True), ("k", kept.version_id, False, False)]


def test_marker_in_a_missing_bucket(catalog: Catalog) -> None:
    with pytest.raises(NoSuchBucketError):
        catalog.delete_object("nope", "k", marker("k", "m"))
    with pytest.raises(NoSuchBucketError):
        catalog.set_bucket_versioning("nope", '{"Status": "Enabled"}')


def test_tags_of_a_noncurrent_version(catalog: Catalog, bucket: str) -> None:
    v1 = v("k", "one")
    catalog.put_object(v1)
    catalog.put_object(v("k", "two"))
    assert catalog.set_object_tags(v1, {"a": "b"})
    assert catalog.get_version(bucket, "k", v1.version_id).tags == {"a": "b"}  # type: ignore[union-attr]
    assert catalog.get_object(bucket, "k").tags == {}  # type: ignore[union-attr]


def test_conditions_see_a_marker_as_no_current_version(catalog: Catalog, bucket: str) -> None:
    catalog.put_object(v("k", "one"))
    catalog.delete_object(bucket, "k", marker("k", "del"))
    assert catalog.put_object(v("k", "two"), if_none_match=True) is None


def test_a_conditional_delete_holds_against_the_current_version(catalog: Catalog, bucket: str) -> None:
    """If-Match on a versioned DeleteObject: a marker only when the current version's etag matches; a
    key whose newest version is a marker has no current version (NoCurrentVersion), and no marker is
    added then."""
    one = v("k", "one")
    catalog.put_object(one)
    with pytest.raises(CatalogConflict):
        catalog.delete_object(bucket, "k", marker("k", "no"), if_match="0" * 32)
    assert catalog.get_latest(bucket, "k") == one
    assert catalog.delete_object(bucket, "k", marker("k", "del"), if_match=one.etag) is None  # kept: a marker
    assert catalog.get_latest(bucket, "k") == marker("k", "del")
    with pytest.raises(NoCurrentVersion):
        catalog.delete_object(bucket, "k", marker("k", "again"), if_match="*")
    assert catalog.get_version(bucket, "k", marker("k", "again").version_id) is None
    assert catalog.get_version(bucket, "k", one.version_id) == one


Listed = list[tuple[str, str | None]]


def reference(entries: list[tuple[str, str, bool]], prefix: str, delimiter: str) -> Listed:
    """ListObjectVersions as the plainest function: (key or common prefix, version id or None)."""
    out: Listed = []
    for key, vid, _ in entries:
        if not key.startswith(prefix):
            continue
        i = key.find(delimiter, len(prefix)) if delimiter else -1
        if i >= 0:
            cp = key[: i + len(delimiter)]
            if (cp, None) not in out:
                out.append((cp, None))
        else:
            out.append((key, vid))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_list_versions_pages_match_the_reference(catalog: Catalog, bucket: str, seed: int) -> None:
    rnd = random.Random(seed)
    entries: list[tuple[str, str, bool]] = []  # (key, version id, marker), newest first per key after sorting
    writes: list[tuple[str, str, bool]] = []
    for i in range(120):
        key = "".join(rnd.choice("ab/") for _ in range(rnd.randint(1, 4)))
        if rnd.random() < 0.2:
            m = marker(key, f"m{i}")
            catalog.delete_object(bucket, key, m)
            writes.append((key, m.version_id, True))
        else:
            w = v(key, f"w{i}")
            catalog.put_object(w)
            writes.append((key, w.version_id, False))
    for key in sorted({k for k, _, _ in writes}):
        entries.extend(reversed([w for w in writes if w[0] == key]))
    for prefix, delimiter in [("", ""), ("", "/"), ("a", "/"), ("b/", "")]:
        want = reference(entries, prefix, delimiter)
        for max_keys in (1, 7, 1000):
            got: Listed = []
            key_marker, vid_marker = "", None
            while True:
                page = catalog.list_versions(bucket, prefix=prefix, delimiter=delimiter,
                                             key_marker=key_marker, version_id_marker=vid_marker,
                                             max_keys=max_keys)
                # entries and prefixes interleave by name (a stable sort keeps a key's versions in order)
                items = [(e.summary.key, e.version_id) for e in page.versions] + [
                    (p, None) for p in page.common_prefixes]
                got.extend(sorted(items, key=lambda item: item[0]))
                assert len(items) <= max_keys
                if not page.is_truncated:
                    break
                assert page.next_key_marker is not None
                key_marker, vid_marker = page.next_key_marker, page.next_version_id_marker
            assert got == want, (prefix, delimiter, max_keys)
    latest = {(e.summary.key, e.version_id) for e in catalog.list_versions(bucket).versions if e.is_latest}
    keys = {k for k, _, _ in entries}
    assert latest == {next((k, vid) for k, vid, _ in entries if k == key) for key in keys}


def test_is_latest_false_when_a_page_starts_inside_a_key(catalog: Catalog, bucket: str) -> None:
    for tag in ("1", "2", "3"):
        catalog.put_object(v("k", tag))
    first = catalog.list_versions(bucket, max_keys=1)
    assert first.is_truncated and first.next_key_marker == "k"
    rest = catalog.list_versions(bucket, key_marker="k", version_id_marker=first.next_version_id_marker)
    assert [e.is_latest for e in first.versions + rest.versions] == [True, False, False]


def test_migrated_rows_read_as_null_versions(catalog: Catalog, bucket: str) -> None:
    default = dataclasses.replace(version("b", "k"))
    assert default.null_version and not default.delete_marker
    catalog.put_object(default)
    assert catalog.get_version(bucket, "k", "null") == default


def test_concurrent_writers_of_a_key_keep_every_version_and_current_is_the_newest(
        catalog: Catalog, other_catalog: Catalog, bucket: str) -> None:
    def write(worker: int) -> None:
        mine = catalog if worker % 2 else other_catalog
        for i in range(15):
            if i % 5 == 4:
                mine.delete_object(bucket, "k", marker("k", f"m{worker}-{i}"))
            else:
                mine.put_object(v("k", f"w{worker}-{i}"))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    page = catalog.list_versions(bucket)
    assert len(page.versions) == 60 and [e.is_latest for e in page.versions] == [True] + [False] * 59
    newest = page.versions[0]
    current = catalog.get_object(bucket, "k")
    if newest.delete_marker:
        assert current is None
    else:
        assert current is not None and current.version_id == newest.version_id


def test_unconditional_and_if_match_writers_of_a_key_are_serialised_and_replaced_blobs_are_garbage(
        catalog: Catalog, other_catalog: Catalog) -> None:
    # On PostgreSQL an unconditional PUT commits in one statement (a server-side function) while an
    # If-Match one runs in Python: both must take the same key lock and leave one null version.
    catalog.create_bucket(Bucket("u", OWNER, "us-east-1", 1.0))  # never versioned: one version per key
    won: list[ObjectVersion] = []

    def write(worker: int) -> None:
        mine = catalog if worker % 2 else other_catalog
        for i in range(12):
            new = version("u", "k", f"w{worker}-{i}", version_id=f"w{worker}-{i}".ljust(32, "x"))
            if i % 2:
                seen = mine.get_object("u", "k")
                try:
                    mine.put_object(new, if_match=seen.etag if seen else "none")
                except CatalogConflict:
                    continue  # another writer came between the read and the write
            else:
                mine.put_object(new)
            won.append(new)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, range(4)))
    page = catalog.list_versions("u")
    current = catalog.get_object("u", "k")
    assert current is not None and [e.version_id for e in page.versions] == ["null"]
    assert page.versions[0].summary.etag == current.etag
    assert len(won) >= 24  # every unconditional write, at least
    assert garbage(catalog) == {w.pieces[0].blob_id for w in won if w.version_id != current.version_id}
    with pytest.raises(CatalogConflict):
        catalog.put_object(version("u", "k", "late"), if_none_match=True)
    with pytest.raises(NoSuchBucketError):
        catalog.put_object(version("gone", "k", "late"))
