"""The ACL and Object Ownership a write asks for: CreateBucket, PutObject, CopyObject,
CreateMultipartUpload and POST Object.

Decided and checked by authorization before the handler runs (a refused ACL must leave nothing
written); the result reaches the handler as a typed value on the request (`Ctx.object_acl`,
`Ctx.new_bucket_access`), which the handler passes on with what it writes (objects and uploads:
in the same catalog transaction; CreateBucket: `buckets._store_bucket_access`).

AWS facts used here: see `acl` and `ownership`. In short: with BucketOwnerEnforced a write may
carry no ACL or one that gives the bucket owner full control only (else 400
AccessControlListNotSupported; CreateBucket: InvalidBucketAclWithObjectOwnership);
BlockPublicAcls refuses a public ACL with 403 AccessDenied; with BucketOwnerPreferred an object
written with bucket-owner-full-control belongs to the bucket owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from strongroom.errors import S3Error, access_denied
from strongroom.s3.access import acl, ownership
from strongroom.s3.access.public_access_block import PublicAccessBlock


@dataclass(frozen=True, slots=True)
class NewBucketAccess:
    """What CreateBucket stores beside the bucket: its Object Ownership mode and, when ACLs count and
    the request asked for more than the private default, its ACL (the stored JSON document)."""

    ownership: str
    acl: str | None = None


def names_users(headers: Mapping[str, str]) -> bool:
    """Whether the request's grant headers may name users (then the known users must be read)."""
    return any(h in headers for h in acl.GRANT_HEADERS)


def invalid_acl_with_block_public_access() -> S3Error:
    """CreateBucket with a public ACL while the new bucket's Block Public Access is on (boto3's
    CreateBucket documentation: "If you try to create a bucket with a public ACL, the request will
    fail"; the message as S3 words it, recorded in emgarten/Sleet#180)."""
    return S3Error("InvalidBucketAclWithBlockPublicAccessError", 400,
                   "Bucket cannot have public ACLs set with BlockPublicAccess enabled")


def new_bucket_access(headers: Mapping[str, str], owner: str, users: set[str], *,
                      default_mode: str = ownership.ENFORCED,
                      block_public: bool = True) -> NewBucketAccess | None:
    """CreateBucket's ownership and ACL headers, checked; None when the bucket keeps the defaults.
    default_mode: the mode of a bucket whose request names none (serve's --new-bucket-object-ownership);
    block_public: whether the new bucket starts with Block Public Access on (a public ACL is refused)."""
    mode = ownership.header_mode(headers) or default_mode
    requested = acl.from_headers(headers, owner, owner, users)
    if requested is not None and mode == ownership.ENFORCED and not requested.only_owner_full_control(owner):
        raise ownership.invalid_acl_with_ownership()
    if requested is not None and mode != ownership.ENFORCED and block_public and requested.public:
        raise invalid_acl_with_block_public_access()
    keep_acl = requested is not None and mode != ownership.ENFORCED and requested != acl.private(owner)
    if mode == ownership.ENFORCED and not keep_acl:
        return None  # the defaults: nothing to store
    return NewBucketAccess(mode, requested.to_json() if keep_acl and requested is not None else None)


def object_write_acl(headers: Mapping[str, str], mode: str, pab: PublicAccessBlock, bucket_owner: str,
                     writer: str, users: set[str]) -> str | None:
    """The ACL document an object write stores, checked; None when it stores none (no ACL headers, or
    ACLs disabled and the request gives the bucket owner full control only)."""
    if not acl.has_acl_headers(headers):
        return None
    if mode == ownership.ENFORCED:  # the bucket owner owns the object: only its full control is accepted
        requested = acl.from_headers(headers, bucket_owner, bucket_owner, users)
        if requested is not None and not requested.only_owner_full_control(bucket_owner):
            raise acl.not_supported()
        return None
    takes_over = mode == ownership.PREFERRED and headers.get("x-amz-acl") == "bucket-owner-full-control"
    requested = acl.from_headers(headers, bucket_owner if takes_over else writer, bucket_owner, users)
    if requested is None:
        return None
    if pab.block_public_acls and requested.public:
        raise access_denied()
    return requested.to_json()

