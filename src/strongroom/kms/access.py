"""Who may use or manage a KMS key: one decision for every door into the KMS.

S3's SSE-KMS path (kms:GenerateDataKey on a write, kms:Decrypt on a read, on the
requester's behalf) and the KMS JSON API ask the same question here and get the
same answer. AWS KMS's rules (KMS developer guide, "Key policies in AWS KMS",
"Default key policy", "Determining access to a KMS key"):
- anonymous: never;
- an explicit Deny in the key policy or in the caller's identity policies wins;
- a key policy Allow that names the caller (or everyone) is enough by itself;
- a key policy Allow that names the caller's account enables IAM policies: an Allow
  in the caller's identity policies is then needed too. The root user of the account
  has every IAM permission, so the account's statement is enough for it, and a key
  policy that no longer names the account (nor the root user) locks it out too;
- an action on the account rather than a key (CreateKey, ListKeys, ListAliases, an
  alias ARN) has no key policy: IAM policies decide (the root user: allowed).
Pure: no I/O, no HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from strongroom.policy import Decision, Policy, Principal, RequestContext, evaluate
from strongroom.policy.evaluate import principal_reach, statement_applies

ConditionKeys = Mapping[str, str | Sequence[str]]
# Which kind of policy refused (for AWS's message: "no identity-based policy allows", "an explicit
# deny in a resource-based policy"): the key policy is the resource-based one.
PolicyKind = Literal["identity-based", "resource-based"]


@dataclass(frozen=True, slots=True)
class KmsCaller:
    """Who asks, as the policy engine sees them, with the policies attached to them."""

    principal: Principal
    identity_policies: tuple[Policy, ...] = ()


@dataclass(frozen=True, slots=True)
class KmsRequest:
    """One KMS action on one key (with its key policy), or on the account (`key_policy` None)."""

    action: str  # the IAM action, "kms:GenerateDataKey"
    resources: tuple[str, ...] = ()  # the key ARN (or an alias ARN); empty: "*"
    keys: ConditionKeys = field(default_factory=dict)  # the request's condition keys
    key_policy: Policy | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    policy: PolicyKind = "identity-based"  # the policy that denied, or lacked the Allow


def decide(caller: KmsCaller, request: KmsRequest) -> Decision:
    """ALLOW, DENY (an explicit Deny somewhere) or IMPLICIT_DENY (nothing allowed it)."""
    return judge(caller, request).decision


def judge(caller: KmsCaller, request: KmsRequest) -> Verdict:
    """The decision, with the kind of policy to name when it is a refusal."""
    who = caller.principal
    if who.kind == "anonymous":
        return Verdict(Decision.IMPLICIT_DENY)
    rc = RequestContext(request.action, request.resources, who, request.keys)
    # The root user is not subject to IAM policies: as far as they go, it is allowed everything.
    iam = Decision.ALLOW if who.kind == "root" else evaluate(rc, identity_policies=caller.identity_policies)
    if iam is Decision.DENY:
        return Verdict(Decision.DENY)
    if request.key_policy is None:
        return Verdict(iam)
    reach = _key_policy(rc, request.key_policy)
    if reach == "deny":
        return Verdict(Decision.DENY, "resource-based")
    if reach == "direct" or (reach == "account" and iam is Decision.ALLOW):
        return Verdict(Decision.ALLOW)
    return Verdict(Decision.IMPLICIT_DENY, "identity-based" if reach == "account" else "resource-based")


def _key_policy(rc: RequestContext, policy: Policy) -> Literal["deny", "direct", "account"] | None:
    """What the key policy says to this request: a Deny, an Allow naming the caller ("direct"), an Allow
    naming only its account (IAM policies decide), or nothing."""
    best: Literal["direct", "account"] | None = None
    for resource in rc.resources or (None,):
        for st in policy.statements:
            reach = principal_reach(st, rc.principal)
            if reach is None or not statement_applies(st, rc, resource):
                continue
            if st.effect == "Deny":
                return "deny"
            if reach == "direct" or best is None:
                best = reach
    return best


def via_s3_keys(region: str, account: str) -> dict[str, str]:
    """The condition keys of a KMS call S3 makes on a requester's behalf (SSE-KMS)."""
    return {"kms:ViaService": f"s3.{region}.amazonaws.com", "kms:CallerAccount": account}


def context_keys(context: Mapping[str, str]) -> dict[str, str | list[str]]:
    """kms:EncryptionContext:<key> for each pair of an encryption context, and kms:EncryptionContextKeys
    (KMS developer guide, "AWS KMS condition keys"). Condition key names are matched case-insensitively
    here (the policy engine folds them), as AWS does for the key part since 2020."""
    keys: dict[str, str | list[str]] = {f"kms:encryptioncontext:{k}": v for k, v in context.items()}
    keys["kms:encryptioncontextkeys"] = sorted(context)
    return keys
