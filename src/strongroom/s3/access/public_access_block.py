"""S3 Block Public Access for a bucket, the model: the `PublicAccessBlockConfiguration` document and
its stored form (catalog bucket config kind "public_access_block"). The handlers (Put, Get,
DeletePublicAccessBlock) are in `strongroom.s3.public_access_block`.

AWS facts used here:
- Since April 2023 every new bucket has all four settings on (AWS "What's new" 2022-12-13,
  "Amazon S3 will automatically enable S3 Block Public Access and disable ACLs for all new
  buckets starting in April 2023"). A bucket with no stored row therefore reads as all-on;
  DeletePublicAccessBlock stores an explicit "none" so the bucket then has no configuration.
- GetPublicAccessBlock without one: 404 NoSuchPublicAccessBlockConfiguration, "The public
  access block configuration was not found".
- A missing element of the document is false (API PublicAccessBlockConfiguration: "Required: No").
- How the settings act (enforced in authorization, acl and bucket_policy): BlockPublicAcls refuses
  PutBucketAcl/PutObjectAcl/PUT Object with a public ACL; IgnorePublicAcls makes public ACL grants
  count for nothing; BlockPublicPolicy refuses a public PutBucketPolicy; RestrictPublicBuckets
  limits a bucket with a public policy to principals of the account (no anonymous access).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from strongroom.errors import S3Error, malformed_xml
from strongroom.s3 import xml

KIND = "public_access_block"
ROOT = "PublicAccessBlockConfiguration"
FIELDS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
NONE = "none"  # stored by DeletePublicAccessBlock: the bucket has no configuration at all
_BOOLEANS = {"true": True, "false": False}
MAX_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class PublicAccessBlock:
    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False
    configured: bool = False

    def to_json(self) -> str:
        return json.dumps(dict(zip(FIELDS, self.values(), strict=True)))

    def values(self) -> tuple[bool, bool, bool, bool]:
        return (self.block_public_acls, self.ignore_public_acls, self.block_public_policy,
                self.restrict_public_buckets)


NEW_BUCKET_DEFAULT = PublicAccessBlock(True, True, True, True, configured=True)
NO_CONFIGURATION = PublicAccessBlock()


def from_stored(document: str | None) -> PublicAccessBlock:
    if document is None:
        return NEW_BUCKET_DEFAULT
    if document == NONE:
        return NO_CONFIGURATION
    d = json.loads(document)
    return _from_values([bool(d.get(name)) for name in FIELDS])


def no_such_configuration(bucket: str) -> S3Error:
    return S3Error("NoSuchPublicAccessBlockConfiguration", 404,
                   "The public access block configuration was not found", BucketName=bucket)


def max_message_length_exceeded() -> S3Error:
    return S3Error("MaxMessageLengthExceeded", 400, "Your request was too big.")


def parse_configuration(data: bytes) -> PublicAccessBlock:
    root = xml.parse(data, ROOT)
    xml.check_known(root, FIELDS)
    values = []
    for name in FIELDS:
        node = xml.only_child(root, name)
        if node is None:
            values.append(False)
            continue
        if len(node):
            raise malformed_xml()
        value = _BOOLEANS.get(xml.text_of(node).lower())
        if value is None:
            raise malformed_xml()
        values.append(value)
    return _from_values(values)


def _from_values(values: list[bool]) -> PublicAccessBlock:
    """A configured block from the four settings in FIELDS order."""
    acls, ignore, policy, restrict = values
    return PublicAccessBlock(acls, ignore, policy, restrict, configured=True)


def render(pab: PublicAccessBlock) -> bytes:
    return xml.document(ROOT, "".join(xml.el(name, value) for name, value in zip(FIELDS, pab.values(),
                                                                                     strict=True)))
