"""POST Object (browser uploads): boto3's generate_presigned_post and a real multipart/form-data POST."""

from __future__ import annotations

import hashlib
import socket
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import urllib3
from botocore.exceptions import ClientError

from tests.integration.helpers import error_code
from tests.integration.server import RunningServer

BOB_AK = "SRTESTBOBKEY00000001"
BOB_SK = "bob-secret-key-for-tests"


def post(
    presigned: dict,
    data: bytes = b"hello world",
    filename: str | None = "hello.txt",
    extra: dict[str, str] | None = None,
    drop: tuple[str, ...] = (),
) -> requests.Response:
    fields = {k: v for k, v in presigned["fields"].items() if k not in drop}
    fields.update(extra or {})
    file = (filename, data) if filename is not None else (None, data)
    return requests.post(
        presigned["url"], data=fields, files={"file": file}, allow_redirects=False, timeout=30
    )


def s3_error(response: requests.Response) -> dict[str, str]:
    root = ET.fromstring(response.content)
    assert root.tag == "Error"
    return {child.tag: child.text or "" for child in root}


def assert_error(response: requests.Response, status: int, code: str, message: str | None = None) -> dict:
    assert response.status_code == status, response.text
    err = s3_error(response)
    assert err["Code"] == code
    if message is not None:
        assert err["Message"] == message
    return err


def absent(s3, bucket: str, key: str) -> bool:
    with pytest.raises(ClientError) as info:
        s3.head_object(Bucket=bucket, Key=key)
    return error_code(info.value) == "404"


@pytest.fixture(scope="module")
def v4(server: RunningServer):
    """Presigns with SigV4 (x-amz-algorithm, x-amz-credential, x-amz-date, x-amz-signature)."""
    return server.client("s3", signature_version="s3v4")


@pytest.fixture(params=["s3v4", "s3"])
def signer(request: pytest.FixtureRequest, server: RunningServer):
    """Both kinds of form: SigV4, and SigV2 (AWSAccessKeyId, signature), which boto3 makes at its default
    settings for us-east-1 and S3 still accepts there."""
    return server.client("s3", signature_version=request.param)


@pytest.fixture(scope="module")
def bob_user(server: RunningServer) -> None:
    server.cli("user", "add", "bob", "--access-key", BOB_AK, "--secret-key", BOB_SK)


# ---------------------------------------------------------------- success


