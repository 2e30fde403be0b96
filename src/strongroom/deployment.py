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

The deployment id ties the catalog and the data directory together: a random id in the catalog's
settings and in the data directory's `deployment-id` file (mode 0600), given to both at the first
start (a directory written by an earlier release gets it at its next start). A server or command
whose data directory is not the catalog's refuses to start, saying which: the usual cause is a
shared filesystem that is not mounted, where small objects would seem to work (they live in the
catalog) and every larger one would fail or be written where no other server can read it.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from strongroom.catalog import MetadataSealer, open_catalog
from strongroom.catalog.api import Catalog
from strongroom.catalog.sealer import ROOT_KEYS_SETTING, WrongRootKey
from strongroom.config import Config, read_private, write_private
from strongroom.crypto import keys
from strongroom.db.postgres import redact

DEPLOYMENT_SETTING = "deployment_id"
DEPLOYMENT_FILE = "deployment-id"
# A process that has just given a new catalog its id writes the data directory's file next: another
# one starting at the same moment on the same (shared) directory waits this long for it.
FILE_WAIT = 3.0


class WrongDeployment(SystemExit):
    """The data directory and the catalog belong to different deployments (or one has no id)."""


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


def _held_id(path: Path) -> str | None:
    if not path.exists():
        return None
    return read_private(path, "the deployment id file").strip() or None


def _catalog_name(config: Config) -> str:
    return f"at {redact(config.catalog_url)}" if config.catalog_url else f"{config.catalog_path}"


def check_identity(catalog: Catalog, config: Config, *, serving: bool = True) -> str | None:
    """The deployment id, given to the catalog and the data directory at a server's first start; raise
    WrongDeployment when they do not belong together, saying which.

    A command (`serving` False) uses the catalog alone, never the blobs: it may run on a machine of its
    own, with a data directory that holds no id (nor blobs), and gives no id to anything; a data
    directory of another deployment, or one whose catalog has no id, it refuses as a server does."""
    path = config.data_dir / DEPLOYMENT_FILE
    recorded, held = catalog.get_setting(DEPLOYMENT_SETTING), _held_id(path)
    if not serving and held is None:
        return recorded
    if recorded is None and held is None:  # a first start (or the first since the id exists)
        new = uuid.uuid4().hex
        recorded = catalog.set_setting_if_absent(DEPLOYMENT_SETTING, new)
        if recorded == new:
            # A file there already was not written by a process of this deployment: compared below.
            with contextlib.suppress(FileExistsError):
                write_private(path, new + "\n")
            held = _held_id(path)
    deadline = time.monotonic() + FILE_WAIT
    while held is None and recorded is not None and time.monotonic() < deadline:
        time.sleep(0.1)  # the process that gave the catalog its id may be writing the file now
        held = _held_id(path)
    if recorded is not None and held is None:
        raise WrongDeployment(
            f"strongroom: the data directory {config.data_dir} holds no deployment id, but the catalog "
            f"{_catalog_name(config)} belongs to deployment {recorded}: is the shared filesystem mounted? "
            f"(If this is that deployment's data directory, write {recorded} into {path}.)"
        )
    if recorded is None:
        raise WrongDeployment(
            f"strongroom: the data directory {config.data_dir} belongs to deployment {held}, but the catalog "
            f"{_catalog_name(config)} has no deployment id: it is a new or another database. Use the "
            "deployment's own catalog (--catalog)."
        )
    if held != recorded:
        raise WrongDeployment(
            f"strongroom: the data directory {config.data_dir} belongs to deployment {held}, the catalog "
            f"{_catalog_name(config)} to deployment {recorded}: refusing to start. Use the data directory "
            "and the catalog of one deployment."
        )
    return recorded


def check_deployment(config: Config, *, serving: bool = True) -> str | None:
    """Before a server or a command touches anything: the data directory, the catalog and the root
    key belong together (`check_identity`, then `check_root_keys`). Returns the deployment id."""
    catalog = open_catalog(config, MetadataSealer.of(config.root_keys))
    try:
        return check_catalog(catalog, config, serving=serving)
    finally:
        catalog.close()


def open_checked(config: Config) -> Catalog:
    """The catalog, for a command (not a server): open, and checked to belong with the data directory
    and the root key (`check_catalog`); SystemExit, closed, when not."""
    catalog = open_catalog(config, MetadataSealer.of(config.root_keys))
    try:
        check_catalog(catalog, config, serving=False)
    except SystemExit:
        catalog.close()
        raise
    return catalog


def check_catalog(catalog: Catalog, config: Config, *, serving: bool = True) -> str | None:
    """`check_deployment` on an open catalog."""
    deployment = check_identity(catalog, config, serving=serving)
    check_root_keys(catalog, config.root_keys)
    return deployment


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
