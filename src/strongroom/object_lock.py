"""Object Lock, pure: a bucket's lock configuration, a version's retention and legal hold, and the
rules that say what may change them and what they forbid.

Everything here is values and decisions; nothing reads a clock, a header or a database. `now` is
always the catalog's time (DESIGN.md: one clock for decisions that destroy or protect data), passed
in by the caller. The wire forms (XML documents, x-amz-object-lock-* headers) are `s3/object_lock_wire`'s.

AWS sources: the S3 user guide "Locking objects with Object Lock" (retention modes, legal holds,
bypassing governance mode) and the API reference (PutObjectRetention, PutObjectLockConfiguration).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from strongroom.errors import S3Error, access_denied, invalid_argument

Mode = Literal["GOVERNANCE", "COMPLIANCE"]
MODES: tuple[Mode, ...] = ("GOVERNANCE", "COMPLIANCE")
GOVERNANCE: Mode = "GOVERNANCE"
COMPLIANCE: Mode = "COMPLIANCE"
DAY = 86400.0
KIND = "object-lock"  # the catalog's bucket config kind


def object_locked() -> S3Error:
    # The answer to any attempt to delete a protected version or weaken its retention, root included
    # (AWS's wording, as peers recorded it from AWS: localstack's provider, versitygw, s3mock).
    return access_denied("Access Denied because object protected by object lock.")


def retain_until_in_past(name: str | None = None, value: str | None = None) -> S3Error:
    return invalid_argument("The retain until date must be in the future!", name, value)


@dataclass(frozen=True, slots=True)
class DefaultRetention:
    """A bucket's `Rule/DefaultRetention`: exactly one of days and years, each a positive integer."""

    mode: Mode
    days: int | None = None
    years: int | None = None

    def until(self, now: float) -> float:
        """The retain-until date of a version written at `now`: days of 24 hours, or calendar years
        (a version written on 29 February keeps it until 28 February)."""
        if self.days is not None:
            return now + self.days * DAY
        assert self.years is not None
        start = datetime.fromtimestamp(now, UTC)
        year = start.year + self.years
        try:
            end = start.replace(year=year)
        except ValueError:  # 29 February in a year without one
            end = start.replace(year=year, day=28)
        return end.timestamp()


@dataclass(frozen=True, slots=True)
class LockConfiguration:
    """A bucket's Object Lock configuration (catalog config kind "object-lock"): its presence means
    Object Lock is enabled, for good; `default` is applied to every new version without its own."""

    default: DefaultRetention | None = None

    def to_json(self) -> str:
        d = self.default
        rule = None if d is None else {"mode": d.mode, "days": d.days, "years": d.years}
        return json.dumps({"enabled": True, "default": rule}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LockConfiguration:
        rule = json.loads(text).get("default")
        if rule is None:
            return cls()
        return cls(DefaultRetention(rule["mode"], rule.get("days"), rule.get("years")))


@dataclass(frozen=True, slots=True)
class Retention:
    mode: Mode
    retain_until: float  # epoch seconds

    def active(self, now: float) -> bool:
        return self.retain_until > now


@dataclass(frozen=True, slots=True)
class Lock:
    """What protects one version: a retention (which may have passed) and a legal hold."""

    retention: Retention | None = None
    legal_hold: bool = False

    def protected(self, now: float) -> bool:
        """Anything at all keeps the version: its bytes, and the KMS key that seals them."""
        return self.legal_hold or (self.retention is not None and self.retention.active(now))

    def check_delete(self, now: float, bypass_governance: bool) -> None:
        """Raise unless the version may be removed for good. `bypass_governance`: the request said
        x-amz-bypass-governance-retention: true AND the requester has s3:BypassGovernanceRetention."""
        if self.legal_hold:
            raise object_locked()
        r = self.retention
        if r is None or not r.active(now):
            return
        if r.mode == COMPLIANCE or not bypass_governance:
            raise object_locked()


def check_retention_change(current: Retention | None, new: Retention | None, now: float,
                           bypass_governance: bool) -> None:
    """Raise unless `current` may become `new` (None: removed). An active COMPLIANCE retention can only
    be extended, by anyone, root included; an active GOVERNANCE one can be extended or turned into
    COMPLIANCE freely, and shortened, removed or otherwise changed only with the bypass. A retention
    that has passed protects nothing."""
    if new is not None and not new.active(now):
        raise retain_until_in_past()
    if current is None or not current.active(now):
        return
    strengthens = new is not None and new.retain_until >= current.retain_until and (
        new.mode == current.mode or new.mode == COMPLIANCE)
    if strengthens:
        return
    if current.mode == COMPLIANCE or not bypass_governance:
        raise object_locked()
