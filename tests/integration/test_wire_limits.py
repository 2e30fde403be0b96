"""The wire under hostile input (issue 14): keys that are not UTF-8, keys with line breaks,
`Expect: 100-continue` answered only for requests that would be accepted, what the log says about
refused requests, and the per-process caps on bodies, connections and slow bodies."""

from __future__ import annotations

import contextlib
import re
import socket
import time

import pytest
from botocore.exceptions import ClientError

from tests.integration import raw as wire
from tests.integration.factory import ServerFactory
from tests.integration.helpers import blob_files, error_code, new_bucket, status_of, virtual_client
from tests.integration.server import RunningServer

# --- keys and bucket names that are not UTF-8; keys with a line feed --------------------------------


def keys_in(s3, bucket: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_a_key_that_is_not_utf8_is_invalid_uri_and_stores_nothing(server: RunningServer, s3,
                                                                  bucket: str) -> None:
    host = f"{bucket}.localhost:{server.port}"
    for target, headers in ((f"/{bucket}/k%FF", {}), (f"/{bucket}/k%FE", {}),
                            ("/k%FF", {"host": host}), ("/k%C3%28", {"host": host})):
        reply = server.raw("PUT", target, b"body", headers)
        assert (reply.status, reply.code) == (400, "InvalidURI"), (target, reply.status, reply.body)
        assert reply.detail("Message") == "Couldn't parse the specified URI."
        assert server.raw("GET", target, headers=headers).code == "InvalidURI"
    assert keys_in(s3, bucket) == []  # %FF and %FE no longer both become "k\ufffd"


def test_a_bucket_name_that_is_not_utf8_is_invalid_uri(server: RunningServer) -> None:
    for method in ("PUT", "GET", "HEAD", "DELETE"):
        reply = server.raw(method, "/b%FF", b"" if method == "PUT" else None)
        assert reply.status == 400, (method, reply.status, reply.body)
        if method != "HEAD":
            assert reply.code == "InvalidURI"
        assert server.raw(method, "/b%FF/key", b"" if method == "PUT" else None).status == 400
    # A Host header that is not UTF-8 (virtual-hosted-style): the same clean answer, never a 500.
    head = wire.request_head("GET", "/key", {"Host": "x", "Connection": "close"}).replace(
        b"Host: x", b"Host: b\xff.localhost"
    )
    answer = server.exchange(head, b"", close_write=False)
    assert wire.status_line(answer) == 400, answer[:300]
    assert wire.error_code_in(answer) == "InvalidURI"


def test_a_key_with_a_line_feed_is_routed_like_any_key(server: RunningServer, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="line\nfeed", Body=b"lf")
    s3.put_object(Bucket=bucket, Key="carriage\rreturn\n", Body=b"crlf")
    assert s3.get_object(Bucket=bucket, Key="line\nfeed")["Body"].read() == b"lf"
    assert s3.head_object(Bucket=bucket, Key="carriage\rreturn\n")["ContentLength"] == 4
    assert sorted(keys_in(s3, bucket)) == ["carriage\rreturn\n", "line\nfeed"]
    # raw, path-style and virtual-hosted-style
    assert server.raw("PUT", f"/{bucket}/raw%0Akey", b"path").status == 200
    host = f"{bucket}.localhost:{server.port}"
    assert server.raw("PUT", "/virtual%0A", b"virtual", {"host": host}).status == 200
    assert s3.get_object(Bucket=bucket, Key="raw\nkey")["Body"].read() == b"path"
    assert s3.get_object(Bucket=bucket, Key="virtual\n")["Body"].read() == b"virtual"
    vs3, _ = virtual_client(server)
    assert vs3.get_object(Bucket=bucket, Key="line\nfeed")["Body"].read() == b"lf"
    s3.delete_object(Bucket=bucket, Key="line\nfeed")
    assert "line\nfeed" not in keys_in(s3, bucket)


# --- what the log says about refused requests -------------------------------------------------------


def test_refused_requests_are_logged_at_info_not_error(start_server: ServerFactory) -> None:
    # No expect_log_errors here: the teardown check fails on any ERROR record these requests provoke.
    server = start_server()
    bucket = new_bucket(server.client("s3"))
    for _ in range(3):
        assert server.raw("GET", f"/{bucket}?website").status == 501  # NotImplemented
        assert server.raw("GET", f"/{bucket}/absent").status == 404
        assert server.raw("PUT", f"/{bucket}/anon", b"x", sign=False).status == 403
        kms = server.raw("POST", "/", b"{}", {"X-Amz-Target": "TrentService.Nope",
                                               "Content-Type": "application/x-amz-json-1.1"},
                         service="kms")
        assert 400 <= kms.status < 600
    # Requests aiohttp cannot parse (it answers 400 itself): one INFO line each, no traceback.
    for head in (b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: x\r\nx-amz-meta-big: " + b"a" * 70_000 + b"\r\n\r\n"):
        assert wire.status_line(server.exchange(head, b"", close_write=False, timeout=5)) == 400
    log = server.log()
    assert "Traceback" not in log
    assert re.search(r" INFO aiohttp\.server: Error handling request .*: 400 ", log), log[-2000:]
    assert re.search(r" INFO strongroom\.request: .*NotImplemented", log), log[-2000:]
    assert re.search(r" INFO strongroom\.request: .*NoSuchKey", log), log[-2000:]
    assert not re.search(r" ERROR ", log), log[-2000:]


# --- Expect: 100-continue ---------------------------------------------------------------------------


def expect_continue(server: RunningServer, method: str, target: str, body: bytes, *,
                    sign: bool = True, secret_key: str | None = None) -> tuple[int, bytes]:
    """Announce `body` with Expect: 100-continue and send it only once `100 Continue` comes, as a
    careful client does. Returns (the first status the server answered, everything it answered)."""
    headers = {"Content-Length": str(len(body))}
    if sign:
        headers = server.sign(method, target, headers, content_sha256="UNSIGNED-PAYLOAD",
                              secret_key=secret_key)
    headers = {**headers, "Host": f"127.0.0.1:{server.port}", "Expect": "100-continue",
               "Connection": "close"}
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(wire.request_head(method, target, headers))
        first = b""
        while b"\r\n\r\n" not in first:
            chunk = sock.recv(65536)
            if not chunk:
                break
            first += chunk
        status = wire.status_line(first)
        if status == 100:
            sock.sendall(body)
        return status, first + wire.read_until_closed(sock)


def test_expect_100_continue_only_for_a_request_that_would_be_accepted(server: RunningServer, s3,
                                                                       bucket: str) -> None:
    status, answer = expect_continue(server, "PUT", f"/{bucket}/announced", b"the body")
    assert status == 100, answer[:300]
    assert b" 200 OK" in answer.split(b"\r\n\r\n", 1)[1]
    assert s3.get_object(Bucket=bucket, Key="announced")["Body"].read() == b"the body"

    refused = (
        ("PUT", f"/no-such-bucket-{bucket}/k", {}, 404, "NoSuchBucket"),  # the bucket
        ("PUT", f"/{bucket}/anonymous", {"sign": False}, 403, "AccessDenied"),  # authorization
        ("PUT", f"/{bucket}/forged", {"secret_key": "wrong"}, 403, "SignatureDoesNotMatch"),  # authentication
        ("PUT", f"/{bucket}?cors", {}, 501, "NotImplemented"),  # routing
        ("PUT", f"/{bucket}/k%FF", {}, 400, "InvalidURI"),  # the URI
    )
    for method, target, how, code_status, code in refused:
        status, answer = expect_continue(server, method, target, b"x" * 100_000, **how)  # type: ignore[arg-type]
        assert (status, wire.error_code_in(answer)) == (code_status, code), (target, answer[:400])
        assert b"100 Continue" not in answer
    assert keys_in(s3, bucket) == ["announced"]


def test_boto3_uploads_with_expect_100_continue(server: RunningServer, s3, bucket: str) -> None:
    import io

    # botocore sends Expect: 100-continue for a file-like body on PutObject and UploadPart.
    s3.put_object(Bucket=bucket, Key="file-like", Body=io.BytesIO(b"a" * 300_000))
    upload = s3.create_multipart_upload(Bucket=bucket, Key="parts")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="parts", UploadId=upload, PartNumber=1,
                          Body=io.BytesIO(b"p" * 200_000))
    s3.complete_multipart_upload(Bucket=bucket, Key="parts", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="file-like")["Body"].read() == b"a" * 300_000
    assert s3.get_object(Bucket=bucket, Key="parts")["Body"].read() == b"p" * 200_000
    # Refused before the body: the SDK gets the error itself.
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=f"absent-{bucket}", Key="k", Body=io.BytesIO(b"z" * 300_000))
    assert (status_of(info.value), error_code(info.value)) == (404, "NoSuchBucket")
    forged = server.client("s3", secret_key="wrong")
    with pytest.raises(ClientError) as info:
        forged.put_object(Bucket=bucket, Key="forged", Body=io.BytesIO(b"z" * 300_000))
    assert error_code(info.value) == "SignatureDoesNotMatch"
    assert sorted(keys_in(s3, bucket)) == ["file-like", "parts"]


