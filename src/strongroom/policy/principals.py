"""Who is asking (`Principal`), who a statement names (`PrincipalSpec`), and how the two meet.

Facts from the IAM "Principal" and "NotPrincipal" element pages:
- `"*"` and `{"AWS": "*"}` are the same and include anonymous requesters.
- An account (`"123456789012"` or `arn:aws:iam::123456789012:root`) *delegates* to the
  account: it is not limited to the root user, but an IAM user of that account still
  needs its own identity-based permission (so for an Allow it is not a grant to the user;
  for a Deny it does cover the user).
- No wildcard may stand for part of a principal name or ARN; user names are case-sensitive.
- NotPrincipal is checked for each identity in the chain: a user is excluded only when
  both its ARN and its account are listed ("if the NotPrincipal element contained only
  Bob's ARN, the effect of the policy might be to explicitly deny access to the AWS
  account that contains the user Bob").
- "When you save the policy, AWS transforms the ARN to a unique principal ID. This helps
  mitigate the risk of someone escalating their privileges by removing and recreating the
  role or user. [...] if you delete the role or user, then the relationship is broken [...]
  the principal ID shows up [...] because AWS can no longer map it back to an ARN" (IAM user
  guide, id_roles_create_policy-examples). A unique ID ("AIDA...") in an `AWS` entry
  therefore names exactly that user (`Principal.unique_id`), never a later one of the same
  name; the bucket-policy model (s3/access/bucket_policy.py) does the transformation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from strongroom.policy.errors import PolicyError

PrincipalKind = Literal["anonymous", "user", "root", "service"]
Match = Literal["direct", "account"]

INVALID_PRINCIPAL = "Invalid principal in policy"
EMPTY_PRINCIPAL = "Missing required field Principal cannot be empty!"

_ACCOUNT = re.compile(r"[0-9]{12}")
_ROOT_ARN = re.compile(r"arn:aws:iam::([0-9]{12}):root")
# IAM user: optional path of /-separated segments, then the name ([\w+=,.@-]{1,64}).
# Path segments exclude '/', so the split into segments is unambiguous (no backtracking blow-up).
_USER_ARN = re.compile(
    r"arn:aws:iam::([0-9]{12}):user/(?:[\x21-\x29\x2b-\x2e\x30-\x3e\x40-\x7e]+/)*[A-Za-z0-9_+=,.@-]{1,64}")
_OTHER_ARN = re.compile(r"arn:aws:(?:iam|sts)::[0-9]{12}:[\x21-\x29\x2b-\x3e\x40-\x7e]+")
_CANONICAL = re.compile(r"[0-9a-fA-F]{64}")
_UNIQUE_ID = re.compile(r"AIDA[0-9A-Z]{12,124}")  # an IAM user's unique ID (IAM "Unique identifiers")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated requester, as the authentication layer found it."""

    kind: PrincipalKind
    account: str = ""
    arn: str = ""
    user_id: str = ""
    name: str = ""
    canonical_id: str = ""
    unique_id: str = ""  # an IAM user's "AIDA..." id, as a policy that named the user stores it

    @classmethod
    def anonymous(cls) -> Principal:
        return cls("anonymous")

    @classmethod
    def root(cls, account: str, *, canonical_id: str = "") -> Principal:
        return cls("root", account, f"arn:aws:iam::{account}:root", account, "", canonical_id)

    @classmethod
    def user(cls, account: str, name: str, user_id: str, *, canonical_id: str = "",
             path: str = "/", unique_id: str = "") -> Principal:
        return cls("user", account, f"arn:aws:iam::{account}:user{path}{name}", user_id, name, canonical_id,
                   unique_id)

    @classmethod
    def service(cls, name: str) -> Principal:
        """An AWS service acting on its own (server access log delivery: logging.s3.amazonaws.com); a
        statement names it as {"Service": name}."""
        return cls("service", name=name)

    def condition_keys(self) -> dict[str, str]:
        """The global keys a principal puts into the request context (lower-cased names).

        aws:username is the user's friendly name and aws:userid its unique id (IAM "Variables"
        page); the root user has no aws:username. Anonymous requesters contribute nothing.
        """
        if self.kind == "anonymous":
            return {}
        if self.kind == "service":
            return {"aws:principalservicename": self.name}
        keys = {"aws:userid": self.user_id or self.account, "aws:principalarn": self.arn,
                "aws:principalaccount": self.account,
                "aws:principaltype": "User" if self.kind == "user" else "Account"}
        if self.kind == "user":
            keys["aws:username"] = self.name
        return keys


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """The parsed value of a Principal or NotPrincipal element."""

    everyone: bool = False
    accounts: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()
    canonical_users: frozenset[str] = frozenset()
    # Roles, sessions, services and federated providers: valid to name, never a strongroom requester.
    others: frozenset[str] = frozenset()
    federated: bool = False
    unique_ids: frozenset[str] = frozenset()  # users named by unique ID ("AIDA...")

    def _names(self, p: Principal) -> bool:
        return (p.arn in self.users or p.canonical_id.lower() in self.canonical_users
                or (p.unique_id != "" and p.unique_id in self.unique_ids))

    def match(self, p: Principal) -> Match | None:
        """How the statement reaches `p`: as itself ("direct"), through its account, or not at all."""
        if self.everyone:
            return "direct"
        if p.kind == "anonymous":
            return None
        if p.kind == "service":
            return "direct" if f"Service:{p.name}" in self.others else None
        own = self._names(p)
        in_account = p.account in self.accounts
        if p.kind == "root":
            return "direct" if own or in_account else None
        if own:
            return "direct"
        return "account" if in_account else None

    def excludes(self, p: Principal) -> bool:
        """Whether a NotPrincipal with this value leaves `p` out: every identity in its chain is listed."""
        if self.everyone:
            return True
        if p.kind == "anonymous":
            return False
        if p.kind == "service":
            return f"Service:{p.name}" in self.others
        own = self._names(p)
        in_account = p.account in self.accounts
        if p.kind == "root":
            return own or in_account
        return own and in_account


