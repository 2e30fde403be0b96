"""Bucket sub-resources strongroom does not configure: reads answer as AWS answers a bucket that has none,
never 501; writes stay 501 NotImplemented, and the list of them is here (boto3 and the aws cli)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.integration.helpers import error_of, fails
from tests.integration.principals import denied, new_user, policy
from tests.integration.server import RunningServer

# (boto3 method, AWS error code, message): a 404 with the bucket's name, as S3 answers a bucket without one.
NOT_FOUND = [
    ("get_bucket_lifecycle_configuration", "NoSuchLifecycleConfiguration",
     "The lifecycle configuration does not exist"),
    ("get_bucket_cors", "NoSuchCORSConfiguration", "The CORS configuration does not exist"),
    ("get_bucket_tagging", "NoSuchTagSet", "The TagSet does not exist"),
    ("get_bucket_website", "NoSuchWebsiteConfiguration",
     "The specified bucket does not have a website configuration"),
    ("get_bucket_replication", "ReplicationConfigurationNotFoundError",
     "The replication configuration was not found"),
]


@pytest.mark.parametrize(("method", "code", "message"), NOT_FOUND)
def test_unconfigured_reads_are_aws_404s(s3, bucket: str, method: str, code: str, message: str) -> None:
    err = fails(getattr(s3, method), Bucket=bucket)
    assert error_of(err) == {"status": 404, "Code": code, "Message": message, "ArgumentName": None,
                             "ArgumentValue": None}
    assert err.response["Error"]["BucketName"] == bucket  # type: ignore[attr-defined]


def test_unconfigured_reads_are_aws_default_documents(s3, bucket: str) -> None:
    def fields(response: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in response.items() if k != "ResponseMetadata"}

    assert fields(s3.get_bucket_logging(Bucket=bucket)) == {}  # no LoggingEnabled: logging is off
    assert fields(s3.get_bucket_accelerate_configuration(Bucket=bucket)) == {}
    assert fields(s3.get_bucket_request_payment(Bucket=bucket)) == {"Payer": "BucketOwner"}
    assert fields(s3.get_bucket_notification_configuration(Bucket=bucket)) == {}
    for method in ("list_bucket_analytics_configurations", "list_bucket_metrics_configurations",
                   "list_bucket_inventory_configurations", "list_bucket_intelligent_tiering_configurations"):
        assert fields(getattr(s3, method)(Bucket=bucket)) == {"IsTruncated": False}, method


def test_one_configuration_by_id_is_no_such_configuration(s3, bucket: str) -> None:
    err = fails(s3.get_bucket_metrics_configuration, Bucket=bucket, Id="whole-bucket")
    assert error_of(err)["status"] == 404
    assert error_of(err)["Code"] == "NoSuchConfiguration"


def test_unconfigured_reads_of_a_missing_bucket_are_no_such_bucket(s3) -> None:
    for method in ("get_bucket_lifecycle_configuration", "get_bucket_logging", "get_bucket_request_payment",
                   "list_bucket_inventory_configurations", "get_bucket_cors", "get_bucket_tagging"):
        err = fails(getattr(s3, method), Bucket="no-such-bucket-here")
        assert (error_of(err)["status"], error_of(err)["Code"]) == (404, "NoSuchBucket"), method


def test_unconfigured_reads_with_the_aws_cli(server: RunningServer, bucket: str) -> None:
    payment = server.aws("s3api", "get-bucket-request-payment", "--bucket", bucket)
    assert json.loads(payment.stdout) == {"Payer": "BucketOwner"}
    assert server.aws("s3api", "get-bucket-logging", "--bucket", bucket).stdout.strip() == ""
    missing = server.aws("s3api", "get-bucket-website", "--bucket", bucket, check=False)
    assert missing.returncode != 0
    assert "(NoSuchWebsiteConfiguration)" in missing.stderr, missing.stderr


# The writes strongroom does not implement: each is 501 NotImplemented and changes nothing.
NOT_IMPLEMENTED_WRITES = [
    ("PUT", "website"), ("DELETE", "website"),
    ("PUT", "replication"), ("DELETE", "replication"),
    ("PUT", "accelerate"),
    ("PUT", "requestPayment"),
    ("PUT", "notification"),
    ("PUT", "analytics&id=a"), ("DELETE", "analytics&id=a"),
    ("PUT", "metrics&id=a"), ("DELETE", "metrics&id=a"),
    ("PUT", "inventory&id=a"), ("DELETE", "inventory&id=a"),
    ("PUT", "intelligent-tiering&id=a"), ("DELETE", "intelligent-tiering&id=a"),
]


@pytest.mark.parametrize(("method", "query"), NOT_IMPLEMENTED_WRITES)
def test_writes_not_implemented_are_501(server: RunningServer, s3, bucket: str, method: str,
                                        query: str) -> None:
    s3.put_object(Bucket=bucket, Key="kept", Body=b"kept")
    reply = server.raw(method, f"/{bucket}?{query}", b"<x/>" if method == "PUT" else None)
    assert (reply.status, reply.code) == (501, "NotImplemented")
    # Neither the bucket (a DELETE) nor what is in it was touched.
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"kept"


def test_each_operation_is_authorized_by_its_own_action(server: RunningServer, s3, bucket: str) -> None:
    """Another user is denied until the bucket policy grants the IAM action AWS names for the operation
    (Delete* of tags and CORS by their Put* action, as on AWS)."""
    carol = new_user(server, "carol")
    theirs = carol.client()
    cors = {"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]}
    tags = {"TagSet": [{"Key": "k", "Value": "v"}]}
    calls = [
        ("s3:PutBucketCORS", lambda: theirs.put_bucket_cors(Bucket=bucket, CORSConfiguration=cors)),
        ("s3:GetBucketCORS", lambda: theirs.get_bucket_cors(Bucket=bucket)),
        ("s3:PutBucketCORS", lambda: theirs.delete_bucket_cors(Bucket=bucket)),
        ("s3:PutBucketTagging", lambda: theirs.put_bucket_tagging(Bucket=bucket, Tagging=tags)),
        ("s3:GetBucketTagging", lambda: theirs.get_bucket_tagging(Bucket=bucket)),
        ("s3:PutBucketTagging", lambda: theirs.delete_bucket_tagging(Bucket=bucket)),
        ("s3:GetLifecycleConfiguration", lambda: theirs.get_bucket_lifecycle_configuration(Bucket=bucket)),
        ("s3:GetBucketLogging", lambda: theirs.get_bucket_logging(Bucket=bucket)),
        ("s3:GetBucketRequestPayment", lambda: theirs.get_bucket_request_payment(Bucket=bucket)),
        ("s3:GetInventoryConfiguration", lambda: theirs.list_bucket_inventory_configurations(Bucket=bucket)),
    ]
    for _, call in calls:
        denied(call)
    granted = sorted({action for action, _ in calls})
    s3.put_bucket_policy(Bucket=bucket, Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": carol.arn}, "Action": granted,
        "Resource": f"arn:aws:s3:::{bucket}"}))
    for action, call in calls:
        try:
            call()
        except ClientError as e:  # allowed now: only "not configured" answers remain
            assert error_of(e)["status"] == 404, (action, e.response)
