"""The access-control documents as pure values: canned ACLs, grant headers, AccessControlPolicy XML,
PublicAccessBlockConfiguration and OwnershipControls parsing (table-driven; no server)."""

from __future__ import annotations

import pytest

from strongroom.errors import S3Error
from strongroom.s3.access import acl, ownership, public_access_block

OWNER, BUCKET_OWNER, BOB = "a" * 64, "b" * 64, "c" * 64


@pytest.mark.parametrize(("name", "expected"), [
    ("private", {("CanonicalUser", OWNER, "FULL_CONTROL")}),
    ("public-read", {("CanonicalUser", OWNER, "FULL_CONTROL"), ("Group", acl.ALL_USERS, "READ")}),
    ("public-read-write", {("CanonicalUser", OWNER, "FULL_CONTROL"), ("Group", acl.ALL_USERS, "READ"),
                           ("Group", acl.ALL_USERS, "WRITE")}),
    ("authenticated-read", {("CanonicalUser", OWNER, "FULL_CONTROL"),
                            ("Group", acl.AUTHENTICATED_USERS, "READ")}),
    ("bucket-owner-read", {("CanonicalUser", OWNER, "FULL_CONTROL"),
                           ("CanonicalUser", BUCKET_OWNER, "READ")}),
    ("bucket-owner-full-control", {("CanonicalUser", OWNER, "FULL_CONTROL"),
                                   ("CanonicalUser", BUCKET_OWNER, "FULL_CONTROL")}),
    ("log-delivery-write", {("CanonicalUser", OWNER, "FULL_CONTROL"), ("Group", acl.LOG_DELIVERY, "WRITE"),
                            ("Group", acl.LOG_DELIVERY, "READ_ACP")}),
])
def test_canned_acls(name: str, expected: set) -> None:
    made = acl.canned(name, OWNER, BUCKET_OWNER)
    assert made.owner == OWNER and set(made.grants) == expected
    assert acl.Acl.from_json(made.to_json()) == made


@pytest.mark.parametrize(("name", "public", "owner_only"), [
    ("private", False, True), ("public-read", True, False), ("authenticated-read", True, False),
    ("bucket-owner-full-control", False, True), ("log-delivery-write", False, False),
])
def test_public_and_owner_only(name: str, public: bool, owner_only: bool) -> None:
    made = acl.canned(name, OWNER, OWNER)  # the bucket owner writes: bucket-owner-* add nothing
    assert (made.public, made.only_owner_full_control(OWNER)) == (public, owner_only)


@pytest.mark.parametrize(("grants", "permission", "who", "ignore", "allowed"), [
    ([("Group", acl.ALL_USERS, "READ")], "READ", None, False, True),
    ([("Group", acl.ALL_USERS, "READ")], "READ", None, True, False),  # IgnorePublicAcls
    ([("Group", acl.ALL_USERS, "READ")], "WRITE", BOB, False, False),
    ([("Group", acl.AUTHENTICATED_USERS, "READ")], "READ", None, False, False),
    ([("Group", acl.AUTHENTICATED_USERS, "READ")], "READ", BOB, False, True),
    ([("CanonicalUser", BOB, "FULL_CONTROL")], "WRITE_ACP", BOB, True, True),
    ([("CanonicalUser", BOB, "READ_ACP")], "READ", BOB, False, False),
    ([("Group", acl.LOG_DELIVERY, "WRITE")], "WRITE", BOB, False, False),
])
def test_what_a_grant_allows(grants: list, permission: str, who: str | None, ignore: bool,
                             allowed: bool) -> None:
    assert acl.Acl(OWNER, tuple(grants)).grants_to(permission, who, ignore) is allowed


def test_grant_headers() -> None:
    made = acl.from_headers({"x-amz-grant-read": f'id="{BOB}", uri="{acl.ALL_USERS}"',
                             "x-amz-grant-full-control": f"id={OWNER}"}, OWNER, OWNER, {OWNER, BOB})
    assert made is not None and set(made.grants) == {
        ("CanonicalUser", BOB, "READ"), ("Group", acl.ALL_USERS, "READ"),
        ("CanonicalUser", OWNER, "FULL_CONTROL")}
    assert acl.from_headers({}, OWNER, OWNER, set()) is None


@pytest.mark.parametrize(("headers", "status", "code"), [
    ({"x-amz-acl": "private", "x-amz-grant-read": f'id="{BOB}"'}, 400, "InvalidRequest"),
    ({"x-amz-acl": "world-readable"}, 400, "InvalidArgument"),
    ({"x-amz-grant-read": 'id="' + "d" * 64 + '"'}, 400, "InvalidArgument"),  # nobody has that id
    ({"x-amz-grant-read": 'uri="http://example.com/group"'}, 400, "InvalidArgument"),
    ({"x-amz-grant-read": 'emailAddress="bob@example.com"'}, 405, "MethodNotAllowed"),
    ({"x-amz-grant-read": "nonsense"}, 400, "InvalidArgument"),
])
def test_bad_acl_headers(headers: dict, status: int, code: str) -> None:
    with pytest.raises(S3Error) as e:
        acl.from_headers(headers, OWNER, OWNER, {OWNER, BOB})
    assert (e.value.status, e.value.code) == (status, code)


