"""IsPublic for GetBucketPolicyStatus, by the S3 user guide's "The meaning of 'public'" rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from strongroom.policy import parse_policy, statement_allows_public

ACCOUNT = "111122223333"
BUCKET = "examplebucket"
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/k"


def allow(
    principal: Any = "*",
    condition: dict[str, Any] | None = None,
    effect: str = "Allow",
    not_principal: bool = False,
) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": effect, "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
    st["NotPrincipal" if not_principal else "Principal"] = principal
    if condition is not None:
        st["Condition"] = condition
    return st


CASES = [
    ("anyone, no condition", [allow()], True),
    ("AWS *, no condition", [allow({"AWS": "*"})], True),
    ("a fixed account", [allow({"AWS": ACCOUNT})], False),
    ("a fixed user", [allow({"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"})], False),
    ("a service principal", [allow({"Service": "cloudtrail.amazonaws.com"})], False),
    ("a federated principal", [allow({"Federated": "graph.facebook.com"})], True),
    ("a Deny grants nothing", [allow(effect="Deny")], False),
    ("NotPrincipal with Allow", [allow({"AWS": ACCOUNT}, not_principal=True)], True),
    (
        "anyone from a fixed VPC",
        [allow(condition={"StringEquals": {"aws:SourceVpc": "vpc-91237329"}})],
        False,
    ),
    (
        "anyone from any VPC (guide example)",
        [allow(condition={"StringLike": {"aws:SourceVpc": "vpc-*"}})],
        True,
    ),
    (
        "IfExists does not restrict",
        [allow(condition={"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}})],
        True,
    ),
    (
        "a negated operator does not restrict",
        [allow(condition={"StringNotEquals": {"aws:SourceVpc": "vpc-1"}})],
        True,
    ),
    (
        "ForAllValues does not restrict",
        [allow(condition={"ForAllValues:StringEquals": {"aws:SourceVpc": "vpc-1"}})],
        True,
    ),
    ("a key outside the list", [allow(condition={"StringEquals": {"aws:UserAgent": "curl"}})], True),
    (
        "a variable is not fixed",
        [allow(condition={"StringEquals": {"aws:SourceAccount": "${aws:username}"}})],
        True,
    ),
    (
        "a fixed KMS key",
        [allow(condition={"StringEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": KEY_ARN}})],
        False,
    ),
    (
        "aws:userid of a role session",
        [allow(condition={"StringLike": {"aws:userid": "AROAEXAMPLE:*"}})],
        True,
    ),
    (
        "access point name wildcard, fixed account",
        [
            allow(
                condition={
                    "ArnLike": {"s3:DataAccessPointArn": "arn:aws:s3:us-west-2:123456789012:accesspoint/*"}
                }
            )
        ],
        False,
    ),
    (
        "access point account wildcard",
        [allow(condition={"ArnLike": {"s3:DataAccessPointArn": "arn:aws:s3:us-west-2:*:accesspoint/*"}})],
        True,
    ),
    ("a /24", [allow(condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})], False),
    ("a /8", [allow(condition={"IpAddress": {"aws:SourceIp": "11.0.0.0/8"}})], False),
    ("broader than /8", [allow(condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}})], True),
    ("RFC 1918 range", [allow(condition={"IpAddress": {"aws:SourceIp": "172.16.0.0/12"}})], False),
    (
        "one broad range among narrow ones",
        [allow(condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "0.0.0.0/0"]}})],
        True,
    ),
    ("IPv6 /32", [allow(condition={"IpAddress": {"aws:SourceIp": "2001:db8::/32"}})], False),
    ("IPv6 broader than /32", [allow(condition={"IpAddress": {"aws:SourceIp": "2001::/16"}})], True),
    (
        "NotIpAddress does not restrict",
        [allow(condition={"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}})],
        True,
    ),
    ("one public statement makes the policy public", [allow({"AWS": ACCOUNT}), allow()], True),
]


@pytest.mark.parametrize(("statements", "expected"), [pytest.param(s, e, id=n) for n, s, e in CASES])
def test_is_public(statements: list[dict[str, Any]], expected: bool) -> None:
    doc = json.dumps({"Version": "2012-10-17", "Statement": statements})
    policy = parse_policy(doc, kind="bucket", account_id=ACCOUNT, bucket=BUCKET)
    assert statement_allows_public(policy) is expected
