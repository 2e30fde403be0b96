"""Audit: the two operator switches of issues 3 and 4, each against the same data with and without it.

`--behind-tls-proxy`: plain HTTP counts as secure everywhere, so `aws:SecureTransport` is true in
policies (not only SSE-C allowed). `--allow-sse-c-new-buckets`: buckets created while it is on accept
SSE-C writes; buckets created before it keep blocking them.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.integration.factory import ServerFactory
from tests.integration.helpers import ssec

PROXY = "--behind-tls-proxy"


def blocked_types(s3, bucket: str) -> list[str]:
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    return rule.get("BlockedEncryptionTypes", {}).get("EncryptionType", [])


def code_of(call, **params: object) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value.response["Error"]["Code"]


def test_behind_tls_proxy_makes_secure_transport_true(start_server: ServerFactory) -> None:
    deny_insecure = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::tls-only/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
    plain = start_server()
    try:
        s3 = plain.client("s3")
        s3.create_bucket(Bucket="tls-only")
        s3.put_object(Bucket="tls-only", Key="k", Body=b"secret")
        s3.put_bucket_policy(Bucket="tls-only", Policy=deny_insecure)
        assert code_of(s3.get_object, Bucket="tls-only", Key="k") == "AccessDenied"
    finally:
        plain.stop()
    proxied = plain.restart(PROXY)
    try:
        got = proxied.client("s3").get_object(Bucket="tls-only", Key="k")
        assert got["Body"].read() == b"secret"
    finally:
        proxied.stop()


def test_allow_sse_c_new_buckets_changes_only_new_buckets(start_server: ServerFactory) -> None:
    first = start_server(PROXY)
    try:
        s3 = first.client("s3")
        s3.create_bucket(Bucket="made-before")
        assert blocked_types(s3, "made-before") == ["SSE-C"]
        assert code_of(s3.put_object, Bucket="made-before", Key="c", Body=b"x", **ssec()) == "AccessDenied"
    finally:
        first.stop()
    second = first.restart(PROXY, "--allow-sse-c-new-buckets")
    try:
        s3 = second.client("s3")
        s3.create_bucket(Bucket="made-after")
        assert "SSE-C" not in blocked_types(s3, "made-after")
        s3.put_object(Bucket="made-after", Key="c", Body=b"customer keyed", **ssec())
        assert s3.get_object(Bucket="made-after", Key="c", **ssec())["Body"].read() == b"customer keyed"
        # the bucket made before the switch keeps its block
        assert blocked_types(s3, "made-before") == ["SSE-C"]
        assert code_of(s3.put_object, Bucket="made-before", Key="c", Body=b"x", **ssec()) == "AccessDenied"
    finally:
        second.stop()
