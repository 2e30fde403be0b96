"""S3 Object Ownership, the model: the bucket's ownership mode and its stored form (bucket config kind
"ownership"), the OwnershipControls document and CreateBucket's x-amz-object-ownership header. The
handlers (Put/Get/DeleteBucketOwnershipControls) are in `strongroom.s3.ownership`.

AWS facts used here (API OwnershipControlsRule, CreateBucket; user guide "Controlling ownership
of objects and disabling ACLs"; S3 error responses):
- ObjectOwnership is BucketOwnerEnforced (ACLs disabled, the bucket owner owns every object),
  BucketOwnerPreferred or ObjectWriter (ACLs enabled). "By default, ObjectOwnership is set to
  BucketOwnerEnforced and ACLs are disabled": a bucket with no stored row is BucketOwnerEnforced.
- After DeleteBucketOwnershipControls the bucket has no controls (the pre-2023 behaviour, ACLs
  enabled, objects owned by their writer) and Get answers 404 OwnershipControlsNotFoundError,
  "The bucket ownership controls were not found".
- Turning ACLs off requires a bucket ACL that gives full control to the bucket owner only, else
  400 InvalidBucketAclWithObjectOwnership, "Bucket cannot have ACLs set with ObjectOwnership's
  BucketOwnerEnforced setting"; the same error answers a CreateBucket that asks for
  BucketOwnerEnforced with an ACL granting anyone else.
"""

from __future__ import annotations

from collections.abc import Mapping

from strongroom.errors import S3Error, invalid_argument, malformed_xml
from strongroom.s3 import xml

KIND = "ownership"
ENFORCED, PREFERRED, WRITER = "BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"
MODES = (ENFORCED, PREFERRED, WRITER)
NONE = "none"  # stored by DeleteBucketOwnershipControls; behaves as ObjectWriter
MAX_BODY = 64 * 1024


def not_found(bucket: str) -> S3Error:
    return S3Error("OwnershipControlsNotFoundError", 404, "The bucket ownership controls were not found",
                   BucketName=bucket)


def invalid_acl_with_ownership() -> S3Error:
    return S3Error("InvalidBucketAclWithObjectOwnership", 400,
                   "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")


def mode_of(document: str | None) -> str:
    """The effective mode: what decides whether ACLs count and who owns new objects."""
    if document is None:
        return ENFORCED
    return WRITER if document == NONE else document


def header_mode(headers: Mapping[str, str]) -> str | None:
    """CreateBucket's x-amz-object-ownership, validated."""
    value = headers.get("x-amz-object-ownership")
    if value is not None and value not in MODES:
        raise invalid_argument("Invalid x-amz-object-ownership header", "x-amz-object-ownership", value)
    return value


def parse(data: bytes) -> str:
    root = xml.parse(data, "OwnershipControls")
    xml.check_known(root, ("Rule",))
    rules = xml.children(root, "Rule")
    if len(rules) != 1:
        raise malformed_xml()
    xml.check_known(rules[0], ("ObjectOwnership",))
    node = xml.only_child(rules[0], "ObjectOwnership")
    if node is None or len(node) or xml.text_of(node) not in MODES:
        raise malformed_xml()
    return xml.text_of(node)


def render(document: str | None) -> bytes:
    return xml.document("OwnershipControls", f"<Rule>{xml.el('ObjectOwnership', mode_of(document))}</Rule>")
