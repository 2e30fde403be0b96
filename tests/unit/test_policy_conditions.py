"""Condition operators, table-driven: vectors/policy/conditions.json holds
(operator, values, request) -> holds.

The key is written "test:Key" in the policy and "TEST:key" in the request, so every row
also checks that key names are case-insensitive.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from strongroom.policy import PolicyError, Principal, RequestContext
from strongroom.policy.conditions import all_hold, holds, parse_conditions, parse_date, parse_number

VECTORS = Path(__file__).parent / "vectors" / "policy"
ACCOUNT = "111122223333"


def principal(who: str) -> Principal:
    if who == "anonymous":
        return Principal.anonymous()
    if who == "root":
        return Principal.root(ACCOUNT)
    return Principal.user(ACCOUNT, who, f"AIDA{who.upper()}")


def context(keys: dict[str, Any], who: str = "root") -> RequestContext:
    return RequestContext("s3:GetObject", ("arn:aws:s3:::examplebucket/k",), principal(who), keys)


def _rows() -> list[Any]:
    rows = json.loads((VECTORS / "conditions.json").read_text())
    return [pytest.param(r, id=f"{r['op']}{r['values']}<-{r.get('request', '(missing)')}") for r in rows]


@pytest.mark.parametrize("row", _rows())
def test_vector(row: dict[str, Any]) -> None:
    block = {row["op"]: {"test:Key": row["values"]}}
    variables = row.get("version", "2012-10-17") == "2012-10-17"
    if row["expect"] == "error":
        with pytest.raises(PolicyError):
            parse_conditions(block, variables=variables)
        return
    (condition,) = parse_conditions(block, variables=variables)
    keys = {"TEST:key": row["request"]} if "request" in row else {}
    assert holds(condition, context(keys, row.get("principal", "root"))) is row["expect"], row.get("note", "")


def test_operators_and_keys_are_anded() -> None:
    block = {"StringEquals": {"a:one": "1", "a:two": "2"}, "Bool": {"a:three": "true"}}
    conditions = parse_conditions(block, variables=True)
    assert len(conditions) == 3
    assert all_hold(conditions, context({"a:one": "1", "a:two": "2", "a:three": "true"}))
    assert not all_hold(conditions, context({"a:one": "1", "a:two": "2", "a:three": "false"}))
    assert not all_hold(conditions, context({"a:one": "1", "a:three": "true"}))
    assert all_hold((), context({}))


def test_every_operator_has_its_if_exists_form_but_null() -> None:
    for name in (
        "StringEquals",
        "NumericLessThan",
        "DateGreaterThan",
        "Bool",
        "IpAddress",
        "ArnLike",
        "BinaryEquals",
        "StringNotLike",
        "NotIpAddress",
    ):
        value = {
            "NumericLessThan": "1",
            "DateGreaterThan": "2020-01-01",
            "IpAddress": "10.0.0.0/8",
            "NotIpAddress": "10.0.0.0/8",
            "BinaryEquals": "QQ==",
        }.get(name, "x")
        (c,) = parse_conditions({f"ForAnyValue:{name}IfExists": {"k:k": value}}, variables=True)
        assert c.if_exists and c.qualifier == "ForAnyValue"
        assert holds(c, context({}))
    with pytest.raises(PolicyError, match="Invalid Condition type : ForAllValues:Null"):
        parse_conditions({"ForAllValues:Null": {"k:k": "true"}}, variables=True)


def test_json_numbers_and_booleans_are_values() -> None:
    (c,) = parse_conditions({"NumericEquals": {"s3:max-keys": [10, 2.5]}}, variables=True)
    assert holds(c, context({"s3:max-keys": "2.5"}))
    with pytest.raises(PolicyError):
        parse_conditions({"StringEquals": {"k:k": None}}, variables=True)
    with pytest.raises(PolicyError):
        parse_conditions({"StringEquals": {"k:k": []}}, variables=True)
    with pytest.raises(PolicyError):
        parse_conditions({"StringEquals": {"": "x"}}, variables=True)


def test_empty_operator_body_has_no_conditions() -> None:
    assert parse_conditions({"StringEquals": {}}, variables=True) == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("1577836800", 1_577_836_800_000_000),
        ("1577836800.25", 1_577_836_800_250_000),
        ("2020-01-01T00:00:00Z", 1_577_836_800_000_000),
        ("2020-01-01T01:00:00+01:00", 1_577_836_800_000_000),
        ("2020-01-01T00:00Z", 1_577_836_800_000_000),
        ("2020-01-01", 1_577_836_800_000_000),
        ("2020-01", 1_577_836_800_000_000),
        ("2020-01-01T00:00:00.123456789Z", 1_577_836_800_123_456),
        ("2020-02-30", None),
        ("01/01/2020", None),
        ("", None),
    ],
)
def test_parse_date(text: str, expected: int | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("10", True),
        ("-1.5", True),
        (".5", True),
        ("+3", True),
        ("1e3", False),
        ("NaN", False),
        ("", False),
        ("1.2.3", False),
    ],
)
def test_parse_number(text: str, ok: bool) -> None:
    assert (parse_number(text) is not None) is ok


def test_operator_body_must_be_an_object() -> None:
    with pytest.raises(PolicyError, match="invalid Json"):
        parse_conditions({"StringEquals": "aws:username"}, variables=True)
