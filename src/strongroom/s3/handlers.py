"""The table of implemented operations: the one list of what strongroom serves. Missing -> 501."""

from __future__ import annotations

from strongroom.s3 import (
    acl,
    bucket_encryption,
    bucket_policy,
    buckets,
    listing,
    multipart,
    objects,
    ownership,
    post_object,
    public_access_block,
    service,
    tagging,
    update_encryption,
)
from strongroom.s3.dispatch import Handler
from strongroom.s3.routing import Operation

MODULES = (buckets, objects, listing, multipart, bucket_encryption, post_object, service, update_encryption,
           bucket_policy, acl, ownership, public_access_block, tagging)


def table() -> dict[Operation, Handler]:
    handlers: dict[Operation, Handler] = {}
    for module in MODULES:
        overlap = handlers.keys() & module.HANDLERS.keys()
        assert not overlap, f"{module.__name__} handles {overlap} again"
        handlers.update(module.HANDLERS)  # type: ignore[attr-defined]
    return handlers