# --- per-process caps: bodies at once, connections, slow bodies --------------------------------------


def open_put(server: RunningServer, target: str, length: int, first: bytes) -> socket.socket:
    """A signed PUT announcing `length` bytes, of which only `first` is sent: its body stays open."""
    headers = server.sign("PUT", target, {"Content-Length": str(length)}, content_sha256="UNSIGNED-PAYLOAD")
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(wire.request_head("PUT", target, {**headers, "Host": f"127.0.0.1:{server.port}"}) + first)
    return sock


def read_answer(sock: socket.socket) -> bytes:
    """One whole response (its head and its Content-Length bytes), without waiting for the close."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            return answer
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    found = re.search(rb"(?i)content-length: (\d+)", head)
    while found and len(body) < int(found.group(1)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def eventually(check, seconds: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


@pytest.fixture(scope="module")
def capped(start_module_server: ServerFactory) -> RunningServer:
    return start_module_server("--max-request-bodies", "2", "--max-connections", "4", "--min-body-rate", "0")


def test_request_bodies_beyond_the_cap_are_slow_down(capped: RunningServer) -> None:
    s3 = capped.client("s3")
    bucket = new_bucket(s3)
    held = [open_put(capped, f"/{bucket}/held-{i}", 10, b"12345") for i in range(2)]
    try:
        refused = eventually(lambda: capped.raw("PUT", f"/{bucket}/third", b"body").code == "SlowDown")
        assert refused
        reply = capped.raw("PUT", f"/{bucket}/third", b"body")
        assert (reply.status, reply.code) == (503, "SlowDown")
        assert reply.detail("Message") == "Please reduce your request rate."
        assert reply.headers.get("connection", "").lower() == "close"
        assert capped.raw("GET", f"/{bucket}/held-0").status == 404  # requests without a body still served
        for sock in held:  # the bodies in progress finish and are stored
            sock.sendall(b"67890")
            assert wire.status_line(read_answer(sock)) == 200
    finally:
        for sock in held:
            sock.close()
    assert eventually(lambda: capped.raw("PUT", f"/{bucket}/third", b"body").status == 200)
    assert sorted(keys_in(s3, bucket)) == ["held-0", "held-1", "third"]


def test_connections_beyond_the_cap_are_slow_down_and_closed(capped: RunningServer) -> None:
    bucket = new_bucket(capped.client("s3"))
    idle = [socket.create_connection(("127.0.0.1", capped.port), timeout=10) for _ in range(4)]
    try:
        # The fifth connection is beyond the cap: its request is answered SlowDown, then it is closed.
        def fifth_refused() -> bool:
            with socket.create_connection(("127.0.0.1", capped.port), timeout=10) as sock:
                sock.sendall(wire.request_head("GET", f"/{bucket}", {"Host": "127.0.0.1"}))
                answer = read_answer(sock)
                if wire.error_code_in(answer) != "SlowDown":
                    return False
                assert wire.status_line(answer) == 503
                assert sock.recv(1) == b""  # closed by the server
                return True

        assert eventually(fifth_refused)
        # The first four are served.
        sock = idle[0]
        sock.sendall(wire.request_head("GET", f"/{bucket}/x", {"Host": "127.0.0.1"}))
        assert wire.error_code_in(read_answer(sock)) in ("AccessDenied", "NoSuchKey")
    finally:
        for sock in idle:
            sock.close()
    assert eventually(lambda: capped.raw("GET", f"/{bucket}").status == 200)


@pytest.fixture(scope="module")
def rated(start_module_server: ServerFactory) -> RunningServer:
    return start_module_server("--min-body-rate", "2000", "--body-rate-window", "0.5")


@pytest.mark.parametrize("pace", ["trickle", "stall"])
def test_a_body_below_the_minimum_rate_is_cut_and_nothing_stored(rated: RunningServer, pace: str) -> None:
    s3 = rated.client("s3")
    bucket = new_bucket(s3)
    blobs_before = blob_files(rated)
    sock = open_put(rated, f"/{bucket}/slow", 200_000, b"x" * 100)
    started = time.monotonic()
    try:
        sock.settimeout(0.1)
        answer = b""
        while time.monotonic() - started < 5 and b"</Error>" not in answer:
            if pace == "trickle":
                with contextlib.suppress(OSError):
                    sock.sendall(b"x" * 20)  # 200 bytes/s, a tenth of the minimum
            with contextlib.suppress(TimeoutError):
                answer += sock.recv(65536)
    finally:
        sock.close()
    assert wire.status_line(answer) == 400, answer[:300]
    assert wire.error_code_in(answer) == "RequestTimeout"
    assert time.monotonic() - started < 3
    assert keys_in(s3, bucket) == []
    assert blob_files(rated) == blobs_before


def test_a_body_above_the_minimum_rate_is_stored(rated: RunningServer) -> None:
    s3 = rated.client("s3")
    bucket = new_bucket(s3)
    sock = open_put(rated, f"/{bucket}/steady", 8 * 2500, b"")
    try:
        for _ in range(8):  # 20 kB over 1.6 s: three windows, each well above 2000 bytes/s
            sock.sendall(b"s" * 2500)
            time.sleep(0.2)
        assert wire.status_line(read_answer(sock)) == 200
    finally:
        sock.close()
    assert s3.get_object(Bucket=bucket, Key="steady")["Body"].read() == b"s" * 20_000
