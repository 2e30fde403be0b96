"""The server as a process: several workers on one port, virtual-hosted-style addressing, restarts and
crashes, concurrent writers, the request ids on every answer, unknown operations, hostile XML, and the
aws cli driving it end to end (also over TLS)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.integration.factory import ServerFactory
from tests.integration.helpers import files_under, md5_b64, new_user, virtual_client
from tests.integration.server import RunningServer

# --- several workers on one port ------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def tcp_inodes(port: int, state: str) -> set[str]:
    """Socket inodes of TCP sockets on local port `port` in `state` (01 established, 0A listening)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                inodes.add(fields[9])
    return inodes


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


@pytest.fixture(scope="module")
def two_workers(start_module_server: ServerFactory) -> RunningServer:
    return start_module_server("--workers", "2")


def test_two_workers_serve_and_see_each_others_writes(two_workers: RunningServer) -> None:
    server = two_workers
    # Both workers listening (each on its own SO_REUSEPORT socket) before the connections are made.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listening = tcp_inodes(server.port, "0A")
        workers = [pid for pid in children(server.process.pid) if socket_inodes(pid) & listening]
        if len(workers) == 2:
            break
        time.sleep(0.1)
    assert len(workers) == 2, workers
    s3 = server.client("s3")
    s3.create_bucket(Bucket="shared")
    # Many connections held open at once: the kernel spreads them over both workers' listening sockets.
    conns = [server.connection() for _ in range(24)]
    try:
        for i, conn in enumerate(conns):
            path = f"/shared/key-{i}"
            body = f"written on connection {i}".encode()
            conn.request(
                "PUT",
                path,
                body=body,
                headers=server.sign("PUT", path, content_sha256=hashlib.sha256(body).hexdigest()),
            )
            response = conn.getresponse()
            response.read()
            assert response.status == 200
        open_now = tcp_inodes(server.port, "01")
        serving = [pid for pid in workers if socket_inodes(pid) & open_now]
        assert len(serving) == 2, (workers, serving)
        # each key read back on other connections (so, from the other worker too)
        for i, conn in enumerate(conns):
            j = (i + 1) % len(conns)
            path = f"/shared/key-{j}"
            conn.request(
                "GET", path, headers=server.sign("GET", path, content_sha256=hashlib.sha256(b"").hexdigest())
            )
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, f"written on connection {j}".encode())
    finally:
        for conn in conns:
            conn.close()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="shared")["Contents"]]
    assert len(listed) == 24
    # deletes and new users are seen by every worker at once
    s3.delete_object(Bucket="shared", Key="key-0")
    for _ in range(10):
        assert server.raw("HEAD", "/shared/key-0").status == 404
    access, secret = new_user(server, "worker-user")
    for _ in range(10):  # new connections: both workers
        assert server.raw("GET", "/", access_key=access, secret_key=secret).status == 200


# --- virtual-hosted-style addressing --------------------------------------------------------------


def test_virtual_hosted_style(server: RunningServer, s3) -> None:
    vs3, hosts = virtual_client(server)
    vs3.create_bucket(Bucket="virtual-bucket")
    vs3.put_object(Bucket="virtual-bucket", Key="dir/key with space+plus", Body=b"virtually")
    assert hosts[-1] == f"virtual-bucket.localhost:{server.port}"  # really virtual-hosted
    assert (
        vs3.get_object(Bucket="virtual-bucket", Key="dir/key with space+plus")["Body"].read() == b"virtually"
    )
    assert [o["Key"] for o in vs3.list_objects_v2(Bucket="virtual-bucket")["Contents"]] == [
        "dir/key with space+plus"
    ]
    vs3.copy_object(
        Bucket="virtual-bucket",
        Key="copy",
        CopySource={"Bucket": "virtual-bucket", "Key": "dir/key with space+plus"},
    )
    # the same objects, path-style
    assert s3.get_object(Bucket="virtual-bucket", Key="copy")["Body"].read() == b"virtually"
    # raw: the bucket only in the Host header, and a dotted bucket name
    s3.create_bucket(Bucket="dotted.bucket.name")
    host = f"dotted.bucket.name.localhost:{server.port}"
    put = server.raw("PUT", "/obj", b"dotted", {"host": host})
    assert put.status == 200, put.body
    assert s3.get_object(Bucket="dotted.bucket.name", Key="obj")["Body"].read() == b"dotted"
    missing = server.raw(
        "GET", "/obj", headers={"host": f"nope-{secrets.token_hex(3)}.localhost:{server.port}"}
    )
    assert missing.code == "NoSuchBucket"
    with pytest.raises(ClientError) as caught:
        vs3.head_object(Bucket="virtual-bucket", Key="absent")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# --- restart and crash ----------------------------------------------------------------------------


