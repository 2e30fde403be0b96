"""How an object's piece keys are wrapped: the typed form of `Sealing.wrapping`.

The catalog stores the wrapping as a string map it never interprets; only this module reads or
writes that map, so the on-disk records stay exactly as they were (FORMAT.md, "Wrapping records"):

- `RootWrapped`     {"kek": "root", "root": <root key id>}                         SSE-S3
- `KmsWrapped`      {"kek": "kms", "blob": <b64>, "ctx": <JSON>[, "blob2": <b64>]}  SSE-KMS, DSSE-KMS
- `CustomerWrapped` {"kek": "ssec", "salt": <hex>, "check": <hex>}                 SSE-C
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass, field

from strongroom.catalog.model import Sealing
from strongroom.errors import internal_error

log = logging.getLogger("strongroom.vault")


@dataclass(frozen=True, slots=True)
class RootWrapped:
    """Sealed under the SSE-S3 KEK of a root key; None names the current one (a record without it)."""

    root_id: str | None

    def to_record(self) -> dict[str, str]:
        return {"kek": "root"} if self.root_id is None else {"kek": "root", "root": self.root_id}


@dataclass(frozen=True, slots=True)
class KmsWrapped:
    """Sealed under a KMS data key, kept as the KMS's ciphertext blob; DSSE-KMS keeps a second one.

    `context` is the encryption context the data key was generated under, as stored (sorted JSON).
    """

    blob: bytes = field(repr=False)
    context: str
    blob2: bytes | None = field(default=None, repr=False)

    @staticmethod
    def of(blob: bytes, context: dict[str, str], blob2: bytes | None = None) -> KmsWrapped:
        return KmsWrapped(blob, json.dumps(context, sort_keys=True), blob2)

    @property
    def encryption_context(self) -> dict[str, str]:
        parsed: dict[str, str] = json.loads(self.context)
        return parsed

    def to_record(self) -> dict[str, str]:
        record = {"kek": "kms", "blob": base64.b64encode(self.blob).decode(), "ctx": self.context}
        if self.blob2 is not None:
            record["blob2"] = base64.b64encode(self.blob2).decode()
        return record


@dataclass(frozen=True, slots=True)
class CustomerWrapped:
    """Sealed under a key derived from the customer's key and `salt`; `check` recognises that key."""

    salt: bytes
    check: bytes

    def to_record(self) -> dict[str, str]:
        return {"kek": "ssec", "salt": self.salt.hex(), "check": self.check.hex()}


Wrapping = RootWrapped | KmsWrapped | CustomerWrapped


def parse(sealing: Sealing) -> Wrapping:
    """The typed wrapping of a stored sealing; an unknown record is an internal error (logged)."""
    record = sealing.wrapping
    kind = record.get("kek")
    if kind == "root":
        return RootWrapped(record.get("root"))
    if kind == "kms":
        blob2 = record.get("blob2")
        return KmsWrapped(
            base64.b64decode(record["blob"]),
            record["ctx"],
            base64.b64decode(blob2) if blob2 is not None else None,
        )
    if kind == "ssec":
        return CustomerWrapped(bytes.fromhex(record["salt"]), bytes.fromhex(record["check"]))
    log.error("unknown key wrapping %r", kind)
    raise internal_error()


def kms_context(sealing: Sealing) -> dict[str, str] | None:
    """The encryption context an SSE-KMS object's data key was generated under (None: not SSE-KMS)."""
    record = sealing.wrapping
    if record.get("kek") != "kms" or "ctx" not in record:
        return None
    context: dict[str, str] = json.loads(record["ctx"])
    return context


CUSTOMER_KEY = "customer-provided key"


def sealed_by(sealing: Sealing, current_root_id: str) -> str:
    """The key a version's piece keys depend on, as reports name it: `root key <id>` (SSE-S3), the KMS
    key's ARN (SSE-KMS, DSSE-KMS), or the customer's key (SSE-C, never stored)."""
    kind = sealing.wrapping.get("kek")
    if kind == "root":
        return f"root key {sealing.wrapping.get('root') or current_root_id}"
    if kind == "ssec":
        return CUSTOMER_KEY
    return sealing.kms_key_arn or "unknown KMS key"
