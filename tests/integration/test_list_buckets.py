"""ListBuckets with AWS's 2024 parameters: max-buckets, continuation-token, prefix, bucket-region (boto3's
paginator, the aws cli, raw requests), on both catalog engines."""

from __future__ import annotations

import json
import secrets

import pytest

from tests.integration.helpers import error_of, fails
from tests.integration.server import RunningServer


@pytest.fixture(scope="module")
def named(engine_server: RunningServer) -> list[str]:
    """Seven buckets under one fresh prefix, in name order."""
    s3, prefix = engine_server.client("s3"), f"lb-{secrets.token_hex(3)}-"
    names = sorted(f"{prefix}{i}" for i in range(7))
    for name in names:
        s3.create_bucket(Bucket=name)
    return names


def test_pages_follow_the_continuation_token(engine_server: RunningServer, named: list[str]) -> None:
    s3, prefix = engine_server.client("s3"), named[0][:-1]
    first = s3.list_buckets(MaxBuckets=3, Prefix=prefix)
    assert [b["Name"] for b in first["Buckets"]] == named[:3]
    assert first["Prefix"] == prefix
    assert all(b["BucketRegion"] == "us-east-1" for b in first["Buckets"])
    token = first["ContinuationToken"]
    second = s3.list_buckets(MaxBuckets=3, Prefix=prefix, ContinuationToken=token)
    assert [b["Name"] for b in second["Buckets"]] == named[3:6]
    third = s3.list_buckets(MaxBuckets=3, Prefix=prefix, ContinuationToken=second["ContinuationToken"])
    assert [b["Name"] for b in third["Buckets"]] == named[6:]
    assert "ContinuationToken" not in third  # the last page
    pages = s3.get_paginator("list_buckets").paginate(Prefix=prefix, PaginationConfig={"PageSize": 2})
    assert [b["Name"] for page in pages for b in page["Buckets"]] == named


def test_without_parameters_every_bucket_in_one_answer(engine_server: RunningServer,
                                                       named: list[str]) -> None:
    answer = engine_server.client("s3").list_buckets()
    names = [b["Name"] for b in answer["Buckets"]]
    assert set(named) <= set(names) and names == sorted(names)
    assert "ContinuationToken" not in answer and "Prefix" not in answer


def test_bucket_region_filters(engine_server: RunningServer, named: list[str]) -> None:
    s3, prefix = engine_server.client("s3"), named[0][:-1]
    here = s3.list_buckets(Prefix=prefix, BucketRegion="us-east-1")
    assert [b["Name"] for b in here["Buckets"]] == named
    assert s3.list_buckets(Prefix=prefix, BucketRegion="eu-west-1")["Buckets"] == []


def test_aws_cli_pages_through_all(engine_server: RunningServer, named: list[str]) -> None:
    out = engine_server.aws("s3api", "list-buckets", "--prefix", named[0][:-1], "--page-size", "2")
    assert [b["Name"] for b in json.loads(out.stdout)["Buckets"]] == named


@pytest.mark.parametrize("value", ["0", "10001", "-1", "x"])
def test_max_buckets_out_of_range(engine_server: RunningServer, value: str) -> None:
    reply = engine_server.raw("GET", f"/?max-buckets={value}")
    assert (reply.status, reply.code, reply.detail("ArgumentName")) == (400, "InvalidArgument", "max-buckets")


def test_a_token_we_did_not_issue_is_refused(engine_server: RunningServer) -> None:
    err = fails(engine_server.client("s3").list_buckets, MaxBuckets=1, ContinuationToken="not-a-token")
    assert (error_of(err)["status"], error_of(err)["Code"]) == (400, "InvalidArgument")
