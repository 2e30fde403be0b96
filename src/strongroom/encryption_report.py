"""`strongroom report encryption`: what is stored under which key.

Objects and bytes per bucket, encryption type (AES256: SSE-S3, aws:kms, aws:kms:dsse, SSE-C) and key (the
root key's id, the KMS key's ARN, or the customer's key), the oldest object per key, and for each KMS key
what its disabling would make unreadable: the objects sealed under it (S3 Bucket Keys included: their
bucket-level data key is the KMS's too), their bytes and buckets, and the multipart uploads in progress
under it (their parts could neither be written nor read). Built-in KMS keys show their state. It reads
only, beside live servers (catalog/walk.py).
"""

from __future__ import annotations

import datetime
import json
import sys
from typing import Any

from strongroom.catalog import walk
from strongroom.catalog.census import Census, Use, kms_key_id, take_census
from strongroom.config import Config
from strongroom.deployment import open_checked
from strongroom.kms.store import open_kms_store
from strongroom.progress import Progress
from strongroom.tables import table
from strongroom.vault.keyring import RootKeyring
from strongroom.vault.wrapping import sealed_by

KMS = ("aws:kms", "aws:kms:dsse")


def _when(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _oldest(use: Use) -> dict[str, str] | None:
    if use.oldest is None:
        return None
    when, bucket, key = use.oldest
    return {"bucket": bucket, "key": key, "last_modified": _when(when)}


def _states(config: Config, census: Census) -> dict[str, str]:
    """The state of each built-in KMS key the census names (an external KMS's keys: not known here)."""
    if config.kms_endpoint:
        return {}
    store = open_kms_store(config)
    try:
        states = {}
        for name, use in census.keys.items():
            if use.encryption & set(KMS):
                key = store.get_key(kms_key_id(name))
                states[name] = key.state if key is not None else "NotFound"
        return states
    finally:
        store.close()


def document(census: Census, states: dict[str, str]) -> dict[str, Any]:
    groups = [
        {"bucket": b, "encryption": e, "key": k, "objects": u.objects, "bytes": u.bytes, "oldest": _oldest(u)}
        for (b, e, k), u in sorted(census.groups.items())
    ]
    keys = []
    for name, use in sorted(census.keys.items()):
        entry: dict[str, Any] = {"key": name, "encryption": sorted(use.encryption), "objects": use.objects,
                                 "bytes": use.bytes, "oldest": _oldest(use)}
        if use.encryption & set(KMS):
            entry["state"] = states.get(name, "unknown")
            entry["if_disabled"] = {"unreadable_objects": use.objects, "unreadable_bytes": use.bytes,
                                    "buckets": sorted(use.buckets), "uploads_in_progress": use.uploads}
        keys.append(entry)
    return {"groups": groups, "keys": keys}


def lines(census: Census, states: dict[str, str]) -> list[str]:
    rows = [[b, e, k, u.objects, u.bytes, _oldest_text(u)] for (b, e, k), u in sorted(census.groups.items())]
    if not rows:
        return ["no object in scope"]
    out = table(["bucket", "encryption", "key", "objects", "bytes", "oldest"], rows)
    out.append("")
    out += table(["key", "encryption", "objects", "bytes", "oldest"],
                 [[n, ",".join(sorted(u.encryption)), u.objects, u.bytes, _oldest_text(u)]
                  for n, u in sorted(census.keys.items())])
    for name, use in sorted(census.keys.items()):
        if use.encryption & set(KMS):
            buckets = ", ".join(sorted(use.buckets)) or "no bucket"
            out.append(f"{name} ({states.get(name, 'state unknown')}): if disabled, {use.objects} "
                       f"object(s), {use.bytes} bytes, in {buckets} could not be read; {use.uploads} "
                       "multipart upload(s) in progress could not go on")
    return out


def _oldest_text(use: Use) -> str:
    if use.oldest is None:
        return "-"
    when, bucket, key = use.oldest
    return f"{_when(when)} {bucket}/{key}"


def report(config: Config, scope: walk.Scope, as_json: bool) -> int:
    catalog = open_checked(config)
    keyring = RootKeyring(config.root_keys)
    try:
        if (wrong := scope.unknown(catalog)) is not None:
            print(wrong, file=sys.stderr)
            return 2
        count, _ = walk.totals(catalog, scope)
        with Progress("report encryption", count, "objects") as progress:
            census = take_census(catalog, scope, lambda s: sealed_by(s, keyring.current_id), progress.advance)
    finally:
        catalog.close()
    states = _states(config, census)
    print(json.dumps(document(census, states), indent=2) if as_json else "\n".join(lines(census, states)))
    return 0
