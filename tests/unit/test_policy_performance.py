"""Big and hostile policies parse and evaluate without blowing up (no backtracking explosion).

The bounds are generous guards against exponential cost, not speed targets (those live in bench/), and
they count this process's CPU time, not wall time, so a busy machine does not fail them.

AWS caps a bucket policy at 20 KB (the caller checks); these documents are far larger, so
that parse and evaluation cost is known well past any policy AWS would accept.
"""

from __future__ import annotations

import json
import time
from typing import Any

from strongroom.policy import S3_ACTIONS, Decision, Principal, RequestContext, evaluate, parse_policy

ACCOUNT = "111122223333"
BUCKET = "examplebucket"
USERS = [f"arn:aws:iam::{ACCOUNT}:user/u{i}" for i in range(50)]


def _known(name: str) -> bool:
    return name in USERS or name == f"arn:aws:iam::{ACCOUNT}:root"


def _big_bucket_policy(n: int) -> str:
    statements: list[dict[str, Any]] = []
    for i in range(n):
        statements.append(
            {
                "Sid": f"S{i}",
                "Effect": "Deny" if i % 10 == 0 else "Allow",
                "Principal": {"AWS": USERS[i % len(USERS)]},
                "Action": ["s3:GetObject", "s3:PutObject", "s3:Get*Tagging"],
                "Resource": f"arn:aws:s3:::{BUCKET}/p{i}/*",
                "Condition": {
                    "StringLike": {"s3:x-amz-meta-tag": f"t{i}-*"},
                    "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]},
                    "Bool": {"aws:SecureTransport": "true"},
                },
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _hostile_identity_policy() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "s3:" + "*" * 5000,
                    "Resource": "arn:aws:s3:::" + "*" * 5000,
                    "Condition": {"StringLike": {"s3:prefix": "*a" * 2500 + "b"}},
                },
                {
                    "Effect": "Allow",
                    "Action": "s3:*" + "?" * 5 + "*",
                    "Resource": "arn:aws:s3:::" + "*a?" * 1500 + "z",
                    "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:" + "*u" * 2000 + "!"}},
                },
            ],
        }
    )


def _timed(fn: Any) -> tuple[Any, float]:
    start = time.process_time()
    result = fn()
    return result, time.process_time() - start


def test_five_thousand_statements() -> None:
    text = _big_bucket_policy(5000)
    policy, parse_seconds = _timed(
        lambda: parse_policy(text, kind="bucket", account_id=ACCOUNT, known_principals=_known, bucket=BUCKET)
    )
    assert len(policy.statements) == 5000
    assert parse_seconds < 5.0, f"parse took {parse_seconds:.3f}s"

    # The worst case: nothing applies, so every statement is looked at.
    miss = RequestContext(
        "s3:GetObject",
        (f"arn:aws:s3:::{BUCKET}/nowhere/k",),
        Principal.user(ACCOUNT, "u1", "AIDAU1"),
        {"aws:SourceIp": "10.1.2.3", "aws:SecureTransport": "true"},
    )
    decision, eval_seconds = _timed(lambda: evaluate(miss, resource_policy=policy))
    assert decision is Decision.IMPLICIT_DENY
    assert eval_seconds < 0.5, f"evaluate took {eval_seconds:.3f}s"

    hit = RequestContext(
        "s3:GetObject",
        (f"arn:aws:s3:::{BUCKET}/p4999/k",),
        Principal.user(ACCOUNT, "u49", "AIDAU49"),
        {"aws:SourceIp": "10.1.2.3", "aws:SecureTransport": "true", "s3:x-amz-meta-tag": "t4999-x"},
    )
    assert evaluate(hit, resource_policy=policy) is Decision.ALLOW
    denied = RequestContext(
        "s3:GetObject",
        (f"arn:aws:s3:::{BUCKET}/p4990/k",),
        Principal.user(ACCOUNT, "u40", "AIDAU40"),
        {"aws:SourceIp": "10.1.2.3", "aws:SecureTransport": "true", "s3:x-amz-meta-tag": "t4990-"},
    )
    assert evaluate(denied, resource_policy=policy) is Decision.DENY


def test_hostile_wildcards() -> None:
    text = _hostile_identity_policy()
    policy, parse_seconds = _timed(lambda: parse_policy(text, kind="identity", account_id=ACCOUNT))
    assert parse_seconds < 2.0, f"parse took {parse_seconds:.3f}s"
    ctx = RequestContext(
        "s3:GetObject",
        ("arn:aws:s3:::" + "a" * 1000 + "/" + "a" * 1024,),
        Principal.user(ACCOUNT, "u" * 60, "AIDAU"),
        {"s3:prefix": "a" * 1024},
    )
    decision, eval_seconds = _timed(lambda: evaluate(ctx, identity_policies=[policy]))
    assert decision is Decision.IMPLICIT_DENY
    assert eval_seconds < 0.5, f"evaluate took {eval_seconds:.3f}s"


def test_many_distinct_wildcard_actions_validate_fast() -> None:
    # Each distinct wildcard action is checked against the whole catalogue once: 3000 distinct
    # patterns that each name something is the worst case for validation.
    pieces = sorted(
        {name[i : i + k] for name in S3_ACTIONS for k in (3, 4, 5, 6, 7) for i in range(3, len(name) - k)}
    )
    actions = [f"s3:*{p}*" for p in pieces[:3000]]
    assert len(actions) == 3000
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions[i::10], "Resource": "*"} for i in range(10)],
        }
    )
    policy, seconds = _timed(lambda: parse_policy(text, kind="identity", account_id=ACCOUNT))
    assert len(policy.statements) == 10
    assert seconds < 3.0, f"parse took {seconds:.3f}s"
