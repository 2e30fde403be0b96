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
- A principal named by ARN is saved as its unique ID, shown back as the ARN while it exists, and as
  the ID once it is deleted; a user re-created under the same name is not named by the policy (IAM
  user guide, id_roles_create_policy-examples: "When you save the policy, AWS transforms the ARN to a
  unique principal ID [...] if you delete the role or user, then the relationship is broken [...] the
  principal ID shows up [...] because AWS can no longer map it back to an ARN").

The text stays verbatim (kind "policy"); the IDs its user ARNs stood for when it was put are kept beside
it (kind "policy-principals": a JSON object, ARN as written -> "AIDA..." ID). Evaluation reads the ARNs as
those IDs; GetBucketPolicy shows the ID in place of an ARN whose user is gone. A policy put before this
record existed has none: its ARNs still name users by name.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from strongroom.catalog.api import Catalog
from strongroom.catalog.model import User
from strongroom.errors import S3Error
from strongroom.identity import unique_id
from strongroom.policy import Policy, PolicyError, parse_policy, statement_allows_public

log = logging.getLogger("strongroom.authorization")

KIND = "policy"
PRINCIPALS_KIND = "policy-principals"
MAX_POLICY_BYTES = 20 * 1024
_USER_ARN = re.compile(r"arn:aws:iam::([0-9]{12}):user/(?:.*/)?([^/]+)")
_UNIQUE_ID = re.compile(r"AIDA[0-9A-Z]{12,124}")


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


def _named_user(catalog: Catalog, account_id: str, name: str) -> User | None:
    """The existing (non-root) user a principal entry names: by ARN, or by unique ID."""
    if _UNIQUE_ID.fullmatch(name):
        return next((u for u in catalog.list_users() if not u.is_root and unique_id(u) == name), None)
    m = _USER_ARN.fullmatch(name)
    if m is None or m.group(1) != account_id:
        return None
    user = catalog.get_user(m.group(2))
    return user if user is not None and not user.is_root else None


def principal_exists(catalog: Catalog, account_id: str, name: str) -> bool:
    """Whether a principal a policy names exists: this account, its root, a user by ARN, unique ID or
    canonical id."""
    if name == f"arn:aws:iam::{account_id}:root":
        return True
    if not name.startswith("arn:") and not _UNIQUE_ID.fullmatch(name):
        return catalog.get_user_by_id(name.lower()) is not None  # a canonical user id
    # roles, sessions and other accounts: none exist in a strongroom deployment
    return _named_user(catalog, account_id, name) is not None


def validate(catalog: Catalog, account_id: str, bucket: str, text: str) -> tuple[Policy, str | None]:
    """Parse a policy being put, as S3 validates it (blocking: it asks the catalog about principals), and
    the unique IDs of the users its ARNs name now (the PRINCIPALS_KIND record; None when it names none)."""
    ids: dict[str, str] = {}

    def known(name: str) -> bool:
        if name.startswith("arn:") and (user := _named_user(catalog, account_id, name)) is not None:
            ids[name] = unique_id(user)
            return True
        return principal_exists(catalog, account_id, name)

    policy = parse_policy(text, kind="bucket", account_id=account_id, bucket=bucket, known_principals=known)
    return policy, json.dumps(ids, sort_keys=True) if ids else None


def _map_principals(text: str, change: Callable[[str], str]) -> str | None:
    """The policy with each `AWS` entry of every Principal and NotPrincipal passed through `change`
    (compact JSON), or None when nothing changed. Only Principal elements: a Condition that names an ARN
    is a string comparison, as on AWS."""
    doc: Any = json.loads(text)
    changed = False

    def entry(value: Any) -> Any:
        nonlocal changed
        if isinstance(value, str):
            new = change(value)
            changed = changed or new != value
            return new
        return value

    statements = doc.get("Statement") if isinstance(doc, dict) else None
    for st in statements if isinstance(statements, list) else [statements]:
        if not isinstance(st, dict):
            continue
        for element in ("Principal", "NotPrincipal"):
            value = st.get(element)
            if isinstance(value, dict) and "AWS" in value:
                aws = value["AWS"]
                value["AWS"] = [entry(v) for v in aws] if isinstance(aws, list) else entry(aws)
    return json.dumps(doc) if changed else None


@lru_cache(maxsize=1024)
def parsed(text: str, principals: str | None, account_id: str, bucket: str) -> tuple[Policy, bool]:
    """A stored policy for evaluation, and whether it is public. It was validated when it was put; its
    user ARNs stand for the IDs in `principals`, and a principal removed since then matches nobody."""
    if principals:
        ids = json.loads(principals)
        text = _map_principals(text, lambda e: ids.get(e, e)) or text
    policy = parse_policy(text, kind="bucket", account_id=account_id, bucket=bucket,
                          known_principals=lambda _name: True)
    return policy, statement_allows_public(policy)


def render(text: str, principals: str | None, users: list[User], account_id: str) -> str:
    """The policy as GetBucketPolicy shows it: verbatim while every user it names exists; the unique ID
    in place of the ARN of a user who is gone, and the ARN of a user named by ID."""
    ids = json.loads(principals) if principals else {}
    if not ids and "AIDA" not in text:
        return text
    by_id = {unique_id(u): u for u in users if not u.is_root}

    def shown(entry: str) -> str:
        if entry in ids and ids[entry] not in by_id:
            return str(ids[entry])
        if _UNIQUE_ID.fullmatch(entry) and entry in by_id:
            return f"arn:aws:iam::{account_id}:user/{by_id[entry].name}"
        return entry

    return _map_principals(text, shown) or text


def deny_all(bucket: str) -> str:
    """The policy that stands in for a stored one that no longer parses."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]})


def stored(text: str | None, principals: str | None, account: str, bucket: str) -> tuple[Policy | None, bool]:
    """A bucket's stored policy for evaluation (None without one), and whether it is public."""
    if text is None:
        return None, False
    try:
        return parsed(text, principals, account, bucket)
    except PolicyError:
        # Validated when it was put, so only a changed engine gets here. Fail closed: deny everything but
        # the owner's policy management, which skips the policy, so the owner can replace it.
        log.error("bucket %s: its stored policy no longer parses; denying all access until it is replaced",
                  bucket)
        return parsed(deny_all(bucket), None, account, bucket)
