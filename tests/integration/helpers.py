"""Small helpers the integration tests share: boto3 errors taken apart, SSE-C parameters, digests as S3
headers carry them, a free port, users and buckets on a running server, a self-signed certificate."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import secrets
import socket
import threading
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

if TYPE_CHECKING:  # server.py imports this module: the annotation only
    from tests.integration.server import RunningServer


# --- boto3 clients -------------------------------------------------------------------------------------

# A new boto3 session parses every service model it makes a client of (~0.1 s of CPU a client, for
# thousands of clients a run): the tests' sessions share one loader, which parses each model once.
_LOADER = botocore.loaders.create_loader()
_SESSIONS = threading.local()


def boto_session() -> boto3.session.Session:
    """This thread's boto3 session, to make clients with (a session is not thread-safe; its clients are).
    A client takes no state from it but the parsed models: credentials, region and endpoint are the
    client's own."""
    session = getattr(_SESSIONS, "session", None)
    if session is None:
        core = botocore.session.get_session()
        core.register_component("data_loader", _LOADER)
        session = _SESSIONS.session = boto3.session.Session(botocore_session=core)
    return session


# --- errors, as boto3 raises them ----------------------------------------------------------------------


def error_code(exc: BaseException) -> str:
    return exc.response["Error"]["Code"]  # type: ignore[attr-defined]


def status_of(exc: BaseException) -> int:
    return exc.response["ResponseMetadata"]["HTTPStatusCode"]  # type: ignore[attr-defined]


def error_of(exc: BaseException) -> dict[str, object]:
    """The status and the error document's Code, Message, ArgumentName and ArgumentValue."""
    err = exc.response["Error"]  # type: ignore[attr-defined]
    fields = ("Code", "Message", "ArgumentName", "ArgumentValue")
    return {"status": status_of(exc), **{k: err.get(k) for k in fields}}


def fails(call, *args, **kwargs) -> ClientError:  # type: ignore[no-untyped-def]
    """The ClientError that `call(*args, **kwargs)` must raise."""
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    return e.value


def assert_absent(s3, bucket: str, key: str) -> None:  # type: ignore[no-untyped-def]
    assert status_of(fails(s3.head_object, Bucket=bucket, Key=key)) == 404


# --- SSE-C parameters --------------------------------------------------------------------------------

KEY1 = bytes(range(32))
KEY2 = bytes(range(100, 132))


def ssec(key: bytes = KEY1) -> dict[str, object]:
    """boto3's SSE-C parameters; botocore sends the key base64-encoded with its MD5."""
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def copy_ssec(key: bytes = KEY1) -> dict[str, object]:
    return {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": key}


# --- bytes: digests as S3 headers carry them, plaintext that can be searched for on disk --------------


def md5_b64(data: bytes) -> str:
    """Content-MD5 of `data`."""
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def crc32_b64(data: bytes) -> str:
    """x-amz-checksum-crc32 of `data`."""
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def distinctive(size: int) -> tuple[bytes, bytes]:
    """(plaintext, marker): every 28-byte stretch of the plaintext contains the marker."""
    marker = b"PLAINTEXT-" + secrets.token_hex(6).encode()
    lines = b"".join(marker + b":%09d;" % i for i in range(size // (len(marker) + 11) + 1))
    return lines[:size], marker


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def blob_files(server: RunningServer) -> set[Path]:
    """The files in the server's blob directory (ciphertext, committed or not)."""
    return set(files_under(server.data_dir / "blobs"))


# --- the server's surroundings: ports, users, buckets, addressing, certificates ----------------------


def free_port() -> int:
    """A port nothing listens on (now): for a server that must not be there."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def keys_in(output: str) -> tuple[str, str]:
    """The (access key, secret key) that `strongroom user add` printed."""
    access, secret = re.search(r"access key: (\S+)", output), re.search(r"secret key: (\S+)", output)
    assert access and secret, output
    return access.group(1), secret.group(1)


def new_user(server: RunningServer, name: str) -> tuple[str, str]:
    """`strongroom user add NAME` on the running server's data; the keys it prints (once)."""
    return keys_in(server.cli("user", "add", name).stdout)


def new_bucket(s3, prefix: str = "b-", keys: Iterable[str] = ()) -> str:  # type: ignore[no-untyped-def]
    """A new bucket with a unique name; each key in `keys` stored in it with its own name as the body."""
    name = prefix + secrets.token_hex(6)
    s3.create_bucket(Bucket=name)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=name, Key=k, Body=k.encode()), keys))
    return name


def virtual_client(server: RunningServer, domain: str = "localhost", region: str = "us-east-1"):  # type: ignore[no-untyped-def]
    """boto3 addressing buckets as <bucket>.<domain>:<port>. That name may not resolve here, so the
    connection goes to 127.0.0.1 with the virtual Host header kept, as a resolver would make it.
    Returns the client and the list of Host headers it sent."""
    s3 = boto_session().client(
        "s3",
        endpoint_url=f"http://{domain}:{server.port}",
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=region,
        config=BotoConfig(s3={"addressing_style": "virtual"}),
    )
    hosts: list[str] = []

    def to_loopback(request, **_: object) -> None:  # type: ignore[no-untyped-def]
        parts = urlsplit(request.url)
        hosts.append(parts.netloc)
        request.headers["Host"] = parts.netloc
        request.url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{server.port}"))

    s3.meta.events.register("before-send.s3", to_loopback)
    return s3, hosts


def self_signed(directory: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem) in `directory`: a self-signed certificate for localhost and 127.0.0.1 that
    clients can also be given as their CA bundle."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path
