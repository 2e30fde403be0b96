"""Deciding one request against the identity policies and the resource (bucket) policy.

From the IAM pages "Policy evaluation logic" and "Policy evaluation for requests within a
single account":
- every request starts implicitly denied;
- an explicit Deny in any policy that applies overrides every Allow;
- within one account, an Allow in either the identity-based or the resource-based policy
  is enough ("If either the identity-based policy or the resource-based policy within the
  same account allows the request and the other doesn't, the request is still allowed").
A resource policy Allow reaches a user only when it names the user (or everyone): naming
the user's account delegates to the account, and the user still needs its own Allow.
`owner_grants` stands for what AWS gives the resource owner's account by default.

A statement applies when its principal (resource policies), action, resource and every
condition match. With several resources, each is decided and any Deny wins.
Note for callers: AWS lets the bucket owner's root user GetBucketPolicy, PutBucketPolicy and
DeleteBucketPolicy even when the bucket policy denies it (PutBucketPolicy API reference);
that exemption belongs to the caller, not to this function.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from strongroom.policy.conditions import all_hold
from strongroom.policy.context import RequestContext
from strongroom.policy.document import Policy, Statement
from strongroom.policy.principals import Match, Principal


class Decision(Enum):
    ALLOW = "Allow"
    DENY = "Deny"  # an explicit Deny
    IMPLICIT_DENY = "ImplicitDeny"  # nothing allowed it


def statement_applies(st: Statement, ctx: RequestContext, resource: str | None) -> bool:
    """Action, resource and conditions (the principal is the caller's business)."""
    if st.actions.match(ctx.action_folded) == st.not_action:
        return False
    if st.resources.match(resource, ctx.variable) == st.not_resource:
        return False
    return all_hold(st.conditions, ctx)


def principal_reach(st: Statement, principal: Principal) -> Match | None:
    """How a resource-policy statement reaches the requester, if at all."""
    if st.principal is not None:
        return st.principal.match(principal)
    if st.not_principal is not None:
        return None if st.not_principal.excludes(principal) else "direct"
    return "direct"  # identity policies: the principal is the identity they are attached to


def _decide(ctx: RequestContext, resource: str | None, identity_policies: Sequence[Policy],
            resource_policy: Policy | None, allowed: bool) -> Decision:
    for policy in identity_policies:
        for st in policy.statements:
            # Once allowed, only a Deny can change the outcome, so Allow statements are skipped.
            if (st.effect == "Deny" or not allowed) and statement_applies(st, ctx, resource):
                if st.effect == "Deny":
                    return Decision.DENY
                allowed = True
    if resource_policy is not None:
        for st in resource_policy.statements:
            if st.effect == "Allow" and allowed:
                continue
            reach = principal_reach(st, ctx.principal)
            if reach is None or (st.effect == "Allow" and reach != "direct"):
                continue
            if statement_applies(st, ctx, resource):
                if st.effect == "Deny":
                    return Decision.DENY
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def evaluate(ctx: RequestContext, *, identity_policies: Sequence[Policy] = (),
             resource_policy: Policy | None = None, owner_grants: bool = False) -> Decision:
    """ALLOW, DENY (an explicit Deny somewhere) or IMPLICIT_DENY (nothing allowed it)."""
    decision = Decision.ALLOW
    for resource in ctx.resources or (None,):
        outcome = _decide(ctx, resource, identity_policies, resource_policy, owner_grants)
        if outcome is Decision.DENY:
            return Decision.DENY
        if outcome is Decision.IMPLICIT_DENY:
            decision = Decision.IMPLICIT_DENY
    return decision
