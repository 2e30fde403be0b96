"""Key policies: the documents AWS KMS gives a key by default, and parsing one as PutKeyPolicy does.

Every KMS key has exactly one key policy, named "default" (KMS developer guide, "Key policies in AWS
KMS"; GetKeyPolicy API reference: PolicyName is `default`). A key made without one gets AWS's default
key policy ("Default key policy": the account's root principal is allowed `kms:*`, which lets IAM
policies decide for the account's users). The `aws/s3` AWS managed key has the policy AWS gives it
(recorded from a real account: Id "auto-s3-2"): every principal of the account may use it through S3
(kms:ViaService, kms:CallerAccount), and the account may read its metadata directly. Pure.
"""

from __future__ import annotations

import json
from functools import lru_cache

from strongroom.kms import errors
from strongroom.policy import Policy, PolicyError, parse_policy

POLICY_NAME = "default"
MAX_POLICY = 32768  # PutKeyPolicy / CreateKey API reference: Policy, length 1 to 32768
# PutKeyPolicy API reference (BypassPolicyLockoutSafetyCheck) and the KMS developer guide.
LOCKOUT = "The new key policy will not allow you to update the key policy in the future."


def default_policy(account: str) -> str:
    """AWS's default key policy (KMS developer guide, "Default key policy"), as GetKeyPolicy shows it."""
    return json.dumps({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }],
    }, indent=2)


def aws_s3_policy(account: str, region: str) -> str:
    """The key policy of the `aws/s3` AWS managed key."""
    return json.dumps({
        "Version": "2012-10-17",
        "Id": "auto-s3-2",
        "Statement": [{
            "Sid": "Allow access through S3 for all principals in the account that are authorized to use S3",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                       "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:CallerAccount": account,
                                           "kms:ViaService": f"s3.{region}.amazonaws.com"}},
        }, {
            "Sid": "Allow direct access to key metadata to the account",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
            "Resource": "*",
        }],
    }, indent=2)


def check_text(text: object) -> str:
    """The Policy member as AWS checks it before reading it: a string of 1 to 32768 characters."""
    if not isinstance(text, str):
        raise errors.serialization("Value for Policy must be a string")
    if not text:
        raise errors.constraint(text, "policy", "must have length greater than or equal to 1")
    if len(text) > MAX_POLICY:
        raise errors.constraint("***", "policy", f"must have length less than or equal to {MAX_POLICY}")
    return text


def parse(text: str, account: str) -> Policy:
    """A key policy read as AWS reads one; MalformedPolicyDocumentException when it is not one."""
    try:
        return _parse(text, account)
    except PolicyError as e:
        raise errors.malformed_policy(str(e) or "The policy is not valid JSON.") from None
    except RecursionError:
        raise errors.malformed_policy("The policy is not valid JSON.") from None


@lru_cache(maxsize=1024)
def _parse(text: str, account: str) -> Policy:
    return parse_policy(text, kind="key", account_id=account)
