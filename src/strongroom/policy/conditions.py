"""Condition operators: parsing a `Condition` block and deciding it against a request.

The rules, from the IAM pages "Condition operators" and "Conditions with multiple context
keys or values":
- Operators in a block, and keys under one operator, are ANDed; the values listed for one
  key are ORed -- except for a negated operator (StringNotEquals, StringNotEqualsIgnoreCase,
  StringNotLike, NumericNotEquals, DateNotEquals, NotIpAddress, ArnNotEquals, ArnNotLike),
  whose values are NORed: it holds when the request value matches none of them.
- A key missing from the request: the condition is false, or true for a negated operator;
  `...IfExists` makes it true; `Null` tests presence itself ("true" = absent).
- ForAllValues holds when every request value matches (true when the key is absent or
  its value set is empty); ForAnyValue when at least one does (false when absent/empty).
- Key names are case-insensitive; values are case-sensitive except for
  StringEqualsIgnoreCase / StringNotEqualsIgnoreCase and Bool.
- ArnEquals and ArnLike behave the same: each of the six colon-separated parts is matched
  on its own, with `*` and `?`.
- Policy variables may be used with the string, ARN and Bool operators only. A variable
  the request cannot resolve (and that has no default) makes that value match nothing.

Choices where AWS documents nothing: a request value that does not parse for a typed
operator (a number, a date, an IP address, an ARN) fails the condition whether or not the
operator is negated; a multivalued key under an operator without a qualifier is treated
like ForAnyValue; date strings of digits only are epoch seconds.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from strongroom.policy.context import RequestContext
from strongroom.policy.errors import PolicyError
from strongroom.policy.wildcard import Pattern, Template, parse_template

Family = Literal["string", "string_ci", "like", "numeric", "date", "bool", "binary", "ip", "arn", "null"]
Compare = Literal["eq", "lt", "le", "gt", "ge"]
Qualifier = Literal["", "ForAnyValue", "ForAllValues"]

INVALID_JSON = "This policy contains invalid Json"
INVALID_VALUE = "Invalid Condition value"  # AWS's wording for this case is not documented
INVALID_IP = "Invalid IP address in Conditions"

_OPERATORS: dict[str, tuple[Family, Compare, bool]] = {
    "StringEquals": ("string", "eq", False),
    "StringNotEquals": ("string", "eq", True),
    "StringEqualsIgnoreCase": ("string_ci", "eq", False),
    "StringNotEqualsIgnoreCase": ("string_ci", "eq", True),
    "StringLike": ("like", "eq", False),
    "StringNotLike": ("like", "eq", True),
    "NumericEquals": ("numeric", "eq", False),
    "NumericNotEquals": ("numeric", "eq", True),
    "NumericLessThan": ("numeric", "lt", False),
    "NumericLessThanEquals": ("numeric", "le", False),
    "NumericGreaterThan": ("numeric", "gt", False),
    "NumericGreaterThanEquals": ("numeric", "ge", False),
    "DateEquals": ("date", "eq", False),
    "DateNotEquals": ("date", "eq", True),
    "DateLessThan": ("date", "lt", False),
    "DateLessThanEquals": ("date", "le", False),
    "DateGreaterThan": ("date", "gt", False),
    "DateGreaterThanEquals": ("date", "ge", False),
    "Bool": ("bool", "eq", False),
    "BinaryEquals": ("binary", "eq", False),
    "IpAddress": ("ip", "eq", False),
    "NotIpAddress": ("ip", "eq", True),
    "ArnEquals": ("arn", "eq", False),
    "ArnLike": ("arn", "eq", False),
    "ArnNotEquals": ("arn", "eq", True),
    "ArnNotLike": ("arn", "eq", True),
    "Null": ("null", "eq", False),
}
OPERATOR_NAMES = frozenset(_OPERATORS)
_VARIABLE_FAMILIES = frozenset({"string", "string_ci", "like", "arn", "bool"})

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_EPOCH = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,9})?")
# The W3C profile of ISO 8601 ("NOTE-datetime"), which the Date operators name.
_W3C_DATE = re.compile(
    r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2})(?:T([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?")
_EPOCH_START = datetime(1970, 1, 1, tzinfo=UTC)


def parse_number(s: str) -> Decimal | None:
    return Decimal(s) if _NUMBER.fullmatch(s) else None


def parse_date(s: str) -> int | None:
    """Microseconds since the epoch, from epoch seconds or a W3C ISO 8601 date; None if neither."""
    if _EPOCH.fullmatch(s):
        return int(Decimal(s) * 1_000_000)
    m = _W3C_DATE.fullmatch(s)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, zone = m.groups()
    tz = UTC
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        when = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                        int(second or 0), int((frac or "0")[:6].ljust(6, "0")), tzinfo=tz)
    except ValueError:
        return None
    delta = when - _EPOCH_START
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@lru_cache(maxsize=4096)
def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    # Parsing an address is slow next to everything else a policy needs, and policies repeat them.
    return ipaddress.ip_network(value, strict=False)  # a bare address is a /32 (or /128)


@dataclass(frozen=True, slots=True)
class _Dynamic:
    """A string value holding a policy variable, resolved for each request."""

    template: Template
    fold: Literal["", "casefold", "lower"]

    def resolve(self, ctx: RequestContext) -> str | None:
        text = self.template.text(ctx.variable)
        if text is None or not self.fold:
            return text
        return text.casefold() if self.fold == "casefold" else text.lower()


@dataclass(frozen=True, slots=True)
class Condition:
    """One (operator, key) pair of a Condition block, with its values compiled."""

    operator: str
    family: Family
    compare: Compare
    negated: bool
    qualifier: Qualifier
    if_exists: bool
    key: str
    values: tuple[Any, ...]
    raw: tuple[str, ...]  # the values as written (GetBucketPolicyStatus asks whether they are fixed)


def _operator(name: str) -> tuple[Family, Compare, bool, Qualifier, bool]:
    qualifier: Qualifier = ""
    base = name
    if name.startswith("ForAnyValue:"):
        qualifier, base = "ForAnyValue", name[len("ForAnyValue:"):]
    elif name.startswith("ForAllValues:"):
        qualifier, base = "ForAllValues", name[len("ForAllValues:"):]
    if_exists = False
    stem = base.removesuffix("IfExists")
    if base not in _OPERATORS and stem != base and stem in _OPERATORS and stem != "Null":
        if_exists, base = True, stem
    if base not in _OPERATORS or (base == "Null" and qualifier):
        raise PolicyError(f"Invalid Condition type : {name}")
    family, compare, negated = _OPERATORS[base]
    return family, compare, negated, qualifier, if_exists


def _raw_values(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise PolicyError(INVALID_JSON)
    out = []
    for v in items:
        if isinstance(v, bool):
            out.append("true" if v else "false")
        elif isinstance(v, str):
            out.append(v)
        elif isinstance(v, int | float):
            out.append(json.dumps(v))
        else:
            raise PolicyError(INVALID_JSON)
    return out


def _text(value: str, variables: bool, fold: Literal["", "casefold", "lower"]) -> str | _Dynamic:
    template = parse_template(value, wildcards=False, variables=variables)
    if template.has_variables:
        return _Dynamic(template, fold)
    if fold == "casefold":
        return value.casefold()
    return value.lower() if fold == "lower" else value


def _compile(family: Family, value: str, variables: bool) -> Any:
    variables = variables and family in _VARIABLE_FAMILIES
    if family == "string":
        return _text(value, variables, "")
    if family == "string_ci":
        return _text(value, variables, "casefold")
    if family == "bool":
        return _text(value, variables, "lower")
    if family == "like":
        return Pattern(parse_template(value, wildcards=True, variables=variables))
    if family == "arn":
        parts = value.split(":", 5)
        if len(parts) < 6:  # not an ARN: matched as one string
            return Pattern(parse_template(value, wildcards=True, variables=variables))
        return tuple(Pattern(parse_template(p, wildcards=True, variables=variables)) for p in parts)
    if family == "numeric":
        number = parse_number(value)
        if number is None:
            raise PolicyError(INVALID_VALUE)
        return number
    if family == "date":
        when = parse_date(value)
        if when is None:
            raise PolicyError(INVALID_VALUE)
        return when
    if family == "binary":
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise PolicyError(INVALID_VALUE) from None
    if family == "ip":
        try:
            return _network(value)
        except ValueError:
            raise PolicyError(INVALID_IP) from None
    # Null
    if value.lower() not in ("true", "false"):
        raise PolicyError(INVALID_VALUE)
    return value.lower() == "true"


def parse_conditions(block: Any, *, variables: bool) -> tuple[Condition, ...]:
    """Validate a Condition element; `variables` is whether the policy version has policy variables."""
    if not isinstance(block, dict):
        raise PolicyError(INVALID_JSON)
    out: list[Condition] = []
    for name, body in block.items():
        family, compare, negated, qualifier, if_exists = _operator(name)
        if not isinstance(body, dict):
            raise PolicyError(INVALID_JSON)
        for key, raw in body.items():
            if not key:
                raise PolicyError(INVALID_JSON)
            values = _raw_values(raw)
            compiled = tuple(_compile(family, v, variables) for v in values)
            out.append(Condition(name, family, compare, negated, qualifier, if_exists, key.lower(), compiled,
                                 tuple(values)))
    return tuple(out)


def _ordered(compare: Compare, x: Any, y: Any) -> bool:
    if compare == "eq":
        return bool(x == y)
    if compare == "lt":
        return bool(x < y)
    if compare == "le":
        return bool(x <= y)
    if compare == "gt":
        return bool(x > y)
    return bool(x >= y)


def _matches(c: Condition, rv: str, policy: list[Any], ctx: RequestContext) -> bool | None:
    """Whether request value `rv` matches any policy value; None if `rv` is not of the operator's type."""
    family = c.family
    if family == "string":
        return rv in policy
    if family == "string_ci":
        return rv.casefold() in policy
    if family == "bool":
        return rv.lower() in policy
    if family == "like":
        return any(p.match(rv, ctx.variable) for p in policy)
    if family == "arn":
        parts = rv.split(":", 5)
        for p in policy:
            if isinstance(p, Pattern):
                if p.match(rv, ctx.variable):
                    return True
            elif len(parts) == 6 and all(q.match(x, ctx.variable) for q, x in zip(p, parts, strict=True)):
                return True
        return False if len(parts) == 6 else None
    if family == "numeric" or family == "date":
        x = parse_number(rv) if family == "numeric" else parse_date(rv)
        if x is None:
            return None
        return any(_ordered(c.compare, x, p) for p in policy)
    if family == "binary":
        return rv.encode("utf-8") in policy
    # ip
    try:
        address = ipaddress.ip_address(rv)
    except ValueError:
        return None
    return any(address.version == net.version and address in net for net in policy)


def holds(c: Condition, ctx: RequestContext) -> bool:
    """Whether one condition holds for the request."""
    values = ctx.values(c.key)
    if c.family == "null":
        absent = not values
        return any(v == absent for v in c.values)
    if not values:
        if c.if_exists or c.qualifier == "ForAllValues":
            return True
        if c.qualifier == "ForAnyValue":
            return False
        return c.negated
    policy: list[Any] = []
    for v in c.values:
        if isinstance(v, _Dynamic):
            resolved = v.resolve(ctx)
            if resolved is not None:
                policy.append(resolved)
        else:
            policy.append(v)
    if c.negated:
        outcomes = (_matches(c, rv, policy, ctx) is False for rv in values)
    else:
        outcomes = (_matches(c, rv, policy, ctx) is True for rv in values)
    return all(outcomes) if c.qualifier == "ForAllValues" else any(outcomes)


def all_hold(conditions: tuple[Condition, ...], ctx: RequestContext) -> bool:
    return all(holds(c, ctx) for c in conditions)
