"""Policies attached to users: `strongroom policy attach | detach | list`, and their parsed form.

A user policy is an IAM identity-based policy document (no Principal; S3, KMS and STS
actions). It is validated with the policy engine when attached, stored verbatim in the
catalog under the user's id, and parsed again (cached by text) when requests are decided.

IAM rules followed: policy names are 1-128 characters of letters, digits and `+=,.@_-`
(IAM PutUserPolicy `PolicyName`); a policy document may not exceed 6,144 characters, not
counting white space (IAM quotas, "Managed policy size"), with IAM's message for it. The root
user takes no policies: on AWS an account's root user cannot be given IAM policies.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from strongroom.catalog.api import Catalog
from strongroom.catalog.model import User
from strongroom.policy import Policy, PolicyError, parse_policy

MAX_POLICY_CHARS = 6144
_NAME = re.compile(r"[\w+=,.@-]{1,128}", re.ASCII)


class UserPolicyError(Exception):
    """A refused `strongroom policy` command; the message is for the operator."""


@lru_cache(maxsize=1024)
def parsed(text: str, account_id: str) -> Policy:
    """A stored identity policy, parsed for evaluation (it was validated when attached)."""
    return parse_policy(text, kind="identity", account_id=account_id, known_principals=lambda _name: True)


def validate(text: str, account_id: str) -> Policy:
    """Parse a new user policy as IAM would; raise UserPolicyError with the engine's message."""
    if sum(1 for c in text if not c.isspace()) > MAX_POLICY_CHARS:
        raise UserPolicyError(f"Cannot exceed quota for PolicySize: {MAX_POLICY_CHARS}")
    try:
        return parse_policy(text, kind="identity", account_id=account_id)
    except PolicyError as e:
        raise UserPolicyError(f"MalformedPolicyDocument: {e.message}") from None


def _user(catalog: Catalog, name: str) -> User:
    user = catalog.get_user(name)
    if user is None:
        raise UserPolicyError(f"no user {name}")
    if user.is_root:
        raise UserPolicyError("the root user takes no policies: it may do everything")
    return user


def default_name(path: Path) -> str:
    """The policy name a file gives when --name is not said: its stem, made a valid name."""
    stem = re.sub(r"[^\w+=,.@-]", "-", path.stem, flags=re.ASCII)[:128]
    return stem or "policy"


def attach(catalog: Catalog, account_id: str, user_name: str, text: str, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise UserPolicyError(f"invalid policy name {name!r}: 1-128 of letters, digits and +=,.@_-")
    user = _user(catalog, user_name)
    validate(text, account_id)
    catalog.put_user_policy(user.user_id, name, text)


def detach(catalog: Catalog, user_name: str, name: str) -> None:
    user = _user(catalog, user_name)
    if not catalog.delete_user_policy(user.user_id, name):
        raise UserPolicyError(f"user {user_name} has no policy {name}")


def listing(catalog: Catalog, user_name: str | None) -> list[tuple[str, str, str]]:
    """(user name, policy name, document) for one user, or for every user."""
    users = [_user(catalog, user_name)] if user_name is not None else [
        u for u in catalog.list_users() if not u.is_root]
    return [(u.name, name, doc) for u in users for name, doc in catalog.list_user_policies(u.user_id)]


def policies_of(catalog: Catalog, user: User, account_id: str) -> list[Policy]:
    """The parsed policies of a user, for evaluation (blocking: run it on the executor)."""
    if user.is_root:
        return []
    return [parsed(doc, account_id) for _name, doc in catalog.list_user_policies(user.user_id)]


def run_command(catalog: Catalog, action: str, user: str | None, file: str | None = None,
                name: str | None = None) -> int:
    """`strongroom policy attach|detach|list`: print the outcome, return the exit status."""
    import sys

    account_id = catalog.get_setting("account_id") or ""
    try:
        if action == "attach":
            assert user is not None and file is not None
            path = Path(file)
            try:
                text = path.read_text("utf-8")
            except (OSError, UnicodeDecodeError) as e:
                raise UserPolicyError(f"cannot read {file}: {e}") from None
            policy_name = name or default_name(path)
            attach(catalog, account_id, user, text, policy_name)
            print(f"attached policy {policy_name} to user {user}")
        elif action == "detach":
            assert user is not None and name is not None
            detach(catalog, user, name)
            print(f"detached policy {name} from user {user}")
        else:
            for user_name, policy_name, document in listing(catalog, user):
                print(f"{user_name}\t{policy_name}\t{' '.join(document.split())}")
    except UserPolicyError as e:
        print(f"strongroom: {e}", file=sys.stderr)
        return 1
    return 0
