"""`strongroom kms create-key | list | enable | disable`: the built-in KMS from the command line.

Works on the data directory, like `strongroom user`, whether a server runs or not
(the store is beside the catalog: its SQLite file or its PostgreSQL database with
--catalog, shared safely between processes).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable

from strongroom.account import account_id
from strongroom.audit import AuditLog
from strongroom.catalog import MetadataSealer, open_catalog
from strongroom.catalog.api import Catalog
from strongroom.catalog.census import kms_key_id, take_census
from strongroom.catalog.walk import EVERYTHING, totals
from strongroom.clock import Clock
from strongroom.config import Config, env
from strongroom.kms.builtin import BuiltinKms
from strongroom.kms.errors import KmsError
from strongroom.kms.sealing import KmsKeyring
from strongroom.kms.store import open_kms_store
from strongroom.progress import Progress


def add_parser(sub: argparse._SubParsersAction, common: Callable[[argparse.ArgumentParser], None]) -> None:
    kms = sub.add_parser("kms", help="manage the built-in KMS's keys")
    actions = kms.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create-key", help="create a symmetric key (prints its id and ARN)")
    create.add_argument("--description", default="")
    lst = actions.add_parser("list", help="list keys: id, state, manager, aliases, the number of objects it "
                             "seals (SSE-KMS and DSSE-KMS, S3 Bucket Keys included), description")
    enable = actions.add_parser("enable", help="enable a key")
    disable = actions.add_parser("disable", help="disable a key: SSE-KMS objects under it cannot be read")
    for p in (enable, disable):
        p.add_argument("key", help="key id, key ARN, alias name (alias/...) or alias ARN")
    for p in (create, lst, enable, disable):
        common(p)
        p.add_argument("--region", default=env("region") or "us-east-1",
                       help="the region in key ARNs [env STRONGROOM_REGION]")


def _sealed_counts(catalog: Catalog) -> dict[str, int]:
    """The number of objects each key seals, by key id (a walk of the catalog: catalog/census.py)."""
    sealed: dict[str, int] = {}
    objects, _ = totals(catalog, EVERYTHING)
    with Progress("kms list: counting the objects each key seals", objects, "objects") as progress:
        census = take_census(catalog, EVERYTHING, lambda s: s.kms_key_arn or "", progress.advance)
    for arn, use in census.keys.items():
        if arn:
            sealed[kms_key_id(arn)] = sealed.get(kms_key_id(arn), 0) + use.objects
    return sealed


def _open(config: Config, catalog: Catalog) -> BuiltinKms:
    """The built-in KMS as a server has it: the catalog's time, and the catalog asked which keys seal
    versions under Object Lock (those cannot be disabled)."""
    clock = Clock()  # deletion windows and rotation dates on the catalog's time, as a server has them
    account = account_id(catalog)
    clock.measure(catalog.now)
    store = open_kms_store(config)
    return BuiltinKms(store, KmsKeyring(config.root_keys), account, config.region,
                      config.kms_key_deletion_window_unit, clock.now, catalog.kms_key_protects)


def run(args: argparse.Namespace, config: Config, audit: AuditLog | None = None, actor: str = "") -> int:
    # The catalog's schema first (its upgrade needs the sealer), and open while the command runs.
    catalog = open_catalog(config, MetadataSealer.of(config.root_keys))
    try:
        sealed = _sealed_counts(catalog) if args.action == "list" else {}
        kms = _open(config, catalog)
    except BaseException:
        catalog.close()
        raise
    try:
        if args.action == "create-key":
            key = kms.create_key(args.description)
            print(f"{key.key_id}\t{kms.arn(key.key_id)}")
            if audit is not None:
                audit.record(actor=actor, source="cli", action="CreateKey", target=kms.arn(key.key_id),
                             before=None, after=dataclasses.asdict(key))
        elif args.action == "list":
            kms.sweep()
            aliases: dict[str, list[str]] = {}
            for alias in kms.store.list_aliases(limit=1_000_000):
                aliases.setdefault(alias.key_id, []).append(alias.name)
            for key in kms.store.list_keys(limit=1_000_000):
                names = ",".join(aliases.get(key.key_id, [])) or "-"
                objects = f"{sealed.get(key.key_id, 0)} objects"
                print(f"{key.key_id}\t{key.state}\t{key.manager}\t{names}\t{objects}\t{key.description}")
        elif args.action in ("enable", "disable"):
            before = kms.resolve(args.key)
            key = (kms.enable if args.action == "enable" else kms.disable)(args.key)
            print(f"{key.key_id}\t{key.state}")
            if audit is not None:
                audit.record(actor=actor, source="cli", action="EnableKey" if args.action == "enable"
                             else "DisableKey", target=kms.arn(key.key_id), before=dataclasses.asdict(before),
                             after=dataclasses.asdict(key))
    except KmsError as e:
        print(f"strongroom: {e.code}: {e.message}", file=sys.stderr)
        return 1
    finally:
        kms.store.close()
        catalog.close()
    return 0
