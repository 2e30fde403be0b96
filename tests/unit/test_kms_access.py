"""kms.access: the one KMS authorization (key policy + identity policies, as AWS KMS decides), the same
for S3's SSE-KMS path and the KMS API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from strongroom.kms import key_policy
from strongroom.kms.access import KmsCaller, KmsRequest, context_keys, decide, judge, via_s3_keys
from strongroom.kms.errors import KmsError
from strongroom.policy import Decision, Policy, Principal, parse_policy

ACCOUNT = "123456789012"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0987dcba-09fe-87dc-65ba-ab0987654321"
ALICE = Principal.user(ACCOUNT, "alice", "AIDAALICE")
ROOT = Principal.root(ACCOUNT)
DEFAULT = key_policy.parse(key_policy.default_policy(ACCOUNT), ACCOUNT)
MANAGED = key_policy.parse(key_policy.aws_s3_policy(ACCOUNT, "us-east-1"), ACCOUNT)


def policy(*statements: dict[str, Any]) -> Policy:
    doc = {"Version": "2012-10-17", "Statement": list(statements)}
    return parse_policy(json.dumps(doc), kind="identity", account_id=ACCOUNT)


def key_pol(*statements: dict[str, Any]) -> Policy:
    return key_policy.parse(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), ACCOUNT)


def alice(*policies: Policy) -> KmsCaller:
    return KmsCaller(ALICE, tuple(policies))


def on_key(action: str, kp: Policy | None = DEFAULT, keys: dict[str, Any] | None = None,
           key: str = KEY) -> KmsRequest:
    return KmsRequest(action, (key,), keys or {}, kp)


def test_anonymous_never_root_by_the_default_key_policy() -> None:
    deny_all = policy({"Effect": "Deny", "Action": "kms:*", "Resource": "*"})
    anonymous = KmsCaller(Principal.anonymous(), (deny_all,))
    root = KmsCaller(ROOT, (deny_all,))  # identity policies do not bind the root user
    for action in ("kms:Decrypt", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"):
        assert decide(anonymous, on_key(action)) is Decision.IMPLICIT_DENY
        assert decide(root, on_key(action)) is Decision.ALLOW
    assert decide(root, KmsRequest("kms:CreateKey")) is Decision.ALLOW


def test_a_key_policy_that_no_longer_names_the_account_locks_out_root_too() -> None:
    only_alice = key_pol({"Effect": "Allow", "Principal": {"AWS": ALICE.arn}, "Action": "kms:*",
                          "Resource": "*"})
    verdict = judge(KmsCaller(ROOT), on_key("kms:Decrypt", only_alice))
    assert verdict.decision is Decision.IMPLICIT_DENY and verdict.policy == "resource-based"
    assert decide(alice(), on_key("kms:Decrypt", only_alice)) is Decision.ALLOW  # named: no IAM needed


@pytest.mark.parametrize("action", ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey",
                                    "kms:DisableKey", "kms:PutKeyPolicy"])
def test_under_the_default_key_policy_a_user_needs_an_identity_allow(action: str) -> None:
    verdict = judge(alice(), on_key(action))
    assert verdict.decision is Decision.IMPLICIT_DENY and verdict.policy == "identity-based"
    allow = policy({"Effect": "Allow", "Action": action, "Resource": KEY})
    assert decide(alice(allow), on_key(action)) is Decision.ALLOW
    assert decide(alice(allow), on_key(action, key=OTHER)) is Decision.IMPLICIT_DENY


def test_identity_policies_alone_do_not_reach_a_key_whose_policy_does_not_enable_them() -> None:
    allow = policy({"Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    nobody = key_pol({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/bob"},
                      "Action": "kms:*", "Resource": "*"})
    verdict = judge(alice(allow), on_key("kms:Decrypt", nobody))
    assert verdict.decision is Decision.IMPLICIT_DENY and verdict.policy == "resource-based"
    assert decide(alice(allow), KmsRequest("kms:CreateKey")) is Decision.ALLOW  # the account: IAM alone


def test_an_explicit_deny_anywhere_wins() -> None:
    deny = policy({"Effect": "Deny", "Action": "kms:*", "Resource": "*"},
                  {"Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    assert decide(alice(deny), on_key("kms:Decrypt")) is Decision.DENY
    assert decide(alice(deny), KmsRequest("kms:CreateKey")) is Decision.DENY
    denying_key = key_pol(
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"})
    allow = policy({"Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    verdict = judge(alice(allow), on_key("kms:Decrypt", denying_key))
    assert verdict.decision is Decision.DENY and verdict.policy == "resource-based"
    assert decide(KmsCaller(ROOT), on_key("kms:Decrypt", denying_key)) is Decision.DENY
    assert decide(alice(allow), on_key("kms:Encrypt", denying_key)) is Decision.ALLOW


def test_the_aws_s3_key_is_for_everyone_of_the_account_through_s3_only() -> None:
    through_s3 = via_s3_keys("us-east-1", ACCOUNT)
    for who in (alice(), KmsCaller(ROOT)):
        assert decide(who, on_key("kms:GenerateDataKey", MANAGED, through_s3)) is Decision.ALLOW
        assert decide(who, on_key("kms:Decrypt", MANAGED, through_s3)) is Decision.ALLOW
        direct = {"kms:CallerAccount": ACCOUNT}
        assert decide(who, on_key("kms:Decrypt", MANAGED, direct)) is not Decision.ALLOW
        assert decide(who, on_key("kms:PutKeyPolicy", MANAGED, through_s3)) is not Decision.ALLOW
    assert decide(KmsCaller(ROOT), on_key("kms:DescribeKey", MANAGED, {})) is Decision.ALLOW
    other_region = via_s3_keys("eu-west-1", ACCOUNT)
    assert decide(alice(), on_key("kms:Decrypt", MANAGED, other_region)) is Decision.IMPLICIT_DENY


def test_encryption_context_condition_keys() -> None:
    keys = context_keys({"aws:s3:arn": "arn:aws:s3:::b/k", "dept": "x"})
    assert keys["kms:encryptioncontextkeys"] == ["aws:s3:arn", "dept"]
    only_bucket_b = policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Condition": {
        "StringLike": {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::b/*"}}})
    assert decide(alice(only_bucket_b), on_key("kms:Decrypt", keys=keys)) is Decision.ALLOW
    elsewhere = context_keys({"aws:s3:arn": "arn:aws:s3:::c/k"})
    assert decide(alice(only_bucket_b), on_key("kms:Decrypt", keys=elsewhere)) is Decision.IMPLICIT_DENY


def test_via_service_conditions_in_identity_policies() -> None:
    only_via_s3 = policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Condition": {
        "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}})
    assert decide(alice(only_via_s3), on_key("kms:Decrypt", keys=via_s3_keys("us-east-1", ACCOUNT))) \
        is Decision.ALLOW
    assert decide(alice(only_via_s3), on_key("kms:Decrypt", keys={"kms:CallerAccount": ACCOUNT})) \
        is Decision.IMPLICIT_DENY


@pytest.mark.parametrize("text", ["not json", "[]", '{"Statement": []}', "{" * 100000,
                                  '{"Statement": {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}}',
                                  '{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:*", '
                                  '"Resource": "*"}}'])
def test_malformed_key_policies(text: str) -> None:
    with pytest.raises(KmsError) as e:
        key_policy.parse(text, ACCOUNT)
    assert e.value.code == "MalformedPolicyDocumentException"
