"""Whether a bucket policy is "public", for GetBucketPolicyStatus (IsPublic).

From the S3 user guide, "The meaning of 'public'": S3 starts by assuming a bucket policy is
public, and it is non-public only if each grant is limited to fixed values (no wildcard, no
policy variable) of: an AWS principal (account, user, role, service principal), or the
condition keys aws:SourceArn, aws:SourceVpc, aws:SourceVpce, aws:SourceOwner,
aws:SourceAccount, s3:x-amz-server-side-encryption-aws-kms-key-id, aws:userid (outside
"AROLEID:*"), s3:DataAccessPointArn (a wildcard is allowed in the access point name when
the account is fixed), s3:DataAccessPointAccount, aws:PrincipalOrgID (the guide's example
of a principal key), or a set of CIDRs in aws:SourceIp -- but a range broader than /8 for
IPv4 (outside the RFC 1918 private ranges) or /32 for IPv6 is public. A federated principal
is public (the guide's first example).

A condition restricts only if it must match: not negated, not ...IfExists, not
ForAllValues (each of which is true when the key is absent). Deny statements grant nothing.
"""

from __future__ import annotations

import ipaddress

from strongroom.policy.conditions import Condition
from strongroom.policy.document import Policy, Statement

_FIXING_KEYS = frozenset({
    "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceowner", "aws:sourceaccount",
    "s3:x-amz-server-side-encryption-aws-kms-key-id", "aws:userid", "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount", "aws:principalorgid",
})
_STRING_FAMILIES = frozenset({"string", "string_ci", "like", "arn"})
_RFC1918 = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def _fixed(value: str) -> bool:
    return "*" not in value and "?" not in value and "${" not in value


def _fixed_access_point(value: str) -> bool:
    parts = value.split(":", 5)
    return len(parts) == 6 and all(_fixed(p) for p in parts[:5]) and _fixed(parts[5].split("/", 1)[0])


def _narrow(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    if isinstance(net, ipaddress.IPv4Network):
        return net.prefixlen >= 8 or any(net.subnet_of(p) for p in _RFC1918)
    return net.prefixlen >= 32


def _restricts(c: Condition) -> bool:
    if c.negated or c.if_exists or c.qualifier == "ForAllValues":
        return False
    if c.key == "aws:sourceip":
        return c.family == "ip" and all(_narrow(n) for n in c.values)
    if c.key not in _FIXING_KEYS or c.family not in _STRING_FAMILIES:
        return False
    if c.key == "s3:dataaccesspointarn":
        return all(_fixed_access_point(v) for v in c.raw)
    if c.key == "aws:userid" and any(v.endswith(":*") for v in c.raw):
        return False
    return all(_fixed(v) for v in c.raw)


def _public(st: Statement) -> bool:
    if st.effect != "Allow":
        return False
    p = st.principal
    if p is not None and not p.everyone and not p.federated:
        return False  # granted to fixed principals only
    return not any(_restricts(c) for c in st.conditions)


def statement_allows_public(policy: Policy) -> bool:
    """True if any statement of the policy grants public access in S3's sense (IsPublic)."""
    return any(_public(st) for st in policy.statements)