def test_default_204_and_the_object_is_encrypted(signer, s3, bucket: str) -> None:
    presigned = signer.generate_presigned_post(bucket, "plain.txt")
    response = post(presigned, b"hello world")
    assert response.status_code == 204, response.text
    assert response.content == b""
    etag = '"' + hashlib.md5(b"hello world").hexdigest() + '"'
    assert response.headers["ETag"] == etag
    assert response.headers["Location"].endswith(f"/{bucket}/plain.txt")
    assert response.headers["x-amz-server-side-encryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="plain.txt")
    assert got["Body"].read() == b"hello world"
    assert got["ETag"] == etag
    assert got["ContentType"] == "binary/octet-stream"
    assert s3.head_object(Bucket=bucket, Key="plain.txt")["ServerSideEncryption"] == "AES256"


def test_201_answers_a_post_response(signer, bucket: str) -> None:
    presigned = signer.generate_presigned_post(
        bucket,
        "dir/created.txt",
        Fields={"success_action_status": "201"},
        Conditions=[{"success_action_status": "201"}],
    )
    response = post(presigned, b"created")
    assert response.status_code == 201, response.text
    root = ET.fromstring(response.content)
    assert root.tag == "PostResponse"  # no namespace, as S3 writes it
    values = {child.tag: child.text for child in root}
    assert values["Bucket"] == bucket
    assert values["Key"] == "dir/created.txt"
    assert values["ETag"] == '"' + hashlib.md5(b"created").hexdigest() + '"'
    assert values["Location"] == response.headers["Location"]
    assert values["Location"].endswith(f"/{bucket}/dir%2Fcreated.txt")


def test_boto3_at_its_default_settings(s3, bucket: str) -> None:
    presigned = s3.generate_presigned_post(
        bucket, "defaults.txt", Fields={"x-amz-meta-a": "1"}, Conditions=[{"x-amz-meta-a": "1"}]
    )
    assert post(presigned, b"defaults").status_code == 204
    got = s3.get_object(Bucket=bucket, Key="defaults.txt")
    assert (got["Body"].read(), got["Metadata"]) == (b"defaults", {"a": "1"})


def test_200_answers_an_empty_document(v4, s3, bucket: str) -> None:
    presigned = v4.generate_presigned_post(
        bucket,
        "ok.txt",
        Fields={"success_action_status": "200"},
        Conditions=[{"success_action_status": "200"}],
    )
    response = post(presigned)
    assert (response.status_code, response.content) == (200, b"")
    assert s3.get_object(Bucket=bucket, Key="ok.txt")["Body"].read() == b"hello world"


def test_an_unknown_status_answers_204(v4, s3, bucket: str) -> None:
    presigned = v4.generate_presigned_post(
        bucket,
        "odd.txt",
        Fields={"success_action_status": "404"},
        Conditions=[{"success_action_status": "404"}],
    )
    assert post(presigned).status_code == 204


def test_redirect_303(v4, s3, bucket: str) -> None:
    target = "https://example.com/done?from=form"
    presigned = v4.generate_presigned_post(
        bucket,
        "dir/redirected file.txt",
        Fields={"success_action_redirect": target},
        Conditions=[["starts-with", "$success_action_redirect", "https://example.com/"]],
    )
    response = post(presigned, b"go")
    assert response.status_code == 303, response.text
    location = response.headers["Location"]
    assert location.startswith(target + "&")
    query = parse_qs(urlsplit(location).query)
    assert query["bucket"] == [bucket]
    assert query["key"] == ["dir/redirected file.txt"]
    assert query["etag"] == ['"' + hashlib.md5(b"go").hexdigest() + '"']
    assert query["from"] == ["form"]
    assert s3.get_object(Bucket=bucket, Key="dir/redirected file.txt")["Body"].read() == b"go"


def test_a_relative_redirect_is_ignored(v4, s3, bucket: str) -> None:
    presigned = v4.generate_presigned_post(
        bucket,
        "rel.txt",
        Fields={"success_action_redirect": "/relative"},
        Conditions=[{"success_action_redirect": "/relative"}],
    )
    assert post(presigned).status_code == 204


def test_filename_variable(v4, s3, bucket: str) -> None:
    presigned = v4.generate_presigned_post(bucket, "uploads/${filename}")
    assert post(presigned, b"photo", filename="photo.jpg").status_code == 204
    assert s3.get_object(Bucket=bucket, Key="uploads/photo.jpg")["Body"].read() == b"photo"
    # Only the text after the last slash or backslash of a path the client sends.
    assert post(presigned, b"win", filename="C:\\Users\\me\\shot.png").status_code == 204
    assert s3.get_object(Bucket=bucket, Key="uploads/shot.png")["Body"].read() == b"win"


def test_filename_variable_without_a_filename_stays_literal(v4, s3, bucket: str) -> None:
    presigned = v4.generate_presigned_post(bucket, "raw-${filename}")
    assert post(presigned, b"as field", filename=None).status_code == 204
    assert s3.get_object(Bucket=bucket, Key="raw-${filename}")["Body"].read() == b"as field"


def test_metadata_and_headers_round_trip(v4, s3, bucket: str) -> None:
    fields = {
        "x-amz-meta-Color": "blue",
        "x-amz-meta-note": "ÄMÄZÕÑ S3",
        "Content-Type": "text/plain",
        "Cache-Control": "max-age=60",
        "Content-Disposition": "attachment",
        "Content-Encoding": "identity",
        "Expires": "Wed, 21 Oct 2037 07:28:00 GMT",
        "acl": "private",
        "x-amz-server-side-encryption": "AES256",
        "tagging": "<Tagging><TagSet></TagSet></Tagging>",
    }
    conditions = [
        {"x-amz-meta-color": "blue"},
        ["starts-with", "$x-amz-meta-note", ""],
        ["starts-with", "$Content-Type", "text/"],
        {"Cache-Control": "max-age=60"},
        {"Content-Disposition": "attachment"},
        {"Content-Encoding": "identity"},
        ["starts-with", "$Expires", ""],
        {"acl": "private"},
        {"x-amz-server-side-encryption": "AES256"},
        ["starts-with", "$tagging", ""],
    ]
    presigned = v4.generate_presigned_post(bucket, "meta.txt", Fields=fields, Conditions=conditions)
    assert post(presigned, b"with metadata").status_code == 204
    got = s3.get_object(Bucket=bucket, Key="meta.txt")
    assert got["Body"].read() == b"with metadata"
    assert got["Metadata"] == {"color": "blue", "note": "=?UTF-8?Q?=C3=84M=C3=84Z=C3=95=C3=91_S3?="}
    assert got["ContentType"] == "text/plain"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "attachment"
    assert got["ContentEncoding"] == "identity"
    assert got["ServerSideEncryption"] == "AES256"


def test_checksum_field_is_verified_and_kept(v4, s3, bucket: str) -> None:
    import base64

    good = base64.b64encode(hashlib.sha256(b"summed").digest()).decode()
    presigned = v4.generate_presigned_post(
        bucket,
        "summed.txt",
        Fields={"x-amz-checksum-sha256": good},
        Conditions=[["starts-with", "$x-amz-checksum-sha256", ""]],
    )
    response = post(presigned, b"summed")
    assert response.status_code == 204, response.text
    assert response.headers["x-amz-checksum-sha256"] == good
    head = s3.head_object(Bucket=bucket, Key="summed.txt", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == good
    assert_error(post(presigned, b"not what was summed"), 400, "BadDigest")


def test_a_larger_file_streams_into_a_blob(v4, s3, bucket: str) -> None:
    data = bytes(range(256)) * (3 * 4096 + 7)  # ~3 MiB, not a multiple of anything
    presigned = v4.generate_presigned_post(
        bucket, "big.bin", Conditions=[["content-length-range", 0, 5 << 20]]
    )
    assert post(presigned, data).status_code == 204
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == data


def test_fields_after_the_file_are_ignored(v4, s3, bucket: str) -> None:
    presigned = v4.generate_presigned_post(bucket, "ordered.txt")
    parts = [
        *presigned["fields"].items(),
        ("file", ("a.txt", b"first")),
        ("x-amz-meta-late", "ignored"),
        ("key", "elsewhere.txt"),
    ]
    body, content_type = urllib3.encode_multipart_formdata(parts)
    response = requests.post(presigned["url"], data=body, headers={"Content-Type": content_type}, timeout=30)
    assert response.status_code == 204, response.text
    got = s3.get_object(Bucket=bucket, Key="ordered.txt")
    assert (got["Body"].read(), got["Metadata"]) == (b"first", {})
    assert absent(s3, bucket, "elsewhere.txt")


def test_root_may_post_to_another_users_bucket(server: RunningServer, v4, bob_user: None) -> None:
    bob = server.client("s3", access_key=BOB_AK, secret_key=BOB_SK)
    bob.create_bucket(Bucket="bobs-root-post")
    presigned = v4.generate_presigned_post("bobs-root-post", "from-root.txt")
    assert post(presigned).status_code == 204
    assert bob.get_object(Bucket="bobs-root-post", Key="from-root.txt")["Body"].read() == b"hello world"


# ---------------------------------------------------------------- policy failures


def test_content_length_range(v4, s3, bucket: str) -> None:
    presigned = v4.generate_presigned_post(bucket, "sized.txt", Conditions=[["content-length-range", 5, 10]])
    err = assert_error(
        post(presigned, b"x" * 12),
        400,
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size",
    )
    assert (err["ProposedSize"], err["MaxSizeAllowed"]) == ("12", "10")
    err = assert_error(
        post(presigned, b"x"),
        400,
        "EntityTooSmall",
        "Your proposed upload is smaller than the minimum allowed size",
    )
    assert (err["ProposedSize"], err["MinSizeAllowed"]) == ("1", "5")
    assert absent(s3, bucket, "sized.txt")
    assert post(presigned, b"x" * 5).status_code == 204  # both bounds are inclusive
    assert post(presigned, b"y" * 10).status_code == 204
    assert s3.get_object(Bucket=bucket, Key="sized.txt")["Body"].read() == b"y" * 10


def test_too_large_is_counted_over_the_whole_file(v4, s3, bucket: str) -> None:
    presigned = v4.generate_presigned_post(bucket, "huge.bin", Conditions=[["content-length-range", 0, 1000]])
    err = assert_error(post(presigned, b"z" * (2 << 20)), 400, "EntityTooLarge")
    assert err["ProposedSize"] == str(2 << 20)
    assert absent(s3, bucket, "huge.bin")


def test_a_failed_upload_leaves_the_previous_object(v4, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="keep.txt", Body=b"original")
    presigned = v4.generate_presigned_post(bucket, "keep.txt", Conditions=[["content-length-range", 0, 3]])
    assert_error(post(presigned, b"replacement"), 400, "EntityTooLarge")
    assert s3.get_object(Bucket=bucket, Key="keep.txt")["Body"].read() == b"original"


def test_an_extra_field(signer, s3, bucket: str) -> None:
    presigned = signer.generate_presigned_post(bucket, "extra.txt")
    assert_error(
        post(presigned, extra={"x-custom": "1"}),
        403,
        "AccessDenied",
        "Invalid according to Policy: Extra input fields: x-custom",
    )
    assert absent(s3, bucket, "extra.txt")
    assert post(presigned, extra={"x-ignore-tracker": "1"}).status_code == 204


def test_a_failed_condition(v4, s3, bucket: str) -> None:
    presigned = v4.generate_presigned_post(
        bucket,
        "user/eric/${filename}",
        Fields={"Content-Type": "image/png"},
        Conditions=[["starts-with", "$Content-Type", "image/"]],
    )
    failed = "Invalid according to Policy: Policy Condition failed: "
    assert_error(
        post(presigned, extra={"key": "user/bob/x.png"}),
        403,
        "AccessDenied",
        failed + '["starts-with", "$key", "user/eric/"]',
    )
    assert_error(
        post(presigned, extra={"Content-Type": "text/html"}),
        403,
        "AccessDenied",
        failed + '["starts-with", "$Content-Type", "image/"]',
    )
    assert post(presigned, filename="a.png").status_code == 204
    assert s3.head_object(Bucket=bucket, Key="user/eric/a.png")["ContentType"] == "image/png"


def test_a_policy_for_another_bucket(v4, s3, bucket: str) -> None:
    other = bucket + "-other"
    s3.create_bucket(Bucket=other)
    presigned = v4.generate_presigned_post(bucket, "moved.txt")
    moved = {**presigned, "url": presigned["url"].rsplit("/", 1)[0] + "/" + other}
    assert_error(
        post(moved),
        403,
        "AccessDenied",
        f'Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "{bucket}"]',
    )
    assert absent(s3, other, "moved.txt")


def test_a_tampered_policy(signer, s3, bucket: str) -> None:
    import base64
    import json

    presigned = signer.generate_presigned_post(
        bucket, "tampered.txt", Conditions=[["content-length-range", 0, 5]]
    )
    doc = json.loads(base64.b64decode(presigned["fields"]["policy"]))
    doc["conditions"] = [c for c in doc["conditions"] if not isinstance(c, list)]  # no size limit any more
    forged = base64.b64encode(json.dumps(doc).encode()).decode()
    response = post(presigned, b"far more than five bytes", extra={"policy": forged})
    err = assert_error(response, 403, "SignatureDoesNotMatch")
    assert err["StringToSign"] == forged
    fields = presigned["fields"]
    signer_key = fields.get("AWSAccessKeyId") or fields["x-amz-credential"].split("/")[0]
    assert err["AWSAccessKeyId"] == signer_key
    assert absent(s3, bucket, "tampered.txt")


def test_an_expired_policy(signer, s3, bucket: str) -> None:
    presigned = signer.generate_presigned_post(bucket, "late.txt", ExpiresIn=-5)
    assert_error(post(presigned), 403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    assert absent(s3, bucket, "late.txt")


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_an_unknown_access_key(server: RunningServer, bucket: str, version: str) -> None:
    stranger = server.client(
        "s3", access_key="SRTESTNOBODY00000001", secret_key="whatever-secret", signature_version=version
    )
    presigned = stranger.generate_presigned_post(bucket, "stranger.txt")
    err = assert_error(
        post(presigned),
        403,
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
    )
    assert err["AWSAccessKeyId"] == "SRTESTNOBODY00000001"


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_a_wrong_secret(server: RunningServer, s3, bucket: str, version: str) -> None:
    wrong = server.client(
        "s3", access_key=server.access_key, secret_key="not-the-secret", signature_version=version
    )
    assert_error(post(wrong.generate_presigned_post(bucket, "wrong.txt")), 403, "SignatureDoesNotMatch")
    assert absent(s3, bucket, "wrong.txt")


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_another_users_bucket(server: RunningServer, s3, bucket: str, bob_user: None, version: str) -> None:
    bob = server.client("s3", access_key=BOB_AK, secret_key=BOB_SK, signature_version=version)
    presigned = bob.generate_presigned_post(bucket, "intruder.txt")
    assert_error(post(presigned), 403, "AccessDenied", "Access Denied")
    assert absent(s3, bucket, "intruder.txt")


# ---------------------------------------------------------------- malformed forms


def test_missing_key_field(v4, s3, bucket: str) -> None:
    presigned = v4.generate_presigned_post(bucket, "nokey.txt")
    err = assert_error(
        post(presigned, drop=("key",)),
        400,
        "InvalidArgument",
        "Bucket POST must contain a field named 'key'.  "
        "If it is specified, please check the order of the fields.",
    )
    assert (err["ArgumentName"], err["ArgumentValue"]) == ("key", "")


@pytest.mark.parametrize(
    ("version", "field", "named"),
    [
        ("s3v4", "x-amz-signature", "X-Amz-Signature"),
        ("s3v4", "x-amz-algorithm", "X-Amz-Algorithm"),
        ("s3", "signature", "Signature"),
        ("s3", "AWSAccessKeyId", "AWSAccessKeyId"),
    ],
)
def test_missing_signature_field(
    server: RunningServer, bucket: str, version: str, field: str, named: str
) -> None:
    presigned = server.client("s3", signature_version=version).generate_presigned_post(bucket, "nosig.txt")
    err = assert_error(
        post(presigned, drop=(field,)),
        400,
        "InvalidArgument",
        f"Bucket POST must contain a field named '{named}'.  "
        "If it is specified, please check the order of the fields.",
    )
    assert (err["ArgumentName"], err["ArgumentValue"]) == (named, "")


@pytest.mark.parametrize(
    ("field", "value", "status", "code", "message"),
    [
        (
            "x-amz-algorithm",
            "AWS4-HMAC-SHA1",
            400,
            "InvalidRequest",
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        ),
        (
            "x-amz-credential",
            "garbage",
            400,
            "InvalidArgument",
            'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
        ),
        (
            "x-amz-date",
            "2026-01-01",
            400,
            "InvalidArgument",
            "X-Amz-Date must be formated via ISO8601 Long format",
        ),
    ],
)
def test_malformed_signing_fields(
    v4, bucket: str, field: str, value: str, status: int, code: str, message: str
) -> None:
    presigned = v4.generate_presigned_post(bucket, "badsig.txt")
    assert_error(post(presigned, extra={field: value}), status, code, message)


def test_field_names_are_case_insensitive(v4, s3, bucket: str) -> None:
    presigned = v4.generate_presigned_post(
        bucket,
        "cased.txt",
        Fields={"Content-Type": "text/plain"},
        Conditions=[{"content-type": "text/plain"}],
    )
    spelled = {
        "key": "Key",
        "policy": "Policy",
        "x-amz-signature": "X-Amz-Signature",
        "x-amz-credential": "X-Amz-Credential",
        "x-amz-date": "X-Amz-Date",
        "x-amz-algorithm": "X-Amz-Algorithm",
        "Content-Type": "CONTENT-TYPE",
    }
    fields = {spelled[k]: v for k, v in presigned["fields"].items()}
    response = requests.post(presigned["url"], data=fields, files={"file": ("c.txt", b"cased")}, timeout=30)
    assert response.status_code == 204, response.text
    assert s3.head_object(Bucket=bucket, Key="cased.txt")["ContentType"] == "text/plain"


def test_sse_c_fields_need_a_secure_connection(v4, s3, bucket: str) -> None:
    import base64

    key = b"k" * 32
    key_md5 = base64.b64encode(hashlib.md5(key).digest()).decode()
    fields = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(key).decode(),
        "x-amz-server-side-encryption-customer-key-MD5": key_md5,
    }
    presigned = v4.generate_presigned_post(
        bucket, "ssec.txt", Fields=fields, Conditions=[{k: v} for k, v in fields.items()]
    )
    assert_error(
        post(presigned),
        400,
        "InvalidRequest",
        "Requests specifying Server Side Encryption with Customer provided keys must be made over a "
        "secure connection.",
    )
    assert absent(s3, bucket, "ssec.txt")


def test_anonymous_post_is_denied(s3, bucket: str) -> None:
    response = requests.post(
        f"{s3.meta.endpoint_url}/{bucket}",
        data={"key": "anon.txt"},
        files={"file": ("a.txt", b"anonymous")},
        timeout=30,
    )
    assert_error(response, 403, "AccessDenied", "Access Denied")
    assert absent(s3, bucket, "anon.txt")


def test_not_multipart(s3, bucket: str) -> None:
    response = requests.post(
        f"{s3.meta.endpoint_url}/{bucket}",
        data=b"key=x",
        timeout=30,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    err = assert_error(
        response, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"
    )
    assert err["Condition"] == "Bucket POST must be of the enclosure-type multipart/form-data"


def test_no_boundary_and_broken_bodies(s3, bucket: str) -> None:
    url = f"{s3.meta.endpoint_url}/{bucket}"
    response = requests.post(
        url, data=b"--x\r\n", headers={"Content-Type": "multipart/form-data"}, timeout=30
    )
    assert_error(
        response,
        400,
        "MalformedPOSTRequest",
        "The body of your POST request is not well-formed multipart/form-data.",
    )
    response = requests.post(
        url,
        data=b"no boundary in here at all",
        timeout=30,
        headers={"Content-Type": "multipart/form-data; boundary=abc"},
    )
    assert_error(response, 400, "MalformedPOSTRequest")


def test_no_file(v4, s3, bucket: str) -> None:
    presigned = v4.generate_presigned_post(bucket, "nofile.txt")
    response = requests.post(
        presigned["url"], files={k: (None, v) for k, v in presigned["fields"].items()}, timeout=30
    )
    err = assert_error(response, 400, "InvalidArgument", "POST requires exactly one file upload per request.")
    assert (err["ArgumentName"], err["ArgumentValue"]) == ("file", "0")


def test_fields_before_the_file_are_limited(v4, s3, bucket: str) -> None:
    presigned = v4.generate_presigned_post(
        bucket, "fat.txt", Conditions=[["starts-with", "$x-amz-meta-fat", ""]]
    )
    response = post(presigned, extra={"x-amz-meta-fat": "f" * 21000})
    err = assert_error(response, 400, "MaxPostPreDataLengthExceeded")
    assert err["MaxPostPreDataLengthBytes"] == "20480"


def test_a_body_cut_short_stores_nothing(server: RunningServer, v4, s3, bucket: str) -> None:
    presigned = v4.generate_presigned_post(bucket, "cut.txt")
    body, content_type = urllib3.encode_multipart_formdata(
        [*presigned["fields"].items(), ("file", ("c.txt", b"c" * 200_000))]
    )
    head = (
        f"POST /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + body[: len(body) - 50_000])
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert not answer.startswith(b"HTTP/1.1 2")
    assert absent(s3, bucket, "cut.txt")


@pytest.mark.parametrize("where", ["name", "filename"])
def test_a_part_header_that_is_not_utf8(v4, s3, bucket: str, where: str) -> None:
    """A field name or file name of bytes that are not UTF-8 is a malformed form (never a 500, and
    never a key of undecodable bytes)."""
    presigned = v4.generate_presigned_post(bucket, "${filename}")
    boundary = b"strongroomboundary"
    body = bytearray()
    for name, value in presigned["fields"].items():
        body += (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name.encode()
                 + b'"\r\n\r\n' + value.encode() + b"\r\n")
    if where == "name":
        body += (b"--" + boundary
                 + b'\r\nContent-Disposition: form-data; name="x-amz-meta-\xff\xfe"\r\n\r\nv\r\n')
    filename = b"caf\xe9.txt" if where == "filename" else b"plain.txt"
    body += (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="' + filename
             + b'"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--' + boundary + b"--\r\n")
    response = requests.post(
        presigned["url"], data=bytes(body), timeout=30,
        headers={"Content-Type": "multipart/form-data; boundary=" + boundary.decode()},
    )
    assert_error(response, 400, "MalformedPOSTRequest")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
