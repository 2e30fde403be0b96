"""The command line: `strongroom serve | user | kms | policy | root-key | servers | verify | report`.
Nothing else reads argv.

The commands and their options are cli_parser's; here they become a `Config` and run. Every option of
every command also reads a `STRONGROOM_<OPTION>` environment variable (e.g. --data-dir and
STRONGROOM_DATA_DIR); a flag wins over the variable.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from strongroom import identity, logs, process
from strongroom.audit import AuditLog, open_audit_log
from strongroom.cli_parser import build_parser
from strongroom.config import (
    Config,
    check_catalog_url,
    env,
    metrics_token,
    parse_free_space,
    read_private,
    require_private_dir,
    root_credentials,
    root_keys,
)
from strongroom.deployment import check_deployment, key_ids
from strongroom.kms import cli as kms_cli


def _given_as_argument(flag: str, argv: list[str]) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in argv)


def _secrets_from(args: argparse.Namespace, argv: list[str]) -> tuple[str, str]:
    """The catalog URL and the external KMS's secret, from their files when given. A secret on the
    command line is visible to every local account (ps, /proc/PID/cmdline): it works, with a warning."""
    catalog = args.catalog or ""
    if getattr(args, "catalog_file", None):
        catalog = read_private(Path(args.catalog_file), "the catalog URL file").strip()
    elif catalog and urlsplit(catalog).password and _given_as_argument("--catalog", argv):
        _warn("--catalog carries a password on the command line, where other local users can read it; "
              "use --catalog-file or STRONGROOM_CATALOG")
    kms_secret = getattr(args, "kms_secret_key", None) or ""
    if getattr(args, "kms_secret_key_file", None):
        kms_secret = read_private(Path(args.kms_secret_key_file), "the KMS secret key file").strip()
    elif kms_secret and _given_as_argument("--kms-secret-key", argv):
        _warn("--kms-secret-key on the command line can be read by other local users; "
              "use --kms-secret-key-file or STRONGROOM_KMS_SECRET_KEY")
    return catalog, kms_secret


def _warn(message: str) -> None:
    print(f"strongroom: warning: {message}", file=sys.stderr, flush=True)


def config_from(args: argparse.Namespace, *, create: bool) -> Config:
    catalog_url, kms_secret = _secrets_from(args, getattr(args, "argv", []))
    catalog_url = check_catalog_url(catalog_url)
    data_dir = Path(args.data_dir).expanduser()
    if create:
        data_dir.mkdir(parents=True, exist_ok=True)
    elif not data_dir.exists():
        raise SystemExit(f"strongroom: no data directory at {data_dir}")
    require_private_dir(data_dir)
    ak, sk, _ = root_credentials(data_dir)
    keyring, source = root_keys(data_dir, Path(args.root_key_file) if args.root_key_file else None, create)
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "root_access_key": ak,
        "root_secret_key": sk,
        "root_keys": keyring,
        "root_key_source": source,
        "catalog_url": catalog_url,
        "kms_secret_key": kms_secret,
    }
    for name in (
        "host",
        "port",
        "workers",
        "region",
        "base_domain",
        "behind_tls_proxy",
        "allow_sse_c_new_buckets",
        "new_bucket_object_ownership",
        "new_bucket_public_access_block",
        "sigv2",
        "log_level",
        "kms_endpoint",
        "kms_access_key",
        "kms_region",
        "max_request_bodies",
        "max_connections",
        "min_body_rate",
        "body_rate_window",
        "sweep_interval",
        "sweep_grace",
        "lifecycle_interval",
        "lifecycle_day_seconds",
        "max_clock_skew",
        "heartbeat_interval",
        "db_pool_size",
        "db_pool_timeout",
        "log_format",
        "metrics_interval",
        "access_log_delivery_interval",
    ):
        if hasattr(args, name):
            values[name] = getattr(args, name)
    if getattr(args, "min_free_space", None):
        try:
            values["min_free_space"] = parse_free_space(args.min_free_space)
        except ValueError as e:
            raise SystemExit(f"strongroom: --min-free-space: {e}") from None
    if hasattr(args, "access_log"):
        values["access_log"] = "" if args.access_log.strip().lower() == "off" else args.access_log
    if hasattr(args, "metrics_token_file"):
        values["metrics_token"] = metrics_token(args.metrics_token_file)
    for name in ("tls_cert", "tls_key", "audit_log"):
        if getattr(args, name, None):
            values[name] = Path(getattr(args, name))
    window = env("kms_day_seconds")  # developer setting: shorten KMS deletion windows in tests
    if window:
        values["kms_key_deletion_window_unit"] = float(window)
    return Config(**values)


def cmd_serve(args: argparse.Namespace) -> int:
    from strongroom.server import endpoint, serve

    logs.configure(args.log_level, args.log_format)
    config = config_from(args, create=True)
    from_env = bool(env("root_access_key") and env("root_secret_key"))

    def ready(port: int) -> None:
        url = endpoint(config, port)
        print(f"strongroom serving {url}  (data: {config.data_dir.resolve()}, "
              f"root key: {config.root_key_source})")
        print(f"  root access key: {config.root_access_key}")
        # The secret is shown only to a person at a terminal, never to a log file or a pipe.
        if sys.stdout.isatty():
            print(f"  root secret key: {config.root_secret_key}")
        elif from_env:
            print("  root secret key: STRONGROOM_ROOT_SECRET_KEY")
        else:
            print(f"  root secret key: in {(config.data_dir / 'config.json').resolve()} (mode 0600)")
        print(
            f"  try: AWS_ACCESS_KEY_ID={config.root_access_key} AWS_SECRET_ACCESS_KEY=... "
            f"aws --endpoint-url {url} s3 ls",
            flush=True,
        )
        if args.ready_file:
            Path(args.ready_file).write_text(str(port))

    serve(config, ready)
    return 0


def _open(args: argparse.Namespace):  # noqa: ANN202
    from strongroom.deployment import open_checked
    from strongroom.vault import RootKeyring

    config = config_from(args, create=False)
    return open_checked(config), RootKeyring(config.root_keys)


def _audit_log(args: argparse.Namespace) -> AuditLog | None:
    return open_audit_log(Path(args.audit_log) if getattr(args, "audit_log", None) else None)


def local_actor() -> str:
    """Who runs the command line, for the audit log: the local account and the machine."""
    return f"local:{pwd.getpwuid(os.geteuid()).pw_name}@{socket.gethostname()}"


def _record(audit: AuditLog | None, action: str, target: str, before: object, after: object) -> None:
    if audit is not None:
        audit.record(actor=local_actor(), source="cli", action=action, target=target, before=before,
                     after=after)


def _user_state(catalog, name: str) -> dict[str, object] | None:  # type: ignore[no-untyped-def]
    """A user as the audit log shows it: its id and its access keys (ids and states; never secrets)."""
    user = catalog.get_user(name)
    if user is None:
        return None
    keys = {k.access_key: "Active" if k.active else "Inactive" for k in catalog.list_access_keys(name)}
    return {"user_id": user.user_id, "access_keys": keys}


def _key_user(catalog, access_key: str) -> str:  # type: ignore[no-untyped-def]
    found = catalog.lookup_access_key(access_key)
    return found[1].name if found is not None else ""


def cmd_user(args: argparse.Namespace) -> int:
    catalog, keyring = _open(args)
    audit = _audit_log(args)
    changes = {"add": "CreateUser", "remove": "DeleteUser", "add-key": "CreateAccessKey",  # IAM's names
               "disable-key": "UpdateAccessKey", "enable-key": "UpdateAccessKey",
               "delete-key": "DeleteAccessKey"}
    name = getattr(args, "name", None) or (_key_user(catalog, args.access_key) if hasattr(args, "access_key")
                                           else "")
    before = _user_state(catalog, name) if args.action in changes else None
    try:
        if args.action == "add":
            made = identity.add_user(catalog, keyring, args.name, args.access_key, args.secret_key)
            print(f"user {made.user.name} ({made.user.user_id})")
            print(f"  access key: {made.access_key}")
            print(f"  secret key: {made.secret_key}   (shown only now)")
        elif args.action == "add-key":
            made = identity.add_key(catalog, keyring, args.name)
            print(f"  access key: {made.access_key}")
            print(f"  secret key: {made.secret_key}   (shown only now)")
        elif args.action == "list":
            keys = catalog.list_access_keys()
            for user in catalog.list_users():
                mine = [
                    k.access_key + ("" if k.active else " (disabled)")
                    for k in keys
                    if k.user_name == user.name
                ]
                print(f"{user.name}\t{user.user_id}\t{'root' if user.is_root else 'user'}\t{', '.join(mine)}")
        elif args.action == "remove":
            identity.remove_user(catalog, args.name)
            print(f"removed user {args.name}")
        elif args.action in ("disable-key", "enable-key"):
            # Any key, the root user's included (`serve` enables the configured root key again at start).
            if not catalog.set_access_key_active(args.access_key, args.action == "enable-key"):
                raise identity.IdentityError(f"no access key {args.access_key}")
            print(f"{args.action.split('-')[0]}d access key {args.access_key}")
        elif args.action == "delete-key":
            if not catalog.remove_access_key(args.access_key):
                raise identity.IdentityError(f"no access key {args.access_key}")
            print(f"deleted access key {args.access_key}")
        if args.action in changes:
            _record(audit, changes[args.action], f"user/{name}", before, _user_state(catalog, name))
    except identity.IdentityError as e:
        print(f"strongroom: {e}", file=sys.stderr)
        return 1
    finally:
        catalog.close()
        if audit is not None:
            audit.close()
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    from strongroom.user_policies import default_name, run_command

    catalog, _ = _open(args)
    audit = _audit_log(args)
    name = getattr(args, "name", None)
    if args.action == "attach" and not name:
        name = default_name(Path(args.file))

    def document() -> object:
        user = catalog.get_user(args.user)
        text = None if user is None else dict(catalog.list_user_policies(user.user_id)).get(name)
        return None if text is None else json.loads(text)

    try:
        before = document() if args.action in ("attach", "detach") else None
        status = run_command(
            catalog, args.action, args.user, getattr(args, "file", None), getattr(args, "name", None)
        )
        if status == 0 and args.action in ("attach", "detach"):
            action = "PutUserPolicy" if args.action == "attach" else "DeleteUserPolicy"
            _record(audit, action, f"user/{args.user}/policy/{name}", before, document())
        return status
    finally:
        catalog.close()
        if audit is not None:
            audit.close()


def cmd_servers(args: argparse.Namespace) -> int:
    from strongroom.servers import listing

    catalog, _ = _open(args)
    try:
        lines = listing(catalog, dead_too=args.all)
    finally:
        catalog.close()
    print("\n".join(lines) if lines else "no server is registered alive on this catalog",
          file=sys.stdout if lines else sys.stderr)
    return 0


def cmd_root_key(args: argparse.Namespace) -> int:
    from strongroom.rotation import rotate_root_key

    config = config_from(args, create=False)
    before = key_ids(config.root_keys)
    status = rotate_root_key(
        config, Path(args.root_key_file) if args.root_key_file else None, skip_damaged=args.skip_damaged
    )
    audit = _audit_log(args)
    if audit is not None:
        try:  # the key ids (fingerprints, never the keys) before and after
            after = key_ids(config_from(args, create=False).root_keys)
            _record(audit, "RotateRootKey", "root-key", {"key_ids": before},
                    {"key_ids": after, "exit_status": status})
        finally:
            audit.close()
    return status


def cmd_verify(args: argparse.Namespace) -> int:
    from strongroom.catalog.walk import Scope
    from strongroom.verify import verify

    config = config_from(args, create=False)
    return verify(config, Scope(args.bucket, args.prefix), args.workers, args.json)


def cmd_report(args: argparse.Namespace) -> int:
    from strongroom.catalog.walk import Scope
    from strongroom.encryption_report import report

    return report(config_from(args, create=False), Scope(args.bucket), args.json)


def main(argv: list[str] | None = None) -> int:
    process.harden()
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = argv
    if args.command == "serve":
        return cmd_serve(args)
    if args.command == "user":
        return cmd_user(args)
    if args.command == "policy":
        return cmd_policy(args)
    if args.command == "root-key":
        return cmd_root_key(args)
    if args.command == "servers":
        return cmd_servers(args)
    if args.command == "verify":
        return cmd_verify(args)
    if args.command == "report":
        return cmd_report(args)
    if args.command == "kms":
        config = config_from(args, create=False)
        check_deployment(config, serving=False)
        audit = _audit_log(args)
        try:
            return kms_cli.run(args, config, audit, local_actor())
        finally:
            if audit is not None:
                audit.close()
    return 2
