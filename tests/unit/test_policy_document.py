"""Parsing and validating policy documents: vectors/policy/errors.json holds what AWS refuses, and why.

Then what AWS accepts, what the parsed Policy keeps, and hostile input (deep nesting,
huge documents, types that JSON allows where the grammar does not).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from strongroom.policy import PolicyError, parse_policy
from strongroom.policy.document import ActionMatcher

VECTORS = Path(__file__).parent / "vectors" / "policy"
ACCOUNT = "111122223333"
BUCKET = "examplebucket"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/reader"
KNOWN = {f"arn:aws:iam::{ACCOUNT}:root", ROLE} | {
    f"arn:aws:iam::{ACCOUNT}:user/{u}" for u in ("alice", "bob")
}


def known(name: str) -> bool:
    return name in KNOWN or len(name) == 64  # canonical user IDs are all known here


def bucket(doc: Any) -> Any:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    return parse_policy(text, kind="bucket", account_id=ACCOUNT, known_principals=known, bucket=BUCKET)


def identity(doc: Any) -> Any:
    return parse_policy(json.dumps(doc), kind="identity", account_id=ACCOUNT)


def statement(**fields: Any) -> dict[str, Any]:
    base = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def _errors() -> list[Any]:
    rows = json.loads((VECTORS / "errors.json").read_text())
    return [pytest.param(r, id=r["name"]) for r in rows]


@pytest.mark.parametrize("row", _errors())
def test_refused(row: dict[str, Any]) -> None:
    text = row["text"] if "text" in row else json.dumps(row["policy"])
    with pytest.raises(PolicyError) as caught:
        parse_policy(
            text, kind=row.get("kind", "bucket"), account_id=ACCOUNT, known_principals=known, bucket=BUCKET
        )
    assert caught.value.message == row["expect"]
    assert str(caught.value) == row["expect"]


@pytest.mark.parametrize(
    "principal",
    [
        "*",
        {"AWS": "*"},
        {"AWS": ACCOUNT},
        {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        {"AWS": [f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws:iam::{ACCOUNT}:user/bob", ACCOUNT]},
        {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
        {"AWS": ROLE},
        {"Service": "cloudtrail.amazonaws.com"},
        {"Federated": "graph.facebook.com"},
    ],
)
def test_principal_forms(principal: Any) -> None:
    policy = bucket({"Version": "2012-10-17", "Statement": statement(Principal=principal)})
    assert policy.statements[0].principal is not None


def test_not_principal_is_kept_apart() -> None:
    policy = bucket(
        {
            "Version": "2012-10-17",
            "Statement": statement(
                Effect="Deny", Principal=None, NotPrincipal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"}
            ),
        }
    )
    st = policy.statements[0]
    assert st.principal is None and st.not_principal is not None
    with pytest.raises(PolicyError, match="both Principal and NotPrincipal"):
        bucket({"Version": "2012-10-17", "Statement": statement(NotPrincipal="*")})


def test_default_known_principals_is_this_account() -> None:
    doc = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": statement(Principal={"AWS": [ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/anyone"]}),
        }
    )
    parse_policy(doc, kind="bucket", account_id=ACCOUNT, bucket=BUCKET)
    with pytest.raises(PolicyError, match="Invalid principal in policy"):
        parse_policy(doc, kind="bucket", account_id="999999999999", bucket=BUCKET)


def test_the_document_is_kept_verbatim_and_fields_are_parsed() -> None:
    text = (
        '{ "Id" : "MyPolicy",\n  "Statement": {"Sid": "One", "Effect": "Allow", "Principal": "*",'
        ' "Action": "s3:GetObject", "Resource": "arn:aws:s3:::examplebucket/*"} }'
    )
    policy = bucket(text)
    assert policy.text == text
    assert policy.version == "2008-10-17"  # without Version, the old language (no variables)
    assert policy.id == "MyPolicy"
    assert policy.kind == "bucket"
    (st,) = policy.statements
    assert (st.sid, st.effect, st.not_action, st.not_resource, st.conditions) == (
        "One",
        "Allow",
        False,
        False,
        (),
    )


def test_duplicate_sids_are_allowed_in_bucket_policies() -> None:
    policy = bucket({"Version": "2012-10-17", "Statement": [statement(Sid="A"), statement(Sid="A")]})
    assert len(policy.statements) == 2


def test_action_names_and_wildcards() -> None:
    policy = identity(
        {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Resource": "*",
                "Action": [
                    "S3:GETOBJECT",
                    "s3:Get*",
                    "s3:*Object*",
                    "s3:?etObject",
                    "kms:*",
                    "sts:GetCallerIdentity",
                    "*",
                ],
            },
        }
    )
    matcher = policy.statements[0].actions
    assert isinstance(matcher, ActionMatcher)
    assert matcher.every and "s3:getobject" in matcher.exact and len(matcher.globs) == 4
    with pytest.raises(PolicyError, match="Policy has invalid action"):
        identity(
            {
                "Version": "2012-10-17",
                "Statement": {"Effect": "Allow", "Resource": "*", "Action": "iam:CreateUser"},
            }
        )
    with pytest.raises(PolicyError, match="Policy has invalid action"):
        identity(
            {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Resource": "*", "Action": "s3:"}}
        )


def test_bucket_policy_resources() -> None:
    ok = [
        "arn:aws:s3:::examplebucket",
        "arn:aws:s3:::examplebucket/*",
        "arn:aws:s3:::examplebucket/a/${aws:username}/*",
        "arn:aws:s3:::example*/*",
        "arn:aws:s3:::examplebucket/key:with:colons",
    ]
    policy = bucket({"Version": "2012-10-17", "Statement": statement(Action="s3:*", Resource=ok)})
    assert len(policy.statements) == 1
    # NotResource and NotAction skip the action/resource pairing check (there is nothing to pair).
    bucket(
        {
            "Version": "2012-10-17",
            "Statement": statement(Resource=None, NotResource="arn:aws:s3:::examplebucket"),
        }
    )
    bucket(
        {
            "Version": "2012-10-17",
            "Statement": statement(
                Action=None, NotAction="s3:GetObject", Resource="arn:aws:s3:::examplebucket"
            ),
        }
    )
    for bad in [
        "arn:aws:s3:::",
        "arn:aws:s3:::/examplebucket",
        "arn:aws:s3::111122223333:examplebucket/*",
        "arn:aws-cn:s3:::examplebucket/*",
        "arn:aws:s3:::examplebucket2/*",
        ["arn:aws:s3:::examplebucket/*", ""],
    ]:
        with pytest.raises(PolicyError, match="Policy has invalid resource"):
            bucket({"Version": "2012-10-17", "Statement": statement(Resource=bad)})


def test_identity_policy_resources() -> None:
    identity(
        {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": [
                    "arn:aws:kms:us-east-1:111122223333:key/*",
                    "arn:aws:s3:::any-bucket/*",
                    "arn:*:*:*:*:*",
                ],
            },
        }
    )


@pytest.mark.parametrize(
    "text",
    [
        '{"Statement": ' + "[" * 50_000 + "]" * 50_000 + "}",
        '{"Statement": ' + '{"a":' * 50_000 + "1" + "}" * 50_000 + "}",
    ],
)
def test_deep_nesting_is_invalid_json_not_a_crash(text: str) -> None:
    with pytest.raises(PolicyError):
        bucket(text)


@pytest.mark.parametrize("value", [None, 1, True, {"x": 1}, [1], [["s3:GetObject"]], ""])
def test_wrong_types_are_refused(value: Any) -> None:
    for field in ("Action", "Resource", "Principal", "Effect", "Sid", "Condition"):
        if field in ("Principal", "Sid") and value == "":
            continue  # an empty principal has its own message; an empty Sid is a Sid
        with pytest.raises(PolicyError):
            bucket(
                {
                    "Version": "2012-10-17",
                    "Statement": statement(**{field: value if value is not None else 0}),
                }
            )


def test_id_must_be_a_string() -> None:
    with pytest.raises(PolicyError, match="invalid Json"):
        bucket({"Version": "2012-10-17", "Id": 5, "Statement": statement()})


def test_programming_errors_are_not_policy_errors() -> None:
    with pytest.raises(ValueError):
        parse_policy("{}", kind="bucket", account_id=ACCOUNT)  # a bucket policy needs its bucket
    with pytest.raises(ValueError):
        parse_policy("{}", kind="role", account_id=ACCOUNT)  # type: ignore[arg-type]
