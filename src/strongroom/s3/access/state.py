"""What decides access to one bucket: its policy, Block Public Access, Object Ownership and ACL, read
from the bucket's stored configs once per request, and the facts of objects the request acts on."""

from __future__ import annotations

from dataclasses import dataclass, field

from strongroom.catalog.api import Catalog
from strongroom.catalog.model import Bucket, ObjectVersion
from strongroom.policy import Policy
from strongroom.s3.access import acl, bucket_policy, ownership, public_access_block
from strongroom.s3.access.acl import Acl
from strongroom.s3.access.public_access_block import PublicAccessBlock

ObjectFacts = tuple[ObjectVersion | None, Acl | None]  # the current version and, when ACLs count, its ACL


@dataclass(slots=True)
class BucketState:
    """What decides access to one bucket, read in one catalog round trip. `objects` fills as the request
    asks about keys (an ACL grant, s3:ExistingObjectTag)."""

    bucket: Bucket
    policy: Policy | None
    policy_public: bool
    pab: PublicAccessBlock
    mode: str  # Object Ownership
    acl: Acl | None  # the bucket ACL, when ACLs count
    objects: dict[str, ObjectFacts] = field(default_factory=dict)

    @property
    def acls_count(self) -> bool:
        return self.mode != ownership.ENFORCED


def load_state(configs: dict[str, str], account: str, bucket: Bucket) -> BucketState:
    """The state from the bucket's stored configs by kind (`Catalog.get_bucket_configs`)."""
    policy, public = bucket_policy.stored(configs.get(bucket_policy.KIND),
                                          configs.get(bucket_policy.PRINCIPALS_KIND), account, bucket.name)
    pab = public_access_block.from_stored(configs.get(public_access_block.KIND))
    mode = ownership.mode_of(configs.get(ownership.KIND))
    bucket_acl = None
    if mode != ownership.ENFORCED:
        bucket_acl = acl.stored_bucket_acl(configs.get(acl.KIND), bucket.owner_id)
    return BucketState(bucket, policy, public, pab, mode, bucket_acl)


def load_object(catalog: Catalog, bucket: str, key: str, acls: bool, version_id: str | None = None
                ) -> ObjectFacts:
    """An object's facts (blocking: two catalog reads): its current version's, or with `version_id` (S3's:
    "null" for the null version) that version's (None when it is missing or a delete marker)."""
    version = catalog.get_object(bucket, key) if version_id is None else catalog.get_version(bucket, key,
                                                                                             version_id)
    if version is not None and version.delete_marker:
        version = None
    if version is None or not acls:
        return version, None
    return version, acl.object_acl(catalog.get_object_acl(version.version_id), version)
