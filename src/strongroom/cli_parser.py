"""The command line's parser: every command, its options, and the `STRONGROOM_<OPTION>` variable each
option also reads (e.g. --data-dir and STRONGROOM_DATA_DIR; a flag wins over the variable). cli.py runs
what it parses.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from strongroom.config import env, env_bool
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


def _log_format(text: str) -> str:
    if text.strip().lower() in ("text", "json"):
        return text.strip().lower()
    raise argparse.ArgumentTypeError(f"expected text or json, not {text!r}")


def _ownership(text: str) -> str:
    modes = ("BucketOwnerEnforced", "ObjectWriter", "BucketOwnerPreferred")
    if text.strip() in modes:
        return text.strip()
    raise argparse.ArgumentTypeError(f"expected one of {', '.join(modes)}, not {text!r}")


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
    _opt(parser, "--audit-log",
         help_="append every change to users, keys, policies, ACLs, encryption and KMS keys to this file "
         "(JSON lines, fsynced)")


def _external_kms(parser: argparse.ArgumentParser) -> None:
    _opt(parser, "--kms-endpoint",
         help_="an AWS-KMS-compatible endpoint to use instead of the built-in KMS")
    _opt(parser, "--kms-access-key", help_="access key for --kms-endpoint")
    _opt(parser, "--kms-secret-key", help_="secret key for --kms-endpoint (prefer the file or environment)")
    _opt(parser, "--kms-secret-key-file",
         help_="a file (mode 0600) holding the secret key for --kms-endpoint")
    _opt(parser, "--kms-region", help_="region for --kms-endpoint (default: --region)")


def _jobs(sub: argparse._SubParsersAction) -> None:
    """The operator's proofs: `verify` and `report encryption` (verify.py, encryption_report.py)."""
    verify = sub.add_parser(
        "verify", help="read every stored object, authenticate every segment under its key and check sizes, "
        "ETags and checksums against the catalog (beside live servers: it only reads); exit 1 if any fails"
    )
    _common(verify)
    _external_kms(verify)
    _opt(verify, "--region", default="us-east-1", help_="the region strongroom reports (KMS key ARNs)")
    verify.add_argument("--bucket", help="only this bucket")
    verify.add_argument("--prefix", default="", help="only keys starting with this")
    verify.add_argument("--workers", type=_positive_int, default=2,
                        help="objects checked at once (default 2)")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    report = sub.add_parser("report", help="reports on what is stored")
    kinds = report.add_subparsers(dest="kind", required=True)
    encryption = kinds.add_parser(
        "encryption", help="objects and bytes per bucket, encryption type and key; the oldest object per "
        "key; what each KMS key's disabling would make unreadable"
    )
    _common(encryption)
    encryption.add_argument("--bucket", help="only this bucket")
    encryption.add_argument("--json", action="store_true", help="print the report as JSON")


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
        "--new-bucket-object-ownership",
        default="BucketOwnerEnforced",
        type_=_ownership,
        help_="the Object Ownership of a bucket created without x-amz-object-ownership: BucketOwnerEnforced "
        "(ACLs disabled, as AWS since 2023), ObjectWriter or BucketOwnerPreferred (ACLs enabled, as before)",
    )
    _opt(
        serve,
        "--new-bucket-public-access-block",
        default="on",
        type_=_on_off,
        help_="on: a new bucket has all four Block Public Access settings on (as AWS since 2023); "
        "off: it has none, so public ACLs and bucket policies work until the owner adds a block",
    )
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
    _external_kms(serve)
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
    # --- serve: the lifecycle worker (issue 12) ---
    _opt(serve, "--lifecycle-interval", default="600", type_=_positive_float,
         help_="seconds between lifecycle rounds (with jitter; one server at a time runs them)")
    _opt(serve, "--lifecycle-day-seconds", default="86400", type_=_positive_float,
         help_="how many seconds a lifecycle \"day\" lasts (rules' Days and their midnight rounding): "
         "shorter only to try rules out")
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

    # --- serve: operating it (issue 13) ---
    _opt(serve, "--access-log", default="-",
         help_="one JSON line per request: - for stderr, a file path, or off")
    _opt(serve, "--log-format", default="text", type_=_log_format,
         help_="the server's own log lines: text or json")
    _opt(serve, "--metrics-token-file",
         help_="a file (mode 0600) holding the bearer token /metrics requires (or "
         "STRONGROOM_METRICS_TOKEN); none: /metrics is open")
    _opt(serve, "--metrics-interval", default="60", type_=_positive_float,
         help_="seconds between refreshes of strongroom_objects, strongroom_object_bytes and the key ages")
    _opt(serve, "--access-log-delivery-interval", default="300", type_=_positive_float,
         help_="seconds between deliveries of server access logs (PutBucketLogging) into target buckets")

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
    _jobs(sub)

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