def test_restart_keeps_data(start_server: ServerFactory) -> None:
    server = start_server()
    try:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="durable")
        small, large = b"small object", secrets.token_bytes(300_000)
        s3.put_object(Bucket="durable", Key="small", Body=small, Metadata={"m": "1"})
        s3.put_object(Bucket="durable", Key="large", Body=large)
        s3.close()  # no idle keep-alive connection for the graceful stop to wait on
        server = server.restart()
        s3 = server.client("s3")
        assert s3.get_object(Bucket="durable", Key="small")["Body"].read() == small
        assert s3.head_object(Bucket="durable", Key="small")["Metadata"] == {"m": "1"}
        assert s3.get_object(Bucket="durable", Key="large")["Body"].read() == large
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["durable"]
    finally:
        server.stop()


def test_every_acknowledged_small_put_survives_a_kill(start_server: ServerFactory) -> None:
    """Concurrent small PUTs share commits (group commit): each is acknowledged only once its commit is
    on disk. Kill the server with SIGKILL mid-stream: afterwards every key is exactly as its last
    acknowledged PUT or DELETE left it, except the one each writer had in flight, which may show
    either outcome."""
    server = start_server()
    acknowledged: dict[str, bytes | None] = {}
    in_flight: dict[int, tuple[str, bytes | None]] = {}
    lock = threading.Lock()
    stop = threading.Event()
    try:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="storm")

        def writer(n: int) -> None:
            client = server.client("s3", retries={"max_attempts": 1})
            i = 0
            while not stop.is_set():
                key = f"w{n}/k{i % 40}"
                body = None if i % 7 == 6 else secrets.token_bytes(1000 + i)
                with lock:
                    in_flight[n] = (key, body)
                try:
                    if body is None:
                        client.delete_object(Bucket="storm", Key=key)
                    else:
                        client.put_object(Bucket="storm", Key=key, Body=body)
                except Exception:  # the server died under this request: no acknowledgement
                    return
                with lock:
                    acknowledged[key] = body
                    del in_flight[n]
                i += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert len(acknowledged) >= 200
        server = server.restart()
        s3 = server.client("s3")

        def stored(key: str) -> bytes | None:
            try:
                return s3.get_object(Bucket="storm", Key=key)["Body"].read()
            except ClientError as e:
                assert e.response["Error"]["Code"] == "NoSuchKey", e.response
                return None

        pending = dict(in_flight.values())
        for key, body in acknowledged.items():
            allowed = {body, pending[key]} if key in pending else {body}
            assert stored(key) in allowed, key
    finally:
        stop.set()
        server.stop()


def test_crash_mid_upload_leaves_nothing(start_server: ServerFactory) -> None:
    """The killed write's blob was recorded pending before its file was made: once the grace period
    has passed, the sweep removes its temporary file and its record (issue 15)."""
    sweep = ("--sweep-interval", "0.2", "--sweep-grace", "1")
    server = start_server(*sweep)
    try:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="crashy")
        kept = secrets.token_bytes(200_000)  # big enough to live in a blob file
        s3.put_object(Bucket="crashy", Key="kept", Body=kept)
        blobs = server.data_dir / "blobs"
        before = files_under(blobs)
        assert len(before) == 1
        # A 64 MiB PUT of which 8 MiB are sent; the server is killed while it streams.
        path = "/crashy/interrupted"
        headers = server.sign("PUT", path, content_sha256="UNSIGNED-PAYLOAD")
        conn = server.connection()
        conn.putrequest("PUT", path, skip_host=True)
        for name, value in {
            **headers,
            "host": f"127.0.0.1:{server.port}",
            "content-length": str(64 << 20),
        }.items():
            conn.putheader(name, value)
        conn.endheaders()
        for _ in range(8):
            conn.send(b"\0" * (1 << 20))
        deadline = time.monotonic() + 10
        while len(files_under(blobs)) == len(before) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(files_under(blobs)) > len(before)  # the upload's temporary file is there
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        conn.close()
        s3.close()
        server = server.restart(*sweep)
        deadline = time.monotonic() + 15
        while sorted(files_under(blobs)) != sorted(before) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sorted(files_under(blobs)) == sorted(before)  # the dead write gone, the kept blob not
        s3 = server.client("s3")
        with pytest.raises(ClientError) as caught:
            s3.head_object(Bucket="crashy", Key="interrupted")
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="crashy")["Contents"]] == ["kept"]
        assert s3.get_object(Bucket="crashy", Key="kept")["Body"].read() == kept
        assert "the blob sweep removed 1 file(s)" in server.log()
    finally:
        server.stop()


