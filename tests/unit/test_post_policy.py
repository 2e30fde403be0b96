"""POST policies: the signature (AWS's published example and botocore's), the document, the checks."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from strongroom.errors import S3Error
from strongroom.s3 import post_policy as pp

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LATER = "2026-01-01T13:00:00.000Z"


def b64(doc: object) -> str:
    return base64.b64encode(json.dumps(doc).encode()).decode()


def policy(*conditions: object, expiration: str = LATER) -> pp.Policy:
    return pp.decode(b64({"expiration": expiration, "conditions": list(conditions)}))


def error(fn, *args) -> S3Error:  # type: ignore[no-untyped-def]
    with pytest.raises(S3Error) as info:
        fn(*args)
    return info.value


def check(pol: pp.Policy, fields: dict[str, str], bucket: str = "bkt", now: datetime = NOW):
    lowered = {k.lower(): v for k, v in fields.items()}
    return pp.check(pol, lowered, list(fields), bucket, now)


# ---------------------------------------------------------------- signing vectors


# AWS's "Example: Browser-Based Upload using HTTP POST (Using AWS Signature Version 4)": the policy as the
# page gives it (base64 of a CRLF-terminated document), its credentials, and the signature it states.
AWS_POLICY = (
    "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2"
    "NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMt"
    "cmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29t"
    "L3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4"
    "LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0s"
    "DQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZP"
    "RE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1B"
    "Qy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9"
)
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_CREDENTIAL = "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"


def test_signature_of_the_aws_example() -> None:
    credential = pp.parse_credential(AWS_CREDENTIAL)
    assert pp.signature(AWS_SECRET, credential, AWS_POLICY) == (
        "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
    )


def test_signature_of_botocore_generate_presigned_post() -> None:
    # generate_presigned_post("sigv4examplebucket", "user/user1/photo.jpg"), the clock at 2015-12-29T00:00Z
    text = b64(
        {
            "expiration": "2015-12-29T01:00:00Z",
            "conditions": [
                {"bucket": "sigv4examplebucket"},
                {"key": "user/user1/photo.jpg"},
                {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
                {"x-amz-credential": AWS_CREDENTIAL},
                {"x-amz-date": "20151229T000000Z"},
            ],
        }
    )
    assert pp.signature(AWS_SECRET, pp.parse_credential(AWS_CREDENTIAL), text) == (
        "3364624b39010d9b06f5d9b8c9a18a6e478d261c048159c92f2fd6fa885f14e6"
    )


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_signatures_agree_with_botocore(version: str) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.session.Session().client(
        "s3",
        region_name="eu-west-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key=AWS_SECRET,
        endpoint_url="http://127.0.0.1:9",
        config=Config(signature_version=version),
    )
    fields = client.generate_presigned_post("bucket", "a/${filename}")["fields"]
    if version == "s3v4":
        credential = pp.parse_credential(fields["x-amz-credential"])
        assert credential.region == "eu-west-1"
        assert pp.signature(AWS_SECRET, credential, fields["policy"]) == fields["x-amz-signature"]
    else:
        assert pp.signature_v2(AWS_SECRET, fields["policy"]) == fields["signature"]


def test_the_signature_covers_the_base64_text_as_sent() -> None:
    credential = pp.parse_credential(AWS_CREDENTIAL)
    wrapped = AWS_POLICY[:76] + "\n" + AWS_POLICY[76:]  # the same document, other text
    assert pp.signature(AWS_SECRET, credential, wrapped) != pp.signature(AWS_SECRET, credential, AWS_POLICY)
    assert pp.decode(wrapped) == pp.decode(AWS_POLICY)


def test_the_aws_example_form_passes_its_own_policy() -> None:
    pol = pp.decode(AWS_POLICY)
    form = {
        "key": "user/user1/photo.jpg",
        "acl": "public-read",
        "success_action_redirect": "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html",
        "Content-Type": "image/jpeg",
        "x-amz-meta-uuid": "14365123651274",
        "x-amz-server-side-encryption": "AES256",
        "X-Amz-Credential": AWS_CREDENTIAL,
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Date": "20151229T000000Z",
        "x-amz-meta-tag": "",
        "Policy": AWS_POLICY,
        "X-Amz-Signature": "8afdbf40",
    }
    assert check(pol, form, "sigv4examplebucket", datetime(2015, 12, 29, tzinfo=UTC)) == (0, None)


@pytest.mark.parametrize(
    ("credential", "message"),
    [
        ("AK/20151229/us-east-1/s3", "the Credential is mal-formed"),
        ("/20151229/us-east-1/s3/aws4_request", "a non-empty Access Key (AKID) must be provided"),
        ("AK/2015-12-29/us-east-1/s3/aws4_request", 'incorrect date format "2015-12-29"'),
        ("AK/20151229/us-east-1/ec2/aws4_request", 'incorrect service "ec2". This endpoint belongs to "s3".'),
        ("AK/20151229/us-east-1/s3/aws5_request", 'incorrect terminal "aws5_request"'),
    ],
)
def test_malformed_credentials(credential: str, message: str) -> None:
    err = error(pp.parse_credential, credential)
    assert (err.code, err.status) == ("InvalidArgument", 400)
    assert message in err.message
    assert err.details == {"ArgumentName": "X-Amz-Credential", "ArgumentValue": credential}


def test_amz_date_must_be_iso8601_basic() -> None:
    pp.check_amz_date("20151229T000000Z")
    err = error(pp.check_amz_date, "2015-12-29T00:00:00Z")
    assert (err.code, err.details["ArgumentName"]) == ("InvalidArgument", "X-Amz-Date")


# ---------------------------------------------------------------- the document


def test_expiration_with_and_without_milliseconds() -> None:
    assert policy(expiration="2026-01-01T13:00:00Z").expiration == datetime(2026, 1, 1, 13, tzinfo=UTC)
    exact = policy(expiration="2026-01-01T13:00:00.250Z").expiration
    assert exact == datetime(2026, 1, 1, 13, 0, 0, 250000, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    ["2026-01-01T13:00:00+02:00", "2026-01-01 13:00:00Z", "tomorrow", 1767272400, "2026-13-01T13:00:00Z"],
)
def test_unreadable_expiration(value: object) -> None:
    err = error(pp.decode, b64({"expiration": value, "conditions": []}))
    assert (err.code, err.status) == ("InvalidPolicyDocument", 400)
    assert err.message == f"Invalid Policy: Invalid 'expiration' value: '{value}'"


def doc(*conditions: object) -> dict[str, object]:
    return {"expiration": LATER, "conditions": list(conditions)}


INVALID_JSON = "Invalid Policy: Invalid JSON."
ONE_PROPERTY = (
    "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified."
)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"conditions": []}, "Invalid Policy: Policy missing expiration."),
        ({"expiration": LATER}, "Invalid Policy: Policy missing conditions."),
        ({"EXPIRATION": LATER, "conditions": []}, "Invalid Policy: Unexpected: 'expiration'"),
        ({"expiration": LATER, "CONDITIONS": []}, "Invalid Policy: Unexpected: 'conditions'"),
        (
            {"expiration": LATER, "conditions": {}},
            "Invalid Policy: Invalid 'conditions' value: must be a List.",
        ),
        (doc({}), ONE_PROPERTY),
        (doc({"bucket": "b", "key": "k"}), ONE_PROPERTY),
        (
            doc({"Content-Length": 6199034}),
            "Invalid Policy: Invalid Simple-Condition: value must be a string.",
        ),
        (doc({"success_action_redirect": None}), INVALID_JSON),
        (doc([]), "Invalid Policy: Invalid Condition: missing operation identifier."),
        (
            doc(["ends-with", "$key", "x"]),
            "Invalid Policy: Invalid Condition: unknown operation 'ends-with'.",
        ),
        (doc(["eq", "$key"]), "Invalid Policy: Invalid eq: wrong number of arguments."),
        (
            doc(["content-length-range", 0]),
            "Invalid Policy: Invalid content-length-range: wrong number of arguments.",
        ),
        (doc(["content-length-range", 0, 512.0]), INVALID_JSON),
        (doc(["eq", "$key", 5]), INVALID_JSON),
        (doc("key"), "Invalid Policy: Invalid condition test: must be a List or Object."),
        ([], INVALID_JSON),
    ],
)
def test_invalid_documents(document: object, message: str) -> None:
    err = error(pp.decode, b64(document))
    assert (err.code, err.status, err.message) == ("InvalidPolicyDocument", 400, message)


def test_negative_length_bound_is_an_invalid_document() -> None:
    err = error(pp.decode, b64({"expiration": LATER, "conditions": [["content-length-range", -1, 0]]}))
    assert (err.code, err.status) == ("InvalidPolicyDocument", 400)


def test_not_json_and_not_base64() -> None:
    assert error(pp.decode, base64.b64encode(b"{not json").decode()).message == INVALID_JSON
    assert error(pp.decode, base64.b64encode(b"\xff\xfe").decode()).message == INVALID_JSON
    assert error(pp.decode, "%%%").message == "Invalid Policy: invalid Base64 encoding."
    nan = base64.b64encode(b'{"expiration": "2026-01-01T13:00:00Z", "conditions": [NaN]}').decode()
    assert error(pp.decode, nan).message == INVALID_JSON


# ---------------------------------------------------------------- checking a form


def failed(pol: pp.Policy, fields: dict[str, str], bucket: str = "bkt") -> str:
    with pytest.raises(S3Error) as info:
        check(pol, fields, bucket)
    assert (info.value.code, info.value.status) == ("AccessDenied", 403)
    return info.value.message


def test_expired_policy() -> None:
    pol = policy({"key": "k"}, expiration="2026-01-01T11:59:59Z")
    assert failed(pol, {"key": "k"}) == "Invalid according to Policy: Policy expired."
    # Expired is decided first: a form that also breaks a condition is still told it expired.
    assert failed(pol, {"key": "other"}) == "Invalid according to Policy: Policy expired."
    # Valid up to and including the instant it names.
    assert check(policy({"key": "k"}, expiration="2026-01-01T12:00:00Z"), {"key": "k"}) == (0, None)
    assert check(pol, {"key": "k"}, now=NOW - timedelta(seconds=2)) == (0, None)


def test_exact_match_simple_and_eq() -> None:
    pol = policy({"acl": "private"}, ["eq", "$key", "a/b.txt"])
    assert check(pol, {"acl": "private", "key": "a/b.txt"}) == (0, None)
    assert failed(pol, {"acl": "private", "key": "a/b.txt2"}) == (
        'Invalid according to Policy: Policy Condition failed: ["eq", "$key", "a/b.txt"]'
    )
    # A simple condition is quoted as the eq it stands for, with the policy's spelling of the name.
    assert failed(pol, {"acl": "PRIVATE", "key": "a/b.txt"}) == (
        'Invalid according to Policy: Policy Condition failed: ["eq", "$acl", "private"]'
    )


def test_starts_with_and_the_empty_prefix() -> None:
    pol = policy(["starts-with", "$key", "user/eric/"], ["starts-with", "$success_action_redirect", ""])
    assert check(pol, {"key": "user/eric/x", "success_action_redirect": "http://anything"}) == (0, None)
    assert check(pol, {"key": "user/eric/", "success_action_redirect": ""}) == (0, None)
    assert failed(pol, {"key": "user/Eric/x", "success_action_redirect": ""}) == (
        'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "user/eric/"]'
    )


def test_a_condition_on_an_absent_field_fails_even_with_an_empty_prefix() -> None:
    pol = policy({"key": "k"}, ["starts-with", "$Content-Type", ""])
    assert failed(pol, {"key": "k"}) == (
        'Invalid according to Policy: Policy Condition failed: ["starts-with", "$Content-Type", ""]'
    )


def test_a_condition_without_dollar_matches_nothing() -> None:
    pol = policy(["eq", "success_action_redirect", "http://x"])
    assert failed(pol, {"success_action_redirect": "http://x"}) == (
        'Invalid according to Policy: Policy Condition failed: ["eq", "success_action_redirect", "http://x"]'
    )


def test_names_are_case_insensitive_values_are_not() -> None:
    pol = policy(
        ["StArTs-WiTh", "$KeY", "foo"],
        {"AcL": "private"},
        ["eq", "$x-amz-meta-TEST-2", "v"],
        {"success_Action_REDIRECT": "http://a/"},
    )
    form = {
        "kEy": "foo.txt",
        "aCl": "private",
        "x-amz-meta-test-2": "v",
        "SUCCESS_ACTION_REDIRECT": "http://a/",
    }
    assert check(pol, form) == (0, None)
    assert "Policy Condition failed" in failed(pol, {**form, "x-amz-meta-test-2": "V"})
    assert "Policy Condition failed" in failed(pol, {**form, "SUCCESS_ACTION_REDIRECT": "HTTP://a/"})


def test_content_type_lists() -> None:
    pol = policy(["starts-with", "$Content-Type", "image/"])
    assert check(pol, {"Content-Type": "image/jpg,image/png, image/gif"}) == (0, None)
    assert "Policy Condition failed" in failed(pol, {"Content-Type": "image/jpg,text/plain"})
    # Other fields are plain strings, commas and all.
    pol = policy(["starts-with", "$x-amz-meta-tags", "a,"])
    assert check(pol, {"x-amz-meta-tags": "a,b"}) == (0, None)


def test_bucket_condition_is_the_bucket_posted_to() -> None:
    pol = policy({"bucket": "bkt"}, {"key": "k"})
    assert check(pol, {"key": "k"}, bucket="bkt") == (0, None)
    assert failed(pol, {"key": "k"}, bucket="other") == (
        'Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "bkt"]'
    )
    # A `bucket` field (aws-sdk-js-v3 sends one) is covered by the bucket condition; it names no other bucket.
    assert check(pol, {"key": "k", "bucket": "something"}, bucket="bkt") == (0, None)


def test_conditions_fail_in_the_policy_order() -> None:
    pol = policy({"key": "k"}, {"acl": "private"})
    assert failed(pol, {"key": "x", "acl": "x"}).endswith('["eq", "$key", "k"]')


def test_content_length_range() -> None:
    assert check(policy(["content-length-range", 5, 10]), {}) == (5, 10)
    assert check(policy(["content-length-range", "5", "10"]), {}) == (5, 10)  # S3 reads digit strings
    assert check(policy(["content-length-range", 1, 100], ["content-length-range", 5, 1000]), {}) == (5, 100)
    assert failed(policy(["content-length-range", "test", "10"]), {}) == (
        'Invalid according to Policy: Policy Condition failed: ["content-length-range", "test", "10"]'
    )


def test_size_errors() -> None:
    large = pp.entity_too_large(12, 10)
    assert (large.code, large.status, large.message) == (
        "EntityTooLarge",
        400,
        "Your proposed upload exceeds the maximum allowed size",
    )
    assert large.details == {"ProposedSize": "12", "MaxSizeAllowed": "10"}
    small = pp.entity_too_small(1, 5)
    assert (small.code, small.status, small.message) == (
        "EntityTooSmall",
        400,
        "Your proposed upload is smaller than the minimum allowed size",
    )
    assert small.details == {"ProposedSize": "1", "MinSizeAllowed": "5"}


def test_extra_fields() -> None:
    pol = policy({"key": "k"})
    assert failed(pol, {"key": "k", "x-custom": "1"}) == (
        "Invalid according to Policy: Extra input fields: x-custom"
    )
    # Named as the form spelled them, all of them, in form order.
    assert failed(pol, {"key": "k", "Zeta": "1", "alpha": "2"}) == (
        "Invalid according to Policy: Extra input fields: Zeta, alpha"
    )


def test_exempt_fields() -> None:
    pol = policy({"key": "k"})
    form = {
        "key": "k",
        "Policy": "...",
        "X-Amz-Signature": "sig",
        "file": "ignored",
        "x-ignore-tracker": "1",
        "X-Ignore-Other": "2",
    }
    assert check(pol, form) == (0, None)


def test_exempt_fields_of_each_signature_version() -> None:
    pol = policy({"key": "k"})
    v2 = {"key": "k", "AWSAccessKeyId": "AK", "Signature": "c2ln", "policy": "..."}
    lowered = {k.lower(): v for k, v in v2.items()}
    assert pp.check(pol, lowered, list(v2), "bkt", NOW, pp.EXEMPT_V2) == (0, None)
    # Each version's signature fields are exempt only in their own kind of form.
    assert failed(pol, v2) == "Invalid according to Policy: Extra input fields: AWSAccessKeyId, Signature"
    with pytest.raises(S3Error) as info:
        pp.check(
            pol, {"key": "k", "x-amz-signature": "s"}, ["key", "x-amz-signature"], "bkt", NOW, pp.EXEMPT_V2
        )
    assert info.value.message == "Invalid according to Policy: Extra input fields: x-amz-signature"


def test_the_signing_fields_need_conditions_too() -> None:
    pol = policy({"key": "k"})
    message = failed(pol, {"key": "k", "x-amz-date": "20260101T000000Z"})
    assert message == "Invalid according to Policy: Extra input fields: x-amz-date"


def test_a_failing_condition_is_reported_before_extra_fields() -> None:
    pol = policy({"key": "k"})
    assert "Policy Condition failed" in failed(pol, {"key": "x", "x-custom": "1"})


def test_metadata_is_kept_mail_safe() -> None:
    from strongroom.s3.post_object import mail_safe

    assert mail_safe("plain value") == "plain value"
    assert mail_safe("=?UTF-8?Q?already?=") == "=?UTF-8?Q?already?="
    # As S3 returned them when recorded: Q for printable text, B when there are control characters.
    assert mail_safe("ÄMÄZÕÑ S3") == "=?UTF-8?Q?=C3=84M=C3=84Z=C3=95=C3=91_S3?="
    assert mail_safe("\x00\x01\x02\x03\x04") == "=?UTF-8?B?AAECAwQ=?="


def test_redirect_locations() -> None:
    from strongroom.s3.post_object import _redirect

    assert _redirect("https://example.com/done", "b", "dir/a b.txt", "e1") == (
        "https://example.com/done?bucket=b&key=dir%2Fa+b.txt&etag=%22e1%22"
    )
    assert (
        _redirect("http://example.com/?x=1", "b", "k", "e")
        == "http://example.com/?x=1&bucket=b&key=k&etag=%22e%22"
    )
    assert _redirect("/relative", "b", "k", "e") is None
    assert _redirect("javascript:alert(1)", "b", "k", "e") is None
    assert _redirect("", "b", "k", "e") is None
