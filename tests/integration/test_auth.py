"""Who may ask: SigV4 (header and presigned), SigV2 where S3 still takes it, and every way to get it wrong.

Wrong secrets, unknown keys, skewed clocks, expired presigned URLs, garbage Authorization headers and
anonymous requests each get AWS's error, and a refused write stores nothing. Keys are looked up on every
request: a user removed with `strongroom user remove` is refused by the running server at once.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets

import botocore.auth
import pytest
from botocore.auth import HmacV1Auth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.integration.helpers import error_code, new_user, status_of
from tests.integration.raw import RawResponse
from tests.integration.server import RunningServer


def botocore_signed(
    server: RunningServer,
    signer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> RawResponse:
    request = AWSRequest(method=method, url=server.endpoint + path, data=body, headers=dict(headers or {}))
    signer.add_auth(request)
    return server.raw(method, path, body, dict(request.headers.items()), sign=False)


# --- SigV4 headers --------------------------------------------------------------------------------


def test_wrong_secret_is_signature_does_not_match(server: RunningServer, s3, bucket: str) -> None:
    wrong = server.client(
        "s3", secret_key="not-the-secret-" + secrets.token_hex(8), retries={"max_attempts": 1}
    )
    with pytest.raises(ClientError) as caught:
        wrong.list_buckets()
    assert error_code(caught.value) == "SignatureDoesNotMatch"
    assert status_of(caught.value) == 403
    with pytest.raises(ClientError) as caught:
        wrong.put_object(Bucket=bucket, Key="forged", Body=b"x")
    assert error_code(caught.value) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="forged")
    # The error shows what the server signed, never a secret.
    reply = server.raw("GET", "/", secret_key="wrong-secret-value")
    assert reply.code == "SignatureDoesNotMatch"
    assert reply.detail("AWSAccessKeyId") == server.access_key
    assert reply.detail("StringToSign").startswith("AWS4-HMAC-SHA256\n")
    assert reply.detail("CanonicalRequest").startswith("GET\n/\n")
    assert server.secret_key.encode() not in reply.body and b"wrong-secret-value" not in reply.body


def test_unknown_access_key_is_invalid_access_key_id(server: RunningServer) -> None:
    stranger = server.client("s3", access_key="AKIANOSUCHKEY0000000", retries={"max_attempts": 1})
    with pytest.raises(ClientError) as caught:
        stranger.list_buckets()
    assert error_code(caught.value) == "InvalidAccessKeyId"
    assert status_of(caught.value) == 403
    assert (
        caught.value.response["Error"]["Message"]
        == "The AWS Access Key Id you provided does not exist in our records."
    )


def test_clock_20_minutes_off_is_request_time_too_skewed(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = Credentials(server.access_key, server.secret_key)
    for offset in (dt.timedelta(minutes=20), dt.timedelta(minutes=-20)):
        skewed = dt.datetime.now(dt.UTC).replace(tzinfo=None) + offset
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda skewed=skewed: skewed)
        reply = botocore_signed(server, S3SigV4Auth(credentials, "s3", "us-east-1"), "GET", "/")
        assert reply.status == 403
        assert reply.code == "RequestTimeTooSkewed"
        assert reply.detail("RequestTime") == skewed.strftime("%Y%m%dT%H%M%SZ")
        assert reply.detail("MaxAllowedSkewMilliseconds") == "900000"
        assert reply.detail("ServerTime")
    # 10 minutes is within S3's 15
    monkeypatch.setattr(
        botocore.auth,
        "get_current_datetime",
        lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=10),
    )
    assert botocore_signed(server, S3SigV4Auth(credentials, "s3", "us-east-1"), "GET", "/").status == 200


@pytest.mark.parametrize(
    "authorization,code,status",
    [
        ("garbage", "InvalidArgument", 400),
        ("Bearer abc.def.ghi", "InvalidArgument", 400),
        (
            "AWS4-HMAC-SHA256 Credential=AKIA/20250101/us-east-1/s3/aws4_request",
            "AuthorizationHeaderMalformed",
            400,
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIA/bad, SignedHeaders=host, Signature=00",
            "AuthorizationHeaderMalformed",
            400,
        ),
    ],
)
def test_garbage_authorization_headers(
    server: RunningServer, authorization: str, code: str, status: int
) -> None:
    reply = server.raw(
        "GET",
        "/",
        headers={
            "authorization": authorization,
            "x-amz-date": dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ"),
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        },
        sign=False,
    )
    assert reply.status == status, reply.body
    assert reply.code == code
    if code == "InvalidArgument":
        assert reply.detail("Message") == "Unsupported Authorization Type"
        assert reply.detail("ArgumentName") == "Authorization"


def test_unsigned_x_amz_header_is_refused(server: RunningServer, bucket: str) -> None:
    credentials = Credentials(server.access_key, server.secret_key)
    request = AWSRequest(method="PUT", url=f"{server.endpoint}/{bucket}/sneaky", data=b"x")
    S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    headers = {**dict(request.headers.items()), "x-amz-meta-added-later": "1"}
    reply = server.raw("PUT", f"/{bucket}/sneaky", b"x", headers, sign=False)
    assert reply.status == 403
    assert reply.code == "AccessDenied"
    assert reply.detail("HeadersNotSigned") == "x-amz-meta-added-later"


def test_anonymous_requests_are_access_denied(server: RunningServer, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="private", Body=b"x")
    for method, path in (
        ("GET", "/"),
        ("GET", f"/{bucket}"),
        ("GET", f"/{bucket}/private"),
        ("HEAD", f"/{bucket}/private"),
        ("PUT", f"/{bucket}/anon"),
    ):
        reply = server.raw(method, path, b"anon" if method == "PUT" else None, sign=False)
        assert reply.status == 403, (method, path)
        if method != "HEAD":
            assert reply.code == "AccessDenied"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="anon")


# --- presigned URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize("signature_version", [None, "s3v4"])
def test_presigned_get_and_put(server: RunningServer, s3, bucket: str, signature_version: str | None) -> None:
    client = server.client("s3", signature_version=signature_version) if signature_version else s3
    put_url = client.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=300
    )
    assert server.raw("PUT", put_url, b"via a presigned PUT", sign=False).status == 200
    get_url = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=300
    )
    got = server.raw("GET", get_url, sign=False)
    assert (got.status, got.body) == (200, b"via a presigned PUT")
    # the URL grants GET on that key only
    assert server.raw("DELETE", get_url, sign=False).status == 403
    assert server.raw("GET", get_url.replace("presigned", "presigneX"), sign=False).status == 403
    assert s3.get_object(Bucket=bucket, Key="presigned")["Body"].read() == b"via a presigned PUT"


def test_expired_presigned_url_is_access_denied(
    server: RunningServer, s3, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3.put_object(Bucket=bucket, Key="old", Body=b"x")
    credentials = Credentials(server.access_key, server.secret_key)
    two_hours_ago = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=2)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: two_hours_ago)
    request = AWSRequest(method="GET", url=f"{server.endpoint}/{bucket}/old")
    S3SigV4QueryAuth(credentials, "s3", "us-east-1", expires=60).add_auth(request)
    reply = server.raw("GET", request.url, sign=False)
    assert reply.status == 403
    assert reply.code == "AccessDenied"
    assert reply.detail("Message") == "Request has expired"
    assert reply.detail("X-Amz-Expires") == "60"
    # Signature Version 2: the Expires parameter is an absolute time
    v2 = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "old"}, ExpiresIn=-60)
    assert "Expires=" in v2 and "AWSAccessKeyId=" in v2
    reply = server.raw("GET", v2, sign=False)
    assert reply.status == 403
    assert reply.code == "AccessDenied"
    assert reply.detail("Message") == "Request has expired"


def test_presigned_url_with_a_forged_signature(server: RunningServer, s3, bucket: str) -> None:
    client = server.client("s3", signature_version="s3v4")
    url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60)
    forged = re.sub(r"X-Amz-Signature=[0-9a-f]{64}", "X-Amz-Signature=" + "0" * 64, url)
    reply = server.raw("GET", forged, sign=False)
    assert reply.status == 403
    assert reply.code == "SignatureDoesNotMatch"


# --- Signature Version 2 --------------------------------------------------------------------------


def test_sigv2_header(server: RunningServer, s3, bucket: str) -> None:
    good = botocore_signed(
        server,
        HmacV1Auth(Credentials(server.access_key, server.secret_key)),
        "PUT",
        f"/{bucket}/v2",
        b"signed with v2",
    )
    assert good.status == 200, good.body
    assert s3.get_object(Bucket=bucket, Key="v2")["Body"].read() == b"signed with v2"
    bad = botocore_signed(
        server,
        HmacV1Auth(Credentials(server.access_key, "wrong-secret")),
        "PUT",
        f"/{bucket}/v2",
        b"forged with v2",
    )
    assert bad.status == 403
    assert bad.code == "SignatureDoesNotMatch"
    unknown = botocore_signed(server, HmacV1Auth(Credentials("AKIANOSUCHKEY0000000", "x")), "GET", "/")
    assert unknown.code == "InvalidAccessKeyId"
    assert s3.get_object(Bucket=bucket, Key="v2")["Body"].read() == b"signed with v2"


# --- identities -----------------------------------------------------------------------------------


def test_sts_get_caller_identity(server: RunningServer) -> None:
    root = json.loads(server.aws("sts", "get-caller-identity").stdout)
    assert re.fullmatch(r"\d{12}", root["Account"])
    assert root["Arn"] == f"arn:aws:iam::{root['Account']}:root"
    access, secret = new_user(server, "carol")
    carol = json.loads(server.aws("sts", "get-caller-identity", access_key=access, secret_key=secret).stdout)
    assert carol["Account"] == root["Account"]
    assert carol["Arn"] == f"arn:aws:iam::{root['Account']}:user/carol"
    assert carol["UserId"] != root["UserId"]
    sts = server.client("sts", retries={"max_attempts": 1})
    assert sts.get_caller_identity()["Arn"] == root["Arn"]
    wrong = server.client("sts", secret_key="wrong-secret-value", retries={"max_attempts": 1})
    with pytest.raises(ClientError) as caught:
        wrong.get_caller_identity()
    assert status_of(caught.value) == 403


def test_removed_user_is_refused_at_once(server: RunningServer) -> None:
    access, secret = new_user(server, "dave")
    dave = server.client("s3", access_key=access, secret_key=secret, retries={"max_attempts": 1})
    name = "dave-" + secrets.token_hex(4)
    dave.create_bucket(Bucket=name)
    dave.put_object(Bucket=name, Key="k", Body=b"x")
    server.cli("user", "remove", "dave")
    with pytest.raises(ClientError) as caught:
        dave.list_buckets()
    assert error_code(caught.value) == "InvalidAccessKeyId"
    with pytest.raises(ClientError) as caught:
        dave.get_object(Bucket=name, Key="k")
    assert error_code(caught.value) == "InvalidAccessKeyId"


def test_server_log_has_no_secrets(server: RunningServer) -> None:
    assert server.secret_key not in server.log()


def test_a_non_utf8_byte_in_a_sigv4_access_key_is_invalid_access_key_id(server: RunningServer) -> None:
    """No key holds such a byte: 403 InvalidAccessKeyId (it was a 500 with a traceback)."""
    scope = dt.datetime.now(dt.UTC).strftime("%Y%m%d") + "/us-east-1/s3/aws4_request"
    amz_date = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    auth = (b"AWS4-HMAC-SHA256 Credential=SR\xffKEY/" + scope.encode()
            + b", SignedHeaders=host;x-amz-date, Signature=" + b"0" * 64)
    head = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nx-amz-date: " + amz_date.encode()
            + b"\r\nx-amz-content-sha256: UNSIGNED-PAYLOAD\r\nAuthorization: " + auth
            + b"\r\nConnection: close\r\n\r\n")
    answer = server.exchange(head, b"", close_write=False)
    assert answer.startswith(b"HTTP/1.1 403 "), answer[:300]
    assert b"<Code>InvalidAccessKeyId</Code>" in answer
