"""SigV4 as S3 checks it: AWS's published vectors, botocore's own signatures, tampering, and S3's errors."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode
from multidict import CIMultiDict

from strongroom import sigv4
from strongroom.errors import S3Error
from strongroom.sigv4 import AuthRequest, presign_url, sign_headers

VECTORS = Path(__file__).parent / "vectors" / "sigv4"
SUITE = json.loads((VECTORS / "aws-sig-v4-test-suite.json").read_text())
S3 = json.loads((VECTORS / "s3-examples.json").read_text())
AK, SK = S3["credentials"]["access_key"], S3["credentials"]["secret_key"]
T2013 = datetime(2013, 5, 24, tzinfo=UTC)
EMPTY = sigv4.EMPTY_SHA256


def raw_request(text: str) -> tuple[AuthRequest, bytes]:
    """A request written as the test suite writes it: request line, `Name:value` lines, blank line, body."""
    head, _, body = text.partition("\n\n")
    first, *lines = head.split("\n")
    method, target = first.rsplit(" ", 1)[0].split(" ", 1)
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines:
        name, _, value = line.partition(":")
        headers.add(name, value)
    path, _, query = target.partition("?")
    return AuthRequest(method, path, query, headers), body.encode()


def with_headers(req: AuthRequest, **changes: str | None) -> AuthRequest:
    headers = CIMultiDict(req.headers)
    for name, value in changes.items():
        name = name.replace("_", "-")
        headers.popall(name, None)
        if value is not None:
            headers[name] = value
    return AuthRequest(req.method, req.raw_path, req.raw_query, headers)


def error_of(fn, *args, **kwargs) -> S3Error:  # type: ignore[no-untyped-def]
    with pytest.raises(S3Error) as info:
        fn(*args, **kwargs)
    return info.value


def check(req: AuthRequest, secret: str = SK, now: datetime = T2013, **kw: str) -> sigv4.SigningContext:
    parsed = sigv4.parse(req)
    assert parsed is not None
    return sigv4.verify(parsed, req, secret, now, **kw)


# ---------------------------------------------------------------- AWS's test suite


@pytest.mark.parametrize("case", SUITE["cases"], ids=[c["name"] for c in SUITE["cases"]])
def test_aws_test_suite(case: dict[str, str]) -> None:
    req, body = raw_request(case["req"])
    signed = case["authz"].split("SignedHeaders=")[1].split(",")[0].split(";")
    payload = hashlib.sha256(body).hexdigest()
    canonical = sigv4.canonical_request(req, signed, payload)
    assert canonical == case["creq"]
    assert sigv4.string_to_sign(SUITE["date"], case["sts"].split("\n")[2], canonical) == case["sts"]
    # The server accepts the request the suite signed (the suite's service hashes the body itself).
    signed_req = with_headers(req, authorization=case["authz"])
    now = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
    context = check(signed_req, SUITE["credentials"]["secret_key"], now, payload_sha256=payload)
    assert context.seed_signature == case["authz"].rsplit("=", 1)[1]


# ---------------------------------------------------------------- the S3 API reference's examples


def s3_example(example: dict) -> AuthRequest:  # type: ignore[type-arg]
    return AuthRequest(example["method"], example["path"], example.get("query", ""), example["headers"])


@pytest.mark.parametrize("example", S3["header"], ids=[e["name"] for e in S3["header"]])
def test_s3_header_examples(example: dict) -> None:  # type: ignore[type-arg]
    req = s3_example(example)
    parsed = sigv4.parse(with_headers(req, authorization=example["authorization"]))
    assert parsed is not None
    canonical = sigv4.canonical_request(
        req, parsed.signed_headers, example["headers"]["x-amz-content-sha256"]
    )
    assert hashlib.sha256(canonical.encode()).hexdigest() == example["string_to_sign_hash"]
    context = check(with_headers(req, authorization=example["authorization"]))
    assert context.scope == "20130524/us-east-1/s3/aws4_request"
    assert context.amz_date == "20130524T000000Z"
    # And our own signer produces the same signature for the same request.
    headers = {
        k: v for k, v in example["headers"].items() if k.lower() not in ("x-amz-date", "x-amz-content-sha256")
    }
    url = f"https://{headers.pop('Host')}{example['path']}" + (
        f"?{example['query']}" if example["query"] else ""
    )
    body_hash = hashlib.sha256(example["body"].encode()).hexdigest()
    ours = sign_headers(example["method"], url, headers, body_hash, AK, SK, "us-east-1", "s3", T2013)
    assert ours["Authorization"].replace(", ", ",") == example["authorization"]


def test_s3_presigned_example() -> None:
    example = S3["presigned"]
    parts = urlsplit(example["url"])
    req = AuthRequest("GET", parts.path, parts.query, {"Host": parts.netloc})
    parsed = sigv4.parse(req)
    assert parsed is not None and parsed.kind == "presigned" and parsed.expires == 86400
    assert parsed.content_sha256 == "UNSIGNED-PAYLOAD"
    canonical = sigv4.canonical_request(req, ("host",), "UNSIGNED-PAYLOAD", presigned=True)
    assert hashlib.sha256(canonical.encode()).hexdigest() == example["string_to_sign_hash"]
    sigv4.verify(parsed, req, SK, T2013)
    sigv4.verify(parsed, req, SK, T2013 + timedelta(seconds=86400))  # valid to the end of the last second
    err = error_of(sigv4.verify, parsed, req, SK, T2013 + timedelta(seconds=86400, milliseconds=1))
    assert (err.code, err.status, err.message) == ("AccessDenied", 403, "Request has expired")
    assert err.details == {
        "X-Amz-Expires": "86400",
        "Expires": "2013-05-25T00:00:00Z",
        "ServerTime": "2013-05-25T00:00:00Z",
    }
    assert (
        presign_url(
            "GET", "https://examplebucket.s3.amazonaws.com/test.txt", AK, SK, "us-east-1", "s3", 86400, T2013
        )
        == example["url"]
    )


def test_s3_streaming_example_seed() -> None:
    example = S3["streaming"]
    context = check(with_headers(s3_example(example), authorization=example["authorization"]))
    assert context.seed_signature == example["authorization"].rsplit("=", 1)[1]
    assert context.signing_key == sigv4.signing_key(SK, "20130524", "us-east-1", "s3")


def test_s3_trailer_example_seed() -> None:
    example = S3["trailer"]
    context = check(with_headers(s3_example(example), authorization=example["authorization"]))
    assert context.seed_signature == example["authorization"].rsplit("=", 1)[1]


# ---------------------------------------------------------------- botocore's signatures


KEYS = [
    "plain.txt",
    "key with spaces",
    "a+b",
    "a=b&c",
    "tilde~and~more",
    "ü/中文/ключ",
    "100%",
    "!*'()",
    "a:b@c$d,e;f",
    "dir//double//slash",
    "a?b#c",
]
CREDS = Credentials("AKIDBOTOCORE", "secret/with+special=chars")


def botocore_request(method: str, key: str, params: dict[str, str], body: bytes = b"") -> AWSRequest:
    # As botocore's REST serializer builds it: the key percent-encoded with '/' and '~' kept.
    url = f"http://127.0.0.1:9000/bucket/{percent_encode(key, safe='/~')}"
    return AWSRequest(
        method=method, url=url, params=params, data=body, headers={"x-amz-meta-tag": "  a   b "}
    )


def as_received(request: AWSRequest) -> AuthRequest:
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = CIMultiDict(prepared.headers.items())
    headers.setdefault("Host", parts.netloc)
    return AuthRequest(prepared.method, parts.path, parts.query, headers)


@pytest.mark.parametrize("key", KEYS)
def test_botocore_header_signature_verifies(key: str) -> None:
    request = botocore_request("PUT", key, {"tagging": "", "prefix": "a b+c=d&e~f"}, b"payload")
    S3SigV4Auth(CREDS, "s3", "eu-west-1").add_auth(request)
    req = as_received(request)
    context = check(req, CREDS.secret_key, datetime.now(UTC))
    assert context.scope.endswith("/eu-west-1/s3/aws4_request")


@pytest.mark.parametrize("key", KEYS)
def test_botocore_presigned_url_verifies(key: str) -> None:
    request = botocore_request("GET", key, {"response-content-disposition": 'attachment; filename="a b.txt"'})
    S3SigV4QueryAuth(CREDS, "s3", "us-east-1", expires=300).add_auth(request)
    req = as_received(request)
    parsed = sigv4.parse(req)
    assert parsed is not None and parsed.kind == "presigned"
    sigv4.verify(parsed, req, CREDS.secret_key, datetime.now(UTC))


def test_query_plus_is_a_space_and_names_sort_before_values() -> None:
    assert sigv4.canonical_query("a=b+c&d=e%2Bf&g=%20") == "a=b%20c&d=e%2Bf&g=%20"
    assert sigv4.canonical_query("a=2&a=1&a=&A=3") == "A=3&a=&a=1&a=2"
    assert sigv4.canonical_query("acl&b=") == "acl=&b="
    assert sigv4.canonical_query("k=1&k-x=2&k.y=3&k0=4") == "k=1&k-x=2&k.y=3&k0=4"
    assert (
        sigv4.canonical_query("k=%c3%bc~!*'()&l=a=b&m=a:b/c")
        == "k=%C3%BC~%21%2A%27%28%29&l=a%3Db&m=a%3Ab%2Fc"
    )


def test_path_is_encoded_once_and_never_normalised() -> None:
    assert sigv4.canonical_uri("") == "/"
    assert sigv4.canonical_uri("/b/a%20b/a+b") == "/b/a%20b/a%2Bb"
    assert sigv4.canonical_uri("/b/%c3%bc/%E4%B8%AD") == "/b/%C3%BC/%E4%B8%AD"
    assert sigv4.canonical_uri("/b/!*'()~=&:@$,;") == "/b/%21%2A%27%28%29~%3D%26%3A%40%24%2C%3B"
    assert sigv4.canonical_uri("/b/%7E%2a") == "/b/~%2A"
    assert sigv4.canonical_uri("/b/100%25/100%") == "/b/100%25/100%25"
    assert sigv4.canonical_uri("/b//a/./../b/") == "/b//a/./../b/"


# ---------------------------------------------------------------- tampering


def signed_put() -> AuthRequest:
    url = "http://127.0.0.1:9000/bucket/a%20key?uploads=&x-id=CreateMultipartUpload"
    headers = {"x-amz-meta-color": "red", "Content-Type": "text/plain"}
    added = sign_headers("POST", url, headers, EMPTY, "AKID", "secret", "us-east-1", "s3", T2013)
    return AuthRequest(
        "POST",
        "/bucket/a%20key",
        "uploads=&x-id=CreateMultipartUpload",
        {"Host": "127.0.0.1:9000", **headers, **added},
    )


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: with_headers(r, x_amz_meta_color="blue"),
        lambda r: with_headers(r, content_type="text/html"),
        lambda r: with_headers(r, host="127.0.0.1:9001"),
        lambda r: with_headers(r, x_amz_date="20130524T000001Z"),
        lambda r: with_headers(r, x_amz_content_sha256="UNSIGNED-PAYLOAD"),
        lambda r: AuthRequest("PUT", r.raw_path, r.raw_query, r.headers),
        lambda r: AuthRequest(r.method, "/bucket/a%20kez", r.raw_query, r.headers),
        lambda r: AuthRequest(r.method, r.raw_path, r.raw_query + "&versionId=1", r.headers),
        lambda r: AuthRequest(r.method, r.raw_path, "uploads=&x-id=UploadPart", r.headers),
    ],
)
def test_tampering_fails(tamper) -> None:  # type: ignore[no-untyped-def]
    req = signed_put()
    check(req, "secret")
    err = error_of(check, tamper(req), "secret")
    assert (err.code, err.status) == ("SignatureDoesNotMatch", 403)
    assert err.details["AWSAccessKeyId"] == "AKID"
    assert err.details["CanonicalRequest"].startswith(tamper(req).method)
    assert err.details["StringToSignBytes"].startswith("41 57 53 34 2d")
    assert "SignatureProvided" not in err.details


def test_wrong_secret_and_uppercase_signature() -> None:
    req = signed_put()
    assert error_of(check, req, "other").code == "SignatureDoesNotMatch"
    authorization = req.headers["Authorization"]
    head, signature = authorization.rsplit("=", 1)
    check(with_headers(req, authorization=f"{head}={signature.upper()}"), "secret")
    assert (
        error_of(check, with_headers(req, authorization=f"{head}=00"), "secret").code
        == "SignatureDoesNotMatch"
    )


def test_presigned_tampering_fails() -> None:
    url = presign_url(
        "GET", "http://h:1/b/k?x-id=GetObject", "AKID", "secret", "us-east-1", "s3", 60, T2013
    )
    parts = urlsplit(url)
    req = AuthRequest("GET", parts.path, parts.query, {"Host": "h:1"})
    check(req, "secret")
    for changed in (
        AuthRequest("GET", "/b/other", parts.query, {"Host": "h:1"}),
        AuthRequest("GET", parts.path, parts.query.replace("GetObject", "PutObject"), {"Host": "h:1"}),
        AuthRequest("GET", parts.path, parts.query + "&versionId=null", {"Host": "h:1"}),
        AuthRequest("PUT", parts.path, parts.query, {"Host": "h:1"}),
        AuthRequest("GET", parts.path, parts.query, {"Host": "h:2"}),
        AuthRequest(
            "GET", parts.path, parts.query.replace("X-Amz-Expires=60", "X-Amz-Expires=600"), {"Host": "h:1"}
        ),
    ):
        assert error_of(check, changed, "secret").code == "SignatureDoesNotMatch"


def test_presigned_parameter_names_in_any_case() -> None:
    url = presign_url("GET", "http://h/b/k", "AKID", "secret", "us-east-1", "s3", 60, T2013)
    query = urlsplit(url).query.replace("X-Amz-Signature", "x-amz-signature")
    check(AuthRequest("GET", "/b/k", query, {"Host": "h"}), "secret")


# ---------------------------------------------------------------- time


@pytest.mark.parametrize("seconds", [-900, 900])
def test_skew_of_15_minutes_is_allowed(seconds: int) -> None:
    check(signed_put(), "secret", T2013 + timedelta(seconds=seconds))


@pytest.mark.parametrize("seconds", [-901, 901])
def test_skew_beyond_15_minutes(seconds: int) -> None:
    now = T2013 + timedelta(seconds=seconds)
    err = error_of(check, signed_put(), "secret", now)
    assert (err.code, err.status) == ("RequestTimeTooSkewed", 403)
    assert err.message == "The difference between the request time and the current time is too large."
    assert err.details == {
        "RequestTime": "20130524T000000Z",
        "ServerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "MaxAllowedSkewMilliseconds": "900000",
    }


def test_signature_is_checked_before_time() -> None:
    err = error_of(check, signed_put(), "other", T2013 + timedelta(days=1))
    assert err.code == "SignatureDoesNotMatch"


def test_presigned_not_yet_valid_and_zero_expiry() -> None:
    url = presign_url("GET", "http://h/k", "AKID", "secret", "us-east-1", "s3", 60, T2013)
    req = AuthRequest("GET", "/k", urlsplit(url).query, {"Host": "h"})
    check(req, "secret", T2013 - timedelta(seconds=900))
    err = error_of(check, req, "secret", T2013 - timedelta(seconds=901))
    assert (err.code, err.message) == ("AccessDenied", "Request is not yet valid")
    assert err.details["X-Amz-Date"] == str(int(T2013.timestamp()) * 1000)
    url = presign_url("GET", "http://h/k", "AKID", "secret", "us-east-1", "s3", 0, T2013)
    req = AuthRequest("GET", "/k", urlsplit(url).query, {"Host": "h"})
    check(req, "secret", T2013)
    assert error_of(check, req, "secret", T2013 + timedelta(microseconds=1)).message == "Request has expired"


def test_date_header_instead_of_x_amz_date() -> None:
    added = sign_headers("GET", "http://h/b", {}, EMPTY, "AKID", "secret", "us-east-1", "s3", T2013)
    authorization = added["Authorization"].replace("x-amz-date", "date")
    req = AuthRequest(
        "GET",
        "/b",
        "",
        {
            "Host": "h",
            "Date": "Fri, 24 May 2013 00:00:00 GMT",
            "x-amz-content-sha256": EMPTY,
            "Authorization": authorization,
        },
    )
    parsed = sigv4.parse(req)
    assert parsed is not None and parsed.amz_date == T2013 and parsed.request_time.startswith("Fri")
    assert (
        error_of(sigv4.verify, parsed, req, "secret", T2013).code == "SignatureDoesNotMatch"
    )  # other headers
    names = ["date", "host", "x-amz-content-sha256"]
    canonical = sigv4.canonical_request(req, names, EMPTY)
    key = sigv4.signing_key("secret", "20130524", "us-east-1", "s3")
    signature = sigv4.sign_string(key, sigv4.string_to_sign("20130524T000000Z", parsed.scope, canonical))
    good = with_headers(
        req,
        authorization=f"AWS4-HMAC-SHA256 Credential=AKID/{parsed.scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}",
    )
    check(good, "secret")


# ---------------------------------------------------------------- S3's errors


def header_request(authorization: str, **headers: str) -> AuthRequest:
    base = {"Host": "h", "x-amz-date": "20130524T000000Z", "x-amz-content-sha256": EMPTY}
    return AuthRequest("GET", "/", "", {**base, **headers, "Authorization": authorization})


GOOD = "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"
SCOPE = "AKID/20130524/us-east-1/s3/aws4_request"
MALFORMED = "The authorization header is malformed; "


def test_anonymous() -> None:
    assert sigv4.parse(AuthRequest("GET", "/b/k", "list-type=2&prefix=a", {"Host": "h"})) is None
    assert sigv4.parse(AuthRequest("GET", "/b/k", "", {"Host": "h", "Authorization": "  "})) is None


def v4(
    credential: str = "AKID/20130524/us-east-1/s3/aws4_request",
    rest: str = "SignedHeaders=host, Signature=00",
) -> str:
    return f"AWS4-HMAC-SHA256 Credential={credential}, {rest}"


MECHANISM = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."


@pytest.mark.parametrize(
    ("authorization", "code", "status", "message"),
    [
        ("AWS AKID:frJIUN8DYpKDtOLCwo//yllqDzg=", "InvalidRequest", 400, MECHANISM),
        (v4().replace("HMAC-SHA256", "ECDSA-P256-SHA256"), "InvalidRequest", 400, MECHANISM),
        ("Bearer token", "InvalidArgument", 400, "Unsupported Authorization Type"),
        (
            v4(rest="Signature=00"),
            "AuthorizationHeaderMalformed",
            400,
            MALFORMED
            + "the authorization header requires three components: Credential, SignedHeaders, and Signature.",
        ),
        (
            v4("AKID/20130524/s3/aws4_request"),
            "AuthorizationHeaderMalformed",
            400,
            MALFORMED
            + 'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
        ),
        (
            v4("/20130524/us-east-1/s3/aws4_request"),
            "AuthorizationHeaderMalformed",
            400,
            MALFORMED + "a non-empty Access Key (AKID) must be provided in the credential.",
        ),
        (
            v4("AKID/2013052/us-east-1/s3/aws4_request"),
            "AuthorizationHeaderMalformed",
            400,
            MALFORMED + 'incorrect date format "2013052". '
            'This date in the credential must be in the format "yyyyMMdd".',
        ),
        (
            v4("AKID/20130524/us-east-1/s3/aws4_reques"),
            "AuthorizationHeaderMalformed",
            400,
            MALFORMED + 'incorrect terminal "aws4_reques". This endpoint uses "aws4_request".',
        ),
        (
            v4("AKID/20130523/us-east-1/s3/aws4_request"),
            "AuthorizationHeaderMalformed",
            400,
            MALFORMED
            + 'Invalid credential date "20130523". This date is not the same as X-Amz-Date: "20130524".',
        ),
        (
            v4(rest="SignedHeaders=host, Foo=1"),
            "AuthorizationHeaderMalformed",
            400,
            MALFORMED + 'the authorization component "Foo" is malformed.',
        ),
    ],
)
def test_malformed_authorization(authorization: str, code: str, status: int, message: str) -> None:
    err = error_of(sigv4.parse, header_request(authorization))
    assert (err.code, err.status, err.message) == (code, status, message)
    assert "AKID:" not in str(err.details) and "token" not in str(err.details)


def test_header_spacing_variants() -> None:
    for authorization in (
        f"AWS4-HMAC-SHA256 Credential={SCOPE},SignedHeaders=host,Signature=00",
        f"AWS4-HMAC-SHA256  Credential={SCOPE} , SignedHeaders=host,  Signature=00",
        f"AWS4-HMAC-SHA256 Signature=00, Credential={SCOPE}, SignedHeaders=host",
    ):
        parsed = sigv4.parse(header_request(authorization))
        assert parsed is not None and parsed.access_key == "AKID" and parsed.signed_headers == ("host",)


@pytest.mark.parametrize("x_amz_date", [None, "2013-05-24T00:00:00Z", "20131324T000000Z"])
def test_no_valid_date(x_amz_date: str | None) -> None:
    req = with_headers(header_request(GOOD), x_amz_date=x_amz_date)
    err = error_of(sigv4.parse, req)
    assert (err.code, err.status, err.message) == (
        "AccessDenied",
        403,
        "AWS authentication requires a valid Date or x-amz-date header",
    )


def test_both_mechanisms() -> None:
    req = AuthRequest("GET", "/", "X-Amz-Algorithm=AWS4-HMAC-SHA256", {"Host": "h", "Authorization": GOOD})
    err = error_of(sigv4.parse, req)
    assert (err.code, err.details) == ("InvalidArgument", {"ArgumentName": "Authorization"})
    assert err.message.startswith("Only one auth mechanism allowed;")


def test_signature_version_2_presigned() -> None:
    req = AuthRequest("GET", "/b/k", "AWSAccessKeyId=AKID&Expires=1&Signature=abc", {"Host": "h"})
    assert error_of(sigv4.parse, req).code == "InvalidRequest"


def test_payload_hash_header() -> None:
    req = with_headers(header_request(GOOD), x_amz_content_sha256=None)
    parsed = sigv4.parse(req)
    assert parsed is not None
    err = error_of(sigv4.verify, parsed, req, "secret", T2013, payload_sha256=EMPTY)
    assert (err.code, err.message) == (
        "InvalidRequest",
        "Missing required header for this request: x-amz-content-sha256",
    )
    req = with_headers(header_request(GOOD), x_amz_content_sha256=EMPTY[1:])
    parsed = sigv4.parse(req)
    assert parsed is not None
    err = error_of(sigv4.verify, parsed, req, "secret", T2013)
    assert err.code == "InvalidArgument"
    assert err.details == {"ArgumentName": "x-amz-content-sha256", "ArgumentValue": EMPTY[1:]}


def test_unsigned_headers() -> None:
    req = with_headers(signed_put(), x_amz_meta_size="1", x_amz_acl="private")
    err = error_of(check, req, "secret")
    assert (err.code, err.status, err.message) == (
        "AccessDenied",
        403,
        "There were headers present in the request which were not signed",
    )
    assert err.details == {"HeadersNotSigned": "x-amz-acl, x-amz-meta-size"}
    req = header_request(GOOD.replace("SignedHeaders=host", "SignedHeaders=x-amz-content-sha256;x-amz-date"))
    parsed = sigv4.parse(req)
    assert parsed is not None
    assert error_of(sigv4.verify, parsed, req, "secret", T2013).details == {"HeadersNotSigned": "host"}


PRESIGN_PARAMS = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "X-Amz-Expires=60&",
            "",
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
            "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
        ),
        (
            "HMAC-SHA256",
            "HMAC-SHA1",
            'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256 and AWS4-ECDSA-P256-SHA256"',
        ),
        (
            "0524T000000Z",
            "05-24T00:00:00Z",
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
        ),
        ("Expires=60", "Expires=1h", "X-Amz-Expires should be a number"),
        ("Expires=60", "Expires=-1", "X-Amz-Expires must be non-negative"),
        (
            "Expires=60",
            "Expires=604801",
            "X-Amz-Expires must be less than a week (in seconds); that is, "
            "the given X-Amz-Expires must be less than 604800 seconds",
        ),
        (
            "%2Fus-east-1",
            "",
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
            'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
        ),
    ],
)
def test_presigned_parameter_errors(old: str, new: str, message: str) -> None:
    req = AuthRequest("GET", "/", PRESIGN_PARAMS.replace(old, new), {"Host": "h"})
    err = error_of(sigv4.parse, req)
    assert (err.code, err.status, err.message) == ("AuthorizationQueryParametersError", 400, message)


def test_presigned_longest_expiry_is_a_week() -> None:
    parsed = sigv4.parse(AuthRequest("GET", "/", PRESIGN_PARAMS.replace("Expires=60", "Expires=604800"), {}))
    assert parsed is not None and parsed.expires == 604800


def test_check_scope() -> None:
    parsed = sigv4.parse(header_request(GOOD.replace("/s3/", "/ec2/")))
    assert parsed is not None
    err = error_of(sigv4.check_scope, parsed)
    assert err.message == MALFORMED + 'incorrect service "ec2". This endpoint belongs to "s3".'
    parsed = sigv4.parse(header_request(GOOD))
    assert parsed is not None
    sigv4.check_scope(parsed)
    sigv4.check_scope(parsed, region="us-east-1")
    err = error_of(sigv4.check_scope, parsed, region="eu-west-1")
    assert err.message == MALFORMED + "the region 'us-east-1' is wrong; expecting 'eu-west-1'"
    assert err.details == {"Region": "eu-west-1"}
    presigned = sigv4.parse(AuthRequest("GET", "/", PRESIGN_PARAMS, {"Host": "h"}))
    assert presigned is not None
    err = error_of(sigv4.check_scope, presigned, region="eu-west-1")
    assert err.code == "AuthorizationQueryParametersError"
    assert err.message.startswith(
        "Error parsing the X-Amz-Credential parameter; the region 'us-east-1' is wrong"
    )


def test_secrets_are_not_in_reprs() -> None:
    context = check(signed_put(), "secret")
    parsed = sigv4.parse(signed_put())
    assert context.seed_signature not in repr(context) and "signing_key" not in repr(context)
    assert parsed is not None and parsed.signature not in repr(parsed)


def test_signing_key_is_cached() -> None:
    sigv4.signing_key.cache_clear()
    for _ in range(3):
        check(signed_put(), "secret")
    assert sigv4.signing_key.cache_info().hits >= 2


def test_mismatch_details_hold_no_customer_key_or_session_token() -> None:
    secret_headers = {
        "x-amz-server-side-encryption-customer-key": "c2VjcmV0LWN1c3RvbWVyLWtleS0zMi1ieXRlcy1sb25nISE=",
        "x-amz-security-token": "session/token+value=",
    }
    url = "http://h/b/k"
    added = sign_headers("PUT", url, secret_headers, EMPTY, "AKID", "secret", "us-east-1", "s3", T2013)
    req = AuthRequest("PUT", "/b/k", "", {"Host": "h", **secret_headers, **added})
    check(req, "secret")
    err = error_of(check, req, "other")
    assert err.code == "SignatureDoesNotMatch"
    shown = json.dumps(err.details)
    assert "c2VjcmV0" not in shown and "session/token" not in shown
    assert "x-amz-server-side-encryption-customer-key:REDACTED" in err.details["CanonicalRequest"]
    presigned = presign_url("GET", "http://h/b/k?X-Amz-Security-Token=tok%2Fen", "AKID", "secret",
                                  "us-east-1", "s3", 60, T2013)  # fmt: skip
    req = AuthRequest("GET", "/b/k", urlsplit(presigned).query, {"Host": "h"})
    check(req, "secret")
    err = error_of(check, req, "other")
    assert "tok" not in err.details["CanonicalRequest"]
    assert "X-Amz-Security-Token=REDACTED" in err.details["CanonicalRequest"]
