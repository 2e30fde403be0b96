"""Access control lists, the model: canned ACLs, grant headers, the AccessControlPolicy document.

Owns the ACL model (an owner and grants), its stored form (bucket config kind "acl"; object
ACLs in the catalog by version id) and what a grant allows; the handlers (GetBucketAcl,
PutBucketAcl, GetObjectAcl, PutObjectAcl) are in `strongroom.s3.acl`. Whether ACLs count at
all is Object Ownership's business (`ownership`): with BucketOwnerEnforced, the default for new
buckets, they do not.

AWS facts used here (S3 user guide "Access control list (ACL) overview", "Canned ACL",
"Mapping of ACL permissions and access policy permissions"; API PutBucketAcl, PutObjectAcl;
"Troubleshooting" for Object Ownership):
- Grantees: a canonical user id, or the groups AllUsers, AuthenticatedUsers, LogDelivery.
  Email grantees are discontinued since 2025-10-01 ("the request will receive an HTTP 405").
- Canned ACLs: private (owner FULL_CONTROL), public-read (+AllUsers READ), public-read-write
  (+AllUsers READ, WRITE), authenticated-read (+AuthenticatedUsers READ), aws-exec-read (owner;
  the EC2 grant has no meaning here), bucket-owner-read / bucket-owner-full-control (objects:
  + the bucket owner READ / FULL_CONTROL), log-delivery-write (+LogDelivery WRITE, READ_ACP).
- Bucket READ allows s3:ListBucket, s3:ListBucketVersions, s3:ListBucketMultipartUploads; WRITE
  allows s3:PutObject and s3:DeleteObject; READ_ACP s3:GetBucketAcl; WRITE_ACP s3:PutBucketAcl.
  Object READ allows s3:GetObject(Version); READ_ACP s3:GetObject(Version)Acl; WRITE_ACP
  s3:PutObject(Version)Acl. FULL_CONTROL is all of them.
- "You cannot specify access permission using both the body and the request headers"; a canned
  ACL with grant headers is 400 InvalidRequest "Specifying both Canned ACLs and Header Grants is
  not allowed". An unknown canonical id is 400 InvalidArgument "Invalid id"; a document that does
  not fit the schema is 400 MalformedACLError.
- With ACLs disabled, "Requests to set ACLs or update ACLs fail with a 400 error and return the
  AccessControlListNotSupported error code" ("The bucket does not allow ACLs"), except those that
  only give the bucket owner full control; "Requests to read ACLs always return a response that
  shows full control for the bucket owner."
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

from strongroom.catalog.model import ObjectVersion
from strongroom.errors import S3Error, access_denied, invalid_argument, invalid_request
from strongroom.s3 import xml
from strongroom.s3.access import ownership
from strongroom.s3.access.public_access_block import PublicAccessBlock

KIND = "acl"
MAX_BODY = 64 * 1024
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY})
PUBLIC_GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS})
PERMISSIONS = ("FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP")
CANNED = frozenset({"private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
                    "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write"})
GRANT_HEADERS = {"x-amz-grant-read": "READ", "x-amz-grant-write": "WRITE", "x-amz-grant-read-acp": "READ_ACP",
                 "x-amz-grant-write-acp": "WRITE_ACP", "x-amz-grant-full-control": "FULL_CONTROL"}
XSI = "http://www.w3.org/2001/XMLSchema-instance"
_GRANTEE_ITEM = re.compile(r'\s*(id|uri|emailAddress)\s*=\s*"?([^",]*)"?\s*(?:,|$)')

# Which permission grants an action, per the user guide's mapping table (FULL_CONTROL grants all).
BUCKET_ACTIONS = {
    "s3:ListBucket": "READ", "s3:ListBucketVersions": "READ", "s3:ListBucketMultipartUploads": "READ",
    "s3:PutObject": "WRITE", "s3:DeleteObject": "WRITE", "s3:GetBucketAcl": "READ_ACP",
    "s3:PutBucketAcl": "WRITE_ACP",
}
OBJECT_ACTIONS = {
    "s3:GetObject": "READ", "s3:GetObjectVersion": "READ", "s3:GetObjectAcl": "READ_ACP",
    "s3:GetObjectVersionAcl": "READ_ACP", "s3:PutObjectAcl": "WRITE_ACP",
    "s3:PutObjectVersionAcl": "WRITE_ACP",
}

Grant = tuple[str, str, str]  # (grantee type "CanonicalUser" | "Group", id or URI, permission)


@dataclass(frozen=True, slots=True)
class Acl:
    owner: str
    grants: tuple[Grant, ...]

    def to_json(self) -> str:
        return json.dumps({"owner": self.owner, "grants": [list(g) for g in self.grants]})

    @staticmethod
    def from_json(text: str) -> Acl:
        d = json.loads(text)
        return Acl(d["owner"], tuple((a, b, c) for a, b, c in d["grants"]))

    @property
    def public(self) -> bool:
        return any(kind == "Group" and who in PUBLIC_GROUPS for kind, who, _ in self.grants)

    def only_owner_full_control(self, owner: str) -> bool:
        """Equivalent to bucket-owner-full-control when `owner` owns everything (ACLs disabled)."""
        return all(g == ("CanonicalUser", owner, "FULL_CONTROL") for g in self.grants)

    def grants_to(self, permission: str, user_id: str | None, ignore_public: bool) -> bool:
        for kind, who, perm in self.grants:
            if perm != permission and perm != "FULL_CONTROL":
                continue
            if kind == "CanonicalUser" and user_id is not None and who == user_id:
                return True
            if kind == "Group" and not ignore_public and (
                    who == ALL_USERS or (who == AUTHENTICATED_USERS and user_id is not None)):
                return True
        return False


def private(owner: str) -> Acl:
    return Acl(owner, (("CanonicalUser", owner, "FULL_CONTROL"),))


def canned(name: str, owner: str, bucket_owner: str) -> Acl:
    grants: list[Grant] = [("CanonicalUser", owner, "FULL_CONTROL")]
    if name in ("public-read", "public-read-write"):
        grants.append(("Group", ALL_USERS, "READ"))
    if name == "public-read-write":
        grants.append(("Group", ALL_USERS, "WRITE"))
    if name == "authenticated-read":
        grants.append(("Group", AUTHENTICATED_USERS, "READ"))
    if name == "log-delivery-write":
        grants += [("Group", LOG_DELIVERY, "WRITE"), ("Group", LOG_DELIVERY, "READ_ACP")]
    if name in ("bucket-owner-read", "bucket-owner-full-control") and bucket_owner != owner:
        permission = "READ" if name == "bucket-owner-read" else "FULL_CONTROL"
        grants.append(("CanonicalUser", bucket_owner, permission))
    return Acl(owner, tuple(grants))


# --- reading an ACL from a request ------------------------------------------------------------------


def malformed_acl() -> S3Error:
    return S3Error("MalformedACLError", 400, "The XML you provided was not well-formed or did not validate "
                   "against our published schema")


def not_supported() -> S3Error:
    return S3Error("AccessControlListNotSupported", 400, "The bucket does not allow ACLs")


def email_grantee() -> S3Error:
    return S3Error("MethodNotAllowed", 405, "The specified method is not allowed against this resource.")


def has_acl_headers(headers: Mapping[str, str]) -> bool:
    return "x-amz-acl" in headers or any(h in headers for h in GRANT_HEADERS)


def _grantee(kind: str, value: str, known_user: set[str]) -> tuple[str, str]:
    if kind == "id":
        if value not in known_user:
            raise invalid_argument("Invalid id", "CanonicalUser/ID", value)
        return "CanonicalUser", value
    if kind == "uri":
        if value not in GROUPS:
            raise invalid_argument("Invalid group uri", "Group/URI", value)
        return "Group", value
    raise email_grantee()


def from_headers(headers: Mapping[str, str], owner: str, bucket_owner: str,
                 known_users: set[str]) -> Acl | None:
    """The ACL that x-amz-acl or the x-amz-grant-* headers ask for; None when there are none."""
    canned_name = headers.get("x-amz-acl")
    grant_headers = [h for h in GRANT_HEADERS if h in headers]
    if canned_name is not None and grant_headers:
        raise invalid_request("Specifying both Canned ACLs and Header Grants is not allowed")
    if canned_name is not None:
        if canned_name not in CANNED:
            raise S3Error("InvalidArgument", 400, "", ArgumentName="x-amz-acl", ArgumentValue=canned_name)
        return canned(canned_name, owner, bucket_owner)
    if not grant_headers:
        return None
    grants: list[Grant] = []
    for header in grant_headers:
        text = headers[header]
        pos = 0
        while pos < len(text):
            m = _GRANTEE_ITEM.match(text, pos)
            if m is None or m.end() == pos:
                raise invalid_argument("Invalid grant header", header, text)
            kind, who = _grantee(m.group(1), m.group(2).strip(), known_users)
            grants.append((kind, who, GRANT_HEADERS[header]))
            pos = m.end()
    return Acl(owner, tuple(grants))


def _attr_type(node: ET.Element) -> str | None:
    for name, value in node.attrib.items():
        if name == f"{{{XSI}}}type" or name.endswith("}type") or name == "type":
            return value
    return None


def from_document(data: bytes, owner: str, known_users: set[str]) -> Acl:
    root = xml.parse(data, "AccessControlPolicy")
    for node in root.iter():  # the schema's elements only; anything else is MalformedACLError
        if node.tag not in ("AccessControlPolicy", "Owner", "ID", "DisplayName", "AccessControlList", "Grant",
                            "Grantee", "URI", "EmailAddress", "Permission"):
            raise malformed_acl()
    listing = root.find("AccessControlList")
    if listing is None or len([n for n in root if n.tag == "AccessControlList"]) != 1:
        raise malformed_acl()
    grants: list[Grant] = []
    for grant in listing:
        if grant.tag != "Grant":
            raise malformed_acl()
        grantee, permission = grant.find("Grantee"), grant.find("Permission")
        if grantee is None or permission is None or xml.text_of(permission) not in PERMISSIONS:
            raise malformed_acl()
        kind = _attr_type(grantee)
        fields = {c.tag: xml.text_of(c) for c in grantee}
        if kind == "CanonicalUser" and "ID" in fields:
            pair = _grantee("id", fields["ID"], known_users)
        elif kind == "Group" and "URI" in fields:
            pair = _grantee("uri", fields["URI"], known_users)
        elif kind == "AmazonCustomerByEmail" and "EmailAddress" in fields:
            raise email_grantee()
        else:
            raise malformed_acl()
        grants.append((*pair, xml.text_of(permission)))
    return Acl(owner, tuple(grants))


def render(acl: Acl) -> bytes:
    grants = []
    for kind, who, permission in acl.grants:
        inner = xml.el("ID", who) if kind == "CanonicalUser" else xml.el("URI", who)
        grants.append(f'<Grant><Grantee xmlns:xsi="{XSI}" xsi:type="{kind}">{inner}</Grantee>'
                      f"{xml.el('Permission', permission)}</Grant>")
    return xml.document("AccessControlPolicy", f"<Owner>{xml.el('ID', acl.owner)}</Owner>"
                                               f"<AccessControlList>{''.join(grants)}</AccessControlList>")


def check_settable(acl: Acl, mode: str, bucket_owner: str,
                   pab: PublicAccessBlock) -> None:
    """Whether a bucket in Object Ownership `mode` with Block Public Access `pab` takes this ACL."""
    if mode == ownership.ENFORCED and not acl.only_owner_full_control(bucket_owner):
        raise not_supported()
    if pab.block_public_acls and acl.public:
        raise access_denied()


# --- stored ACLs -------------------------------------------------------------------------------------


def stored_bucket_acl(doc: str | None, owner: str) -> Acl:
    """A bucket's ACL from its stored document (a bucket without one is private to its owner)."""
    return Acl.from_json(doc) if doc else private(owner)


def object_acl(doc: str | None, version: ObjectVersion) -> Acl:
    return Acl.from_json(doc) if doc else private(version.owner_id)
