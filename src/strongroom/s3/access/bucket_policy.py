"""Bucket policies, the model: the stored policy (catalog bucket config kind "policy", the text
verbatim, as GetBucketPolicy returns what was put), its validation when put and its parsed form
for evaluation. The handlers (Put, Get, DeleteBucketPolicy, GetBucketPolicyStatus) are in
`strongroom.s3.bucket_policy`.

AWS facts used here:
- A policy the engine refuses is 400 MalformedPolicy with the engine's message (AWS's wording,
  see strongroom.policy.document); a named principal that does not exist is "Invalid principal
  in policy" (S3 user guide, "Bucket policy examples": S3 validates principals when the policy
  is put).
- "The maximum size of a policy is 20 KB" (S3 user guide, "Special information for Amazon S3
  policies"); a bigger one is refused as MalformedPolicy. AWS documents the limit but not the
  error's wording: "Policy exceeds the maximum allowed document size." is the wording other
  S3 implementations use for it.
- PutBucketPolicy answers 204; DeleteBucketPolicy 204 also when there is none.
- GetBucketPolicy and GetBucketPolicyStatus without a policy: 404 NoSuchBucketPolicy, "The bucket
  policy does not exist".
- BlockPublicPolicy: "Setting this element to TRUE causes Amazon S3 to reject calls to PUT Bucket
  policy if the specified bucket policy allows public access" (API PublicAccessBlockConfiguration),
  answered as 403 AccessDenied "User: <arn> is not authorized to perform: s3:PutBucketPolicy on
  resource: "<bucket arn>" because public policies are blocked by the BlockPublicPolicy block
  public access setting." (as AWS words it in responses users report).
- GetBucketPolicyStatus: `<PolicyStatus><IsPublic>` by "The meaning of 'public'" (policy.public).
"""

from __future__ import annotations

import json
import logging
import re
from functools import lru_cache

from strongroom.catalog.api import Catalog
from strongroom.errors import S3Error
from strongroom.policy import Policy, PolicyError, parse_policy, statement_allows_public

log = logging.getLogger("strongroom.authorization")

KIND = "policy"
MAX_POLICY_BYTES = 20 * 1024
_USER_ARN = re.compile(r"arn:aws:iam::([0-9]{12}):user/(?:.*/)?([^/]+)")


def malformed_policy(message: str) -> S3Error:
    return S3Error("MalformedPolicy", 400, message)


def policy_too_large() -> S3Error:
    return malformed_policy("Policy exceeds the maximum allowed document size.")


def no_such_bucket_policy(bucket: str) -> S3Error:
    return S3Error("NoSuchBucketPolicy", 404, "The bucket policy does not exist", BucketName=bucket)


def public_policy_blocked(principal_arn: str, bucket: str) -> S3Error:
    return S3Error(
        "AccessDenied", 403,
        f"User: {principal_arn} is not authorized to perform: s3:PutBucketPolicy on resource: "
        f'"arn:aws:s3:::{bucket}" because public policies are blocked by the BlockPublicPolicy block public '
        "access setting.")


def principal_exists(catalog: Catalog, account_id: str, name: str) -> bool:
    """Whether a principal a policy names exists: this account, its root, a user by ARN or canonical id."""
    if not name.startswith("arn:"):
        return catalog.get_user_by_id(name.lower()) is not None  # a canonical user id
    if name == f"arn:aws:iam::{account_id}:root":
        return True
    m = _USER_ARN.fullmatch(name)
    if m is None or m.group(1) != account_id:
        return False  # roles, sessions and other accounts: none exist in a strongroom deployment
    user = catalog.get_user(m.group(2))
    return user is not None and not user.is_root


def validate(catalog: Catalog, account_id: str, bucket: str, text: str) -> Policy:
    """Parse a policy being put, as S3 validates it (blocking: it asks the catalog about principals)."""
    return parse_policy(text, kind="bucket", account_id=account_id, bucket=bucket,
                        known_principals=lambda name: principal_exists(catalog, account_id, name))


@lru_cache(maxsize=1024)
def parsed(text: str, account_id: str, bucket: str) -> tuple[Policy, bool]:
    """A stored policy for evaluation, and whether it is public. It was validated when it was put;
    a principal removed since then simply matches nobody."""
    policy = parse_policy(text, kind="bucket", account_id=account_id, bucket=bucket,
                          known_principals=lambda _name: True)
    return policy, statement_allows_public(policy)


def deny_all(bucket: str) -> str:
    """The policy that stands in for a stored one that no longer parses."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]})


def stored(text: str | None, account: str, bucket: str) -> tuple[Policy | None, bool]:
    """A bucket's stored policy for evaluation (None without one), and whether it is public."""
    if text is None:
        return None, False
    try:
        return parsed(text, account, bucket)
    except PolicyError:
        # Validated when it was put, so only a changed engine gets here. Fail closed: deny everything but
        # the owner's policy management, which skips the policy, so the owner can replace it.
        log.error("bucket %s: its stored policy no longer parses; denying all access until it is replaced",
                  bucket)
        return parsed(deny_all(bucket), account, bucket)
