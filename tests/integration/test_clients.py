"""Third-party S3 clients against a real server: s3cmd, minio-py, s3fs and rclone, unchanged.

DESIGN.md promises that these work against strongroom. Each client does what its users do: make a
bucket, upload a small and a 20 MiB file (multipart where the client does it by itself), list with a
prefix and a delimiter, download and compare bytes, copy, delete, remove the bucket; plus what the
client is known for (minio-py's presigned URLs, stat_object and SSE-C over TLS; s3fs's file objects,
ranges, ls and glob; s3cmd's SigV2 mode and sync; rclone's sync and server-side copies).

boto3 (the conftest `server.client()`) only checks the results: ETags, existence, bytes.

s3fs runs only where it is installed: it is not in requirements-dev.lock, because every aiobotocore
that accepts botocore 1.43.11 (pinned by awscli 1.45.11) needs multidict<7, and the runtime pins
multidict 7.2.1. rclone is a system binary (Debian's `rclone`, which `python3 dev.py test`
installs); its tests skip when it is not on PATH.

Tests marked xfail(strict=True) name a server bug; they start passing, and fail as XPASS, once it is fixed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import urllib3
from botocore.exceptions import ClientError
from minio import Minio
from minio.commonconfig import ComposeSource, CopySource, Tags
from minio.deleteobjects import DeleteObject
from minio.error import S3Error as MinioError
from minio.sse import SseCustomerKey, SseS3

from tests.integration.server import RunningServer

MiB = 1 << 20
REGION = "us-east-1"
S3CMD = Path(sys.executable).parent / "s3cmd"
RCLONE = shutil.which("rclone")
needs_rclone = pytest.mark.skipif(
    RCLONE is None, reason="rclone is not on PATH (`python3 dev.py test` installs it with apt-get, as root)")


@dataclass(frozen=True)
class Files:
    small: bytes
    big: bytes
    small_path: Path
    big_path: Path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    root = tmp_path_factory.mktemp("payloads")
    small, big = b"small object \xe2\x9c\x93\n", secrets.token_bytes(20 * MiB)
    (root / "small.txt").write_bytes(small)
    (root / "big.bin").write_bytes(big)
    return Files(small, big, root / "small.txt", root / "big.bin")


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(5)}"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def multipart_etag(data: bytes, part_size: int) -> str:
    """S3's ETag of a multipart object: MD5 of the concatenated part MD5s, then -<part count>."""
    parts = [data[i:i + part_size] for i in range(0, len(data), part_size)]
    return f'"{hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()}-{len(parts)}"'


def gone(call, *args, **kwargs) -> bool:
    """Whether a boto3 Head* call answers 404."""
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    return False


def client_env(**extra: str) -> dict[str, str]:
    # The machine's AWS_* (AWS_CA_BUNDLE, profiles) must not steer the clients: rclone refuses to start
    # with AWS_CA_BUNDLE set and a plain-HTTP endpoint.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
    env.update(extra)
    return env


