"""The GETs Terraform's `aws_s3_bucket` performs on every refresh, exactly as its read function
(hashicorp/terraform-provider-aws, internal/service/s3/bucket.go, resourceBucketRead) performs them on a
bucket with nothing configured: each gets an AWS-shaped answer, never 501 (issue 12;
hashicorp/terraform-provider-aws#25660). Terraform tolerates exactly these "not configured" answers
(its read function names them): NoSuchBucketPolicy, NoSuchCORSConfiguration, NoSuchWebsiteConfiguration,
NoSuchLifecycleConfiguration, ReplicationConfigurationNotFoundError, ObjectLockConfigurationNotFoundError,
NoSuchTagSet; GetBucketVersioning, GetBucketAccelerateConfiguration, GetBucketRequestPayment,
GetBucketLogging and GetBucketEncryption must succeed.

"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.server import RunningServer


@pytest.fixture(scope="module")
def refreshed(server: RunningServer) -> str:
    """A bucket as `aws_s3_bucket` leaves it with no optional argument."""
    name = "tf-" + secrets.token_hex(6)
    server.client().create_bucket(Bucket=name)
    return name


def answer(call: Callable[..., Any], **kwargs: Any) -> tuple[int, str, dict[str, Any]]:
    """(status, error code or "", parsed response) of one read."""
    try:
        got = call(**kwargs)
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"], e.response
    return got["ResponseMetadata"]["HTTPStatusCode"], "", got


# In the order resourceBucketRead performs them: (client method, the answer AWS gives a bucket with
# nothing configured, a check of its document).
READS: list[Any] = [
    pytest.param("head_bucket", (200, ""),
                 lambda r: r["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"], id="HeadBucket"),
    pytest.param("get_bucket_policy", (404, "NoSuchBucketPolicy"), None, id="GetBucketPolicy"),
    pytest.param("get_bucket_acl", (200, ""), lambda r: r["Grants"] and r["Owner"]["ID"], id="GetBucketAcl"),
    pytest.param("get_bucket_cors", (404, "NoSuchCORSConfiguration"), None, id="GetBucketCors"),
    pytest.param("get_bucket_website", (404, "NoSuchWebsiteConfiguration"), None, id="GetBucketWebsite"),
    pytest.param("get_bucket_versioning", (200, ""), lambda r: "Status" not in r, id="GetBucketVersioning"),
    pytest.param("get_bucket_accelerate_configuration", (200, ""), lambda r: "Status" not in r,
                 id="GetBucketAccelerateConfiguration"),
    pytest.param("get_bucket_request_payment", (200, ""), lambda r: r["Payer"] == "BucketOwner",
                 id="GetBucketRequestPayment"),
    pytest.param("get_bucket_logging", (200, ""), lambda r: "LoggingEnabled" not in r, id="GetBucketLogging"),
    pytest.param("get_bucket_lifecycle_configuration", (404, "NoSuchLifecycleConfiguration"), None,
                 id="GetBucketLifecycleConfiguration"),
    pytest.param("get_bucket_replication", (404, "ReplicationConfigurationNotFoundError"), None,
                 id="GetBucketReplication"),
    pytest.param("get_bucket_encryption", (200, ""),
                 lambda r: r["ServerSideEncryptionConfiguration"]["Rules"], id="GetBucketEncryption"),
    pytest.param("get_object_lock_configuration", (404, "ObjectLockConfigurationNotFoundError"), None,
                 id="GetObjectLockConfiguration"),
    pytest.param("get_bucket_tagging", (404, "NoSuchTagSet"), None, id="GetBucketTagging"),
]


@pytest.mark.parametrize(("method", "expected", "check"), READS)
def test_a_refresh_read(server: RunningServer, refreshed: str, method: str, expected: tuple[int, str],
                        check: Callable[[dict[str, Any]], Any] | None) -> None:
    s3 = server.client(retries={"max_attempts": 1})
    status, code, response = answer(getattr(s3, method), Bucket=refreshed)
    assert status != 501, f"{method}: 501 {code}"
    assert (status, code) == expected, response
    if check is not None:
        assert check(response), response
