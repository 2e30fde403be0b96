"""Object Lock on the wire: the ObjectLockConfiguration, Retention and LegalHold documents, and the
x-amz-object-lock-* headers of object writes, read and validated as S3 does and rendered back.

Documents are accepted with the S3 namespace or without it: Veeam sends Retention without one
(seaweedfs#7516), the SDKs with it. Values become `strongroom.object_lock` values; the rules about
them are there.

AWS facts (API reference: PutObjectLockConfiguration, PutObjectRetention, PutObjectLegalHold,
PutObject's ObjectLock* parameters; botocore's service-2.json for shapes and enums). The messages of
the header errors are AWS's as peers recorded them from AWS (versitygw, s3mock, localstack), not
written in AWS's documentation.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from strongroom.errors import S3Error, invalid_argument, invalid_request, malformed_xml
from strongroom.object_lock import (
    MODES,
    DefaultRetention,
    LockConfiguration,
    Mode,
    Retention,
    retain_until_in_past,
)
from strongroom.s3 import xml

MODE_HEADER = "x-amz-object-lock-mode"
UNTIL_HEADER = "x-amz-object-lock-retain-until-date"
HOLD_HEADER = "x-amz-object-lock-legal-hold"
BYPASS_HEADER = "x-amz-bypass-governance-retention"
BUCKET_LOCK_HEADER = "x-amz-bucket-object-lock-enabled"
LOCK_HEADERS = (MODE_HEADER, UNTIL_HEADER, HOLD_HEADER)
ON, OFF = "ON", "OFF"


def missing_lock_configuration() -> S3Error:
    # Object-level lock requests in a bucket without Object Lock.
    return invalid_request("Bucket is missing Object Lock Configuration")


def lock_configuration_not_found(bucket: str) -> S3Error:
    return S3Error("ObjectLockConfigurationNotFoundError", 404,
                   "Object Lock configuration does not exist for this bucket", BucketName=bucket)


def no_object_lock_configuration() -> S3Error:
    # GetObjectRetention / GetObjectLegalHold of a version that has none.
    return S3Error("NoSuchObjectLockConfiguration", 404,
                   "The specified object does not have a ObjectLock configuration")


def missing_integrity_header() -> S3Error:
    return invalid_request(
        "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock "
        "parameters")


# --- dates --------------------------------------------------------------------------------------


def parse_date(text: str) -> float | None:
    """An ISO 8601 timestamp (2030-01-01T00:00:00Z, with or without fractions or an offset; without
    one it is UTC) as epoch seconds, or None."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def render_date(epoch: float) -> str:
    """As S3 writes RetainUntilDate and x-amz-object-lock-retain-until-date: 2030-01-01T00:00:00.000Z."""
    return xml.timestamp(epoch)


# --- the bucket's configuration -------------------------------------------------------------------


def _leaf(node: ET.Element) -> str:
    if len(node):
        raise malformed_xml()
    return xml.text_of(node)


def _required_leaf(parent: ET.Element, name: str) -> str:
    node = xml.only_child(parent, name)
    if node is None:
        raise malformed_xml()
    return _leaf(node)


def _mode(text: str) -> Mode:
    for mode in MODES:  # the enum is case-sensitive: "governance" does not validate
        if text == mode:
            return mode
    raise malformed_xml()


def _period(text: str) -> int:
    """Days or Years: an xs:int (anything else fails the schema); zero or less is refused by S3."""
    try:
        value = int(text, 10)
    except ValueError:
        raise malformed_xml() from None
    if value <= 0:
        raise invalid_argument("Default retention period must be a positive integer value")
    return value


def parse_configuration(body: bytes) -> LockConfiguration:
    """PutObjectLockConfiguration's document. ObjectLockEnabled must say Enabled (its one value);
    a Rule holds a DefaultRetention with its Mode and exactly one of Days and Years."""
    root = xml.parse(body, "ObjectLockConfiguration")
    xml.check_known(root, ("ObjectLockEnabled", "Rule"))
    if _required_leaf(root, "ObjectLockEnabled") != "Enabled":
        raise malformed_xml()
    rule = xml.only_child(root, "Rule")
    if rule is None:
        return LockConfiguration()
    xml.check_known(rule, ("DefaultRetention",))
    default = xml.only_child(rule, "DefaultRetention")
    if default is None:
        raise malformed_xml()
    xml.check_known(default, ("Mode", "Days", "Years"))
    mode = _mode(_required_leaf(default, "Mode"))
    days, years = xml.only_child(default, "Days"), xml.only_child(default, "Years")
    if (days is None) == (years is None):
        raise malformed_xml()
    if days is not None:
        return LockConfiguration(DefaultRetention(mode, days=_period(_leaf(days))))
    assert years is not None
    return LockConfiguration(DefaultRetention(mode, years=_period(_leaf(years))))


