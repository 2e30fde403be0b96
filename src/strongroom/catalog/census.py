"""What is stored under which key: objects, bytes, the oldest object, buckets and uploads in progress, per
(bucket, encryption, key) and per key (`report encryption`, `kms list`). One walk of the catalog
(walk.py); the key a sealing depends on is named by the caller (the catalog never reads a wrapping)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from strongroom.catalog import walk
from strongroom.catalog.api import Catalog
from strongroom.catalog.model import Sealing

NameOf = Callable[[Sealing], str]


@dataclass(slots=True)
class Use:
    """What depends on one key (or one bucket's objects under one key)."""

    objects: int = 0
    bytes: int = 0
    oldest: tuple[float, str, str] | None = None  # (last modified, bucket, key)
    buckets: set[str] = field(default_factory=set)
    encryption: set[str] = field(default_factory=set)
    uploads: int = 0  # multipart uploads in progress


@dataclass(slots=True)
class Census:
    groups: dict[tuple[str, str, str], Use] = field(default_factory=dict)  # (bucket, encryption, key)
    keys: dict[str, Use] = field(default_factory=dict)


def take_census(catalog: Catalog, scope: walk.Scope, name_of: NameOf,
                advance: Callable[[int], None] = lambda n: None) -> Census:
    census = Census()
    for version in walk.versions(catalog, scope):
        name, algorithm = name_of(version.sealing), version.sealing.algorithm
        when = (version.last_modified, version.bucket, version.key)
        for use in (census.groups.setdefault((version.bucket, algorithm, name), Use()),
                    census.keys.setdefault(name, Use())):
            use.objects += 1
            use.bytes += version.size
            use.buckets.add(version.bucket)
            use.encryption.add(algorithm)
            if use.oldest is None or when < use.oldest:
                use.oldest = when
        advance(1)
    for upload in walk.uploads(catalog, scope):
        use = census.keys.setdefault(name_of(upload.sealing), Use())
        use.uploads += 1
        use.encryption.add(upload.sealing.algorithm)
    return census


def kms_key_id(arn: str) -> str:
    """The key id of a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>): the id stays when the
    deployment's region or account id changes."""
    return arn.rsplit("/", 1)[-1]
