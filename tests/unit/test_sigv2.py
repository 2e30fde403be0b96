"""SigV2 verification against botocore's own HmacV1 signers (header and query forms)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.errors import S3Error
from strongroom.s3 import sigv2
from strongroom.sigv4 import AuthRequest

CREDS = Credentials("AKIDEXAMPLE", "secret/key+example")
KEYS = ["plain", "a b+c", "ünïcode/ключ", "x=y&z", "~tilde!", "dir//double"]


def _auth_request(request: AWSRequest) -> AuthRequest:
    split = urlsplit(request.url)
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    return AuthRequest(request.method, split.path, split.query, headers)


def _signed(method: str, url: str, headers: dict[str, str] | None = None, query: bool = False) -> AuthRequest:
    request = AWSRequest(method=method, url=url, headers=headers or {})
    (HmacV1QueryAuth(CREDS, expires=300) if query else HmacV1Auth(CREDS)).add_auth(request)
    return _auth_request(request)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("query", [False, True])
def test_botocore_signatures_verify(key: str, query: bool) -> None:
    from urllib.parse import quote

    path = "/bucket/" + quote(key, safe="/~")
    req = _signed("GET", f"http://localhost:9000{path}?response-content-type=text%2Fplain", query=query)
    parsed = sigv2.parse(req)
    assert parsed is not None and parsed.access_key == "AKIDEXAMPLE"
    sigv2.verify(parsed, req, (path,), CREDS.secret_key, datetime.now(UTC))


def test_subresources_and_amz_headers_are_signed() -> None:
    req = _signed(
        "PUT",
        "http://localhost/bucket/k?uploadId=abc&partNumber=2",
        {"x-amz-meta-a": "1", "Content-Type": "text/plain"},
    )
    parsed = sigv2.parse(req)
    assert parsed is not None
    sigv2.verify(parsed, req, ("/bucket/k",), CREDS.secret_key, datetime.now(UTC))
    for tampered in (
        AuthRequest(req.method, req.raw_path, "uploadId=abd&partNumber=2", req.headers),
        AuthRequest(req.method, req.raw_path, req.raw_query, {**req.headers, "x-amz-meta-a": "2"}),
        AuthRequest("POST", req.raw_path, req.raw_query, req.headers),
    ):
        with pytest.raises(S3Error) as err:
            sigv2.verify(parsed, tampered, ("/bucket/k",), CREDS.secret_key, datetime.now(UTC))
        assert err.value.code == "SignatureDoesNotMatch"


def test_wrong_secret() -> None:
    req = _signed("GET", "http://localhost/bucket/k")
    parsed = sigv2.parse(req)
    assert parsed is not None
    with pytest.raises(S3Error) as err:
        sigv2.verify(parsed, req, ("/bucket/k",), "other", datetime.now(UTC))
    assert err.value.code == "SignatureDoesNotMatch"


def test_expired_query_and_skewed_header() -> None:
    req = _signed("GET", "http://localhost/bucket/k", query=True)
    parsed = sigv2.parse(req)
    assert parsed is not None
    with pytest.raises(S3Error) as err:
        sigv2.verify(parsed, req, ("/bucket/k",), CREDS.secret_key,
                     datetime.now(UTC) + timedelta(seconds=301))
    assert (err.value.code, err.value.message) == ("AccessDenied", "Request has expired")
    req = _signed("GET", "http://localhost/bucket/k")
    parsed = sigv2.parse(req)
    assert parsed is not None
    with pytest.raises(S3Error) as err:
        sigv2.verify(parsed, req, ("/bucket/k",), CREDS.secret_key, datetime.now(UTC) + timedelta(minutes=16))
    assert err.value.code == "RequestTimeTooSkewed"


def test_not_sigv2() -> None:
    assert sigv2.parse(AuthRequest("GET", "/b/k", "", {})) is None
    assert (
        sigv2.parse(AuthRequest("GET", "/b/k", "", {"authorization": "AWS4-HMAC-SHA256 Credential=x"}))
        is None
    )


def test_empty_valued_subresource_is_signed_bare_or_as_written() -> None:
    """aws-sdk-go sends `?uploads=` but signs `uploads`; botocore signs exactly what it sends."""
    import base64
    import hashlib
    import hmac

    date = "Mon, 23 Nov 2026 22:00:00 GMT"
    text = f"POST\n\n\n{date}\n/bucket/k?uploads"
    signature = base64.b64encode(
        hmac.new(CREDS.secret_key.encode(), text.encode(), hashlib.sha1).digest()
    ).decode()
    req = AuthRequest(
        "POST", "/bucket/k", "uploads=", {"date": date, "authorization": f"AWS AKIDEXAMPLE:{signature}"}
    )
    parsed = sigv2.parse(req)
    assert parsed is not None
    now = datetime(2026, 11, 23, 22, 1, tzinfo=UTC)
    sigv2.verify(parsed, req, ("/bucket/k",), CREDS.secret_key, now)
    signed_as_written = _signed("POST", "http://localhost/bucket/k?uploads=")
    parsed = sigv2.parse(signed_as_written)
    assert parsed is not None
    sigv2.verify(parsed, signed_as_written, ("/bucket/k",), CREDS.secret_key, datetime.now(UTC))
