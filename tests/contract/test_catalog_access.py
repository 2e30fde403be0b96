"""The Catalog contract for access-control records: user policies and object ACLs (also as written
with the version or upload they belong to, in the same transaction)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from strongroom.catalog.api import Catalog, CatalogConflict, NoSuchBucketError
from strongroom.catalog.model import ObjectVersion, Part
from tests.contract.test_catalog import make_bucket, piece, upload, version

ALICE = "a" * 64
BOB = "b" * 64
DOC = '{"Version": "2012-10-17", "Statement": []}'


def test_user_policies_attach_replace_list_detach(catalog: Catalog, other_catalog: Catalog) -> None:
    assert catalog.list_user_policies(ALICE) == []
    catalog.put_user_policy(ALICE, "read", DOC)
    catalog.put_user_policy(ALICE, "admin", "{}")
    catalog.put_user_policy(BOB, "read", "{}")
    assert other_catalog.list_user_policies(ALICE) == [("admin", "{}"), ("read", DOC)]
    catalog.put_user_policy(ALICE, "read", '{"v": 2}')  # same name replaces
    assert catalog.list_user_policies(ALICE) == [("admin", "{}"), ("read", '{"v": 2}')]
    assert catalog.delete_user_policy(ALICE, "read") is True
    assert catalog.delete_user_policy(ALICE, "read") is False
    assert other_catalog.list_user_policies(ALICE) == [("admin", "{}")]
    assert catalog.list_user_policies(BOB) == [("read", "{}")]


def test_object_acls_put_get_remove(catalog: Catalog, other_catalog: Catalog) -> None:
    assert catalog.get_object_acl("v1") is None
    catalog.put_object_acl("v1", "acl-1")
    catalog.put_object_acl("upload:u1", "acl-u")
    assert other_catalog.get_object_acl("v1") == "acl-1"
    catalog.put_object_acl("v1", "acl-2")
    assert other_catalog.get_object_acl("v1") == "acl-2"
    catalog.put_object_acl("v1", None)
    catalog.put_object_acl("never-stored", None)  # removing nothing is not an error
    assert catalog.get_object_acl("v1") is None
    assert catalog.get_object_acl("upload:u1") == "acl-u"


# --- ACLs written in the same transaction as their version or upload ---


def test_put_object_stores_its_acl_in_the_same_transaction(catalog: Catalog, other_catalog: Catalog) -> None:
    make_bucket(catalog)
    plain = version("bkt", "plain")
    catalog.put_object(plain)
    assert catalog.get_object_acl(plain.version_id) is None
    first = version("bkt", "k", "first")
    assert catalog.put_object(first, acl="acl-first") is None
    assert other_catalog.get_object_acl(first.version_id) == "acl-first"
    # A put that fails its condition, or finds no bucket, stores no ACL either.
    refused = version("bkt", "k", "refused")
    with pytest.raises(CatalogConflict):
        catalog.put_object(refused, if_none_match=True, acl="acl-refused")
    with pytest.raises(CatalogConflict):
        catalog.put_object(refused, if_match="not-the-etag", acl="acl-refused")
    with pytest.raises(NoSuchBucketError):
        catalog.put_object(version("nope", "k", "refused"), acl="acl-refused")
    assert catalog.get_object_acl(refused.version_id) is None
    second = version("bkt", "k", "second")
    assert catalog.put_object(second, if_match=first.etag, acl="acl-second") == first
    assert catalog.get_object_acl(second.version_id) == "acl-second"


def test_concurrent_puts_each_keep_their_acl(catalog: Catalog) -> None:
    # On SQLite these share group-commit transactions; a job that fails (if_none_match on an
    # existing key) is rolled back alone, its ACL with it.
    make_bucket(catalog)
    catalog.put_object(version("bkt", "taken", "first"))
    jobs = [(version("bkt", f"k{i}", "t"), False) for i in range(24)]
    jobs += [(version("bkt", "taken", f"loser{i}"), True) for i in range(8)]

    def put(job: tuple[ObjectVersion, bool]) -> bool:
        v, if_none_match = job
        try:
            catalog.put_object(v, if_none_match=if_none_match, acl=f"acl-{v.version_id}")
        except CatalogConflict:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        stored = list(pool.map(put, jobs))
    assert stored == [not refused for _, refused in jobs]
    for v, refused in jobs:
        assert catalog.get_object_acl(v.version_id) == (None if refused else f"acl-{v.version_id}")


def test_upload_acl_waits_then_moves_to_the_completed_version(catalog: Catalog, other_catalog: Catalog
                                                               ) -> None:
    make_bucket(catalog)
    with pytest.raises(NoSuchBucketError):
        catalog.create_upload(upload("nope", "k", "u0"), acl="acl-u0")
    assert catalog.get_object_acl("upload:u0") is None
    catalog.create_upload(upload("bkt", "big", "u1"), acl="acl-u1")
    with pytest.raises(CatalogConflict):  # the same id again: the first upload's ACL is kept
        catalog.create_upload(upload("bkt", "big", "u1"), acl="acl-other")
    assert other_catalog.get_object_acl("upload:u1") == "acl-u1"

    part = Part("u1", piece(1, "u1"), 1.0)
    catalog.put_part(part)
    v = version("bkt", "big", "done", pieces=(part.piece,))
    catalog.put_object(version("bkt", "big", "old"))
    with pytest.raises(CatalogConflict):  # a failed completion leaves the ACL waiting
        catalog.complete_upload("u1", v, if_none_match=True)
    assert catalog.get_object_acl("upload:u1") == "acl-u1"
    assert catalog.get_object_acl(v.version_id) is None

    catalog.complete_upload("u1", v)
    assert other_catalog.get_object_acl(v.version_id) == "acl-u1"
    assert other_catalog.get_object_acl("upload:u1") is None


def test_upload_without_acl_completes_without_one(catalog: Catalog) -> None:
    make_bucket(catalog)
    catalog.create_upload(upload("bkt", "big", "u1"))
    part = Part("u1", piece(1, "u1"), 1.0)
    catalog.put_part(part)
    v = version("bkt", "big", "done", pieces=(part.piece,))
    catalog.complete_upload("u1", v)
    assert catalog.get_object_acl(v.version_id) is None


def test_abort_upload_drops_its_pending_acl(catalog: Catalog) -> None:
    make_bucket(catalog)
    catalog.create_upload(upload("bkt", "big", "u1"), acl="acl-u1")
    catalog.create_upload(upload("bkt", "big", "u2"), acl="acl-u2")
    assert catalog.abort_upload("u1") == []
    assert catalog.get_object_acl("upload:u1") is None
    assert catalog.get_object_acl("upload:u2") == "acl-u2"
