"""The Catalog contract for access-control records: user policies and object ACLs."""

from __future__ import annotations

from strongroom.catalog.api import Catalog

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
