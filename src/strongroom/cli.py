"""The command line: `strongroom serve | user | kms | policy | root-key | servers`. Nothing else reads argv.

Every option of every command also reads a `STRONGROOM_<OPTION>` environment
variable (e.g. --data-dir and STRONGROOM_DATA_DIR); a flag wins over the variable.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from strongroom import identity, process
from strongroom.config import (
    Config,
    check_catalog_url,
    env,
    env_bool,
    parse_free_space,
    read_private,
    require_private_dir,
    root_credentials,
    root_keys,
)
from strongroom.deployment import check_deployment
from strongroom.kms import cli as kms_cli


def _opt(
    parser: argparse.ArgumentParser,
    flag: str,
    *,
    default: str | None = None,
    type_: Callable[[str], Any] = str,
    help_: str = "",
) -> None:
    name = flag.lstrip("-").replace("-", "_")
    from_env = env(name)
    # String defaults are converted by argparse itself, so a bad STRONGROOM_PORT is a clean usage
    # error of the command that uses it, not a traceback in every command.
    parser.add_argument(
        flag,
        dest=name,
        type=type_,
        default=from_env if from_env is not None else default,
        help=f"{help_} [env STRONGROOM_{name.upper()}]",
    )


def _flag(parser: argparse.ArgumentParser, flag: str, help_: str) -> None:
    name = flag.lstrip("-").replace("-", "_")
    parser.add_argument(
        flag,
        dest=name,
        action="store_true",
        default=env_bool(name),
        help=f"{help_} [env STRONGROOM_{name.upper()}=1]",
    )


def _on_off(text: str) -> bool:
    if text.strip().lower() in ("on", "off"):
        return text.strip().lower() == "on"
    raise argparse.ArgumentTypeError(f"expected on or off, not {text!r}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, not {text!r}")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    _opt(parser, "--data-dir", default="./data", help_="where metadata and encrypted blobs live")
    _opt(parser, "--root-key-file", help_="file holding the base64 root key (default: <data-dir>.root-key)")
    _opt(
        parser,
        "--catalog",
        help_="postgresql://user@host/db to keep metadata in PostgreSQL, shared by "
        "servers (default: SQLite in the data directory)",
    )
    _opt(parser, "--catalog-file", help_="a file (mode 0600) holding the --catalog URL, e.g. with a password")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="strongroom", description="An S3-compatible, encrypted object store."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the S3 server")
    _common(serve)
    _opt(serve, "--host", default="127.0.0.1", help_="address to listen on")
    _opt(serve, "--port", default="9000", type_=int, help_="port to listen on (0: any free port)")
    _opt(serve, "--workers", default="1", type_=int, help_="server processes sharing the port")
    _opt(serve, "--region", default="us-east-1", help_="the region strongroom reports")
    _opt(
        serve,
        "--base-domain",
        default="localhost",
        help_="virtual-hosted-style addressing: <bucket>.<domain>",
    )
    _opt(serve, "--tls-cert", help_="PEM certificate: serve HTTPS")
    _opt(serve, "--tls-key", help_="PEM private key for --tls-cert")
    _flag(serve, "--behind-tls-proxy", "TLS terminates in front of strongroom: plain HTTP counts as secure")
    _flag(serve, "--allow-sse-c-new-buckets", "new buckets allow SSE-C writes (AWS blocks them by default)")
    _opt(
        serve,
        "--sigv2",
        default="on",
        type_=_on_off,
        help_="on: accept Signature Version 2 as S3 in us-east-1 does (boto3 presigns with it there); "
        "off: refuse it (header, presigned URL and POST form) as S3's newer regions do",
    )
    _opt(serve, "--log-level", default="INFO", help_="DEBUG, INFO, WARNING or ERROR")
    _opt(serve, "--ready-file", help_="write the port to this file once listening (for scripts)")
    _opt(serve, "--kms-endpoint", help_="an AWS-KMS-compatible endpoint to use instead of the built-in KMS")
    _opt(serve, "--kms-access-key", help_="access key for --kms-endpoint")
    _opt(serve, "--kms-secret-key", help_="secret key for --kms-endpoint (prefer the file or environment)")
    _opt(serve, "--kms-secret-key-file", help_="a file (mode 0600) holding the secret key for --kms-endpoint")
    _opt(serve, "--kms-region", help_="region for --kms-endpoint (default: --region)")
    # --- serve: the free-space reserve (issue 14, safety) ---
    _opt(
        serve,
        "--min-free-space",
        help_="free space kept for deletes: new data is refused below it; bytes (5GiB, 500MB) or a "
        "percentage of the filesystem (2%%) (default: 1%%, at least 16 MiB, at most 1 GiB)",
    )
    # --- serve: the blob sweep (issue 15) ---
    _opt(serve, "--sweep-interval", default="60", type_=_positive_float,
         help_="seconds between blob sweep rounds (with jitter; one server at a time runs them)")
    _opt(serve, "--sweep-grace", default="3600", type_=_positive_float,
         help_="seconds (database clock) a replaced or deleted blob stays readable, and an unfinished "
         "write's blob is kept, before the sweep removes it")
    # the wire's per-process limits
    _opt(serve, "--max-request-bodies", default="128", type_=int,
         help_="request bodies received at once per process; beyond: 503 SlowDown")
    _opt(serve, "--max-connections", default="1000", type_=int,
         help_="open connections per process; a request on one beyond: 503 SlowDown, then closed")
    _opt(serve, "--min-body-rate", default="1024", type_=int,
         help_="bytes/s a request body must keep up over each --body-rate-window (0: no minimum)")
    _opt(serve, "--body-rate-window", default="30", type_=float,
         help_="seconds over which --min-body-rate is measured; a slower body is cut (RequestTimeout)")
    # --- serve: PostgreSQL connections (issue 15) ---
    _opt(serve, "--db-pool-size", default="4", type_=_positive_int,
         help_="PostgreSQL connections per server process (each of --workers), shared by the catalog "
         "and the KMS; a request waits for a free one")
    _opt(serve, "--db-pool-timeout", default="5", type_=_positive_float,
         help_="seconds a request waits for a free PostgreSQL connection; then 503 SlowDown")

    # --- serve: one clock, the registry of live servers (issue 15) ---
    _opt(serve, "--max-clock-skew", default="300", type_=_positive_float,
         help_="seconds this server's clock may differ from the catalog's: beyond, it does not start, "
         "or answers 503 until back in bound")
    _opt(serve, "--heartbeat-interval", default="10", type_=_positive_float,
         help_="seconds between this server's heartbeats in the catalog; it counts as alive for three")

    servers = sub.add_parser("servers", help="list the servers registered on the catalog, from any machine")
    _common(servers)
    servers.add_argument("--all", action="store_true",
                         help="also the processes whose heartbeat stopped (killed, or cut off)")

    user = sub.add_parser("user", help="manage users and access keys")
    user_sub = user.add_subparsers(dest="action", required=True)
    add = user_sub.add_parser("add", help="add a user (prints its access key and secret once)")
    _common(add)
    add.add_argument("name")
    add.add_argument("--access-key")
    add.add_argument("--secret-key")
    lst = user_sub.add_parser("list", help="list users and their access keys (disabled ones marked)")
    _common(lst)
    rm = user_sub.add_parser("remove", help="remove a user and its keys")
    _common(rm)
    rm.add_argument("name")
    key = user_sub.add_parser("add-key", help="add another access key to a user")
    _common(key)
    key.add_argument("name")
    for action, text in (
        ("disable-key", "disable an access key"),
        ("enable-key", "enable an access key"),
        ("delete-key", "delete an access key"),
    ):
        p = user_sub.add_parser(action, help=text)
        _common(p)
        p.add_argument("access_key")

    kms_cli.add_parser(sub, _common)

    pol = sub.add_parser("policy", help="manage the IAM policies attached to users")
    pol_sub = pol.add_subparsers(dest="action", required=True)
    attach = pol_sub.add_parser("attach", help="attach (or replace) a policy document to a user")
    _common(attach)
    attach.add_argument("user")
    attach.add_argument("file", help="the IAM policy document (JSON)")
    attach.add_argument("--name", help="the policy's name (default: the file's name without .json)")
    detach = pol_sub.add_parser("detach", help="remove a user's policy")
    _common(detach)
    detach.add_argument("user")
    detach.add_argument("name")
    plist = pol_sub.add_parser("list", help="list the policies of one user or of all users")
    _common(plist)
    plist.add_argument("user", nargs="?")

    rk = sub.add_parser("root-key", help="manage the root key")
    rk_sub = rk.add_subparsers(dest="action", required=True)
    rotate = rk_sub.add_parser(
        "rotate", help="re-seal every object key under a new root key (data is not rewritten)"
    )
    _common(rotate)
    # --- root-key rotate: damaged records (issue 14, safety) ---
    _flag(rotate, "--skip-damaged", "leave records whose sealed key does not unseal as they are; name them")
    return parser


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
        "max_clock_skew",
        "heartbeat_interval",
        "db_pool_size",
        "db_pool_timeout",
    ):
        if hasattr(args, name):
            values[name] = getattr(args, name)
    if getattr(args, "min_free_space", None):
        try:
            values["min_free_space"] = parse_free_space(args.min_free_space)
        except ValueError as e:
            raise SystemExit(f"strongroom: --min-free-space: {e}") from None
    for name in ("tls_cert", "tls_key"):
        if getattr(args, name, None):
            values[name] = Path(getattr(args, name))
    window = env("kms_day_seconds")  # developer setting: shorten KMS deletion windows in tests
    if window:
        values["kms_key_deletion_window_unit"] = float(window)
    return Config(**values)


def cmd_serve(args: argparse.Namespace) -> int:
    from strongroom.server import endpoint, serve

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
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
    from strongroom.catalog import MetadataSealer, open_catalog
    from strongroom.deployment import check_catalog
    from strongroom.vault import RootKeyring

    config = config_from(args, create=False)
    catalog = open_catalog(config, MetadataSealer.of(config.root_keys))
    try:
        check_catalog(catalog, config, serving=False)  # the data directory and root key are the catalog's
    except SystemExit:
        catalog.close()
        raise
    return catalog, RootKeyring(config.root_keys)


def cmd_user(args: argparse.Namespace) -> int:
    catalog, keyring = _open(args)
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
    except identity.IdentityError as e:
        print(f"strongroom: {e}", file=sys.stderr)
        return 1
    finally:
        catalog.close()
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    from strongroom.user_policies import run_command

    catalog, _ = _open(args)
    try:
        return run_command(
            catalog, args.action, args.user, getattr(args, "file", None), getattr(args, "name", None)
        )
    finally:
        catalog.close()


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
    return rotate_root_key(
        config, Path(args.root_key_file) if args.root_key_file else None, skip_damaged=args.skip_damaged
    )


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
    if args.command == "kms":
        config = config_from(args, create=False)
        check_deployment(config, serving=False)
        return kms_cli.run(args, config)
    return 2