def run(cmd: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd[1:4]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


# --- s3cmd -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3cfg(server: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("s3cmd") / "s3cfg"
    path.write_text(textwrap.dedent(f"""\
        [default]
        access_key = {server.access_key}
        secret_key = {server.secret_key}
        host_base = 127.0.0.1:{server.port}
        host_bucket = 127.0.0.1:{server.port}
        use_https = False
        bucket_location = {REGION}
        signature_v2 = False
        progress_meter = False
        """))
    return path


def s3cmd(cfg: Path, *args: str, v2: bool = False, check: bool = True) -> subprocess.CompletedProcess[str]:
    flags = ["--signature-v2"] if v2 else []
    return run([sys.executable, str(S3CMD), "-c", str(cfg), *flags, *args], client_env(), check)


def s3cmd_ls(output: str) -> dict[str, int | str]:
    """`s3cmd ls` lines ("DIR  s3://b/p/" or "date time  size  s3://b/k") as {uri: size or "DIR"}."""
    entries: dict[str, int | str] = {}
    for line in output.splitlines():
        fields = line.split()
        entries[fields[-1]] = "DIR" if fields[0] == "DIR" else int(fields[2])
    return entries


@pytest.mark.parametrize("v2", [False, True], ids=["sigv4", "sigv2"])
def test_s3cmd_round_trip(server: RunningServer, s3cfg: Path, files: Files, tmp_path: Path, v2: bool) -> None:
    s3, b = server.client(), unique("s3cmd")
    server.expect_log_errors(r": NotImplemented$")  # an operation strongroom does not serve: logged

    def cmd(*args: str) -> subprocess.CompletedProcess[str]:
        return s3cmd(s3cfg, *args, v2=v2)

    cmd("mb", f"s3://{b}")
    cmd("put", str(files.small_path), str(files.big_path), f"s3://{b}/dir/")  # two files under one prefix
    cmd("put", str(files.small_path), f"s3://{b}/top.txt")
    # 20 MiB is over s3cmd's 15 MiB multipart_chunk_size_mb: two parts, S3's multipart ETag.
    assert s3.head_object(Bucket=b, Key="dir/big.bin")["ETag"] == multipart_etag(files.big, 15 * MiB)

    small, big = len(files.small), len(files.big)
    top = cmd("ls", "--debug", f"s3://{b}/")
    assert s3cmd_ls(top.stdout) == {f"s3://{b}/dir/": "DIR", f"s3://{b}/top.txt": small}
    # The requests really were signed the way the mode says.
    assert (f"'Authorization': 'AWS {server.access_key}:" in top.stderr) is v2
    assert ("AWS4-HMAC-SHA256 Credential=" in top.stderr) is not v2
    assert s3cmd_ls(cmd("ls", f"s3://{b}/dir/").stdout) == {
        f"s3://{b}/dir/big.bin": big, f"s3://{b}/dir/small.txt": small}
    assert s3cmd_ls(cmd("ls", f"s3://{b}/dir/sm").stdout) == {f"s3://{b}/dir/small.txt": small}
    assert set(s3cmd_ls(cmd("ls", "-r", f"s3://{b}").stdout)) == {
        f"s3://{b}/dir/big.bin", f"s3://{b}/dir/small.txt", f"s3://{b}/top.txt"}

    # s3cmd checks the MD5 of what it downloads against the ETag and warns when they differ.
    for key, data in (("dir/big.bin", files.big), ("dir/small.txt", files.small)):
        got = cmd("get", f"s3://{b}/{key}", str(tmp_path / key.replace("/", "_")))
        assert "MD5" not in got.stderr, got.stderr
        assert (tmp_path / key.replace("/", "_")).read_bytes() == data

    cmd("cp", f"s3://{b}/dir/big.bin", f"s3://{b}/copy/big.bin")  # one CopyObject
    assert s3.get_object(Bucket=b, Key="copy/big.bin")["Body"].read() == files.big

    info = cmd("info", f"s3://{b}/dir/small.txt").stdout
    assert f"MD5 sum:   {md5(files.small)}" in info
    assert "SSE:       AES256" in info  # encrypted at rest, and says so
    # signurl always presigns with SigV2 query authentication.
    url = cmd("signurl", f"s3://{b}/dir/small.txt", "+300").stdout.strip()
    with urllib.request.urlopen(url) as response:
        assert response.read() == files.small

    cmd("del", f"s3://{b}/dir/small.txt")
    assert gone(s3.head_object, Bucket=b, Key="dir/small.txt")
    cmd("del", "--recursive", "--force", f"s3://{b}/")
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0
    cmd("rb", f"s3://{b}")
    assert gone(s3.head_bucket, Bucket=b)


def test_s3cmd_sync_both_ways(server: RunningServer, s3cfg: Path, tmp_path: Path) -> None:
    s3, b = server.client(), unique("s3sync")
    src, dst = tmp_path / "src", tmp_path / "dst"
    tree = {"a/one.txt": b"one", "a/b/two.txt": b"two", "three.bin": secrets.token_bytes(300_000)}
    for name, data in tree.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    s3cmd(s3cfg, "mb", f"s3://{b}")
    s3cmd(s3cfg, "sync", f"{src}/", f"s3://{b}/tree/")
    assert {o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]} == {f"tree/{n}" for n in tree}
    # A second sync compares sizes and MD5s with the listing's ETags and uploads nothing.
    assert "upload:" not in s3cmd(s3cfg, "sync", f"{src}/", f"s3://{b}/tree/").stdout
    s3cmd(s3cfg, "sync", f"s3://{b}/tree/", f"{dst}/")
    assert {str(p.relative_to(dst)): p.read_bytes() for p in dst.rglob("*") if p.is_file()} == tree
    (src / "a/one.txt").unlink()
    s3cmd(s3cfg, "sync", "--delete-removed", f"{src}/", f"s3://{b}/tree/")
    assert gone(s3.head_object, Bucket=b, Key="tree/a/one.txt")


