"""PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption against a real server.

Driven by boto3 at its defaults and by the aws cli; requests the SDKs will not send
(no integrity header, a wrong Content-MD5, odd XML) are sent with `RunningServer.raw`. The
server runs behind a "TLS proxy" so that the SSE-C block can be seen to work over plain HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from tests.integration.factory import ServerFactory
from tests.integration.helpers import crc32_b64, error_code, md5_b64, status_of
from tests.integration.server import RunningServer

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
KMS_MESSAGE = "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse"
MISSING_MD5 = "Missing required header for this request: Content-MD5"
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.fixture(scope="module")
def server(start_module_server: ServerFactory) -> RunningServer:
    return start_module_server("--behind-tls-proxy")


# --- helpers --------------------------------------------------------------------------------------


def put_raw(
    server: RunningServer, bucket: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, str | None, str | None, bytes]:
    """PutBucketEncryption with Content-MD5 (unless headers say otherwise): (status, Code, Message, body)."""
    reply = server.raw(
        "PUT", f"/{bucket}?encryption", body, {"Content-MD5": md5_b64(body)} if headers is None else headers
    )
    status, data = reply.status, reply.body
    code = message = None
    if status >= 300:
        root = ET.fromstring(data)
        code, message = root.findtext("Code"), root.findtext("Message")
    return status, code, message, data


def doc(rule: str, ns: bool = True) -> bytes:
    xmlns = f' xmlns="{NS}"' if ns else ""
    return f"<ServerSideEncryptionConfiguration{xmlns}>{rule}</ServerSideEncryptionConfiguration>".encode()


def rule(algorithm: str = "AES256", extra: str = "") -> str:
    return (
        f"<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>{algorithm}</SSEAlgorithm>"
        f"</ApplyServerSideEncryptionByDefault>{extra}</Rule>"
    )


def rules(s3, bucket: str) -> list[dict]:
    return s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]


def put(
    s3,
    bucket: str,
    *,
    algorithm: str | None = "AES256",
    key: str | None = None,
    bucket_key: bool | None = None,
    blocked: list[str] | None = None,
) -> dict:
    r: dict = {}
    if algorithm is not None:
        r["ApplyServerSideEncryptionByDefault"] = {"SSEAlgorithm": algorithm}
        if key is not None:
            r["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] = key
    if bucket_key is not None:
        r["BucketKeyEnabled"] = bucket_key
    if blocked is not None:
        r["BlockedEncryptionTypes"] = {"EncryptionType": blocked}
    return s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [r]})


def expected(
    algorithm: str = "AES256", key: str | None = None, bucket_key: bool = False, blocked: str = "SSE-C"
) -> list[dict]:
    default = {"SSEAlgorithm": algorithm, **({"KMSMasterKeyID": key} if key else {})}
    return [
        {
            "ApplyServerSideEncryptionByDefault": default,
            "BucketKeyEnabled": bucket_key,
            "BlockedEncryptionTypes": {"EncryptionType": [blocked]},
        }
    ]


def sse_c_put(s3, bucket: str, key: str = "c") -> dict:
    return s3.put_object(
        Bucket=bucket, Key=key, Body=b"customer", SSECustomerAlgorithm="AES256", SSECustomerKey=b"k" * 32
    )


# --- GetBucketEncryption --------------------------------------------------------------------------


def test_new_bucket_reports_sse_s3_with_sse_c_blocked(s3, bucket: str) -> None:
    assert rules(s3, bucket) == expected()


def test_get_renders_the_document_as_s3_does(server: RunningServer, s3, bucket: str) -> None:
    put(s3, bucket, algorithm="aws:kms", key=KEY_ARN, bucket_key=True)
    reply = server.raw("GET", f"/{bucket}?encryption")
    status, headers, data = reply.status, reply.headers, reply.body
    assert status == 200
    assert headers["content-type"].startswith("application/xml")
    root = ET.fromstring(data)
    assert root.tag == f"{{{NS}}}ServerSideEncryptionConfiguration"
    [rule_node] = list(root)
    assert [c.tag.split("}")[1] for c in rule_node] == [
        "ApplyServerSideEncryptionByDefault",
        "BucketKeyEnabled",
        "BlockedEncryptionTypes",
    ]
    apply_node = rule_node[0]
    assert [(c.tag.split("}")[1], c.text) for c in apply_node] == [
        ("SSEAlgorithm", "aws:kms"),
        ("KMSMasterKeyID", KEY_ARN),
    ]
    assert rule_node[1].text == "true"
    assert [(c.tag.split("}")[1], c.text) for c in rule_node[2]] == [("EncryptionType", "SSE-C")]


# --- PutBucketEncryption: valid documents ----------------------------------------------------------


def test_put_answers_200_with_an_empty_body(server: RunningServer, bucket: str) -> None:
    status, code, _, data = put_raw(server, bucket, doc(rule("aws:kms")))
    assert (status, code, data) == (200, None, b"")


@pytest.mark.parametrize(
    "key",
    [
        KEY_ARN,
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "alias/my-key",
        "arn:aws:kms:us-east-1:111122223333:alias/does-not-exist",
    ],
)
def test_kms_key_id_is_echoed_exactly_and_not_checked(s3, bucket: str, key: str) -> None:
    response = put(s3, bucket, algorithm="aws:kms", key=key)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert rules(s3, bucket) == expected("aws:kms", key)


def test_kms_without_key_id_and_with_bucket_key(s3, bucket: str) -> None:
    put(s3, bucket, algorithm="aws:kms", bucket_key=True)
    assert rules(s3, bucket) == expected("aws:kms", bucket_key=True)


def test_dsse_with_key_id(s3, bucket: str) -> None:
    put(s3, bucket, algorithm="aws:kms:dsse", key="alias/dsse")
    assert rules(s3, bucket) == expected("aws:kms:dsse", "alias/dsse")


def test_sse_s3_with_bucket_key_is_accepted(s3, bucket: str) -> None:
    put(s3, bucket, algorithm="AES256", bucket_key=True)
    assert rules(s3, bucket) == expected("AES256", bucket_key=True)


def test_put_replaces_the_previous_configuration(s3, bucket: str) -> None:
    put(s3, bucket, algorithm="aws:kms", key="alias/a", bucket_key=True)
    put(s3, bucket, algorithm="AES256")
    assert rules(s3, bucket) == expected()


def test_document_without_namespace_is_accepted(server: RunningServer, s3, bucket: str) -> None:
    assert put_raw(server, bucket, doc(rule("aws:kms:dsse"), ns=False))[0] == 200
    assert rules(s3, bucket) == expected("aws:kms:dsse")


# --- BlockedEncryptionTypes -------------------------------------------------------------------------


def test_sse_c_is_blocked_on_new_buckets(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        sse_c_put(s3, bucket)
    assert (status_of(e.value), error_code(e.value)) == (403, "AccessDenied")


def test_rule_with_only_blocked_types_unblocks_sse_c(s3, bucket: str) -> None:
    put(s3, bucket, algorithm=None, blocked=["NONE"])
    assert rules(s3, bucket) == expected(blocked="NONE")
    assert sse_c_put(s3, bucket)["SSECustomerAlgorithm"] == "AES256"
    put(s3, bucket, algorithm=None, blocked=["SSE-C"])
    with pytest.raises(ClientError) as e:
        sse_c_put(s3, bucket, "d")
    assert error_code(e.value) == "AccessDenied"
    # reads of existing SSE-C objects still work while writes are blocked
    got = s3.get_object(Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=b"k" * 32)
    assert got["Body"].read() == b"customer"


def test_put_without_blocked_types_keeps_the_block(s3, bucket: str) -> None:
    put(s3, bucket, algorithm="aws:kms", key="alias/k")
    assert rules(s3, bucket) == expected("aws:kms", "alias/k", blocked="SSE-C")
    put(s3, bucket, algorithm="AES256", blocked=["NONE"])
    put(s3, bucket, algorithm="aws:kms")
    assert rules(s3, bucket) == expected("aws:kms", blocked="NONE")


def test_rule_with_default_and_blocked_types(s3, bucket: str) -> None:
    put(s3, bucket, algorithm="aws:kms", key="alias/both", bucket_key=True, blocked=["NONE"])
    assert rules(s3, bucket) == expected("aws:kms", "alias/both", True, "NONE")


# --- DeleteBucketEncryption -------------------------------------------------------------------------


def test_delete_is_204_idempotent_and_reverts_to_sse_s3(s3, bucket: str) -> None:
    put(s3, bucket, algorithm="aws:kms", key="alias/gone", bucket_key=True)
    for _ in range(2):
        response = s3.delete_bucket_encryption(Bucket=bucket)
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert rules(s3, bucket) == expected()
    assert s3.put_object(Bucket=bucket, Key="o", Body=b"x")["ServerSideEncryption"] == "AES256"


def test_delete_keeps_the_sse_c_setting(s3, bucket: str) -> None:
    with pytest.raises(ClientError):
        sse_c_put(s3, bucket)
    s3.delete_bucket_encryption(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        sse_c_put(s3, bucket)
    assert error_code(e.value) == "AccessDenied"
    put(s3, bucket, algorithm="aws:kms", blocked=["NONE"])
    s3.delete_bucket_encryption(Bucket=bucket)
    assert rules(s3, bucket) == expected(blocked="NONE")
    assert sse_c_put(s3, bucket)["SSECustomerAlgorithm"] == "AES256"


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["get", "put", "delete"])
def test_missing_bucket(s3, operation: str) -> None:
    name = "nope-" + secrets.token_hex(6)
    with pytest.raises(ClientError) as e:
        if operation == "get":
            s3.get_bucket_encryption(Bucket=name)
        elif operation == "put":
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": []})
        else:
            s3.delete_bucket_encryption(Bucket=name)
    assert (status_of(e.value), error_code(e.value)) == (404, "NoSuchBucket")
    assert e.value.response["Error"]["BucketName"] == name


def test_aes256_with_a_kms_key_id(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        put(s3, bucket, algorithm="AES256", key=KEY_ARN)
    err = e.value.response["Error"]
    assert (status_of(e.value), err["Code"], err["Message"]) == (400, "InvalidArgument", KMS_MESSAGE)
    assert err["ArgumentName"] == "ApplyServerSideEncryptionByDefault"
    assert rules(s3, bucket) == expected()


@pytest.mark.parametrize("count", [0, 2])
def test_zero_or_two_rules(s3, bucket: str, count: int) -> None:
    one = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}
    with pytest.raises(ClientError) as e:
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [one] * count})
    assert (status_of(e.value), error_code(e.value)) == (400, "MalformedXML")
    assert rules(s3, bucket) == expected()


@pytest.mark.parametrize("algorithm", ["AES512", "aes256", "aws:fsx", "SSE-C", ""])
def test_unknown_algorithm(s3, bucket: str, algorithm: str) -> None:
    with pytest.raises(ClientError) as e:
        put(s3, bucket, algorithm=algorithm)
    assert (status_of(e.value), error_code(e.value)) == (400, "MalformedXML")
    assert rules(s3, bucket) == expected()


@pytest.mark.parametrize("blocked", [["SSE-KMS"], ["NONE", "SSE-C"], []])
def test_bad_blocked_encryption_types(s3, bucket: str, blocked: list[str]) -> None:
    with pytest.raises(ClientError) as e:
        put(s3, bucket, blocked=blocked)
    assert error_code(e.value) == "MalformedXML"
    assert rules(s3, bucket) == expected()


BAD_DOCUMENTS = {
    "not xml": b"this is not xml",
    "empty body": b"",
    "truncated": doc(rule())[:-10],
    "wrong root": b"<EncryptionConfiguration>" + rule().encode() + b"</EncryptionConfiguration>",
    "foreign namespace": doc(rule()).replace(NS.encode(), b"http://example.com/ns"),
    "unknown element in root": doc(rule() + "<Extra/>"),
    "unknown element in rule": doc(rule("AES256", "<Colour>blue</Colour>")),
    "unknown element in default": doc(
        "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256"
        "</SSEAlgorithm><Key>x</Key></ApplyServerSideEncryptionByDefault></Rule>"
    ),
    "no SSEAlgorithm": doc(
        "<Rule><ApplyServerSideEncryptionByDefault><KMSMasterKeyID>k</KMSMasterKeyID>"
        "</ApplyServerSideEncryptionByDefault></Rule>"
    ),
    "two SSEAlgorithm": doc(
        "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>"
        "<SSEAlgorithm>aws:kms</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
    ),
    "empty rule": doc("<Rule></Rule>"),
    "rule with only BucketKeyEnabled": doc("<Rule><BucketKeyEnabled>true</BucketKeyEnabled></Rule>"),
    "BucketKeyEnabled yes": doc(rule("AES256", "<BucketKeyEnabled>yes</BucketKeyEnabled>")),
    "BucketKeyEnabled empty": doc(rule("AES256", "<BucketKeyEnabled></BucketKeyEnabled>")),
    "BucketKeyEnabled twice": doc(rule("AES256", "<BucketKeyEnabled>true</BucketKeyEnabled>" * 2)),
    "element inside SSEAlgorithm": doc(
        "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm><x/>"
        "</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
    ),
    "empty KMSMasterKeyID": doc(
        "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm>"
        "<KMSMasterKeyID></KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule>"
    ),
    "entity expansion": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "AES256">]>' + doc(rule("&a;")),
}


@pytest.mark.parametrize("name", list(BAD_DOCUMENTS))
def test_malformed_documents(server: RunningServer, s3, bucket: str, name: str) -> None:
    put(s3, bucket, algorithm="aws:kms", key="alias/before")
    status, code, message, _ = put_raw(server, bucket, BAD_DOCUMENTS[name])
    assert (status, code) == (400, "MalformedXML")
    assert (
        message == "The XML you provided was not well-formed or did not validate against our published schema"
    )
    assert rules(s3, bucket) == expected("aws:kms", "alias/before")


def test_body_over_one_mib(server: RunningServer, s3, bucket: str) -> None:
    padding = " " * (1024 * 1024)
    body = doc(rule("aws:kms") + padding)
    status, code, message, _ = put_raw(server, bucket, body)
    assert (status, code, message) == (400, "MaxMessageLengthExceeded", "Your request was too big.")
    assert rules(s3, bucket) == expected()


def test_anonymous_request_is_refused(server: RunningServer, s3, bucket: str) -> None:
    body = doc(rule("aws:kms"))
    response = server.raw("PUT", f"/{bucket}?encryption", body, {"Content-MD5": md5_b64(body)}, sign=False)
    code = ET.fromstring(response.body).findtext("Code")
    assert (response.status, code) == (403, "AccessDenied")
    assert rules(s3, bucket) == expected()


def test_signature_v2_is_refused(server: RunningServer, s3, bucket: str) -> None:
    body = doc(rule("aws:kms"))
    response = server.raw(
        "PUT",
        f"/{bucket}?encryption",
        body,
        {
            "Content-MD5": md5_b64(body),
            "Date": "Mon, 01 Jan 2024 00:00:00 GMT",
            "Authorization": f"AWS {server.access_key}:c2lnbmF0dXJlLXYy",
        },
        sign=False,
    )
    code = ET.fromstring(response.body).findtext("Code")
    assert (response.status, code) == (400, "InvalidRequest")
    assert rules(s3, bucket) == expected()


# --- integrity headers ------------------------------------------------------------------------------

GOOD = doc(rule("aws:kms"))


def test_without_content_md5_or_checksum(server: RunningServer, s3, bucket: str) -> None:
    assert put_raw(server, bucket, GOOD, {})[:3] == (400, "InvalidRequest", MISSING_MD5)
    # announcing an algorithm is not a checksum
    assert put_raw(server, bucket, GOOD, {"x-amz-sdk-checksum-algorithm": "CRC32"})[:3] == (
        400,
        "InvalidRequest",
        MISSING_MD5,
    )
    assert rules(s3, bucket) == expected()


@pytest.mark.parametrize(
    "headers,wanted",
    [
        ({"Content-MD5": md5_b64(b"something else")}, "BadDigest"),
        ({"Content-MD5": "not-base64!"}, "InvalidDigest"),
        ({"Content-MD5": base64.b64encode(b"short").decode()}, "InvalidDigest"),
        (
            {"x-amz-checksum-crc32": crc32_b64(b"something else"), "x-amz-sdk-checksum-algorithm": "CRC32"},
            "BadDigest",
        ),
        ({"x-amz-checksum-crc32": "!!!!", "x-amz-sdk-checksum-algorithm": "CRC32"}, "InvalidRequest"),
        ({"Content-MD5": md5_b64(GOOD), "x-amz-checksum-crc32": crc32_b64(b"other")}, "BadDigest"),
    ],
)
def test_integrity_header_errors(
    server: RunningServer, s3, bucket: str, headers: dict[str, str], wanted: str
) -> None:
    status, code, _, _ = put_raw(server, bucket, GOOD, headers)
    assert (status, code) == (400, wanted)
    assert rules(s3, bucket) == expected()


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-MD5": md5_b64(GOOD)},
        {"x-amz-checksum-crc32": crc32_b64(GOOD), "x-amz-sdk-checksum-algorithm": "CRC32"},
        {"x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(GOOD).digest()).decode()},
    ],
)
def test_integrity_headers_accepted(server: RunningServer, s3, bucket: str, headers: dict[str, str]) -> None:
    assert put_raw(server, bucket, GOOD, headers)[0] == 200
    assert rules(s3, bucket) == expected("aws:kms")


def chunked(payload: bytes, trailer_value: str) -> bytes:
    return (
        f"{len(payload):x}\r\n".encode()
        + payload
        + b"\r\n0\r\n"
        + f"x-amz-checksum-crc32:{trailer_value}\r\n\r\n".encode()
    )


@pytest.mark.parametrize("good", [True, False])
def test_aws_chunked_body_with_trailing_checksum(server: RunningServer, s3, bucket: str, good: bool) -> None:
    value = crc32_b64(GOOD if good else b"tampered")
    body = chunked(GOOD, value)
    reply = server.raw(
        "PUT",
        f"/{bucket}?encryption",
        body,
        {
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(GOOD)),
            "x-amz-trailer": "x-amz-checksum-crc32",
            "x-amz-sdk-checksum-algorithm": "CRC32",
        },
        content_sha256="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    )
    status, data = reply.status, reply.body
    if good:
        assert status == 200
        assert rules(s3, bucket) == expected("aws:kms")
    else:
        assert (status, ET.fromstring(data).findtext("Code")) == (400, "BadDigest")
        assert rules(s3, bucket) == expected()


# --- the aws cli ------------------------------------------------------------------------------------


def test_aws_cli_round_trip(server: RunningServer, bucket: str) -> None:
    configuration = {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": "alias/cli",
                },
                "BucketKeyEnabled": True,
            }
        ]
    }
    server.aws(
        "s3api",
        "put-bucket-encryption",
        "--bucket",
        bucket,
        "--server-side-encryption-configuration",
        json.dumps(configuration),
    )
    out = json.loads(server.aws("s3api", "get-bucket-encryption", "--bucket", bucket).stdout)
    assert out["ServerSideEncryptionConfiguration"]["Rules"] == expected("aws:kms", "alias/cli", True)
    server.aws("s3api", "delete-bucket-encryption", "--bucket", bucket)
    server.aws("s3api", "delete-bucket-encryption", "--bucket", bucket)
    out = json.loads(server.aws("s3api", "get-bucket-encryption", "--bucket", bucket).stdout)
    assert out["ServerSideEncryptionConfiguration"]["Rules"] == expected()


def test_aws_cli_objects_follow_the_default(server: RunningServer, bucket: str, tmp_path: Path) -> None:
    source = tmp_path / "f.txt"
    source.write_bytes(b"cli body")
    put_out = json.loads(
        server.aws("s3api", "put-object", "--bucket", bucket, "--key", "f", "--body", str(source)).stdout
    )
    assert put_out["ServerSideEncryption"] == "AES256"
    head_out = json.loads(server.aws("s3api", "head-object", "--bucket", bucket, "--key", "f").stdout)
    assert head_out["ServerSideEncryption"] == "AES256"
    assert head_out["ETag"] == f'"{hashlib.md5(b"cli body").hexdigest()}"'


@pytest.mark.parametrize(
    "configuration,wanted",
    [
        (
            {
                "Rules": [
                    {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": "k"}}
                ]
            },
            "InvalidArgument",
        ),
        ({"Rules": []}, "MalformedXML"),
        ({"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "rot13"}}]}, "MalformedXML"),
    ],
)
def test_aws_cli_errors(server: RunningServer, s3, bucket: str, configuration: dict, wanted: str) -> None:
    result = server.aws(
        "s3api",
        "put-bucket-encryption",
        "--bucket",
        bucket,
        "--server-side-encryption-configuration",
        json.dumps(configuration),
        check=False,
    )
    assert result.returncode != 0
    assert f"({wanted})" in result.stderr
    assert rules(s3, bucket) == expected()


def test_aws_cli_missing_bucket(server: RunningServer) -> None:
    result = server.aws(
        "s3api", "get-bucket-encryption", "--bucket", "nope-" + secrets.token_hex(6), check=False
    )
    assert result.returncode != 0 and "(NoSuchBucket)" in result.stderr


# --- durability -------------------------------------------------------------------------------------


def test_configuration_survives_a_restart(start_server: ServerFactory) -> None:
    first = start_server()
    try:
        s3 = first.client()
        s3.create_bucket(Bucket="durable")
        s3.create_bucket(Bucket="reset")
        put(s3, "durable", algorithm="aws:kms", key="alias/survivor", bucket_key=True, blocked=["NONE"])
        s3.delete_bucket_encryption(Bucket="reset")
        second = first.restart()
    finally:
        first.stop()
    try:
        s3 = second.client()
        assert rules(s3, "durable") == expected("aws:kms", "alias/survivor", True, "NONE")
        assert rules(s3, "reset") == expected()
    finally:
        second.stop()
