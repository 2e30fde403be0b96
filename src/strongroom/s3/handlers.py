"""The table of implemented operations: the one list of what strongroom serves. Missing -> 501."""

from __future__ import annotations

from strongroom.s3 import bucket_encryption, buckets, listing, multipart, objects, post_object, service
from strongroom.s3.dispatch import Handler
from strongroom.s3.routing import Operation

MODULES = (buckets, objects, listing, multipart, bucket_encryption, post_object, service)


def table() -> dict[Operation, Handler]:
    handlers: dict[Operation, Handler] = {}
    for module in MODULES:
        overlap = handlers.keys() & module.HANDLERS.keys()
        assert not overlap, f"{module.__name__} handles {overlap} again"
        handlers.update(module.HANDLERS)  # type: ignore[attr-defined]
    return handlers
