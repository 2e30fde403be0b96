"""Audit: POST Object (browser uploads) with SSE-KMS fields, and the SigV4 rule for SSE-KMS on POST.

Issue 2 asks for the encryption fields of a POST form; issue 4 for SSE-KMS everywhere a write can ask
for it; the README says anything touching SSE-KMS refuses Signature Version 2, as AWS does ("Requests
specifying Server Side Encryption with AWS KMS managed keys require AWS Signature Version 4", AWS
knowledge center s3-kms-signature-version-error).
"""

from __future__ import annotations

import pytest
import requests
from botocore.exceptions import ClientError

from tests.integration.helpers import error_code
from tests.integration.server import RunningServer
from tests.integration.test_post_object import assert_error, post

NEEDS_SIGV4 = ("Requests specifying Server Side Encryption with AWS KMS managed keys require AWS Signature "
               "Version 4.")


@pytest.fixture(scope="module")
def key(server: RunningServer) -> dict:
    return server.client("kms").create_key(Description="post audit")["KeyMetadata"]


def form(client, bucket: str, name: str, fields: dict[str, str]) -> dict:
    return client.generate_presigned_post(bucket, name, Fields=fields,
                                          Conditions=[{k: v} for k, v in fields.items()])


def absent(s3, bucket: str, name: str) -> bool:
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=bucket, Key=name)
    return error_code(caught.value) == "404"


def test_sigv4_post_with_sse_kms_fields(server: RunningServer, s3, bucket: str, key: dict) -> None:
    v4 = server.client("s3", signature_version="s3v4")
    fields = {"x-amz-server-side-encryption": "aws:kms",
              "x-amz-server-side-encryption-aws-kms-key-id": key["KeyId"],
              "x-amz-server-side-encryption-bucket-key-enabled": "true"}
    response = post(form(v4, bucket, "kms.txt", fields), b"posted under kms")
    assert response.status_code == 204, response.text
    assert response.headers["x-amz-server-side-encryption"] == "aws:kms"
    assert response.headers["x-amz-server-side-encryption-aws-kms-key-id"] == key["Arn"]
    assert response.headers["x-amz-server-side-encryption-bucket-key-enabled"] == "true"
    got = s3.get_object(Bucket=bucket, Key="kms.txt")
    assert got["Body"].read() == b"posted under kms"
    assert (got["ServerSideEncryption"], got["SSEKMSKeyId"], got["BucketKeyEnabled"]) == (
        "aws:kms", key["Arn"], True)


def test_post_with_bad_encryption_fields_stores_nothing(server: RunningServer, s3, bucket: str) -> None:
    v4 = server.client("s3", signature_version="s3v4")
    bad = form(v4, bucket, "bad.txt", {"x-amz-server-side-encryption": "AES512"})
    err = assert_error(post(bad), 400, "InvalidArgument", "The encryption method specified is not supported")
    assert err["ArgumentValue"] == "AES512"
    missing = form(v4, bucket, "bad.txt", {"x-amz-server-side-encryption": "aws:kms",
                                           "x-amz-server-side-encryption-aws-kms-key-id": "alias/none-such"})
    assert_error(post(missing), 400, "KMS.NotFoundException")
    assert absent(s3, bucket, "bad.txt")


def test_sigv2_post_asking_for_sse_kms_is_refused(server: RunningServer, s3, bucket: str, key: dict) -> None:
    v2 = server.client("s3", signature_version="s3")  # AWSAccessKeyId + signature fields
    presigned = form(v2, bucket, "v2-kms.txt", {"x-amz-server-side-encryption": "aws:kms",
                                                "x-amz-server-side-encryption-aws-kms-key-id": key["KeyId"]})
    assert "AWSAccessKeyId" in presigned["fields"]
    assert_error(post(presigned), 400, "InvalidArgument", NEEDS_SIGV4)
    assert absent(s3, bucket, "v2-kms.txt")


def test_sigv2_put_asking_for_sse_kms_is_refused(server: RunningServer, s3, bucket: str, key: dict) -> None:
    """The PutObject twin of the POST case above, which strongroom gets right."""
    v2 = server.client("s3", signature_version="s3")
    with pytest.raises(ClientError) as caught:
        v2.put_object(Bucket=bucket, Key="v2-put", Body=b"x", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=key["KeyId"])
    assert caught.value.response["Error"]["Message"] == NEEDS_SIGV4
    assert absent(s3, bucket, "v2-put")


def test_post_form_without_signature_is_anonymous_and_denied(server: RunningServer, s3, bucket: str) -> None:
    fields = {"key": "anon", "x-amz-server-side-encryption": "aws:kms"}
    files = {"file": ("a", b"a")}
    response = requests.post(f"{server.endpoint}/{bucket}", data=fields, files=files, timeout=30)
    assert_error(response, 403, "AccessDenied")
    assert absent(s3, bucket, "anon")
