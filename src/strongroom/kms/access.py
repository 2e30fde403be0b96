"""Who may use or manage a KMS key: one decision for every door into the KMS.

S3's SSE-KMS path (kms:GenerateDataKey on a write, kms:Decrypt on a read, on the
requester's behalf) and the KMS JSON API ask the same question here and get the
same answer. The rules, until key policies exist:
- anonymous: never;
- the root user (the deployment's administrator): always;
- any other user: its identity policies, evaluated by the IAM engine, where an
  explicit Deny wins; using a key (KMS_USE_ACTIONS) is allowed by default, and so
  is anything on a key the user created (`key_creator`); the rest needs an Allow.
A key policy, when it comes, is one more field of `KmsRequest`, evaluated as the
resource policy beside the identity policies. Pure: no I/O, no HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from strongroom.policy import Decision, Policy, Principal, RequestContext, evaluate

# What any user may do on any key unless a policy denies it (the KMS issue's interim rule: "other
# users may use (not manage) keys"); managing a key needs an Allow, unless you made the key.
KMS_USE_ACTIONS = frozenset({
    "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:GenerateRandom", "kms:DescribeKey", "kms:ListKeys", "kms:ListAliases", "kms:GetKeyRotationStatus",
})

ConditionKeys = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True, slots=True)
class KmsCaller:
    """Who asks, as the policy engine sees them, with the policies attached to them."""

    principal: Principal
    identity_policies: tuple[Policy, ...] = ()


@dataclass(frozen=True, slots=True)
class KmsRequest:
    """One KMS action on one key (or on the account: `resources` empty, which only "*" covers)."""

    action: str  # the IAM action, "kms:GenerateDataKey"
    resources: tuple[str, ...] = ()  # key ARNs (and alias ARNs for the alias operations)
    keys: ConditionKeys = field(default_factory=dict)  # the request's condition keys
    key_creator: str | None = None  # the user id that created the key, when known


def decide(caller: KmsCaller, request: KmsRequest) -> Decision:
    """ALLOW, DENY (an explicit Deny in the caller's policies) or IMPLICIT_DENY (nothing allowed it)."""
    who = caller.principal
    if who.kind == "anonymous":
        return Decision.IMPLICIT_DENY
    if who.kind == "root":
        return Decision.ALLOW
    by_default = request.action in KMS_USE_ACTIONS or (
        request.key_creator is not None and request.key_creator == who.user_id)
    rc = RequestContext(request.action, request.resources, who, request.keys)
    return evaluate(rc, identity_policies=caller.identity_policies, owner_grants=by_default)


def via_s3_keys(region: str, account: str) -> dict[str, str]:
    """The condition keys of a KMS call S3 makes on a requester's behalf (SSE-KMS)."""
    return {"kms:ViaService": f"s3.{region}.amazonaws.com", "kms:CallerAccount": account}
