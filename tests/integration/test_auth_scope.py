"""The credential scope's region (issue 14): a server started with `--region eu-west-1` refuses a
signature scoped to another region at every door, each with AWS's own error for it: S3's header form
(AuthorizationHeaderMalformed), presigned form (AuthorizationQueryParametersError) and POST form
(InvalidArgument), the KMS JSON API (InvalidSignatureException) and STS (SignatureDoesNotMatch). A
refused write stores nothing; clients that sign for the server's region work."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET

import pytest
import requests
from botocore.exceptions import ClientError

from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_code, status_of
from tests.integration.server import RunningServer

REGION = "eu-west-1"
WRONG = "us-east-1"


@pytest.fixture(scope="module")
def eu(start_module_server: ServerFactory) -> RunningServer:
    return start_module_server("--region", REGION)


@pytest.fixture(scope="module")
def eu_bucket(eu: RunningServer) -> str:
    name = "scope-" + secrets.token_hex(4)
    eu.client("s3", region=REGION).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    return name


def test_header_scoped_to_another_region(eu: RunningServer, eu_bucket: str) -> None:
    reply = eu.raw("PUT", f"/{eu_bucket}/k", b"data", region=WRONG)
    assert (reply.status, reply.code) == (400, "AuthorizationHeaderMalformed")
    assert reply.detail("Message") == (
        f"The authorization header is malformed; the region '{WRONG}' is wrong; expecting '{REGION}'"
    )
    assert reply.detail("Region") == REGION
    wrong = eu.client("s3", region=WRONG, retries={"max_attempts": 1})
    with pytest.raises(ClientError) as caught:
        wrong.head_object(Bucket=eu_bucket, Key="k")
    assert status_of(caught.value) == 400
    right = eu.client("s3", region=REGION)
    with pytest.raises(ClientError) as caught:
        right.head_object(Bucket=eu_bucket, Key="k")  # nothing was stored
    assert status_of(caught.value) == 404
    right.put_object(Bucket=eu_bucket, Key="k", Body=b"data")
    assert right.get_object(Bucket=eu_bucket, Key="k")["Body"].read() == b"data"


def test_presigned_scoped_to_another_region(eu: RunningServer, eu_bucket: str) -> None:
    eu.client("s3", region=REGION).put_object(Bucket=eu_bucket, Key="p", Body=b"presigned")
    url = eu.client("s3", region=WRONG, signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": eu_bucket, "Key": "p"}
    )
    reply = eu.raw("GET", url, sign=False)
    assert (reply.status, reply.code) == (400, "AuthorizationQueryParametersError")
    assert reply.detail("Message") == (
        f"Error parsing the X-Amz-Credential parameter; the region '{WRONG}' is wrong; expecting '{REGION}'"
    )
    assert reply.detail("Region") == REGION
    good = eu.client("s3", region=REGION, signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": eu_bucket, "Key": "p"}
    )
    assert eu.raw("GET", good, sign=False).body == b"presigned"


def test_post_form_scoped_to_another_region(eu: RunningServer, eu_bucket: str) -> None:
    form = eu.client("s3", region=WRONG, signature_version="s3v4").generate_presigned_post(eu_bucket, "f")
    reply = requests.post(form["url"], data=form["fields"], files={"file": ("f", b"form")}, timeout=30)
    assert reply.status_code == 400, reply.text
    err = {child.tag: child.text for child in ET.fromstring(reply.content)}
    assert err["Code"] == "InvalidArgument"
    assert err["Message"] == f"the region '{WRONG}' is wrong; expecting '{REGION}'"
    assert err["ArgumentName"] == "X-Amz-Credential"
    assert err["ArgumentValue"] == form["fields"]["x-amz-credential"]
    assert err["Region"] == REGION
    right = eu.client("s3", region=REGION, signature_version="s3v4")
    with pytest.raises(ClientError) as caught:
        right.head_object(Bucket=eu_bucket, Key="f")
    assert status_of(caught.value) == 404
    form = right.generate_presigned_post(eu_bucket, "f")
    ok = requests.post(form["url"], data=form["fields"], files={"file": ("f", b"form")}, timeout=30)
    assert ok.status_code == 204, ok.text
    assert right.get_object(Bucket=eu_bucket, Key="f")["Body"].read() == b"form"


def test_kms_scoped_to_another_region(eu: RunningServer) -> None:
    with pytest.raises(ClientError) as caught:
        eu.client("kms", region=WRONG, retries={"max_attempts": 1}).list_keys()
    assert error_code(caught.value) == "InvalidSignatureException"
    assert caught.value.response["Error"]["Message"] == "Credential should be scoped to a valid region. "
    assert status_of(caught.value) == 400
    eu.client("kms", region=REGION).list_keys()


def test_sts_scoped_to_another_region(eu: RunningServer) -> None:
    with pytest.raises(ClientError) as caught:
        eu.client("sts", region=WRONG, retries={"max_attempts": 1}).get_caller_identity()
    assert error_code(caught.value) == "SignatureDoesNotMatch"
    assert caught.value.response["Error"]["Message"] == "Credential should be scoped to a valid region. "
    assert status_of(caught.value) == 403
    assert eu.client("sts", region=REGION).get_caller_identity()["Arn"].endswith(":root")
