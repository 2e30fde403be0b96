"""Lifecycle rules (S3's LifecycleConfiguration) as data, and when each acts on what.

A bucket's configuration is the catalog config kind "lifecycle": a JSON document in the wire's shape
(s3/lifecycle_wire.py parses and renders it), from which `rules_of` builds the rules the worker
(vault/lifecycle.py) and the `x-amz-expiration` header read.

Days as AWS counts them (S3 user guide, "Lifecycle configuration elements", Days): the time an action is
due is the start (a version's creation, the creation of the version that made it noncurrent, an upload's
initiation) plus the days, rounded UP to the next midnight UTC. A "day" lasts `day` seconds
(`--lifecycle-day-seconds`, 86400 by default); midnights are then the multiples of `day` seconds since
the epoch, so with the default they are exactly midnight UTC, and with a short day the rounding keeps its
shape (an object written in the middle of "day" k with Days=1 goes at the start of "day" k+2).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

KIND = "lifecycle"
DAY = 86400.0
DEFAULT_MINIMUM_SIZE = "all_storage_classes_128K"  # x-amz-transition-default-minimum-object-size
MINIMUM_SIZES = (DEFAULT_MINIMUM_SIZE, "varies_by_storage_class")


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule, reduced to what decides an action. Transitions are stored and shown, never acted on:
    strongroom has one storage class."""

    id: str
    enabled: bool
    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    size_greater_than: int | None = None
    size_less_than: int | None = None
    expiration_days: int | None = None
    expiration_date: float | None = None  # epoch seconds, a midnight UTC
    expired_object_delete_marker: bool = False
    noncurrent_days: int | None = None
    newer_noncurrent_versions: int | None = None
    abort_days: int | None = None

    def matches(self, key: str, size: int, tags: Mapping[str, str]) -> bool:
        """Whether the rule's filter selects a version of `key` with this size and these tags."""
        if not key.startswith(self.prefix):
            return False
        if self.size_greater_than is not None and not size > self.size_greater_than:
            return False
        if self.size_less_than is not None and not size < self.size_less_than:
            return False
        return all(tags.get(k) == v for k, v in self.tags)

    def matches_marker(self, key: str) -> bool:
        """A delete marker has no tags (a tag filter never selects it) and no size."""
        return not self.tags and key.startswith(self.prefix)

    @property
    def expires_current(self) -> bool:
        return self.expiration_days is not None or self.expiration_date is not None

    @property
    def removes_expired_markers(self) -> bool:
        # ExpiredObjectDeleteMarker says so; an Expiration in Days does it too (S3 user guide, "Lifecycle
        # configuration elements": "...also removes expired object delete markers" with Days).
        return self.expired_object_delete_marker or self.expiration_days is not None

    @property
    def expires_noncurrent(self) -> bool:
        return self.noncurrent_days is not None or self.newer_noncurrent_versions is not None


def due(start: float, days: int, day: float = DAY) -> float:
    """`start` plus `days`, rounded up to the next day boundary (the next midnight UTC for a real day)."""
    return math.ceil((start + days * day) / day) * day


def current_expiry(rule: Rule, created: float, day: float = DAY) -> float | None:
    """When the rule expires a current version created at `created` (None: it never does)."""
    if rule.expiration_date is not None:
        return rule.expiration_date
    if rule.expiration_days is not None:
        return due(created, rule.expiration_days, day)
    return None


def expiration(rules: tuple[Rule, ...], key: str, size: int, tags: Mapping[str, str], created: float,
               day: float = DAY) -> tuple[float, str] | None:
    """(expiry time, rule id) of the enabled rule that expires this current version first, if any."""
    found: tuple[float, str] | None = None
    for rule in rules:
        if not rule.enabled or not rule.expires_current or not rule.matches(key, size, tags):
            continue
        when = current_expiry(rule, created, day)
        if when is not None and (found is None or when < found[0]):
            found = (when, rule.id)
    return found


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _date(value: str | None) -> float | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def rule_of(wire: Mapping[str, Any]) -> Rule:
    """A rule from its stored wire shape (the keys of the S3 API's LifecycleRule)."""
    flt: Mapping[str, Any] = wire.get("Filter") or {}
    conditions: Mapping[str, Any] = flt.get("And") or flt
    tags = list(conditions.get("Tags") or ([flt["Tag"]] if "Tag" in flt else []))
    expiration_ = wire.get("Expiration") or {}
    noncurrent = wire.get("NoncurrentVersionExpiration") or {}
    abort = wire.get("AbortIncompleteMultipartUpload") or {}
    return Rule(
        id=str(wire["ID"]),
        enabled=wire["Status"] == "Enabled",
        prefix=str(wire.get("Prefix", conditions.get("Prefix", "")) or ""),
        tags=tuple((str(t["Key"]), str(t["Value"])) for t in tags),
        size_greater_than=_int(conditions.get("ObjectSizeGreaterThan")),
        size_less_than=_int(conditions.get("ObjectSizeLessThan")),
        expiration_days=_int(expiration_.get("Days")),
        expiration_date=_date(expiration_.get("Date")),
        expired_object_delete_marker=bool(expiration_.get("ExpiredObjectDeleteMarker", False)),
        noncurrent_days=_int(noncurrent.get("NoncurrentDays")),
        newer_noncurrent_versions=_int(noncurrent.get("NewerNoncurrentVersions")),
        abort_days=_int(abort.get("DaysAfterInitiation")),
    )


@functools.lru_cache(maxsize=256)
def rules_of(document: str | None) -> tuple[Rule, ...]:
    """The rules of a stored configuration (none when the bucket has none). Cached by the document
    itself (frozen rules): PUT, GET and HEAD of a bucket with rules would otherwise parse it each time."""
    if document is None:
        return ()
    return tuple(rule_of(r) for r in json.loads(document)["Rules"])
