"""What ties a deployment together: the catalog records which root keys its data is sealed under.

A server or command started with a root key the catalog does not know refuses to start: before
this record, a wrong key (another deployment's file, a typo in STRONGROOM_ROOT_KEY) was accepted,
new writes were sealed under it and were unreadable once the right key came back. The record
holds key ids (`crypto.keys.key_id`: a fingerprint that does not reveal the key), never keys.

The rule: the current key (the first in the key file) must be recorded, and every recorded key
must be in the key file (a rotation that has not finished still needs the old key). A catalog
written before the record existed gets it at its next start, from the key it is started with.
`root-key rotate` records the new key before it seals anything under it, and drops the old one
once nothing is sealed under it any more.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from strongroom.catalog import MetadataSealer, open_catalog
from strongroom.catalog.api import Catalog
from strongroom.catalog.sealer import ROOT_KEYS_SETTING, WrongRootKey
from strongroom.crypto import keys
from strongroom.db.location import Location


def key_ids(root_keys: Sequence[bytes]) -> list[str]:
    return [keys.key_id(k) for k in root_keys]


def recorded_root_keys(catalog: Catalog) -> list[str] | None:
    stored = catalog.get_setting(ROOT_KEYS_SETTING)
    return None if stored is None else list(json.loads(stored))


def check_root_keys(catalog: Catalog, root_keys: Sequence[bytes]) -> None:
    """Record the key on a catalog's first start; refuse a key that does not belong to it."""
    given = key_ids(root_keys)
    recorded = recorded_root_keys(catalog)
    if recorded is None:
        recorded = json.loads(catalog.set_setting_if_absent(ROOT_KEYS_SETTING, json.dumps(given[:1])))
    if given[0] not in recorded:
        if set(recorded) <= set(given):
            raise WrongRootKey(
                "strongroom: a root key rotation has not finished (the key file holds a new key the "
                "catalog has not recorded yet): run `strongroom root-key rotate` to finish it"
            )
        raise WrongRootKey(
            f"strongroom: the root key (id {given[0]}) is not the one this catalog's data is sealed under "
            f"(id {', '.join(recorded)}): refusing to start. Use the deployment's own root key file or "
            "STRONGROOM_ROOT_KEY."
        )
    missing = [k for k in recorded if k not in given]
    if missing:
        raise WrongRootKey(
            f"strongroom: a root key rotation has not finished: the key file lacks the old key "
            f"(id {', '.join(missing)}) that some data is still sealed under. Put it back after the new key "
            "and run `strongroom root-key rotate` again."
        )


def check_deployment(location: Location, root_keys: Sequence[bytes]) -> None:
    """Before a server or a command touches anything: the root key belongs to this catalog."""
    catalog = open_catalog(location, MetadataSealer.of(root_keys))
    try:
        check_root_keys(catalog, root_keys)
    finally:
        catalog.close()


def check_rotation(catalog: Catalog, root_keys: Sequence[bytes]) -> None:
    """Before `root-key rotate`: the key file must hold every key the catalog records (a new key in
    front of them is an earlier, interrupted rotation's)."""
    recorded = recorded_root_keys(catalog)
    given = key_ids(root_keys)
    if recorded is not None and not set(recorded) <= set(given):
        raise WrongRootKey(
            f"strongroom: the key file (ids {', '.join(given)}) does not hold the root key this catalog's "
            f"data is sealed under (id {', '.join(recorded)}): refusing to rotate"
        )


def record_root_keys(catalog: Catalog, root_keys: Sequence[bytes]) -> None:
    """The keys the catalog's data may be sealed under from now on (root-key rotate)."""
    catalog.put_setting(ROOT_KEYS_SETTING, json.dumps(key_ids(root_keys)))