def render_configuration(config: LockConfiguration) -> bytes:
    body = xml.el("ObjectLockEnabled", "Enabled")
    d = config.default
    if d is not None:
        period = xml.el("Days", d.days) if d.days is not None else xml.el("Years", d.years)
        body += f"<Rule><DefaultRetention>{xml.el('Mode', d.mode)}{period}</DefaultRetention></Rule>"
    return xml.document("ObjectLockConfiguration", body)


# --- a version's retention and legal hold ----------------------------------------------------------


def parse_retention(body: bytes) -> Retention | None:
    """PutObjectRetention's document; None for an empty <Retention/>, which removes a retention (allowed
    only where the rules allow a removal). A Mode without a date, or a date without a Mode, is invalid."""
    root = xml.parse(body, "Retention")
    xml.check_known(root, ("Mode", "RetainUntilDate"))
    mode_node, until_node = xml.only_child(root, "Mode"), xml.only_child(root, "RetainUntilDate")
    if mode_node is None and until_node is None:
        return None
    if mode_node is None or until_node is None:
        raise malformed_xml()
    until = parse_date(_leaf(until_node))
    if until is None:
        raise malformed_xml()
    return Retention(_mode(_leaf(mode_node)), until)


def render_retention(retention: Retention) -> bytes:
    body = xml.el("Mode", retention.mode) + xml.el("RetainUntilDate", render_date(retention.retain_until))
    return xml.document("Retention", body)


def parse_legal_hold(body: bytes) -> bool:
    root = xml.parse(body, "LegalHold")
    xml.check_known(root, ("Status",))
    status = _required_leaf(root, "Status")
    if status not in (ON, OFF):
        raise malformed_xml()
    return status == ON


def render_legal_hold(on: bool) -> bytes:
    return xml.document("LegalHold", xml.el("Status", ON if on else OFF))


# --- the headers of an object write ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LockHeaders:
    """What a PutObject, CopyObject, CreateMultipartUpload or POST Object asked for: a retention, a legal
    hold (None: not said, so OFF unless a default applies), or neither."""

    retention: Retention | None = None
    legal_hold: bool | None = None

    @property
    def asked(self) -> bool:
        return self.retention is not None or self.legal_hold is not None


def parse_lock_headers(headers: Mapping[str, str], now: float) -> LockHeaders:
    """The x-amz-object-lock-* headers (or POST Object's form fields of the same names), validated.
    A mode and a date come together; the date is ISO 8601 and in the future (of `now`, the catalog's time)."""
    mode_text, until_text = headers.get(MODE_HEADER), headers.get(UNTIL_HEADER)
    hold_text = headers.get(HOLD_HEADER)
    retention = None
    if mode_text is not None or until_text is not None:
        both = "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
        if mode_text is None:
            raise invalid_argument(both, MODE_HEADER, "")
        if until_text is None:
            raise invalid_argument(both, UNTIL_HEADER, "")
        if mode_text not in MODES:
            raise invalid_argument("Unknown wormMode directive.", MODE_HEADER, mode_text)
        until = parse_date(until_text)
        if until is None:
            raise invalid_argument("The retain until date must be provided in ISO 8601 format",
                                   UNTIL_HEADER, until_text)
        if until <= now:
            raise retain_until_in_past(UNTIL_HEADER, until_text)
        retention = Retention(_mode(mode_text), until)
    legal_hold = None
    if hold_text is not None:
        if hold_text not in (ON, OFF):
            raise invalid_argument("Legal hold must be either of 'ON' or 'OFF'", HOLD_HEADER, hold_text)
        legal_hold = hold_text == ON
    return LockHeaders(retention, legal_hold)


def lock_actions(headers: Mapping[str, str]) -> list[str]:
    """What a write asking for a lock also needs: s3:PutObjectRetention for a retention, and
    s3:PutObjectLegalHold for a legal hold, as the operations that set them later need. (strongroom's
    reading: AWS's pages name these actions for PutObjectRetention and PutObjectLegalHold; that a
    write's headers need them too is not written there. Without it, anyone who may write could lock
    a version for years, its KMS key with it.)"""
    actions = []
    if MODE_HEADER in headers or UNTIL_HEADER in headers:
        actions.append("s3:PutObjectRetention")
    if HOLD_HEADER in headers:
        actions.append("s3:PutObjectLegalHold")
    return actions


def bypass_requested(headers: Mapping[str, str]) -> bool:
    """x-amz-bypass-governance-retention: true (case-insensitive, as a boolean header)."""
    return headers.get(BYPASS_HEADER, "").strip().lower() == "true"


def bucket_lock_requested(headers: Mapping[str, str]) -> bool:
    """CreateBucket's x-amz-bucket-object-lock-enabled: true."""
    return headers.get(BUCKET_LOCK_HEADER, "").strip().lower() == "true"
