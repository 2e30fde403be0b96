"""Signature Version 2 (issue 14): a presigned URL's Expires is capped at a week from now, `--sigv2 off`
(or STRONGROOM_SIGV2=off) refuses SigV2 at every door with S3's answer where SigV2 is not offered, and a
byte that is not UTF-8 in a SigV2 header or signature is SignatureDoesNotMatch, never a 500."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.integration.factory import ServerFactory
from tests.integration.raw import error_code_in, status_line
from tests.integration.server import RunningServer

WEEK = 7 * 24 * 3600
UNSUPPORTED = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."


def presign_v2(server: RunningServer, path: str, expires_in: int) -> str:
    """A SigV2 presigned GET, Expires `expires_in` seconds from now, as botocore makes it."""
    request = AWSRequest(method="GET", url=server.endpoint + path)
    HmacV1QueryAuth(Credentials(server.access_key, server.secret_key), expires=expires_in).add_auth(request)
    return request.url


def signed_v2(server: RunningServer, method: str, path: str, body: bytes = b"") -> dict[str, str]:
    request = AWSRequest(method=method, url=server.endpoint + path, data=body)
    HmacV1Auth(Credentials(server.access_key, server.secret_key)).add_auth(request)
    return dict(request.headers.items())


# --- Expires ---------------------------------------------------------------------------------------


def test_presigned_expires_is_capped_at_a_week(server: RunningServer, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="week", Body=b"a week")
    for expires_in in (3600, WEEK):
        ok = server.raw("GET", presign_v2(server, f"/{bucket}/week", expires_in), sign=False)
        assert (ok.status, ok.body) == (200, b"a week")
    url = presign_v2(server, f"/{bucket}/week", WEEK + 86400)
    refused = server.raw("GET", url, sign=False)
    assert (refused.status, refused.code) == (400, "AuthorizationQueryParametersError")
    assert refused.detail("Message") == (
        "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less "
        "than 604800 seconds"
    )
    # boto3's own presigner at its us-east-1 default (SigV2) for ten years
    v2 = server.client("s3", signature_version="s3")
    params = {"Bucket": bucket, "Key": "week"}
    far = v2.generate_presigned_url("get_object", Params=params, ExpiresIn=3650 * 86400)
    assert "Signature=" in far
    assert server.raw("GET", far, sign=False).code == "AuthorizationQueryParametersError"
    put = presign_v2(server, f"/{bucket}/week", 30 * 86400)
    assert server.raw("PUT", put, b"overwritten", sign=False).status == 400
    assert s3.get_object(Bucket=bucket, Key="week")["Body"].read() == b"a week"


# --- bytes that are not UTF-8 ----------------------------------------------------------------------


def _send(server: RunningServer, method: str, path: str, headers: dict[str, bytes | str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode(), f"Host: 127.0.0.1:{server.port}".encode()]
    for name, value in headers.items():
        lines.append(name.encode() + b": " + (value if isinstance(value, bytes) else value.encode()))
    lines += [b"Content-Length: 0", b"Connection: close"]
    return server.exchange(b"\r\n".join(lines) + b"\r\n\r\n", b"", close_write=False, timeout=10)


def test_non_utf8_in_a_sigv2_header_is_signature_does_not_match(server: RunningServer, bucket: str) -> None:
    good = signed_v2(server, "GET", f"/{bucket}")
    date = good["Date"]
    cases = [
        {"Date": date, "Authorization": f"AWS {server.access_key}:".encode() + b"\xff\xfe=="},
        {"Date": date, "Authorization": b"AWS SR\xffKEY:c2lnbmF0dXJl"},
        {"Date": date, "Authorization": good["Authorization"], "x-amz-meta-a": b"caf\xe9"},
        {"Date": date, "Authorization": good["Authorization"], "Content-Type": b"text/\xff"},
    ]
    for headers in cases:
        answer = _send(server, "GET", f"/{bucket}", headers)
        assert status_line(answer) == 403, (headers, answer[:400])
        assert error_code_in(answer) == "SignatureDoesNotMatch", answer[:400]
    url = presign_v2(server, f"/{bucket}", 3600)
    broken = url.replace("Signature=", "Signature=%FF%FE")
    reply = server.raw("GET", broken, sign=False)
    assert (reply.status, reply.code) == (403, "SignatureDoesNotMatch")
    assert "Traceback" not in server.log()


# --- --sigv2 off -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def v4_only(start_module_server: ServerFactory) -> RunningServer:
    return start_module_server("--sigv2", "off")


def _assert_unsupported(status: int, body: bytes) -> None:
    root = ET.fromstring(body)
    assert (status, root.findtext("Code"), root.findtext("Message")) == (400, "InvalidRequest", UNSUPPORTED)


def test_sigv2_off_refuses_every_form(v4_only: RunningServer) -> None:
    s3 = v4_only.client("s3")
    bucket = "v4only"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"sigv4 only")
    header = v4_only.raw("GET", f"/{bucket}/k", headers=signed_v2(v4_only, "GET", f"/{bucket}/k"), sign=False)
    _assert_unsupported(header.status, header.body)
    put_headers = signed_v2(v4_only, "PUT", f"/{bucket}/k", b"v2 write")
    put = v4_only.raw("PUT", f"/{bucket}/k", b"v2 write", headers=put_headers, sign=False)
    _assert_unsupported(put.status, put.body)
    presigned = v4_only.raw("GET", presign_v2(v4_only, f"/{bucket}/k", 3600), sign=False)
    _assert_unsupported(presigned.status, presigned.body)
    form = v4_only.client("s3", signature_version="s3").generate_presigned_post(bucket, "posted")
    assert "AWSAccessKeyId" in form["fields"]
    posted = requests.post(form["url"], data=form["fields"], files={"file": ("f", b"v2 form")}, timeout=30)
    _assert_unsupported(posted.status_code, posted.content)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"sigv4 only"
    assert "posted" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    # SigV4 in every form still works
    v4 = v4_only.client("s3", signature_version="s3v4")
    url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
    assert v4_only.raw("GET", url, sign=False).body == b"sigv4 only"
    form = v4.generate_presigned_post(bucket, "posted")
    ok = requests.post(form["url"], data=form["fields"], files={"file": ("f", b"v4 form")}, timeout=30)
    assert ok.status_code == 204, ok.text


def test_sigv2_off_from_the_environment(start_server: ServerFactory) -> None:
    server = start_server(env={"STRONGROOM_SIGV2": "off"})
    reply = server.raw("GET", "/", headers=signed_v2(server, "GET", "/"), sign=False)
    _assert_unsupported(reply.status, reply.body)
    server.client("s3").list_buckets()
    on = server.restart("--sigv2", "on")  # a flag wins over its variable
    assert on.raw("GET", "/", headers=signed_v2(on, "GET", "/"), sign=False).status == 200
    on.stop()
    bad = on.cli("serve", "--sigv2", "maybe", check=False)
    assert bad.returncode == 2 and "expected on or off" in bad.stderr


def test_sigv2_is_on_by_default(server: RunningServer, bucket: str) -> None:
    reply = server.raw("GET", f"/{bucket}", headers=signed_v2(server, "GET", f"/{bucket}"), sign=False)
    assert reply.status == 200  # the module's default server runs without --sigv2