def _entries(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise PolicyError(INVALID_PRINCIPAL)


def parse_principal(value: Any, known: Callable[[str], bool] | None) -> PrincipalSpec:
    """Validate a Principal/NotPrincipal value; `known` says whether a named principal exists.

    `known` is called with the ARN of each named user or other IAM/STS principal, with
    `arn:aws:iam::<account>:root` for each account (either spelling), with each user's
    unique ID ("AIDA...") and with each canonical user ID.
    """
    if value == "*":
        return PrincipalSpec(everyone=True)
    if value == {} or value == [] or value == "":
        raise PolicyError(EMPTY_PRINCIPAL)
    if not isinstance(value, dict):
        raise PolicyError(INVALID_PRINCIPAL)
    everyone = federated = False
    accounts: set[str] = set()
    users: set[str] = set()
    canonical: set[str] = set()
    others: set[str] = set()
    unique: set[str] = set()
    checks: list[str] = []
    for kind, raw in value.items():
        entries = _entries(raw)
        if kind == "AWS":
            for e in entries:
                if e == "*":
                    everyone = True
                elif _ACCOUNT.fullmatch(e) or (m := _ROOT_ARN.fullmatch(e)):
                    account = e if _ACCOUNT.fullmatch(e) else m.group(1)  # type: ignore[union-attr]
                    accounts.add(account)
                    checks.append(f"arn:aws:iam::{account}:root")
                elif _USER_ARN.fullmatch(e):
                    users.add(e)
                    checks.append(e)
                elif _UNIQUE_ID.fullmatch(e):
                    unique.add(e)
                    checks.append(e)
                elif _OTHER_ARN.fullmatch(e) and "*" not in e and "?" not in e:
                    others.add(e)
                    checks.append(e)
                else:
                    raise PolicyError(INVALID_PRINCIPAL)
        elif kind == "CanonicalUser":
            for e in entries:
                if not _CANONICAL.fullmatch(e):
                    raise PolicyError(INVALID_PRINCIPAL)
                canonical.add(e.lower())
                checks.append(e.lower())
        elif kind in ("Service", "Federated"):
            if any(not e or e == "*" for e in entries):
                raise PolicyError(INVALID_PRINCIPAL)
            others.update(f"{kind}:{e}" for e in entries)
            federated = federated or kind == "Federated"
        else:
            raise PolicyError(INVALID_PRINCIPAL)
    if known is not None and not all(known(c) for c in checks):
        raise PolicyError(INVALID_PRINCIPAL)
    return PrincipalSpec(everyone, frozenset(accounts), frozenset(users), frozenset(canonical),
                         frozenset(others), federated, frozenset(unique))
