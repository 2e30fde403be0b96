"""Object Lock's rules (strongroom.object_lock) and its wire forms (s3/object_lock_wire): documents with
and without the S3 namespace, AWS's validation errors, the x-amz-object-lock-* headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from strongroom.errors import S3Error
from strongroom.object_lock import (
    COMPLIANCE,
    DAY,
    GOVERNANCE,
    DefaultRetention,
    Lock,
    LockConfiguration,
    Retention,
    check_retention_change,
)
from strongroom.s3 import object_lock_wire as wire

NS = ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
ENABLED = "<ObjectLockEnabled>Enabled</ObjectLockEnabled>"
NOW = datetime(2026, 2, 28, 12, 0, tzinfo=UTC).timestamp()


def code(fn, *args) -> tuple[str, int, str]:  # noqa: ANN001
    with pytest.raises(S3Error) as caught:
        fn(*args)
    return caught.value.code, caught.value.status, caught.value.message


# --- the rules -------------------------------------------------------------------------------------


def test_default_retention_in_days_and_calendar_years() -> None:
    assert DefaultRetention(GOVERNANCE, days=3).until(NOW) == NOW + 3 * DAY
    leap = datetime(2028, 2, 29, 8, 0, tzinfo=UTC).timestamp()
    next_year = datetime(2029, 2, 28, 8, tzinfo=UTC).timestamp()
    assert DefaultRetention(COMPLIANCE, years=1).until(leap) == next_year
    two_years = datetime(2028, 2, 28, 12, tzinfo=UTC).timestamp()
    assert DefaultRetention(COMPLIANCE, years=2).until(NOW) == two_years


def test_configuration_round_trips_through_the_catalog_form() -> None:
    for config in (LockConfiguration(), LockConfiguration(DefaultRetention(COMPLIANCE, years=7)),
                   LockConfiguration(DefaultRetention(GOVERNANCE, days=30))):
        assert LockConfiguration.from_json(config.to_json()) == config


@pytest.mark.parametrize("mode", [GOVERNANCE, COMPLIANCE])
def test_an_active_retention_forbids_delete_compliance_even_with_the_bypass(mode: str) -> None:
    lock = Lock(Retention(mode, NOW + 60))  # type: ignore[arg-type]
    assert lock.protected(NOW)
    assert code(lock.check_delete, NOW, False) == (
        "AccessDenied", 403, "Access Denied because object protected by object lock.")
    if mode == COMPLIANCE:
        assert code(lock.check_delete, NOW, True)[0] == "AccessDenied"
    else:
        lock.check_delete(NOW, True)  # GOVERNANCE gives way to the bypass (header and permission)
    # once the date has passed (on the catalog's clock), nothing is protected
    assert not lock.protected(NOW + 61)
    lock.check_delete(NOW + 61, False)


def test_a_legal_hold_forbids_delete_whatever_the_bypass() -> None:
    lock = Lock(None, legal_hold=True)
    assert lock.protected(NOW)
    assert code(lock.check_delete, NOW, True)[0] == "AccessDenied"
    Lock().check_delete(NOW, False)
    assert not Lock().protected(NOW)


def test_compliance_can_only_be_extended_by_anyone() -> None:
    current = Retention(COMPLIANCE, NOW + 100)
    check_retention_change(current, Retention(COMPLIANCE, NOW + 200), NOW, False)
    check_retention_change(current, Retention(COMPLIANCE, NOW + 100), NOW, False)
    for new in (Retention(COMPLIANCE, NOW + 50), Retention(GOVERNANCE, NOW + 500), None):
        for bypass in (False, True):
            assert code(check_retention_change, current, new, NOW, bypass)[0] == "AccessDenied"


def test_governance_extends_freely_and_weakens_only_with_the_bypass() -> None:
    current = Retention(GOVERNANCE, NOW + 100)
    check_retention_change(current, Retention(GOVERNANCE, NOW + 200), NOW, False)
    check_retention_change(current, Retention(COMPLIANCE, NOW + 100), NOW, False)
    for new in (Retention(GOVERNANCE, NOW + 50), Retention(COMPLIANCE, NOW + 50), None):
        assert code(check_retention_change, current, new, NOW, False)[0] == "AccessDenied"
        check_retention_change(current, new, NOW, True)


def test_a_new_retention_must_end_in_the_future_and_a_passed_one_protects_nothing() -> None:
    assert code(check_retention_change, None, Retention(GOVERNANCE, NOW - 1), NOW, True) == (
        "InvalidArgument", 400, "The retain until date must be in the future!")
    check_retention_change(Retention(COMPLIANCE, NOW - 1), None, NOW, False)
    check_retention_change(Retention(COMPLIANCE, NOW - 1), Retention(GOVERNANCE, NOW + 5), NOW, False)


# --- the documents ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ns", [NS, ""])
def test_configuration_documents_with_and_without_the_namespace(ns: str) -> None:
    enabled = f"<ObjectLockConfiguration{ns}>{ENABLED}</ObjectLockConfiguration>"
    assert wire.parse_configuration(enabled.encode()) == LockConfiguration()
    days = (f"<ObjectLockConfiguration{ns}>{ENABLED}<Rule><DefaultRetention>"
            "<Mode>COMPLIANCE</Mode><Days>30</Days></DefaultRetention></Rule></ObjectLockConfiguration>")
    config = wire.parse_configuration(days.encode())
    assert config == LockConfiguration(DefaultRetention(COMPLIANCE, days=30))
    assert wire.parse_configuration(wire.render_configuration(config)) == config


RULE = "<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>{}</DefaultRetention></Rule>"


@pytest.mark.parametrize(("inner", "expected"), [
    ("<ObjectLockEnabled>Disabled</ObjectLockEnabled>", "MalformedXML"),
    ("", "MalformedXML"),  # ObjectLockEnabled missing
    ("<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule/>", "MalformedXML"),
    (RULE.format("<Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years>"), "MalformedXML"),
    (RULE.format("<Mode>GOVERNANCE</Mode>"), "MalformedXML"),
    (RULE.format("<Days>1</Days>"), "MalformedXML"),
    (RULE.format("<Mode>governance</Mode><Days>1</Days>"), "MalformedXML"),
    (RULE.format("<Mode>GOVERNANCE</Mode><Days>one</Days>"), "MalformedXML"),
    (RULE.format("<Mode>GOVERNANCE</Mode><Days>0</Days>"), "InvalidArgument"),
    (RULE.format("<Mode>COMPLIANCE</Mode><Years>-1</Years>"), "InvalidArgument"),
    ("<ObjectLockEnabled>Enabled</ObjectLockEnabled><Token>x</Token>", "MalformedXML"),
])
def test_configuration_errors(inner: str, expected: str) -> None:
    body = f"<ObjectLockConfiguration{NS}>{inner}</ObjectLockConfiguration>".encode()
    assert code(wire.parse_configuration, body)[0] == expected


@pytest.mark.parametrize("ns", [NS, ""])
def test_retention_and_legal_hold_documents_with_and_without_the_namespace(ns: str) -> None:
    until = "<RetainUntilDate>2030-01-02T03:04:05Z</RetainUntilDate>"
    body = f"<Retention{ns}><Mode>COMPLIANCE</Mode>{until}</Retention>"
    retention = wire.parse_retention(body.encode())
    assert retention == Retention(COMPLIANCE, datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())
    assert wire.parse_retention(wire.render_retention(retention)) == retention
    assert b"<RetainUntilDate>2030-01-02T03:04:05.000Z</RetainUntilDate>" in wire.render_retention(retention)
    assert wire.parse_retention(f"<Retention{ns}/>".encode()) is None
    assert wire.parse_legal_hold(f"<LegalHold{ns}><Status>ON</Status></LegalHold>".encode()) is True
    assert wire.parse_legal_hold(wire.render_legal_hold(False)) is False


@pytest.mark.parametrize("body", [
    "<Retention><Mode>governance</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>",
    "<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>tomorrow</RetainUntilDate></Retention>",
    "<Retention><Mode>GOVERNANCE</Mode></Retention>",
    "<Retention><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>",
    "<Retention>",
    "<LegalHold><Status>on</Status></LegalHold>",
    "<LegalHold/>",
])
def test_retention_and_legal_hold_errors(body: str) -> None:
    parse = wire.parse_retention if body.startswith("<Retention") else wire.parse_legal_hold
    assert code(parse, body.encode())[0] == "MalformedXML"


# --- the headers of a write ------------------------------------------------------------------------

FUTURE = "2030-01-01T00:00:00.000Z"


def test_lock_headers() -> None:
    asked = wire.parse_lock_headers({wire.MODE_HEADER: "GOVERNANCE", wire.UNTIL_HEADER: FUTURE,
                                     wire.HOLD_HEADER: "ON"}, NOW)
    assert asked.retention == Retention(GOVERNANCE, datetime(2030, 1, 1, tzinfo=UTC).timestamp())
    assert asked.legal_hold is True and asked.asked
    assert not wire.parse_lock_headers({}, NOW).asked
    assert wire.parse_lock_headers({wire.HOLD_HEADER: "OFF"}, NOW).legal_hold is False


@pytest.mark.parametrize(("headers", "message", "name", "value"), [
    ({wire.MODE_HEADER: "GOVERNANCE"},
     "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
     wire.UNTIL_HEADER, ""),
    ({wire.UNTIL_HEADER: FUTURE},
     "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
     wire.MODE_HEADER, ""),
    ({wire.MODE_HEADER: "governance", wire.UNTIL_HEADER: FUTURE}, "Unknown wormMode directive.",
     wire.MODE_HEADER, "governance"),
    ({wire.MODE_HEADER: "GOVERNANCE", wire.UNTIL_HEADER: "Wed, 01 Jan 2030 00:00:00 GMT"},
     "The retain until date must be provided in ISO 8601 format", wire.UNTIL_HEADER,
     "Wed, 01 Jan 2030 00:00:00 GMT"),
    ({wire.MODE_HEADER: "COMPLIANCE", wire.UNTIL_HEADER: "2020-01-01T00:00:00Z"},
     "The retain until date must be in the future!", wire.UNTIL_HEADER, "2020-01-01T00:00:00Z"),
    ({wire.HOLD_HEADER: "on"}, "Legal hold must be either of 'ON' or 'OFF'", wire.HOLD_HEADER, "on"),
])
def test_lock_header_errors(headers: dict[str, str], message: str, name: str, value: str) -> None:
    with pytest.raises(S3Error) as caught:
        wire.parse_lock_headers(headers, NOW)
    err = caught.value
    assert (err.code, err.status, err.message) == ("InvalidArgument", 400, message)
    assert err.details == {"ArgumentName": name, "ArgumentValue": value}


def test_boolean_headers() -> None:
    assert wire.bypass_requested({wire.BYPASS_HEADER: "True"})
    assert not wire.bypass_requested({wire.BYPASS_HEADER: "false"}) and not wire.bypass_requested({})
    assert wire.bucket_lock_requested({wire.BUCKET_LOCK_HEADER: "true"})
    assert not wire.bucket_lock_requested({})
