"""POST policies of browser uploads: the signature, the credential, the policy document and its checks.

A browser upload (POST Object) is authorized by its form rather than by a signed request: the form
carries a base64 JSON policy, and `x-amz-signature` is the hex HMAC-SHA256 of that base64 text under
the SigV4 signing key of `x-amz-credential`. (Signature Version 2 forms, `AWSAccessKeyId` and a base64
HMAC-SHA1 `signature`, are what boto3 makes at its default settings for the regions that take them,
us-east-1 among them, and S3 still accepts them there.) The policy lists conditions every form field
must meet (`{"field": "value"}`, `["eq" | "starts-with", "$field", "value"]`, `["content-length-range",
min, max]`), and every field but `file`, `policy`, the signature fields and `x-ignore-*` must be named
by one.

Pure: strings and mappings in, S3Errors out; no aiohttp. Messages are S3's own where they were
recorded from S3 (LocalStack's validated snapshots, S3 answers quoted in issue threads).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from strongroom import sigv4
from strongroom.errors import S3Error, access_denied, invalid_argument

ALGORITHM = "AWS4-HMAC-SHA256"
# Fields no condition needs to name, for SigV4 and SigV2 forms.
EXEMPT_V4 = frozenset({"file", "policy", "x-amz-signature"})
EXEMPT_V2 = frozenset({"file", "policy", "awsaccesskeyid", "signature"})
IGNORED_PREFIX = "x-ignore-"
SIGNATURE_FIELDS = ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature")
_ISO_BASIC = re.compile(r"\d{8}T\d{6}Z")
_EXPIRATION = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z")
_WHITESPACE = re.compile(r"\s+")


# ---------------------------------------------------------------- errors


def invalid_policy(detail: str) -> S3Error:
    return S3Error("InvalidPolicyDocument", 400, f"Invalid Policy: {detail}")


def policy_expired() -> S3Error:
    return access_denied("Invalid according to Policy: Policy expired.")


def condition_failed(text: str) -> S3Error:
    return access_denied(f"Invalid according to Policy: Policy Condition failed: {text}")


def extra_fields(names: Iterable[str]) -> S3Error:
    return access_denied(f"Invalid according to Policy: Extra input fields: {', '.join(names)}")


def missing_field(name: str) -> S3Error:
    """A required form field is absent (or sent after the file, where S3 stops reading)."""
    return invalid_argument(
        f"Bucket POST must contain a field named '{name}'.  "
        "If it is specified, please check the order of the fields.",
        name,
        "",
    )


def entity_too_small(size: int, minimum: int) -> S3Error:
    return S3Error(
        "EntityTooSmall",
        400,
        "Your proposed upload is smaller than the minimum allowed size",
        ProposedSize=str(size),
        MinSizeAllowed=str(minimum),
    )


def entity_too_large(size: int, maximum: int) -> S3Error:
    return S3Error(
        "EntityTooLarge",
        400,
        "Your proposed upload exceeds the maximum allowed size",
        ProposedSize=str(size),
        MaxSizeAllowed=str(maximum),
    )


def unsupported_mechanism() -> S3Error:
    return S3Error(
        "InvalidRequest",
        400,
        "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
    )


# ---------------------------------------------------------------- signing


@dataclass(frozen=True, slots=True)
class Credential:
    access_key: str
    date: str  # YYYYMMDD
    region: str
    service: str


def parse_credential(value: str, region: str | None = None) -> Credential:
    """`<access key>/<yyyymmdd>/<region>/s3/aws4_request`; S3 answers InvalidArgument naming the field.
    `region`: the server's; a scope naming another is refused as S3 refuses it (an answer recorded from
    S3 in CulturalMe/meteor-slingshot#150: InvalidArgument "the region 'X' is wrong; expecting 'Y'",
    the field and its value, and <Region>)."""

    def bad(detail: str) -> S3Error:
        return invalid_argument(detail, "X-Amz-Credential", value)

    parts = value.split("/")
    if len(parts) != 5:
        raise bad(
            'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
        )
    access_key, date, credential_region, service, terminal = parts
    if not access_key:
        raise bad("a non-empty Access Key (AKID) must be provided in the credential.")
    if not (len(date) == 8 and date.isascii() and date.isdigit()):
        raise bad(
            f'incorrect date format "{date}". This date in the credential must be in the format "yyyyMMdd".'
        )
    if service != "s3":
        raise bad(f'incorrect service "{service}". This endpoint belongs to "s3".')
    if terminal != "aws4_request":
        raise bad(f'incorrect terminal "{terminal}". This endpoint uses "aws4_request".')
    if region is not None and credential_region != region:
        err = bad(f"the region '{credential_region}' is wrong; expecting '{region}'")
        err.details["Region"] = region
        raise err
    return Credential(access_key, date, credential_region, service)


def check_amz_date(value: str) -> None:
    if not _ISO_BASIC.fullmatch(value):
        # sic: S3's own spelling
        raise invalid_argument("X-Amz-Date must be formated via ISO8601 Long format", "X-Amz-Date", value)


def signature(secret_key: str, credential: Credential, policy_b64: str) -> str:
    """Hex HMAC-SHA256 of the policy exactly as the form carries it (the base64 text, not the JSON)."""
    key = sigv4.signing_key(secret_key, credential.date, credential.region, credential.service)
    return hmac.new(key, policy_b64.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()


def signature_v2(secret_key: str, policy_b64: str) -> str:
    """Base64 HMAC-SHA1 of the policy text as sent: the Signature Version 2 form signature."""
    text = policy_b64.encode("utf-8", "surrogateescape")
    return base64.b64encode(hmac.new(secret_key.encode(), text, hashlib.sha1).digest()).decode()


# ---------------------------------------------------------------- the policy document


@dataclass(frozen=True, slots=True)
class Condition:
    """eq or starts-with on one field; `text` is the condition as S3 quotes it when it fails."""

    op: Literal["eq", "starts-with"]
    name: str | None  # the field, lower-cased; None when the policy left out the '$' (matches nothing)
    value: str
    text: str


@dataclass(frozen=True, slots=True)
class LengthRange:
    low: int | None  # None: an operand S3 cannot read as a size; the condition then fails
    high: int | None
    text: str


@dataclass(frozen=True, slots=True)
class Policy:
    expiration: datetime
    conditions: tuple[Condition, ...] = ()
    ranges: tuple[LengthRange, ...] = ()


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def decode(policy_b64: str) -> Policy:
    """The policy document of a form, validated as S3 validates it (400 InvalidPolicyDocument)."""
    try:
        raw = base64.b64decode(_WHITESPACE.sub("", policy_b64), validate=True)
    except (binascii.Error, ValueError):
        raise invalid_policy("invalid Base64 encoding.") from None
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        raise invalid_policy("Invalid JSON.") from None
    if not isinstance(doc, dict):
        raise invalid_policy("Invalid JSON.")
    for name in doc:
        # The member names are case-sensitive: "EXPIRATION" is not the expiration.
        if name not in ("expiration", "conditions"):
            raise invalid_policy(f"Unexpected: '{name.lower()}'")
    if "expiration" not in doc:
        raise invalid_policy("Policy missing expiration.")
    if "conditions" not in doc:
        raise invalid_policy("Policy missing conditions.")
    expiration = _expiration(doc["expiration"])
    if not isinstance(doc["conditions"], list):
        raise invalid_policy("Invalid 'conditions' value: must be a List.")
    conditions: list[Condition] = []
    ranges: list[LengthRange] = []
    for item in doc["conditions"]:
        if isinstance(item, dict):
            conditions.append(_simple(item))
        elif isinstance(item, list):
            parsed = _array(item)
            (ranges if isinstance(parsed, LengthRange) else conditions).append(parsed)  # type: ignore[arg-type]
        else:
            raise invalid_policy("Invalid condition test: must be a List or Object.")
    return Policy(expiration, tuple(conditions), tuple(ranges))


def _expiration(value: object) -> datetime:
    match = _EXPIRATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise invalid_policy(f"Invalid 'expiration' value: '{value}'")
    try:
        when = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise invalid_policy(f"Invalid 'expiration' value: '{value}'") from None
    fraction = (match.group(2) or "")[:6].ljust(6, "0")
    return when.replace(microsecond=int(fraction))


def _quote(items: list[Any]) -> str:
    return json.dumps(items, ensure_ascii=False)


def _simple(item: dict[str, Any]) -> Condition:
    if len(item) != 1:
        raise invalid_policy(
            "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified."
        )
    ((name, value),) = item.items()
    if value is None:
        raise invalid_policy("Invalid JSON.")
    if not isinstance(value, str):
        raise invalid_policy("Invalid Simple-Condition: value must be a string.")
    # S3 quotes a simple condition as the eq it stands for.
    return Condition("eq", name.lower(), value, _quote(["eq", f"${name}", value]))


def _array(item: list[Any]) -> Condition | LengthRange:
    if not item:
        raise invalid_policy("Invalid Condition: missing operation identifier.")
    op = item[0]
    if not isinstance(op, str):
        raise invalid_policy("Invalid JSON.")
    kind = op.lower()
    if kind not in ("eq", "starts-with", "content-length-range"):
        raise invalid_policy(f"Invalid Condition: unknown operation '{op}'.")
    if len(item) != 3:
        raise invalid_policy(f"Invalid {op}: wrong number of arguments.")
    if kind == "content-length-range":
        low, high = _size(item[1]), _size(item[2])
        return LengthRange(low, high, _quote(item))
    target, value = item[1], item[2]
    if not isinstance(target, str) or not isinstance(value, str):
        raise invalid_policy("Invalid JSON.")
    name = target[1:].lower() if target.startswith("$") else None
    return Condition("eq" if kind == "eq" else "starts-with", name, value, _quote(item))


def _size(value: object) -> int | None:
    """A content-length-range bound: an integer, or a string of digits (S3 accepts "10")."""
    if isinstance(value, (bool, float)):
        raise invalid_policy("Invalid JSON.")
    if isinstance(value, int):
        if value < 0:
            raise invalid_policy("Invalid content-length-range: the bounds may not be negative.")
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, str):
        return None  # fails as a condition, as S3 fails ["content-length-range", "test", "10"]
    raise invalid_policy("Invalid JSON.")


# ---------------------------------------------------------------- checking a form


def check(
    policy: Policy,
    fields: Mapping[str, str],
    sent: Iterable[str],
    bucket: str,
    now: datetime,
    exempt: frozenset[str] = EXEMPT_V4,
) -> tuple[int, int | None]:
    """Expiration, then each condition in the policy's order, then the fields no condition names.

    `fields` maps lower-cased field names to their values (after `${filename}` was expanded), `sent`
    holds the field names as the form spelled them, `exempt` the (lower-case) fields that need no
    condition besides `x-ignore-*`. Returns the allowed size of the file (low, high).
    """
    if now > policy.expiration:
        raise policy_expired()
    for condition in policy.conditions:
        if not matches(condition, fields, bucket):
            raise condition_failed(condition.text)
    low, high = 0, None
    for rng in policy.ranges:
        if rng.low is None or rng.high is None:
            raise condition_failed(rng.text)
        low, high = max(low, rng.low), rng.high if high is None else min(high, rng.high)
    covered = {c.name for c in policy.conditions if c.name is not None}
    extra = [
        name
        for name in sent
        if name.lower() not in covered
        and name.lower() not in exempt
        and not name.lower().startswith(IGNORED_PREFIX)
    ]
    if extra:
        raise extra_fields(extra)
    return low, high


def matches(condition: Condition, fields: Mapping[str, str], bucket: str) -> bool:
    """Names compare without case, values with it; a condition on an absent field fails."""
    if condition.name is None:
        return False
    value = bucket if condition.name == "bucket" else fields.get(condition.name)
    if value is None:
        return False
    if condition.op == "eq":
        return value == condition.value
    if condition.name == "content-type":
        # Content-Type lists: every type in a comma-separated value must meet the condition.
        return all(part.strip().startswith(condition.value) for part in value.split(","))
    return value.startswith(condition.value)
