"""Bucket CORS: Put/Get/DeleteBucketCors with AWS's validation, preflight OPTIONS evaluated rule by rule,
and the CORS headers of actual requests (signed, presigned, POST forms), on both catalog engines.

The answers expected are those recorded from AWS (LocalStack's test_s3_cors snapshots, see
strongroom/s3/cors_requests.py). A real browser drives the same server in test_cors_browser.py.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.integration.helpers import error_of, fails, md5_b64, new_bucket
from tests.integration.raw import RawResponse
from tests.integration.server import RunningServer

APP = "https://app.example.com"
NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
    "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not "
    "whitelisted by the resource's CORS spec."
)
CORS_HEADERS = ("access-control-allow-origin", "access-control-allow-credentials",
                "access-control-allow-methods", "access-control-allow-headers",
                "access-control-expose-headers", "access-control-max-age", "vary")
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
RULES = [
    {"AllowedOrigins": [APP, "http://*.example.org"], "AllowedMethods": ["GET", "PUT"],
     "AllowedHeaders": ["Content-Type", "x-amz-*"], "ExposeHeaders": ["ETag", "x-amz-request-id"],
     "MaxAgeSeconds": 3000, "ID": "app"},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]},
]


@pytest.fixture
def s3(engine_server: RunningServer):
    return engine_server.client("s3")


@pytest.fixture
def cors_bucket(s3) -> str:
    bucket = new_bucket(s3, keys=["hello.txt"])
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    return bucket


def cors_of(reply: RawResponse | requests.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in reply.headers.items() if k.lower() in CORS_HEADERS}


def options(server: RunningServer, path: str, **headers: str) -> RawResponse:
    named = {k.replace("_", "-"): v for k, v in headers.items()}
    return server.raw("OPTIONS", path, headers=named, sign=False)


# --- the configuration ----------------------------------------------------------------------------


def test_put_get_delete(s3) -> None:
    bucket = new_bucket(s3)
    err = fails(s3.get_bucket_cors, Bucket=bucket)
    assert error_of(err)["Code"] == "NoSuchCORSConfiguration" and error_of(err)["status"] == 404
    assert s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})[
        "ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(fails(s3.get_bucket_cors, Bucket=bucket))["Code"] == "NoSuchCORSConfiguration"
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204  # idempotent


def test_values_are_kept_as_written(s3) -> None:
    bucket = new_bucket(s3)
    rules = [{"AllowedOrigins": [""], "AllowedMethods": ["GET", "PUT", "HEAD"],
              "AllowedHeaders": ["x-AMZ-server-SIDE-encryption"]}]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == rules


@pytest.mark.parametrize(("rules", "status", "code", "message"), [
    ([{"AllowedOrigins": ["*"], "AllowedMethods": ["MYMETHOD"]}], 400, "InvalidRequest",
     "Found unsupported HTTP method in CORS config. Unsupported method is MYMETHOD"),
    ([{"AllowedOrigins": ["*"], "AllowedMethods": ["OPTIONS"]}], 400, "InvalidRequest",
     "Found unsupported HTTP method in CORS config. Unsupported method is OPTIONS"),
    ([{"AllowedOrigins": ["http://*.*.example.com"], "AllowedMethods": ["GET"]}], 400, "InvalidRequest",
     'AllowedOrigin "http://*.*.example.com" can not have more than one wildcard.'),
    ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": ["x-*-*"]}], 400,
     "InvalidRequest", 'AllowedHeader "x-*-*" can not have more than one wildcard.'),
    ([], 400, "MalformedXML", None),
    ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101, 400, "MalformedXML", None),
    ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "ID": "i" * 256}], 400, "MalformedXML", None),
])
def test_invalid_configurations(s3, rules: list[dict[str, object]], status: int, code: str,
                                message: str | None) -> None:
    bucket = new_bucket(s3)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    err = fails(s3.put_bucket_cors, Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    assert (error_of(err)["status"], error_of(err)["Code"]) == (status, code)
    if message is not None:
        assert error_of(err)["Message"] == message
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES  # the refused Put changed nothing


def test_documents_need_an_integrity_header(engine_server: RunningServer, s3) -> None:
    bucket = new_bucket(s3)
    doc = (b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"
           b"<MaxAgeSeconds>10</MaxAgeSeconds></CORSRule></CORSConfiguration>")
    reply = engine_server.raw("PUT", f"/{bucket}?cors", doc)
    assert (reply.status, reply.code) == (400, "InvalidRequest")
    for bad in (doc.replace(b"10<", b"ten<"), doc.replace(b"<AllowedMethod>GET</AllowedMethod>", b""),
                doc.replace(b"<AllowedOrigin>*</AllowedOrigin>", b""), b"<CORSConfiguration>"):
        reply = engine_server.raw("PUT", f"/{bucket}?cors", bad, {"Content-MD5": md5_b64(bad)})
        assert (reply.status, reply.code) == (400, "MalformedXML"), bad
    assert engine_server.raw("PUT", f"/{bucket}?cors", doc, {"Content-MD5": md5_b64(doc)}).status == 200
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == [
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "MaxAgeSeconds": 10}]


def test_aws_cli(engine_server: RunningServer, s3) -> None:
    bucket = new_bucket(s3)
    config = json.dumps({"CORSRules": [{"AllowedOrigins": [APP], "AllowedMethods": ["GET"]}]})
    engine_server.aws("s3api", "put-bucket-cors", "--bucket", bucket, "--cors-configuration", config)
    got = json.loads(engine_server.aws("s3api", "get-bucket-cors", "--bucket", bucket).stdout)
    assert got == json.loads(config)
    engine_server.aws("s3api", "delete-bucket-cors", "--bucket", bucket)
    missing = engine_server.aws("s3api", "get-bucket-cors", "--bucket", bucket, check=False)
    assert "(NoSuchCORSConfiguration)" in missing.stderr, missing.stderr


# --- preflight ------------------------------------------------------------------------------------


def test_preflight_refusals(engine_server: RunningServer, s3) -> None:
    plain = new_bucket(s3)
    no_origin = options(engine_server, f"/{plain}/k", access_control_request_method="GET")
    assert (no_origin.status, no_origin.code) == (400, "BadRequest")
    assert no_origin.detail("Message") == "Insufficient information. Origin request header needed."
    for path, message in ((f"/{plain}/k", "CORSResponse: CORS is not enabled for this bucket."),
                          ("/no-such-bucket-cors/k", "CORSResponse: Bucket not found")):
        reply = options(engine_server, path, origin=APP, access_control_request_method="PUT")
        assert (reply.status, reply.code, reply.detail("Message")) == (403, "AccessForbidden", message)
        assert (reply.detail("Method"), reply.detail("ResourceType")) == ("PUT", "BUCKET")
        assert reply.detail("Resource") is None and cors_of(reply) == {}


def test_preflight_match(engine_server: RunningServer, cors_bucket: str) -> None:
    reply = options(engine_server, f"/{cors_bucket}/hello.txt", origin=APP,
                    access_control_request_method="PUT",
                    access_control_request_headers="Content-Type, X-Amz-Meta-Colour")
    assert (reply.status, reply.body) == (200, b"")
    assert cors_of(reply) == {
        "access-control-allow-origin": APP,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET, PUT",
        "access-control-allow-headers": "content-type, x-amz-meta-colour",
        "access-control-expose-headers": "ETag, x-amz-request-id",
        "access-control-max-age": "3000",
        "vary": VARY,
    }
    assert reply.headers.get("x-amz-request-id")


def test_preflight_origin_wildcards_and_rule_order(engine_server: RunningServer, cors_bucket: str) -> None:
    path = f"/{cors_bucket}/hello.txt"
    sub = options(engine_server, path, origin="http://shop.example.org", access_control_request_method="PUT")
    assert sub.status == 200 and sub.headers["access-control-allow-origin"] == "http://shop.example.org"
    # Another origin: only the second rule (any origin, GET and HEAD) can match.
    anyone = options(engine_server, path, origin="https://elsewhere.test",
                     access_control_request_method="GET")
    assert anyone.status == 200
    assert cors_of(anyone) == {"access-control-allow-origin": "*",
                               "access-control-allow-methods": "GET, HEAD", "vary": VARY}
    for headers in ({"origin": "https://elsewhere.test", "access_control_request_method": "PUT"},  # method
                    {"origin": "http://example.org", "access_control_request_method": "PUT"},  # no subdomain
                    {"origin": APP, "access_control_request_method": "PUT",  # a header no rule allows
                     "access_control_request_headers": "x-custom"},
                    {"origin": "https://elsewhere.test", "access_control_request_method": "GET",
                     "access_control_request_headers": "content-type"}):  # rule 2 allows no header
        reply = options(engine_server, path, **headers)
        assert (reply.status, reply.code, reply.detail("Message")) == (403, "AccessForbidden", NOT_ALLOWED)
        assert (reply.detail("Method"), reply.detail("ResourceType")) == (
            headers["access_control_request_method"], "OBJECT")
    on_bucket = options(engine_server, f"/{cors_bucket}", origin="http://x.test",
                        access_control_request_method="DELETE")
    assert (on_bucket.status, on_bucket.detail("ResourceType")) == (403, "BUCKET")


def test_preflight_reveals_nothing_of_objects(engine_server: RunningServer, cors_bucket: str) -> None:
    """Unauthenticated, it answers from the rules alone: a key that exists and one that does not look
    alike."""
    def answer(key: str) -> tuple[int, dict[str, str], bytes]:
        reply = options(engine_server, f"/{cors_bucket}/{key}", origin=APP,
                        access_control_request_method="GET")
        return reply.status, cors_of(reply), reply.body

    assert answer("hello.txt") == answer("never-stored.txt")
    assert answer("hello.txt")[0] == 200


# --- actual requests ------------------------------------------------------------------------------


def test_actual_requests_carry_the_matching_rule(engine_server: RunningServer, s3, cors_bucket: str) -> None:
    url = s3.generate_presigned_url("get_object", Params={"Bucket": cors_bucket, "Key": "hello.txt"})
    got = requests.get(url, headers={"Origin": APP}, timeout=30)
    assert got.content == b"hello.txt"
    assert cors_of(got) == {
        "access-control-allow-origin": APP, "access-control-allow-credentials": "true",
        "access-control-allow-methods": "GET, PUT", "access-control-expose-headers": "ETag, x-amz-request-id",
        "access-control-max-age": "3000", "vary": VARY}
    assert cors_of(requests.get(url, timeout=30)) == {}  # no Origin: not a cross-origin request
    # An origin no rule allows for this method is served without CORS headers (the browser then refuses).
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": cors_bucket, "Key": "up.txt"})
    refused = requests.put(put_url, data=b"x", headers={"Origin": "https://elsewhere.test"}, timeout=30)
    assert refused.status_code == 200 and cors_of(refused) == {}
    # Signed requests and errors carry them too: a browser can read why a request failed.
    head = engine_server.raw("HEAD", f"/{cors_bucket}/hello.txt", headers={"Origin": "https://elsewhere.test"})
    assert head.status == 200 and head.headers["access-control-allow-origin"] == "*"
    missing = engine_server.raw("GET", f"/{cors_bucket}/absent", headers={"Origin": APP})
    assert missing.status == 404 and missing.headers["access-control-allow-origin"] == APP


def test_post_form_from_a_browser_origin(s3, cors_bucket: str) -> None:
    s3.put_bucket_cors(Bucket=cors_bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": [APP], "AllowedMethods": ["POST"], "ExposeHeaders": ["ETag"]}]})
    presigned = s3.generate_presigned_post(cors_bucket, "form.txt")
    posted = requests.post(presigned["url"], data=presigned["fields"], files={"file": ("f.txt", b"form")},
                           headers={"Origin": APP}, timeout=30)
    assert posted.status_code == 204
    assert posted.headers["access-control-allow-origin"] == APP
    assert posted.headers["access-control-expose-headers"] == "ETag"
    assert s3.get_object(Bucket=cors_bucket, Key="form.txt")["Body"].read() == b"form"