def _document(grants: str) -> bytes:
    return (f'<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>{OWNER}</ID></Owner>'
            f"<AccessControlList>{grants}</AccessControlList></AccessControlPolicy>").encode()


def _grant(kind: str, inner: str, permission: str) -> str:
    return (f'<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="{kind}">{inner}'
            f"</Grantee><Permission>{permission}</Permission></Grant>")


def test_document_round_trip() -> None:
    made = acl.Acl(OWNER, (("CanonicalUser", OWNER, "FULL_CONTROL"), ("Group", acl.ALL_USERS, "READ")))
    assert acl.from_document(acl.render(made), OWNER, {OWNER}) == made
    grantee = f"<ID>{BOB}</ID><DisplayName>b</DisplayName>"
    parsed = acl.from_document(_document(_grant("CanonicalUser", grantee, "WRITE_ACP")), OWNER, {BOB})
    assert parsed.grants == (("CanonicalUser", BOB, "WRITE_ACP"),)


@pytest.mark.parametrize(("body", "code"), [
    (b"<AccessControlPolicy>", "MalformedXML"),
    (_document(_grant("CanonicalUser", f"<ID>{BOB}</ID>", "ALL")), "MalformedACLError"),
    (_document(_grant("Martian", f"<ID>{BOB}</ID>", "READ")), "MalformedACLError"),
    (_document(_grant("Group", f"<ID>{BOB}</ID>", "READ")), "MalformedACLError"),
    (_document("<Grant><Permission>READ</Permission></Grant>"), "MalformedACLError"),
    (_document("<Extra/>"), "MalformedACLError"),
    (_document(_grant("CanonicalUser", "<ID>nobody</ID>", "READ")), "InvalidArgument"),
    (_document(_grant("AmazonCustomerByEmail", "<EmailAddress>b@example.com</EmailAddress>", "READ")),
     "MethodNotAllowed"),
])
def test_bad_documents(body: bytes, code: str) -> None:
    with pytest.raises(S3Error) as e:
        acl.from_document(body, OWNER, {OWNER, BOB})
    assert e.value.code == code


def test_public_access_block_parsing_and_storage() -> None:
    parsed = public_access_block.parse_configuration(
        b"<PublicAccessBlockConfiguration><BlockPublicPolicy>TRUE</BlockPublicPolicy>"
        b"<IgnorePublicAcls>false</IgnorePublicAcls></PublicAccessBlockConfiguration>")
    assert parsed.values() == (False, False, True, False) and parsed.configured
    assert public_access_block.from_stored(parsed.to_json()) == parsed
    assert public_access_block.from_stored(None) == public_access_block.NEW_BUCKET_DEFAULT
    assert public_access_block.from_stored("none") == public_access_block.NO_CONFIGURATION
    for bad in (b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls>"
                b"</PublicAccessBlockConfiguration>",
                b"<PublicAccessBlockConfiguration><Other>true</Other></PublicAccessBlockConfiguration>",
                b"<Wrong/>"):
        with pytest.raises(S3Error) as e:
            public_access_block.parse_configuration(bad)
        assert e.value.code == "MalformedXML"


def test_ownership_modes() -> None:
    assert ownership.mode_of(None) == ownership.ENFORCED  # new buckets
    assert ownership.mode_of(ownership.NONE) == ownership.WRITER  # controls deleted: ACLs count
    assert ownership.parse(b"<OwnershipControls><Rule><ObjectOwnership>BucketOwnerPreferred</ObjectOwnership>"
                           b"</Rule></OwnershipControls>") == ownership.PREFERRED
    with pytest.raises(S3Error):
        ownership.parse(b"<OwnershipControls></OwnershipControls>")


def test_a_stored_policy_that_no_longer_parses_fails_closed() -> None:
    from strongroom.policy import Decision, Principal, RequestContext, evaluate
    from strongroom.s3.access.bucket_policy import stored as _stored_policy

    policy, public = _stored_policy('{"Statement": "not a statement"}', None, "123456789012", "b1")
    assert policy is not None and not public
    ask = RequestContext("s3:GetObject", ("arn:aws:s3:::b1/k",), Principal.root("123456789012"))
    assert evaluate(ask, resource_policy=policy, owner_grants=True) is Decision.DENY
    assert _stored_policy(None, None, "123456789012", "b1") == (None, False)
