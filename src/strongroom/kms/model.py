"""The KMS's records (keys, sealed key material, aliases) and the names that point at them.

Plain frozen values. A key's material exists here only sealed (`SealedMaterial.sealed`);
the state machine lives in builtin.py. `parse_ref` sorts a KeyId parameter into the
forms AWS accepts: key id, key ARN, alias name, alias ARN.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

KeyManager = Literal["CUSTOMER", "AWS"]

ENABLED, DISABLED, PENDING_DELETION = "Enabled", "Disabled", "PendingDeletion"
KEY_STATES = (ENABLED, DISABLED, PENDING_DELETION)
SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
AWS_S3_ALIAS = "alias/aws/s3"
AWS_S3_DESCRIPTION = "Default KMS key that protects my S3 objects when no other key is defined"
RESERVED_ALIAS_PREFIX = "alias/aws/"

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ARN = re.compile(
    r"arn:(?P<partition>[^:]*):kms:(?P<region>[^:]*):(?P<account>[^:]*):(?P<kind>key|alias)/(?P<rest>.+)")


@dataclass(frozen=True, slots=True)
class KmsKey:
    key_id: str  # a lower-case UUID
    created: float  # epoch seconds
    description: str = ""
    state: str = ENABLED
    manager: KeyManager = "CUSTOMER"
    deletion_date: float | None = None
    pending_window_days: int | None = None
    rotation_enabled: bool = False
    rotation_period_days: int | None = None
    next_rotation: float | None = None  # epoch seconds of the next automatic rotation
    current_version: int = 1  # the material version new ciphertexts use
    tags: tuple[tuple[str, str], ...] = ()

    def with_(self, **changes: Any) -> KmsKey:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class SealedMaterial:
    """One version of a key's material, sealed under a KEK derived from root key `root_id`."""

    key_id: str
    version: int
    created: float
    root_id: str
    sealed: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Alias:
    name: str  # alias/...
    key_id: str
    created: float
    updated: float


@dataclass(frozen=True, slots=True)
class KeyRef:
    """A KeyId parameter, sorted: kind is 'id', 'key-arn', 'alias' or 'alias-arn'."""

    raw: str
    kind: str
    key_id: str | None = None  # for id and key-arn
    alias: str | None = None  # alias/<name>, for alias and alias-arn
    region: str | None = None  # from an ARN
    account: str | None = None


def is_uuid(text: str) -> bool:
    return _UUID.fullmatch(text) is not None


def parse_ref(raw: str) -> KeyRef | None:
    """The form of a KeyId parameter, or None when it is no form AWS accepts."""
    if raw.startswith("arn:"):
        m = _ARN.fullmatch(raw)
        if m is None:
            return None
        if m["kind"] == "alias":
            return KeyRef(raw, "alias-arn", alias="alias/" + m["rest"], region=m["region"],
                          account=m["account"])
        return KeyRef(raw, "key-arn", key_id=m["rest"].lower(), region=m["region"], account=m["account"])
    if raw.startswith("alias/"):
        return KeyRef(raw, "alias", alias=raw)
    if is_uuid(raw):
        return KeyRef(raw, "id", key_id=raw.lower())
    return None


def key_arn(region: str, account: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def alias_arn(region: str, account: str, alias: str) -> str:
    return f"arn:aws:kms:{region}:{account}:{alias}"


def material_id(key_id: str, version: int) -> str:
    """The 64-hex KeyMaterialId AWS reports: names a material version, reveals nothing of it."""
    return hashlib.sha256(f"strongroom kms material {key_id} {version}".encode()).hexdigest()