# --- concurrency ----------------------------------------------------------------------------------


def test_concurrent_puts_to_one_key_one_wins_whole(server: RunningServer, s3, bucket: str) -> None:
    bodies = [secrets.token_bytes(1 << 20), secrets.token_bytes(1 << 20) + b"longer"]
    for round_ in range(4):
        key = f"race-{round_}"
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def put(
            body: bytes,
            key: str = key,
            barrier: threading.Barrier = barrier,
            errors: list[BaseException] = errors,
        ) -> None:
            client = server.client("s3")
            barrier.wait()
            try:
                client.put_object(Bucket=bucket, Key=key, Body=body)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=put, args=(b,)) for b in bodies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        got = s3.get_object(Bucket=bucket, Key=key)
        data = got["Body"].read()
        assert data in bodies
        assert got["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
        assert got["ContentLength"] == len(data)


# --- what every answer carries --------------------------------------------------------------------


def test_unknown_operations_are_501(server: RunningServer, bucket: str) -> None:
    for method, path in (
        ("GET", f"/{bucket}?logging"),
        ("PUT", f"/{bucket}?cors"),
        ("GET", f"/{bucket}?website"),
        ("GET", f"/{bucket}/k?torrent"),
        ("POST", f"/{bucket}/k?restore"),
    ):
        reply = server.raw(method, path, b"" if method in ("PUT", "POST") else None)
        assert reply.status == 501, (method, path)
        assert reply.code == "NotImplemented"
    # and a GET ?logging did not list the bucket
    assert b"ListBucketResult" not in server.raw("GET", f"/{bucket}?logging").body


def test_every_response_has_request_ids(server: RunningServer, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="ids", Body=b"0123456789")
    etag = s3.head_object(Bucket=bucket, Key="ids")["ETag"]
    replies = [
        server.raw("GET", "/"),
        server.raw("GET", f"/{bucket}/ids"),
        server.raw("HEAD", f"/{bucket}/ids"),
        server.raw("GET", f"/{bucket}/ids", headers={"range": "bytes=0-1"}),
        server.raw("GET", f"/{bucket}/ids", headers={"if-none-match": etag}),
        server.raw("GET", f"/{bucket}/absent"),
        server.raw("HEAD", f"/{bucket}/absent"),
        server.raw("GET", f"/{bucket}?logging"),
        server.raw("PUT", "/Bad_Name"),
        server.raw("DELETE", f"/{bucket}/absent"),
        server.raw("GET", "/", secret_key="wrong-secret"),
        server.raw("GET", f"/{bucket}/ids", sign=False),
        server.raw("GET", "/", headers={"authorization": "garbage"}, sign=False),
    ]
    statuses = set()
    for reply in replies:
        statuses.add(reply.status)
        assert len(reply.headers.get("x-amz-request-id", "")) >= 16, reply
        assert reply.headers.get("x-amz-id-2"), reply
        assert reply.headers.get("server") == "strongroom"  # no framework name and version
        if reply.code is not None:
            assert reply.detail("RequestId") == reply.headers["x-amz-request-id"]
            assert reply.detail("HostId") == reply.headers["x-amz-id-2"]
    assert statuses == {200, 204, 206, 304, 400, 403, 404, 501}
    ids = {r.headers["x-amz-request-id"] for r in replies}
    assert len(ids) == len(replies)  # one per request


# --- hostile XML ----------------------------------------------------------------------------------

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b"]><Delete><Object><Key>&lol9;</Key></Object></Delete>"
)
HOSTILE = {
    "unclosed": b"<Delete><Object><Key>a</Key></Object>",
    "wrong root": b"<Remove><Object><Key>a</Key></Object></Remove>",
    "not xml": b"this is not xml at all",
    "empty": b"",
    "external entity": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<Delete><Object><Key>&x;</Key></Object></Delete>",
    "billion laughs": BILLION_LAUGHS,
    "unknown element": b"<Delete><Object><Key>a</Key></Object><Bogus/></Delete>",
    "object without key": b"<Delete><Object></Object></Delete>",
    "no objects": b"<Delete><Quiet>true</Quiet></Delete>",
    "over 2 MiB": b"<Delete>" + b"<Object><Key>" + b"k" * 1000 + b"</Key></Object>" * 3000 + b"</Delete>",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_delete_documents_are_malformed_xml(
    server: RunningServer, s3, bucket: str, name: str
) -> None:
    s3.put_object(Bucket=bucket, Key="a", Body=b"still here")
    body = HOSTILE[name]
    started = time.monotonic()
    reply = server.raw("POST", f"/{bucket}?delete", body, {"content-md5": md5_b64(body)})
    assert time.monotonic() - started < 5  # refused at once, not after expanding or fetching anything
    assert reply.status == 400, reply.body[:300]
    assert reply.code == "MalformedXML"
    assert b"root:" not in reply.body  # nothing of /etc/passwd
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"still here"


# --- the aws cli ----------------------------------------------------------------------------------


def test_aws_cli_s3_commands(server: RunningServer, s3, tmp_path: Path) -> None:
    bucket = "cli-" + secrets.token_hex(4)
    server.aws("s3", "mb", f"s3://{bucket}")
    payload = secrets.token_bytes(9 * 1024 * 1024)  # over the cli's 8 MiB multipart threshold
    (tmp_path / "up.bin").write_bytes(payload)
    server.aws("s3", "cp", str(tmp_path / "up.bin"), f"s3://{bucket}/big/up.bin")
    server.aws("s3", "cp", f"s3://{bucket}/big/up.bin", str(tmp_path / "down.bin"))
    assert (tmp_path / "down.bin").read_bytes() == payload
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    for i in range(20):
        written = folder / ("sub" if i % 2 else "") / f"file-{i}.txt"
        written.write_text(f"file {i}\n" * (i + 1))
        # S3 keeps LastModified in whole seconds and sync re-uploads what is newer than that: files written in
        # the second of their upload would go again. Make them a minute old, as files usually are.
        os.utime(written, (time.time() - 60, time.time() - 60))
    first = server.aws("s3", "sync", str(folder), f"s3://{bucket}/synced").stdout
    assert first.count("upload:") == 20
    again = server.aws("s3", "sync", str(folder), f"s3://{bucket}/synced").stdout
    assert "upload:" not in again  # nothing changed, nothing sent
    listing = server.aws("s3", "ls", "--recursive", f"s3://{bucket}/").stdout
    assert listing.count("synced/") == 20 and "big/up.bin" in listing
    for path in files_under(folder):
        key = f"synced/{path.relative_to(folder).as_posix()}"
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == path.read_bytes()
    removed = server.aws("s3", "rm", "--recursive", f"s3://{bucket}/").stdout
    assert removed.count("delete:") == 21
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    s3.delete_bucket(Bucket=bucket)


def test_aws_cli_s3api_commands(server: RunningServer, s3, bucket: str, tmp_path: Path) -> None:
    (tmp_path / "body").write_bytes(b"via s3api")
    put = json.loads(
        server.aws(
            "s3api",
            "put-object",
            "--bucket",
            bucket,
            "--key",
            "api",
            "--body",
            str(tmp_path / "body"),
            "--content-type",
            "text/plain",
            "--metadata",
            "k=v",
        ).stdout
    )
    assert put["ETag"] == f'"{hashlib.md5(b"via s3api").hexdigest()}"'
    head = json.loads(server.aws("s3api", "head-object", "--bucket", bucket, "--key", "api").stdout)
    assert (head["ContentLength"], head["ContentType"], head["Metadata"]) == (9, "text/plain", {"k": "v"})
    got = json.loads(
        server.aws(
            "s3api",
            "get-object",
            "--bucket",
            bucket,
            "--key",
            "api",
            "--range",
            "bytes=4-",
            str(tmp_path / "out"),
        ).stdout
    )
    assert got["ContentRange"] == "bytes 4-8/9"
    assert (tmp_path / "out").read_bytes() == b"s3api"
    missing = server.aws("s3api", "head-object", "--bucket", bucket, "--key", "absent", check=False)
    assert missing.returncode != 0 and "404" in missing.stderr


def test_aws_cli_over_tls(tls_server: tuple[RunningServer, Path], tmp_path: Path) -> None:
    server, cert = tls_server
    s3 = server.client(verify=str(cert))
    s3.create_bucket(Bucket="tls-cli")
    payload = secrets.token_bytes(3 * 1024 * 1024 + 17)
    (tmp_path / "up.bin").write_bytes(payload)
    server.aws("--ca-bundle", str(cert), "s3", "cp", str(tmp_path / "up.bin"), "s3://tls-cli/up.bin")
    got = s3.get_object(Bucket="tls-cli", Key="up.bin")
    assert got["Body"].read() == payload  # no aws-chunked framing inside
    assert "ContentEncoding" not in got
    server.aws("--ca-bundle", str(cert), "s3", "cp", "s3://tls-cli/up.bin", str(tmp_path / "down.bin"))
    assert (tmp_path / "down.bin").read_bytes() == payload
