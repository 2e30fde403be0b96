"""One frozen `Config` for a deployment; nothing else reads the environment.

`serve_config()` resolves settings in this order: command-line flag, then the
`STRONGROOM_*` environment variable, then the default. It also owns the state
that is created on first start and kept: the root credentials (in the data
directory's config.json, mode 0600) and the root key (in a file *outside* the
data directory, so that a copy of the data alone is useless).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("strongroom")

ROOT_KEY_ENV = "STRONGROOM_ROOT_KEY"

# --- --min-free-space (issue 14, safety) ---

_GIB = 1 << 30
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB|%)?", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "kib": 1 << 10, "mb": 10**6, "mib": 1 << 20, "gb": 10**9, "gib": _GIB,
          "tb": 10**12, "tib": 1 << 40}


@dataclass(frozen=True, slots=True)
class FreeSpace:
    """The free space kept in reserve on the data directory's filesystem: new object data is refused
    below it, so that deletes, aborts and metadata-only operations (which write only the catalog)
    always fit. `size` bytes, or `percent` of the filesystem; neither: 1%, at most 1 GiB and at least
    16 MiB (a quarter of a smaller filesystem): SQLite's WAL alone may grow by ~4 MiB between checkpoints."""

    size: int | None = None
    percent: float | None = None

    def required(self, total: int) -> int:
        if self.size is not None:
            return self.size
        if self.percent is not None:
            return int(total * self.percent / 100)
        return min(max(total // 100, min(16 << 20, total // 4)), _GIB)


def parse_free_space(text: str) -> FreeSpace:
    """`5GiB`, `500MB`, `1073741824` (bytes) or `2%`; ValueError otherwise."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a size or a percentage: {text!r} (e.g. 5GiB, 500MB, 2%)")
    number, unit = float(match.group(1)), (match.group(2) or "b").lower()
    if unit == "%":
        if number > 100:
            raise ValueError(f"a percentage of at most 100: {text!r}")
        return FreeSpace(percent=number)
    return FreeSpace(size=int(number * _UNITS[unit]))



@dataclass(frozen=True, slots=True)
class Config:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 9000
    workers: int = 1
    region: str = "us-east-1"
    base_domain: str = "localhost"  # virtual-hosted-style: <bucket>.<base_domain>
    tls_cert: Path | None = None
    tls_key: Path | None = None
    behind_tls_proxy: bool = False  # TLS terminates in front of us: plain HTTP counts as secure
    allow_sse_c_new_buckets: bool = False  # AWS blocks SSE-C on new buckets since April 2026
    # What a new bucket starts with when its CreateBucket does not say (AWS's defaults since April 2023:
    # ACLs disabled, all four Block Public Access settings on); for applications written before them.
    new_bucket_object_ownership: str = "BucketOwnerEnforced"  # | "ObjectWriter" | "BucketOwnerPreferred"
    new_bucket_public_access_block: bool = True
    sigv2: bool = True  # accept Signature Version 2 (header, presigned, POST form); off: SigV4 only
    account_id: str = ""
    root_access_key: str = ""
    root_secret_key: str = field(default="", repr=False)
    root_keys: tuple[bytes, ...] = field(
        default=(), repr=False
    )  # current first, then older ones during rotation
    root_key_source: str = ""
    kms_key_deletion_window_unit: float = 86400.0  # seconds per "day" of a deletion window (tests shorten it)
    kms_endpoint: str | None = None  # an external AWS-KMS-compatible endpoint instead of the built-in KMS
    kms_access_key: str = ""
    kms_secret_key: str = field(default="", repr=False)
    kms_region: str | None = None  # default: region
    # The wire's per-process limits (s3/limits.py, s3/body.py): beyond the first two, 503 SlowDown; a
    # body slower than min_body_rate bytes/s over each body_rate_window seconds is cut (RequestTimeout).
    max_request_bodies: int = 128
    max_connections: int = 1000
    min_body_rate: int = 1024
    body_rate_window: float = 30.0
    log_level: str = "INFO"
    # A PostgreSQL URL (several servers share it); empty: the SQLite file in the data directory.
    catalog_url: str = field(default="", repr=False)  # may hold a password
    # PostgreSQL connections per process, at most (db/pool.py), and how long a call waits for a free
    # one before its request is refused (503 SlowDown). Admin commands keep this default; serve's
    # --db-pool-size defaults to 4.
    db_pool_size: int = 2
    db_pool_timeout: float = 5.0
    min_free_space: FreeSpace = FreeSpace()  # new data is refused below it (issue 14, safety)
    # The blob sweep (vault/sweep.py): a round every sweep_interval seconds (with jitter) in one server at
    # a time; replaced, deleted and abandoned blobs are removed sweep_grace seconds (database clock) later.
    sweep_interval: float = 60.0
    sweep_grace: float = 3600.0
    # The lifecycle worker (vault/lifecycle.py): a round every lifecycle_interval seconds (with jitter) in
    # one server at a time; a lifecycle "day" lasts lifecycle_day_seconds (shorter only to try rules out).
    lifecycle_interval: float = 600.0
    lifecycle_day_seconds: float = 86400.0
    # One clock (clock.py) and the registry of live servers (servers.py): a server whose clock is further
    # than max_clock_skew seconds from the catalog's does not start, or turns not-ready; it heartbeats
    # every heartbeat_interval seconds and counts as alive for three intervals after the last one.
    max_clock_skew: float = 300.0
    heartbeat_interval: float = 10.0
    # Operating it (issue 13): the access log ("-": stderr, a path, or "" for none), the server's own
    # log lines as text or JSON, the audit log (JSON lines, fsynced), the /metrics bearer token, how often
    # the catalog-derived gauges are refreshed, and (set by server.py for --workers N) where every
    # worker's metric values meet.
    access_log: str = "-"
    log_format: str = "text"
    audit_log: Path | None = None
    metrics_token: str = field(default="", repr=False)
    metrics_interval: float = 60.0
    metrics_dir: Path | None = None
    # Server access logs (PutBucketLogging): seconds between deliveries of waiting records into their
    # target buckets (s3/log_delivery.py).
    access_log_delivery_interval: float = 300.0

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.sqlite3"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"


CATALOG_URL_SCHEMES = ("postgresql://", "postgres://")


def check_catalog_url(url: str) -> str:
    if url and not url.startswith(CATALOG_URL_SCHEMES):
        raise SystemExit(
            "strongroom: --catalog must be a postgresql:// URL "
            "(leave it unset for the SQLite catalog in the data directory)"
        )
    return url


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get("STRONGROOM_" + name.upper().replace("-", "_"), default)


def metrics_token(token_file: str | None) -> str:
    """The /metrics bearer token: from its file (mode 0600), else STRONGROOM_METRICS_TOKEN; "" for none."""
    if token_file:
        return read_private(Path(token_file), "the metrics token file").strip()
    return (env("metrics_token") or "").strip()


def env_bool(name: str) -> bool:
    return (env(name) or "").strip().lower() in {"1", "true", "yes", "on"}


# --- state kept in the data directory, and private files -------------------------------------------


class NotPrivate(SystemExit):
    """A key file, config.json or data directory another account could read or replace."""


def _check_private(st: os.stat_result, path: Path, what: str, directory: bool) -> None:
    # As ssh does for private keys: refuse rather than use a file another account planted or can read.
    if st.st_uid != os.geteuid():
        raise NotPrivate(
            f"strongroom: {what} {path} belongs to uid {st.st_uid}, not to this server's user "
            f"(uid {os.geteuid()}); refusing to use it"
        )
    if st.st_mode & 0o077:
        mode = "700" if directory else "600"
        raise NotPrivate(
            f"strongroom: {what} {path} is open to other users (mode {st.st_mode & 0o777:o}); "
            f"refusing to use it. Run: chmod {mode} {path}"
        )


def require_private_dir(path: Path, what: str = "the data directory") -> None:
    _check_private(os.stat(path), path, what, directory=True)


def read_private(path: Path, what: str) -> str:
    """A file only this user may read, opened without following a symbolic link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        raise SystemExit(f"strongroom: cannot open {what} {path}: {e.strerror}") from None
    with os.fdopen(fd) as f:
        _check_private(os.fstat(fd), path, what, directory=False)
        return f.read()


def write_private(path: Path, text: str) -> None:
    """Create `path` (FileExistsError if it exists) for this user alone, with `text`, fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _random_access_key() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "SR" + "".join(secrets.choice(alphabet) for _ in range(18))


def _random_secret_key() -> str:
    return base64.b64encode(secrets.token_bytes(30)).decode().replace("+", "x").replace("/", "y")


def new_access_key_pair() -> tuple[str, str]:
    return _random_access_key(), _random_secret_key()


def root_credentials(data_dir: Path) -> tuple[str, str, bool]:
    """The root access key and secret: from the environment, else from config.json, else generated.

    Returns (access_key, secret_key, generated_now).
    """
    ak, sk = env("root_access_key"), env("root_secret_key")
    if ak and sk:
        return ak, sk, False
    path = data_dir / "config.json"
    if path.exists():
        stored = json.loads(read_private(path, "the root credentials file"))
        return stored["root_access_key"], stored["root_secret_key"], False
    ak, sk = new_access_key_pair()
    try:
        write_private(path, json.dumps({"root_access_key": ak, "root_secret_key": sk}) + "\n")
    except FileExistsError:  # another worker or process won the race: use what it wrote
        stored = json.loads(read_private(path, "the root credentials file"))
        return stored["root_access_key"], stored["root_secret_key"], False
    return ak, sk, True


def default_root_key_file(data_dir: Path) -> Path:
    """Beside the data directory, never inside it: `./data` -> `./data.root-key`."""
    resolved = data_dir.resolve()
    return resolved.parent / (resolved.name + ".root-key")


def _decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError as e:
        raise SystemExit(f"strongroom: the root key in {source} is not valid base64") from e
    if len(key) != 32:
        raise SystemExit(f"strongroom: the root key in {source} must be 32 bytes (base64 of 32 random bytes)")
    return key


def read_key_file(path: Path) -> tuple[bytes, ...]:
    """A key file holds one base64 key per line: the current key first, then older keys kept for rotation."""
    text = read_private(path, "the root key file")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise SystemExit(f"strongroom: the root key file {path} is empty")
    return tuple(_decode_key(line, str(path)) for line in lines)


def root_keys(data_dir: Path, key_file: Path | None, create: bool) -> tuple[tuple[bytes, ...], str]:
    """The root keyring and where it came from. Generates a key file on first start if allowed."""
    from_env = os.environ.get(ROOT_KEY_ENV)
    if from_env:
        return (_decode_key(from_env, ROOT_KEY_ENV),), ROOT_KEY_ENV
    path = key_file or (Path(p) if (p := env("root_key_file")) else None) or default_root_key_file(data_dir)
    if path.exists():
        return read_key_file(path), str(path)
    if not create:
        raise SystemExit(
            f"strongroom: no root key: set {ROOT_KEY_ENV} or --root-key-file ({path} does not exist)"
        )
    key = secrets.token_bytes(32)
    try:
        write_private(path, base64.b64encode(key).decode() + "\n")
        log.warning(
            "generated a new root key in %s: keep it apart from the data directory and back it up; "
            "without it no object can be read",
            path,
        )
    except FileExistsError:
        return read_key_file(path), str(path)
    return (key,), str(path)


def write_key_file(path: Path, keys: tuple[bytes, ...]) -> None:
    """Replace a key file atomically (write, fsync, rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    write_private(tmp, "".join(base64.b64encode(k).decode() + "\n" for k in keys))
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
