"""Parsing and validating a policy document as AWS does, into a frozen `Policy`.

The grammar is the IAM JSON policy language ("IAM JSON policy elements reference"):
a JSON object with `Version`, `Id` and `Statement` (one object or a list); each statement
has `Sid`, `Effect`, exactly one of `Action`/`NotAction`, exactly one of
`Resource`/`NotResource`, an optional `Condition`, and -- in a bucket policy, never in an
identity policy -- exactly one of `Principal`/`NotPrincipal`. Element names are
case-sensitive. Without `Version` the policy is "2008-10-17", in which `${...}` is
literal text (IAM "Variables" page).

Error messages are S3's `MalformedPolicy` texts as clients see them (the constants below).
The original text is kept verbatim for GetBucketPolicy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from strongroom.policy import actions as catalogue
from strongroom.policy.conditions import INVALID_JSON, Condition, parse_conditions
from strongroom.policy.errors import PolicyError
from strongroom.policy.principals import PrincipalSpec, parse_principal
from strongroom.policy.wildcard import Glob, Lookup, Pattern, Template, parse_template

Kind = Literal["bucket", "identity", "key"]
Effect = Literal["Allow", "Deny"]
VERSIONS = ("2012-10-17", "2008-10-17")

FIRST_BYTE = "Policies must be valid JSON and the first byte must be '{'"
INVALID_VERSION = "The policy must contain a valid version string"
EMPTY_STATEMENT = "Could not parse the policy: Statement is empty!"
INVALID_ACTION = "Policy has invalid action"
INVALID_RESOURCE = "Policy has invalid resource"
ACTION_RESOURCE_MISMATCH = "Action does not apply to any resource(s) in statement"
IDENTITY_PRINCIPAL = "Policy document should not specify a principal."
DUPLICATE_SID = "Statement IDs (SID) in a single policy must be unique."

_TOP_FIELDS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_FIELDS = frozenset({
    "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource",
    "Condition",
})
# A KMS key policy ("key") names principals like a bucket policy and speaks only of KMS actions.
_SERVICES: dict[str, tuple[str, ...]] = {"bucket": ("s3",), "identity": ("kms", "s3", "sts"), "key": ("kms",)}


def missing(field: str) -> str:
    return f"Missing required field {field}"


def both(a: str, b: str) -> str:
    return f"Statement cannot contain both {a} and {b}"  # AWS's wording for this case is not documented


@dataclass(frozen=True, slots=True)
class ActionMatcher:
    """The Action (or NotAction) list: exact names in a set, wildcard names as globs (case-insensitive)."""

    every: bool
    exact: frozenset[str]
    globs: tuple[Glob, ...]

    def match(self, folded_action: str) -> bool:
        return self.every or folded_action in self.exact or any(g.match(folded_action) for g in self.globs)


@dataclass(frozen=True, slots=True)
class ResourceMatcher:
    """The Resource (or NotResource) list; ARNs are case-sensitive."""

    every: bool
    exact: frozenset[str]
    patterns: tuple[Pattern, ...]

    def match(self, resource: str | None, lookup: Lookup) -> bool:
        if self.every:
            return True
        if resource is None:  # an action without a resource ARN: only "*" names it
            return False
        return resource in self.exact or any(p.match(resource, lookup) for p in self.patterns)


@dataclass(frozen=True, slots=True)
class Statement:
    sid: str | None
    effect: Effect
    principal: PrincipalSpec | None
    not_principal: PrincipalSpec | None
    actions: ActionMatcher
    not_action: bool
    resources: ResourceMatcher
    not_resource: bool
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Policy:
    text: str
    kind: Kind
    version: str
    id: str | None
    statements: tuple[Statement, ...]


@lru_cache(maxsize=4096)
def _resource_types(actions: frozenset[str]) -> tuple[bool, bool]:
    """Whether some of `actions` act on objects, and whether some act on the bucket."""
    return (any(catalogue.applies_to_object(a) for a in actions),
            any(catalogue.applies_to_bucket(a) for a in actions))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


def _load(text: str) -> Any:
    if not isinstance(text, str) or not text.startswith("{"):
        raise PolicyError(FIRST_BYTE)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise PolicyError(INVALID_JSON) from None


def _strings(value: Any, message: str) -> list[str]:
    """A string or a non-empty list of non-empty strings."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and v for v in items):
        raise PolicyError(message)
    return items