def test_s3cmd_deltagging_on_a_bucket_keeps_the_bucket(server: RunningServer, s3cfg: Path) -> None:
    b = unique("s3tag")
    s3cmd(s3cfg, "mb", f"s3://{b}")
    server.client().put_bucket_tagging(Bucket=b, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    s3cmd(s3cfg, "deltagging", f"s3://{b}")  # DeleteBucketTagging: 204
    assert not gone(server.client().head_bucket, Bucket=b)
    assert gone(server.client().get_bucket_tagging, Bucket=b)  # NoSuchTagSet: the tags, not the bucket


def test_s3cmd_setversioning_is_put_bucket_versioning(server: RunningServer, s3cfg: Path) -> None:
    b = unique("s3ver")
    s3cmd(s3cfg, "mb", f"s3://{b}")
    s3cmd(s3cfg, "setversioning", f"s3://{b}", "enable")
    assert server.client().get_bucket_versioning(Bucket=b).get("Status") == "Enabled"
    s3cmd(s3cfg, "setversioning", f"s3://{b}", "disable")  # S3's Suspended: never back to unversioned
    assert server.client().get_bucket_versioning(Bucket=b).get("Status") == "Suspended"


# --- minio-py --------------------------------------------------------------------------------------


def minio_client(server: RunningServer, http_client: urllib3.PoolManager | None = None, **kw: str) -> Minio:
    return Minio(f"127.0.0.1:{server.port}", access_key=server.access_key, secret_key=server.secret_key,
                 secure=server.scheme == "https", http_client=http_client, **kw)


def test_minio_round_trip(server: RunningServer, files: Files, tmp_path: Path) -> None:
    # No region given: minio-py asks GetBucketLocation first, as for any endpoint it does not know.
    mc, s3, b = minio_client(server), server.client(), unique("minio")
    mc.make_bucket(b)
    assert mc.bucket_exists(b) and b in {x.name for x in mc.list_buckets()}
    mc.put_object(b, "dir/small.txt", io.BytesIO(files.small), len(files.small), content_type="text/plain",
                  metadata={"color": "blue"})
    big = mc.fput_object(b, "dir/big.bin", str(files.big_path))  # minio-py picks 5 MiB parts
    assert f'"{big.etag}"' == multipart_etag(files.big, 5 * MiB)
    mc.put_object(b, "top.txt", io.BytesIO(files.small), len(files.small))

    def names(**kw: object) -> set[tuple[str, bool]]:
        return {(o.object_name, o.is_dir) for o in mc.list_objects(b, **kw)}

    assert names() == {("dir/", True), ("top.txt", False)}
    assert names(prefix="dir/") == {("dir/big.bin", False), ("dir/small.txt", False)}
    assert names(recursive=True) == names(recursive=True, use_api_v1=True) == {
        ("dir/big.bin", False), ("dir/small.txt", False), ("top.txt", False)}
    assert names(recursive=True, start_after="dir/small.txt") == {("top.txt", False)}

    stat = mc.stat_object(b, "dir/small.txt")
    assert (stat.size, stat.etag, stat.content_type) == (len(files.small), md5(files.small), "text/plain")
    assert stat.metadata["x-amz-meta-color"] == "blue"
    assert stat.metadata["x-amz-server-side-encryption"] == "AES256"
    response = mc.get_object(b, "dir/big.bin")
    try:
        assert response.read() == files.big
    finally:
        response.close()
        response.release_conn()
    response = mc.get_object(b, "dir/big.bin", offset=7 * MiB - 3, length=100)
    assert response.read() == files.big[7 * MiB - 3:7 * MiB + 97]
    response.close()
    response.release_conn()
    mc.fget_object(b, "dir/small.txt", str(tmp_path / "small"))
    assert (tmp_path / "small").read_bytes() == files.small

    mc.copy_object(b, "copy/big.bin", CopySource(b, "dir/big.bin"))
    assert s3.get_object(Bucket=b, Key="copy/big.bin")["Body"].read() == files.big
    # compose_object is UploadPartCopy of whole sources: parts of 20 MiB and of the small file.
    sources = [ComposeSource(b, "dir/big.bin"), ComposeSource(b, "top.txt")]
    composed = mc.compose_object(b, "composed", sources)
    assert f'"{composed.etag}"' == multipart_etag(files.big + files.small, len(files.big))
    assert s3.get_object(Bucket=b, Key="composed")["Body"].read() == files.big + files.small

    mc.remove_object(b, "top.txt")
    assert gone(s3.head_object, Bucket=b, Key="top.txt")
    doomed = [DeleteObject(o.object_name) for o in mc.list_objects(b, recursive=True)]
    assert list(mc.remove_objects(b, doomed)) == []  # DeleteObjects; minio-py yields the per-key errors
    mc.remove_bucket(b)
    assert not mc.bucket_exists(b)


def test_minio_presigned_get_and_put(server: RunningServer) -> None:
    mc, b = minio_client(server, region=REGION), unique("presign")
    mc.make_bucket(b)
    with urllib.request.urlopen(urllib.request.Request(
            mc.presigned_put_object(b, "up/loaded"), data=b"sent by a browser", method="PUT")) as response:
        assert response.status == 200
    assert mc.get_object(b, "up/loaded").read() == b"sent by a browser"
    url = mc.presigned_get_object(b, "up/loaded", response_headers={"response-content-type": "text/csv"})
    with urllib.request.urlopen(url) as response:
        assert (response.read(), response.headers["Content-Type"]) == (b"sent by a browser", "text/csv")
    tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")[:-1]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered)
    assert e.value.code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in e.value.read()


def test_minio_sse_c_and_stat_object_over_tls(tls_server: tuple[RunningServer, Path]) -> None:
    server, cert = tls_server
    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(cert))
    mc, b = minio_client(server, pool, region=REGION), unique("ssec")
    mc.make_bucket(b)
    # New buckets block SSE-C writes (AWS, April 2026); minio-py cannot change that, boto3 can.
    s3 = boto3_tls(server, cert)
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
        "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}}]})
    key, payload = SseCustomerKey(secrets.token_bytes(32)), secrets.token_bytes(7 * MiB)
    mc.put_object(b, "c/multi", io.BytesIO(payload), len(payload), sse=key, part_size=5 * MiB)
    mc.put_object(b, "c/single", io.BytesIO(b"tiny secret"), 11, sse=key)

    stat = mc.stat_object(b, "c/multi", ssec=key)
    assert stat.size == len(payload) and stat.etag.endswith("-2")
    assert stat.metadata["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
    assert mc.get_object(b, "c/multi", ssec=key).read() == payload
    assert mc.get_object(b, "c/single", ssec=key, offset=5, length=6).read() == b"secret"
    with pytest.raises(MinioError) as wrong:
        mc.get_object(b, "c/single", ssec=SseCustomerKey(secrets.token_bytes(32)))
    assert (wrong.value.response.status, wrong.value.code) == (403, "AccessDenied")
    with pytest.raises(MinioError) as missing:
        mc.get_object(b, "c/single")
    assert (missing.value.response.status, missing.value.code) == (400, "InvalidRequest")

    # A copy of an SSE-C object to a target without SSE-C is SSE-S3.
    mc.copy_object(b, "c/copy", CopySource(b, "c/multi", ssec=key))
    assert mc.stat_object(b, "c/copy").metadata["x-amz-server-side-encryption"] == "AES256"
    assert mc.get_object(b, "c/copy").read() == payload
    mc.put_object(b, "s3/x", io.BytesIO(b"sse-s3"), 6, sse=SseS3())
    assert mc.stat_object(b, "s3/x").metadata["x-amz-server-side-encryption"] == "AES256"
    with urllib.request.urlopen(mc.presigned_get_object(b, "s3/x"),
                                context=ssl.create_default_context(cafile=str(cert))) as response:
        assert response.read() == b"sse-s3"


def boto3_tls(server: RunningServer, cert: Path):
    return server.client(region=REGION, verify=str(cert))


def test_minio_put_object_with_tags_keeps_them(server: RunningServer) -> None:
    mc, b = minio_client(server, region=REGION), unique("mtags")
    mc.make_bucket(b)
    tags = Tags.new_object_tags()
    tags["team"], tags["stage"] = "storage", "beta"
    mc.put_object(b, "tagged", io.BytesIO(b"x"), 1, tags=tags)
    assert server.client().head_object(Bucket=b, Key="tagged").get("TagCount") == 2


def test_minio_bucket_tags_are_not_a_listing_or_a_delete(server: RunningServer) -> None:
    mc, b = minio_client(server, region=REGION), unique("btags")
    mc.make_bucket(b)
    assert mc.get_bucket_tags(b) is None  # AWS's 404 NoSuchTagSet, which minio-py returns as None
    tags = Tags.new_bucket_tags()
    tags["team"] = "storage"
    mc.set_bucket_tags(b, tags)
    assert dict(mc.get_bucket_tags(b) or {}) == {"team": "storage"}
    mc.delete_bucket_tags(b)
    assert mc.get_bucket_tags(b) is None
    assert mc.bucket_exists(b)


# --- s3fs ------------------------------------------------------------------------------------------


@pytest.fixture
def fs(server: RunningServer, monkeypatch: pytest.MonkeyPatch):
    s3fs = pytest.importorskip("s3fs",
                               reason="s3fs is not installed (not in requirements-dev.lock: see module doc)")
    # The region comes from the environment, not client_kwargs: s3fs's mkdir sends a region from
    # client_kwargs as LocationConstraint, and LocationConstraint=us-east-1 is InvalidLocationConstraint
    # on AWS (us-east-1 buckets are created without one).
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return s3fs.S3FileSystem(key=server.access_key, secret=server.secret_key, endpoint_url=server.endpoint,
                             skip_instance_cache=True)


def test_s3fs_round_trip(fs, server: RunningServer, files: Files) -> None:
    s3, b = server.client(), unique("s3fs")
    fs.mkdir(b)
    assert b in fs.ls("")
    fs.pipe(f"{b}/d/small.txt", files.small)
    # Writes through a file object go multipart once a block (here 5 MiB) is full.
    with fs.open(f"{b}/d/big.bin", "wb", block_size=5 * MiB) as f:
        for i in range(0, len(files.big), MiB):
            f.write(files.big[i:i + MiB])
    assert s3.head_object(Bucket=b, Key="d/big.bin")["ETag"] == multipart_etag(files.big, 5 * MiB)
    fs.put(str(files.big_path), f"{b}/d/e/put.bin")
    fs.pipe(f"{b}/top.txt", files.small)

    assert set(fs.ls(b, refresh=True)) == {f"{b}/d", f"{b}/top.txt"}
    detail = {e["name"]: (e["type"], e["size"]) for e in fs.ls(f"{b}/d", detail=True, refresh=True)}
    assert detail == {f"{b}/d/big.bin": ("file", len(files.big)), f"{b}/d/e": ("directory", 0),
                      f"{b}/d/small.txt": ("file", len(files.small))}
    assert fs.glob(f"{b}/**/*.bin") == [f"{b}/d/big.bin", f"{b}/d/e/put.bin"]
    assert fs.glob(f"{b}/d/*.txt") == [f"{b}/d/small.txt"]
    assert fs.info(f"{b}/d/small.txt")["ETag"] == f'"{md5(files.small)}"'

    with fs.open(f"{b}/d/big.bin", "rb", block_size=MiB) as f:
        f.seek(13 * MiB + 5)
        assert f.read(100) == files.big[13 * MiB + 5:13 * MiB + 105]
        f.seek(-10, os.SEEK_END)
        assert f.read() == files.big[-10:]
    assert fs.cat_file(f"{b}/d/big.bin", start=10, end=20) == files.big[10:20]
    assert fs.cat_ranges([f"{b}/d/small.txt", f"{b}/d/e/put.bin"], [0, MiB], [5, MiB + 8]) == [
        files.small[:5], files.big[MiB:MiB + 8]]
    assert fs.cat(f"{b}/d/e/put.bin") == files.big

    fs.copy(f"{b}/d/big.bin", f"{b}/c/big.bin")
    fs.mv(f"{b}/top.txt", f"{b}/c/moved.txt")
    assert fs.cat(f"{b}/c/big.bin") == files.big and fs.cat(f"{b}/c/moved.txt") == files.small
    assert gone(s3.head_object, Bucket=b, Key="top.txt")
    with fs.open(f"{b}/c/moved.txt", "ab") as f:
        f.write(b"+appended")
    assert fs.cat(f"{b}/c/moved.txt") == files.small + b"+appended"
    # fs.url presigns (botocore picks SigV2 query authentication here).
    with urllib.request.urlopen(fs.url(f"{b}/d/small.txt")) as response:
        assert response.read() == files.small

    fs.rm(f"{b}/d/small.txt")
    assert not fs.exists(f"{b}/d/small.txt") and gone(s3.head_object, Bucket=b, Key="d/small.txt")
    fs.rm(b, recursive=True)  # DeleteObjects, then DeleteBucket
    assert gone(s3.head_bucket, Bucket=b)


# --- rclone ----------------------------------------------------------------------------------------


def rclone(server: RunningServer, *args: str, v2: bool = False, check: bool = True
           ) -> subprocess.CompletedProcess[str]:
    env = client_env(
        RCLONE_CONFIG="/dev/null", RCLONE_CONFIG_SR_TYPE="s3", RCLONE_CONFIG_SR_PROVIDER="Other",
        RCLONE_CONFIG_SR_ENDPOINT=server.endpoint, RCLONE_CONFIG_SR_REGION=REGION,
        RCLONE_CONFIG_SR_ACCESS_KEY_ID=server.access_key,
        RCLONE_CONFIG_SR_SECRET_ACCESS_KEY=server.secret_key)
    # Small cutoffs so that 20 MiB goes multipart (4 x 5 MiB) both ways: uploads and server-side copies.
    flags = ["--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", "--s3-copy-cutoff", "5M",
             "--retries", "1", "--low-level-retries", "1", *(["--s3-v2-auth"] if v2 else [])]
    return run([str(RCLONE), *flags, *args], env, check)


@needs_rclone
def test_rclone_round_trip(server: RunningServer, files: Files, tmp_path: Path) -> None:
    s3, b = server.client(), unique("rclone")
    rclone(server, "mkdir", f"sr:{b}")
    rclone(server, "copyto", str(files.small_path), f"sr:{b}/d/small.txt")
    rclone(server, "copyto", str(files.big_path), f"sr:{b}/d/big.bin")
    rclone(server, "copyto", str(files.small_path), f"sr:{b}/top.txt")
    assert s3.head_object(Bucket=b, Key="d/big.bin")["ETag"] == multipart_etag(files.big, 5 * MiB)

    def ls(path: str) -> set[tuple]:  # directories have no size (rclone shows -1 or 0)
        entries = json.loads(rclone(server, "lsjson", path).stdout)
        return {(e["Path"], True) if e["IsDir"] else (e["Path"], False, e["Size"]) for e in entries}

    assert ls(f"sr:{b}") == {("d", True), ("top.txt", False, len(files.small))}
    assert ls(f"sr:{b}/d") == {("big.bin", False, len(files.big)), ("small.txt", False, len(files.small))}

    for key, data in (("d/big.bin", files.big), ("d/small.txt", files.small)):
        rclone(server, "copyto", f"sr:{b}/{key}", str(tmp_path / key))  # rclone checks size and MD5 too
        assert (tmp_path / key).read_bytes() == data
    # Server-side copies: CopyObject for the small file, UploadPartCopy x 4 for the big one.
    rclone(server, "copyto", f"sr:{b}/d/big.bin", f"sr:{b}/c/big.bin")
    rclone(server, "copyto", f"sr:{b}/d/small.txt", f"sr:{b}/c/small.txt")
    assert s3.head_object(Bucket=b, Key="c/big.bin")["ETag"] == multipart_etag(files.big, 5 * MiB)
    assert s3.get_object(Bucket=b, Key="c/big.bin")["Body"].read() == files.big
    sums = dict(line.split()[::-1] for line in rclone(server, "md5sum", f"sr:{b}").stdout.splitlines())
    assert sums == {"d/big.bin": md5(files.big), "d/small.txt": md5(files.small), "top.txt": md5(files.small),
                    "c/big.bin": md5(files.big), "c/small.txt": md5(files.small)}

    rclone(server, "moveto", f"sr:{b}/top.txt", f"sr:{b}/moved.txt")
    assert gone(s3.head_object, Bucket=b, Key="top.txt")
    rclone(server, "deletefile", f"sr:{b}/moved.txt")
    assert gone(s3.head_object, Bucket=b, Key="moved.txt")
    rclone(server, "purge", f"sr:{b}")
    assert gone(s3.head_bucket, Bucket=b)


@needs_rclone
def test_rclone_sync_and_check(server: RunningServer, tmp_path: Path) -> None:
    s3, b = server.client(), unique("rsync")
    src, dst = tmp_path / "src", tmp_path / "dst"
    tree = {"a/one": b"1", "a/b/two": b"2", "big": secrets.token_bytes(6 * MiB)}
    for name, data in tree.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    rclone(server, "mkdir", f"sr:{b}")
    rclone(server, "sync", str(src), f"sr:{b}/s")
    assert "0 differences found" in rclone(server, "check", str(src), f"sr:{b}/s").stderr
    rclone(server, "sync", f"sr:{b}/s", str(dst))
    assert {str(p.relative_to(dst)): p.read_bytes() for p in dst.rglob("*") if p.is_file()} == tree
    (src / "a/one").unlink()
    rclone(server, "sync", str(src), f"sr:{b}/s")
    assert gone(s3.head_object, Bucket=b, Key="s/a/one")


@needs_rclone
def test_rclone_v2_auth_multipart(server: RunningServer, files: Files, tmp_path: Path) -> None:
    b = unique("rclonev2")
    rclone(server, "mkdir", f"sr:{b}", v2=True)
    rclone(server, "copyto", str(files.small_path), f"sr:{b}/small.txt", v2=True)
    rclone(server, "copyto", str(files.big_path), f"sr:{b}/big.bin", v2=True)  # POST ?uploads= fails today
    rclone(server, "copyto", f"sr:{b}/big.bin", str(tmp_path / "big"), v2=True)
    assert (tmp_path / "big").read_bytes() == files.big
