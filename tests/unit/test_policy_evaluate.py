"""Policy evaluation, table-driven: vectors/policy/evaluate.json holds (policies, request) -> decision.

Each group there names the AWS page its expectations come from. The tests below the
table cover what a table cannot say well: order independence and the request context.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from strongroom.policy import Decision, Policy, PolicyError, Principal, RequestContext, evaluate, parse_policy
from strongroom.policy.evaluate import principal_reach

VECTORS = Path(__file__).parent / "vectors" / "policy"
ACCOUNT = "111122223333"
BUCKET = "examplebucket"
KNOWN = {f"arn:aws:iam::{ACCOUNT}:root"} | {
    f"arn:aws:iam::{ACCOUNT}:user/{u}" for u in ("alice", "bob", "carol")
}


def known(name: str) -> bool:
    return name in KNOWN


def principal(who: str) -> Principal:
    if who == "anonymous":
        return Principal.anonymous()
    if who == "root":
        return Principal.root(ACCOUNT)
    return Principal.user(ACCOUNT, who, f"AIDA{who.upper()}")


def bucket_policy(doc: dict[str, Any]) -> Policy:
    return parse_policy(
        json.dumps(doc), kind="bucket", account_id=ACCOUNT, known_principals=known, bucket=BUCKET
    )


def identity_policy(doc: dict[str, Any]) -> Policy:
    return parse_policy(json.dumps(doc), kind="identity", account_id=ACCOUNT)


def _cases() -> list[Any]:
    params = []
    for group in json.loads((VECTORS / "evaluate.json").read_text()):
        for i, case in enumerate(group["cases"]):
            params.append(pytest.param(group, case, id=f"{group['name']}[{i}]"))
    return params


@pytest.mark.parametrize(("group", "case"), _cases())
def test_vector(group: dict[str, Any], case: dict[str, Any]) -> None:
    resource = bucket_policy(group["bucket_policy"]) if "bucket_policy" in group else None
    req = case["request"]
    who = req["principal"]
    attached = group.get("identity_policies", {})
    docs = [] if who == "anonymous" else attached.get(who, []) + attached.get("*", [])
    ctx = RequestContext(req["action"], tuple(req["resources"]), principal(who), req.get("keys", {}))
    got = evaluate(
        ctx,
        identity_policies=[identity_policy(d) for d in docs],
        resource_policy=resource,
        owner_grants=req.get("owner", False),
    )
    assert got is Decision[case["expect"]], case.get("note", "")


ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
DENY_PUT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}],
}


@pytest.mark.parametrize("order", [(ALLOW_ALL, DENY_PUT), (DENY_PUT, ALLOW_ALL)])
def test_deny_wins_whatever_the_order(order: tuple[dict[str, Any], dict[str, Any]]) -> None:
    ctx = RequestContext("s3:PutObject", ("arn:aws:s3:::examplebucket/k",), principal("alice"))
    assert evaluate(ctx, identity_policies=[identity_policy(d) for d in order]) is Decision.DENY


def test_statements_inside_one_policy_in_either_order() -> None:
    doc = {"Version": "2012-10-17", "Statement": ALLOW_ALL["Statement"] + DENY_PUT["Statement"]}
    reverse = {"Version": "2012-10-17", "Statement": DENY_PUT["Statement"] + ALLOW_ALL["Statement"]}
    ctx = RequestContext("s3:PutObject", ("arn:aws:s3:::examplebucket/k",), principal("alice"))
    assert evaluate(ctx, identity_policies=[identity_policy(doc)]) is Decision.DENY
    assert evaluate(ctx, identity_policies=[identity_policy(reverse)]) is Decision.DENY


def test_nothing_at_all_is_an_implicit_deny() -> None:
    ctx = RequestContext("s3:GetObject", ("arn:aws:s3:::examplebucket/k",), principal("alice"))
    assert (
        evaluate(ctx, identity_policies=[], resource_policy=None, owner_grants=False)
        is Decision.IMPLICIT_DENY
    )
    assert evaluate(ctx, owner_grants=True) is Decision.ALLOW


def test_owner_is_still_subject_to_an_explicit_deny() -> None:
    deny = bucket_policy(
        {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::examplebucket/*",
            },
        }
    )
    ctx = RequestContext("s3:GetObject", ("arn:aws:s3:::examplebucket/k",), principal("root"))
    assert evaluate(ctx, resource_policy=deny, owner_grants=True) is Decision.DENY


def test_context_accepts_one_resource_as_a_string_and_folds_key_names() -> None:
    ctx = RequestContext(
        "s3:GetObject",
        "arn:aws:s3:::examplebucket/k",
        principal("alice"),  # type: ignore[arg-type]
        {"AWS:SourceIp": "203.0.113.1", "s3:RequestObjectTagKeys": ["a", "b"]},
    )
    assert ctx.resources == ("arn:aws:s3:::examplebucket/k",)
    assert ctx.values("aws:sourceip") == ("203.0.113.1",)
    assert ctx.values("s3:requestobjecttagkeys") == ("a", "b")
    assert ctx.variable("s3:requestobjecttagkeys") is None  # multivalued keys are not policy variables
    assert ctx.variable("aws:username") == "alice"


def test_principal_keys_and_explicit_overrides() -> None:
    user = RequestContext("s3:GetObject", (), principal("alice"))
    assert user.values("aws:username") == ("alice",)
    assert user.values("aws:userid") == ("AIDAALICE",)
    assert user.values("aws:principalarn") == (f"arn:aws:iam::{ACCOUNT}:user/alice",)
    root = RequestContext("s3:GetObject", (), principal("root"))
    assert root.values("aws:username") is None
    assert root.values("aws:userid") == (ACCOUNT,)
    anonymous = RequestContext("s3:GetObject", (), principal("anonymous"), {"aws:userid": "anonymous"})
    assert anonymous.values("aws:principalarn") is None
    assert anonymous.values("aws:userid") == ("anonymous",)


def test_user_path_is_part_of_the_arn() -> None:
    p = Principal.user(ACCOUNT, "dave", "AIDADAVE", path="/division/")
    assert p.arn == f"arn:aws:iam::{ACCOUNT}:user/division/dave"
    doc = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/division/dave"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::examplebucket/*",
        },
    }
    pol = parse_policy(json.dumps(doc), kind="bucket", account_id=ACCOUNT, bucket=BUCKET)
    ctx = RequestContext("s3:GetObject", ("arn:aws:s3:::examplebucket/k",), p)
    assert evaluate(ctx, resource_policy=pol) is Decision.ALLOW


def test_canonical_user_principal() -> None:
    cid = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
    doc = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Principal": {"CanonicalUser": cid.upper()},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::examplebucket/*",
        },
    }
    pol = parse_policy(json.dumps(doc), kind="bucket", account_id=ACCOUNT, bucket=BUCKET)
    holder = Principal.root(ACCOUNT, canonical_id=cid)
    ctx = RequestContext("s3:GetObject", ("arn:aws:s3:::examplebucket/k",), holder)
    assert evaluate(ctx, resource_policy=pol) is Decision.ALLOW
    other = RequestContext("s3:GetObject", ("arn:aws:s3:::examplebucket/k",), Principal.anonymous())
    assert evaluate(other, resource_policy=pol) is Decision.IMPLICIT_DENY


def test_not_principal_canonical_user_spares_its_holder() -> None:
    cid = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
    doc = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Deny",
            "NotPrincipal": {"CanonicalUser": cid},
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::examplebucket/*",
        },
    }
    pol = parse_policy(json.dumps(doc), kind="bucket", account_id=ACCOUNT, bucket=BUCKET)
    spared = RequestContext(
        "s3:GetObject", ("arn:aws:s3:::examplebucket/k",), Principal.root(ACCOUNT, canonical_id=cid)
    )
    assert evaluate(spared, resource_policy=pol, owner_grants=True) is Decision.ALLOW
    other = RequestContext("s3:GetObject", ("arn:aws:s3:::examplebucket/k",), Principal.root(ACCOUNT))
    assert evaluate(other, resource_policy=pol, owner_grants=True) is Decision.DENY


def test_a_statement_without_principal_reaches_everyone() -> None:
    # Only identity policies have such statements; they reach the identity they are attached to.
    (st,) = identity_policy(ALLOW_ALL).statements
    assert principal_reach(st, Principal.anonymous()) == "direct"


def test_not_principal_star_excludes_everyone() -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Deny",
            "NotPrincipal": "*",
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::examplebucket/*",
        },
    }
    pol = bucket_policy(doc)
    for who in ("anonymous", "root", "alice"):
        ctx = RequestContext("s3:GetObject", ("arn:aws:s3:::examplebucket/k",), principal(who))
        assert evaluate(ctx, resource_policy=pol, owner_grants=True) is Decision.ALLOW


def test_a_unique_id_names_exactly_that_user() -> None:
    """A user named by unique ID (as a saved bucket policy names it) is that user, not a later one of the
    same name and ARN; as NotPrincipal (with the account) it spares only that user."""
    doc = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Principal": {"AWS": "AIDAALICE0000000000001"},
                      "Action": "s3:GetObject", "Resource": "arn:aws:s3:::examplebucket/*"},
    }
    pol = parse_policy(json.dumps(doc), kind="bucket", account_id=ACCOUNT, bucket=BUCKET,
                       known_principals=lambda _name: True)
    resource = ("arn:aws:s3:::examplebucket/k",)
    first = Principal.user(ACCOUNT, "alice", "u1", unique_id="AIDAALICE0000000000001")
    later = Principal.user(ACCOUNT, "alice", "u2", unique_id="AIDAALICE0000000000002")
    assert first.arn == later.arn
    assert evaluate(RequestContext("s3:GetObject", resource, first), resource_policy=pol) is Decision.ALLOW
    denied = evaluate(RequestContext("s3:GetObject", resource, later), resource_policy=pol)
    assert denied is Decision.IMPLICIT_DENY
    with pytest.raises(PolicyError, match="Invalid principal in policy"):  # an ID of no known user
        parse_policy(json.dumps(doc), kind="bucket", account_id=ACCOUNT, bucket=BUCKET,
                     known_principals=known)
    doc["Statement"] = {"Effect": "Deny", "NotPrincipal": {"AWS": ["AIDAALICE0000000000001", ACCOUNT]},
                        "Action": "s3:*", "Resource": "arn:aws:s3:::examplebucket/*"}
    pol = parse_policy(json.dumps(doc), kind="bucket", account_id=ACCOUNT, bucket=BUCKET,
                       known_principals=lambda _name: True)
    spared = RequestContext("s3:GetObject", resource, first)
    assert evaluate(spared, resource_policy=pol, owner_grants=True) is Decision.ALLOW
    assert evaluate(RequestContext("s3:GetObject", resource, later), resource_policy=pol) is Decision.DENY