def _one_of(raw: dict[str, Any], plain: str, negated: str) -> tuple[Any, bool]:
    if plain in raw and negated in raw:
        raise PolicyError(both(plain, negated))
    if plain in raw:
        return raw[plain], False
    if negated in raw:
        return raw[negated], True
    raise PolicyError(missing(plain))


class _Parser:
    """State shared by the statements of one document."""

    def __init__(self, kind: Kind, bucket: str | None, variables: bool,
                 known: Callable[[str], bool] | None) -> None:
        self.kind = kind
        self.bucket = bucket
        self.variables = variables
        self.known = known
        self.services = _SERVICES[kind]

    def actions(self, value: Any) -> tuple[ActionMatcher, list[frozenset[str]]]:
        every = False
        exact: set[str] = set()
        globs: list[Glob] = []
        named: list[frozenset[str]] = []
        for a in _strings(value, INVALID_ACTION):
            hits = catalogue.expand(a, self.services)
            if not hits:
                raise PolicyError(INVALID_ACTION)
            named.append(hits)
            if a == "*":
                every = True
            elif "*" in a or "?" in a:
                globs.append(Glob.compile(a, fold=True))
            else:
                exact.add(a.lower())
        return ActionMatcher(every, frozenset(exact), tuple(globs)), named

    def _valid_arn(self, arn: str) -> list[str]:
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not parts[5]:
            raise PolicyError(INVALID_RESOURCE)
        if self.kind == "bucket":
            if parts[1:5] != ["aws", "s3", "", ""]:
                raise PolicyError(INVALID_RESOURCE)
            assert self.bucket is not None
            if not Glob.compile(parts[5].split("/", 1)[0]).match(self.bucket):
                raise PolicyError(INVALID_RESOURCE)  # a bucket policy speaks only of its own bucket
        elif not Glob.compile(parts[1]).match("aws") or not any(
                Glob.compile(parts[2]).match(s) for s in self.services):
            raise PolicyError(INVALID_RESOURCE)
        return parts

    def resources(self, value: Any) -> tuple[ResourceMatcher, list[str]]:
        every = False
        exact: set[str] = set()
        patterns: list[Pattern] = []
        arns: list[str] = []
        for r in _strings(value, INVALID_RESOURCE):
            if r == "*":
                if self.kind == "bucket":
                    raise PolicyError(INVALID_RESOURCE)
                every = True
                continue
            parts = self._valid_arn(r)
            arns.append(r)
            # Variables are allowed only after the fifth colon (IAM "Resource" page).
            head = parse_template(":".join(parts[:5]) + ":", wildcards=True, variables=False)
            tail = parse_template(parts[5], wildcards=True, variables=self.variables)
            template = Template(head.tokens + tail.tokens)
            if template.has_wildcards or template.has_variables:
                patterns.append(Pattern(template))
            else:
                literal = template.text(lambda _key: None)
                assert literal is not None  # no variables, so nothing to resolve
                exact.add(literal)
        return ResourceMatcher(every, frozenset(exact), tuple(patterns)), arns

    def check_applicable(self, named: list[frozenset[str]], arns: list[str]) -> None:
        """In a bucket policy every action must apply to some resource the statement names."""
        bucket_arn = f"arn:aws:s3:::{self.bucket}"
        covers_bucket = any(Glob.compile(a).match(bucket_arn) for a in arns)
        covers_objects = any("/" in a[len("arn:aws:s3:::"):] or "*" in a[len("arn:aws:s3:::"):] for a in arns)
        for hits in named:
            on_objects, on_bucket = _resource_types(hits)
            if not (covers_objects and on_objects) and not (covers_bucket and on_bucket):
                raise PolicyError(ACTION_RESOURCE_MISMATCH)

    def principal(self, raw: dict[str, Any]) -> tuple[PrincipalSpec | None, PrincipalSpec | None]:
        if self.kind == "identity":
            if "Principal" in raw or "NotPrincipal" in raw:
                raise PolicyError(IDENTITY_PRINCIPAL)
            return None, None
        value, negated = _one_of(raw, "Principal", "NotPrincipal")
        spec = parse_principal(value, self.known)
        return (None, spec) if negated else (spec, None)

    def statement(self, raw: Any) -> Statement:
        if not isinstance(raw, dict):
            raise PolicyError(INVALID_JSON)
        for name in raw:
            if name not in _STATEMENT_FIELDS:
                raise PolicyError(f"Unknown field {name}")
        sid = raw.get("Sid")
        if sid is not None and not isinstance(sid, str):
            raise PolicyError(INVALID_JSON)
        if "Effect" not in raw:
            raise PolicyError(missing("Effect"))
        effect = raw["Effect"]
        if effect not in ("Allow", "Deny"):
            raise PolicyError(f"Invalid effect: {effect}")
        principal, not_principal = self.principal(raw)
        action_value, not_action = _one_of(raw, "Action", "NotAction")
        actions, named = self.actions(action_value)
        resource_value, not_resource = _one_of(raw, "Resource", "NotResource")
        resources, arns = self.resources(resource_value)
        if self.kind == "bucket" and not not_action and not not_resource:
            self.check_applicable(named, arns)
        conditions: tuple[Condition, ...] = ()
        if "Condition" in raw:
            conditions = parse_conditions(raw["Condition"], variables=self.variables)
        return Statement(sid, effect, principal, not_principal, actions, not_action, resources, not_resource,
                         conditions)


