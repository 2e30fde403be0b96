"""The LifecycleConfiguration document in and out (S3 API reference: PutBucketLifecycleConfiguration,
LifecycleRule, LifecycleRuleFilter, LifecycleExpiration, NoncurrentVersionExpiration,
AbortIncompleteMultipartUpload, Transition, NoncurrentVersionTransition).

A document is parsed into the wire's shape (the keys boto3 shows), validated as S3 validates it, stored as
JSON and rendered back from it. Errors: a document that breaks the published schema (an unknown element,
a missing Status, a Filter with two conditions, Days and Date together, a value that is not a number) is
MalformedXML; AWS's semantic refusals carry its codes and messages as peers recorded them from AWS
(ID length, duplicate IDs, Days not positive, Date not at midnight GMT, duplicate tag keys, no action).
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element

from strongroom.errors import S3Error, invalid_argument, invalid_request, malformed_xml
from strongroom.lifecycle import DEFAULT_MINIMUM_SIZE, MINIMUM_SIZES
from strongroom.s3 import xml

MAX_RULES = 1000
MAX_ID = 255
MAX_NEWER_NONCURRENT = 100  # S3 user guide: "up to 100 of the most recent noncurrent versions"
STORAGE_CLASSES = ("GLACIER", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "DEEP_ARCHIVE",
                   "GLACIER_IR")
RULE_ELEMENTS = ("ID", "Prefix", "Filter", "Status", "Expiration", "Transition",
                 "NoncurrentVersionTransition", "NoncurrentVersionExpiration",
                 "AbortIncompleteMultipartUpload")
CONDITIONS = ("Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan")


def no_such_lifecycle_configuration(bucket: str) -> S3Error:
    # GetBucketLifecycleConfiguration of a bucket without one (S3 API reference, error codes).
    return S3Error("NoSuchLifecycleConfiguration", 404, "The lifecycle configuration does not exist",
                   BucketName=bucket)


def _text(node: Element, name: str) -> str | None:
    child = xml.only_child(node, name)
    return None if child is None else xml.text_of(child)


def _integer(node: Element, name: str) -> int | None:
    value = _text(node, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise malformed_xml() from None


def _positive(node: Element, name: str, action: str) -> int | None:
    value = _integer(node, name)
    if value is not None and value <= 0:
        raise invalid_argument(f"'{name}' for {action} action must be a positive integer", name, str(value))
    return value


def _midnight(value: str) -> str:
    """A Date: ISO 8601, at midnight GMT (InvalidArgument otherwise), as S3 shows it back."""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise malformed_xml() from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    if (when.hour, when.minute, when.second, when.microsecond) != (0, 0, 0, 0):
        raise invalid_argument("'Date' must be at midnight GMT", "Date", value)
    return when.strftime("%Y-%m-%dT00:00:00.000Z")


def _tag(node: Element) -> dict[str, str]:
    xml.check_known(node, ("Key", "Value"))
    key, value = _text(node, "Key"), _text(node, "Value")
    if key is None:
        raise malformed_xml()
    return {"Key": key, "Value": value or ""}


def _conditions(node: Element, allowed: tuple[str, ...]) -> dict[str, Any]:
    xml.check_known(node, allowed)
    out: dict[str, Any] = {}
    prefix = _text(node, "Prefix")
    if prefix is not None:
        out["Prefix"] = prefix
    for name in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
        size = _integer(node, name)
        if size is not None:
            if size < 0:
                raise invalid_argument(f"'{name}' should be a non-negative integer", name, str(size))
            out[name] = size
    return out


def _filter(node: Element) -> dict[str, Any]:
    xml.check_known(node, (*CONDITIONS, "And"))
    if len(node) > 1:
        raise malformed_xml()  # a Filter holds one condition; several go in an And
    out = _conditions(node, (*CONDITIONS, "And"))
    tag = xml.only_child(node, "Tag")
    if tag is not None:
        out["Tag"] = _tag(tag)
    both = xml.only_child(node, "And")
    if both is not None:
        inner = _conditions(both, CONDITIONS)
        tags = [_tag(t) for t in xml.children(both, "Tag")]
        if len({t["Key"] for t in tags}) < len(tags):
            raise invalid_request("Duplicate Tag Keys are not allowed.")
        if tags:
            inner["Tags"] = tags
        out["And"] = inner
    size = out.get("And", out)
    low, high = size.get("ObjectSizeGreaterThan"), size.get("ObjectSizeLessThan")
    if low is not None and high is not None and low >= high:
        raise invalid_argument("ObjectSizeLessThan must be greater than ObjectSizeGreaterThan",
                               "ObjectSizeLessThan", str(high))
    return out


def _expiration(node: Element) -> dict[str, Any]:
    xml.check_known(node, ("Days", "Date", "ExpiredObjectDeleteMarker"))
    days = _positive(node, "Days", "Expiration")
    date = _text(node, "Date")
    marker = _text(node, "ExpiredObjectDeleteMarker")
    if sum(v is not None for v in (days, date, marker)) != 1:
        raise malformed_xml()  # exactly one of Days, Date, ExpiredObjectDeleteMarker
    if days is not None:
        return {"Days": days}
    if date is not None:
        return {"Date": _midnight(date)}
    if marker not in ("true", "false"):
        raise malformed_xml()
    return {"ExpiredObjectDeleteMarker": marker == "true"}


def _storage_class(node: Element) -> str:
    value = _text(node, "StorageClass")
    if value not in STORAGE_CLASSES:
        raise malformed_xml()
    return value


def _transition(node: Element) -> dict[str, Any]:
    xml.check_known(node, ("Days", "Date", "StorageClass"))
    days = _integer(node, "Days")
    date = _text(node, "Date")
    if (days is None) == (date is None):
        raise malformed_xml()
    if days is not None and days < 0:
        raise invalid_argument("'Days' in Transition action must be nonnegative", "Days", str(days))
    out: dict[str, Any] = {"Days": days} if days is not None else {"Date": _midnight(date or "")}
    out["StorageClass"] = _storage_class(node)
    return out


def _newer(node: Element) -> int | None:
    newer = _positive(node, "NewerNoncurrentVersions", "NoncurrentVersionExpiration")
    if newer is not None and newer > MAX_NEWER_NONCURRENT:
        raise invalid_argument(f"'NewerNoncurrentVersions' must not exceed {MAX_NEWER_NONCURRENT}",
                               "NewerNoncurrentVersions", str(newer))
    return newer


def _noncurrent_transition(node: Element) -> dict[str, Any]:
    xml.check_known(node, ("NoncurrentDays", "StorageClass", "NewerNoncurrentVersions"))
    days = _integer(node, "NoncurrentDays")
    if days is None:
        raise malformed_xml()
    if days < 0:
        raise invalid_argument("'NoncurrentDays' in NoncurrentVersionTransition action must be nonnegative",
                               "NoncurrentDays", str(days))
    out: dict[str, Any] = {"NoncurrentDays": days, "StorageClass": _storage_class(node)}
    newer = _newer(node)
    if newer is not None:
        out["NewerNoncurrentVersions"] = newer
    return out


def _noncurrent_expiration(node: Element) -> dict[str, Any]:
    xml.check_known(node, ("NoncurrentDays", "NewerNoncurrentVersions"))
    days = _positive(node, "NoncurrentDays", "NoncurrentVersionExpiration")
    newer = _newer(node)
    if days is None and newer is None:
        raise malformed_xml()  # one of them at least (peers recorded AWS refusing neither)
    out: dict[str, Any] = {}
    if days is not None:
        out["NoncurrentDays"] = days
    if newer is not None:
        out["NewerNoncurrentVersions"] = newer
    return out


def _rule(node: Element) -> dict[str, Any]:
    xml.check_known(node, RULE_ELEMENTS)
    for name in RULE_ELEMENTS:
        if name not in ("Transition", "NoncurrentVersionTransition"):
            xml.only_child(node, name)  # at most one of each
    rule_id = _text(node, "ID")
    if not rule_id:  # S3 names a rule that has no ID
        rule_id = secrets.token_urlsafe(36)
    if len(rule_id) > MAX_ID:
        raise invalid_argument(f"ID length should not exceed allowed limit of {MAX_ID}", "ID", rule_id)
    status = _text(node, "Status")
    if status not in ("Enabled", "Disabled"):
        raise malformed_xml()
    out: dict[str, Any] = {"ID": rule_id}
    prefix, flt = _text(node, "Prefix"), xml.only_child(node, "Filter")
    if (prefix is None) == (flt is None):
        raise malformed_xml()  # the legacy Prefix or a Filter, one of them
    if prefix is not None:
        out["Prefix"] = prefix
    if flt is not None:
        out["Filter"] = _filter(flt)
    out["Status"] = status
    expiration = xml.only_child(node, "Expiration")
    if expiration is not None:
        out["Expiration"] = _expiration(expiration)
    transitions = [_transition(t) for t in xml.children(node, "Transition")]
    if transitions:
        out["Transitions"] = transitions
    noncurrent_transitions = [_noncurrent_transition(t)
                              for t in xml.children(node, "NoncurrentVersionTransition")]
    if noncurrent_transitions:
        out["NoncurrentVersionTransitions"] = noncurrent_transitions
    noncurrent = xml.only_child(node, "NoncurrentVersionExpiration")
    if noncurrent is not None:
        out["NoncurrentVersionExpiration"] = _noncurrent_expiration(noncurrent)
    abort = xml.only_child(node, "AbortIncompleteMultipartUpload")
    if abort is not None:
        xml.check_known(abort, ("DaysAfterInitiation",))
        days = _positive(abort, "DaysAfterInitiation", "AbortIncompleteMultipartUpload")
        if days is None:
            raise malformed_xml()
        flt_doc = out.get("Filter", {})
        if "Tag" in flt_doc or "Tags" in flt_doc.get("And", {}):
            raise invalid_request("AbortIncompleteMultipartUpload cannot be specified with Tags.")
        out["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    if not ({"Expiration", "Transitions", "NoncurrentVersionTransitions", "NoncurrentVersionExpiration",
             "AbortIncompleteMultipartUpload"} & out.keys()):
        raise invalid_request("At least one action needs to be specified in a rule")
    return out


def minimum_object_size(value: str | None) -> str:
    """The x-amz-transition-default-minimum-object-size request header (AWS, 2024)."""
    if value is None:
        return DEFAULT_MINIMUM_SIZE
    if value not in MINIMUM_SIZES:
        raise invalid_argument("Invalid value for x-amz-transition-default-minimum-object-size",
                               "x-amz-transition-default-minimum-object-size", value)
    return value


def parse(data: bytes, minimum_size: str) -> str:
    """The stored JSON of a LifecycleConfiguration document."""
    root = xml.parse(data, "LifecycleConfiguration")
    xml.check_known(root, ("Rule",))
    nodes = xml.children(root, "Rule")
    if not nodes:
        raise malformed_xml()
    if len(nodes) > MAX_RULES:
        raise invalid_request("The number of lifecycle rules must not exceed the allowed limit of "
                              f"{MAX_RULES} rules")
    rules = [_rule(n) for n in nodes]
    ids = [r["ID"] for r in rules]
    if len(set(ids)) < len(ids):
        raise invalid_argument("Rule ID must be unique. Found same ID for more than one rule")
    return json.dumps({"Rules": rules, "TransitionDefaultMinimumObjectSize": minimum_size})


# --- out ----------------------------------------------------------------------------------------


def _elements(values: dict[str, Any]) -> str:
    out = []
    for name, value in values.items():
        if isinstance(value, dict):
            out.append(f"<{name}>{_elements(value)}</{name}>")
        elif isinstance(value, list):
            one = {"Tags": "Tag", "Transitions": "Transition",
                   "NoncurrentVersionTransitions": "NoncurrentVersionTransition"}[name]
            out.extend(f"<{one}>{_elements(v)}</{one}>" for v in value)
        else:
            out.append(xml.el(name, value))
    return "".join(out)


def render(stored: str) -> tuple[bytes, str]:
    """(the GetBucketLifecycleConfiguration document, its minimum object size header) of a stored one."""
    doc = json.loads(stored)
    body = "".join(f"<Rule>{_elements(rule)}</Rule>" for rule in doc["Rules"])
    return (xml.document("LifecycleConfiguration", body),
            str(doc.get("TransitionDefaultMinimumObjectSize", DEFAULT_MINIMUM_SIZE)))
