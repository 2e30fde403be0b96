"""kms.access: the one KMS authorization, decided the same way for S3's SSE-KMS path and the KMS API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from strongroom.kms.access import KMS_USE_ACTIONS, KmsCaller, KmsRequest, decide, via_s3_keys
from strongroom.policy import Decision, Policy, Principal, parse_policy

ACCOUNT = "123456789012"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"
ALICE = Principal.user(ACCOUNT, "alice", "AIDAALICE")


def policy(*statements: dict[str, Any]) -> Policy:
    doc = {"Version": "2012-10-17", "Statement": list(statements)}
    return parse_policy(json.dumps(doc), kind="identity", account_id=ACCOUNT)


def alice(*policies: Policy) -> KmsCaller:
    return KmsCaller(ALICE, tuple(policies))


def test_anonymous_never_and_root_always() -> None:
    deny_all = policy({"Effect": "Deny", "Action": "kms:*", "Resource": "*"})
    anonymous = KmsCaller(Principal.anonymous(), (deny_all,))
    root = KmsCaller(Principal.root(ACCOUNT), (deny_all,))
    for action in ("kms:Decrypt", "kms:CreateKey", "kms:ScheduleKeyDeletion"):
        assert decide(anonymous, KmsRequest(action, (KEY,))) is Decision.IMPLICIT_DENY
        assert decide(root, KmsRequest(action, (KEY,))) is Decision.ALLOW


@pytest.mark.parametrize("action", sorted(KMS_USE_ACTIONS))
def test_using_a_key_is_allowed_by_default(action: str) -> None:
    assert decide(alice(), KmsRequest(action, (KEY,))) is Decision.ALLOW


@pytest.mark.parametrize("action", ["kms:CreateKey", "kms:DisableKey", "kms:ScheduleKeyDeletion",
                                    "kms:CreateAlias", "kms:EnableKeyRotation"])
def test_managing_a_key_needs_an_allow_or_having_made_it(action: str) -> None:
    assert decide(alice(), KmsRequest(action, (KEY,))) is Decision.IMPLICIT_DENY
    allow = policy({"Effect": "Allow", "Action": action, "Resource": KEY})
    assert decide(alice(allow), KmsRequest(action, (KEY,))) is Decision.ALLOW
    assert decide(alice(allow), KmsRequest(action, (OTHER,))) is Decision.IMPLICIT_DENY
    assert decide(alice(), KmsRequest(action, (KEY,), key_creator="AIDAALICE")) is Decision.ALLOW
    assert decide(alice(), KmsRequest(action, (KEY,), key_creator="AIDABOB")) is Decision.IMPLICIT_DENY


def test_an_explicit_deny_wins_over_every_default() -> None:
    deny = policy({"Effect": "Deny", "Action": "kms:*", "Resource": "*"},
                  {"Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    for action in ("kms:Decrypt", "kms:DescribeKey", "kms:CreateKey"):
        request = KmsRequest(action, (KEY,), key_creator="AIDAALICE")
        assert decide(alice(deny), request) is Decision.DENY
    one_key = policy({"Effect": "Deny", "Action": "kms:Decrypt", "Resource": KEY})
    assert decide(alice(one_key), KmsRequest("kms:Decrypt", (KEY,))) is Decision.DENY
    assert decide(alice(one_key), KmsRequest("kms:Decrypt", (OTHER,))) is Decision.ALLOW
    assert decide(alice(one_key), KmsRequest("kms:Encrypt", (KEY,))) is Decision.ALLOW


def test_s3s_calls_carry_via_service_and_caller_account() -> None:
    only_via_s3 = policy({"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*", "Condition": {
        "StringNotEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}})
    through_s3 = KmsRequest("kms:Decrypt", (KEY,), via_s3_keys("us-east-1", ACCOUNT))
    assert decide(alice(only_via_s3), through_s3) is Decision.ALLOW
    direct = KmsRequest("kms:Decrypt", (KEY,), {"kms:CallerAccount": ACCOUNT})
    assert decide(alice(only_via_s3), direct) is Decision.DENY
    assert via_s3_keys("eu-west-1", ACCOUNT) == {"kms:ViaService": "s3.eu-west-1.amazonaws.com",
                                                  "kms:CallerAccount": ACCOUNT}