def _same_account(account_id: str) -> Callable[[str], bool]:
    """Without a directory of principals, accept only those of this deployment's one account."""
    def known(name: str) -> bool:
        return not name.startswith("arn:") or name.startswith(f"arn:aws:iam::{account_id}:")
    return known


def parse_policy(text: str, *, kind: Kind, account_id: str,
                 known_principals: Callable[[str], bool] | None = None, bucket: str | None = None) -> Policy:
    """Parse and validate a policy document; raise `PolicyError` with AWS's message if AWS would refuse it.

    `kind` is "bucket" (a bucket policy: Principal required, resources of `bucket` only,
    S3 actions only), "identity" (a user policy: no Principal; S3, KMS and STS actions) or "key" (a KMS
    key policy: Principal required, KMS actions only).
    `known_principals(name)` says whether a principal named in the policy exists (see
    `parse_principal`); when None, only principals of `account_id` are accepted.
    """
    if kind not in _SERVICES:
        raise ValueError(f"unknown policy kind {kind!r}")
    if kind == "bucket" and not bucket:
        raise ValueError("a bucket policy is parsed for a bucket")
    doc = _load(text)
    assert isinstance(doc, dict)  # JSON text that starts with '{' can only be an object
    for name in doc:
        if name not in _TOP_FIELDS:
            raise PolicyError(f"Unknown field {name}")
    version = doc.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise PolicyError(INVALID_VERSION)
    policy_id = doc.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise PolicyError(INVALID_JSON)
    if "Statement" not in doc:
        raise PolicyError(missing("Statement"))
    raw = doc["Statement"]
    if isinstance(raw, dict):
        raw = [raw]
    elif not isinstance(raw, list):
        raise PolicyError(INVALID_JSON)
    if not raw:
        raise PolicyError(EMPTY_STATEMENT)
    known = known_principals if known_principals is not None else _same_account(account_id)
    parser = _Parser(kind, bucket, version == "2012-10-17", known)
    statements = tuple(parser.statement(s) for s in raw)
    if kind == "identity":
        sids = [s.sid for s in statements if s.sid]
        if len(sids) != len(set(sids)):
            raise PolicyError(DUPLICATE_SID)
    return Policy(text, kind, version, policy_id, statements)
