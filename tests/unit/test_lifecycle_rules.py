"""The day arithmetic and rule selection of strongroom.lifecycle: what the worker and x-amz-expiration use."""

from __future__ import annotations

from datetime import UTC, datetime

from strongroom.lifecycle import Rule, due, expiration, rules_of


def at(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_days_round_up_to_the_next_midnight_utc() -> None:
    # The S3 user guide's example: created 2014-01-15 10:30 UTC, Days 3 -> expires 2014-01-19 00:00 UTC.
    assert due(at(2014, 1, 15, 10, 30), 3) == at(2014, 1, 19)
    assert due(at(2014, 1, 15, 0, 0), 1) == at(2014, 1, 16)  # already a midnight: that one
    # A short day (--lifecycle-day-seconds 10): boundaries are the multiples of 10 s since the epoch.
    assert due(1003.0, 1, 10.0) == 1020.0
    assert due(1000.0, 2, 10.0) == 1020.0


def test_the_rule_that_expires_first_wins_and_filters_select() -> None:
    rules = (Rule("late", True, prefix="a/", expiration_days=5),
             Rule("soon", True, prefix="a/b", expiration_days=1),
             Rule("off", False, expiration_days=1),
             Rule("tagged", True, tags=(("t", "1"),), expiration_days=1),
             Rule("big", True, size_greater_than=100, expiration_days=1))
    assert expiration(rules, "a/x", 10, {}, at(2024, 1, 1, 12)) == (at(2024, 1, 7), "late")
    assert expiration(rules, "a/b", 10, {}, at(2024, 1, 1, 12)) == (at(2024, 1, 3), "soon")
    assert expiration(rules, "z", 10, {"t": "1"}, at(2024, 1, 1, 12)) == (at(2024, 1, 3), "tagged")
    assert expiration(rules, "z", 101, {}, at(2024, 1, 1, 12)) == (at(2024, 1, 3), "big")
    assert expiration(rules, "z", 100, {"t": "2"}, at(2024, 1, 1, 12)) is None


def test_stored_documents_become_rules() -> None:
    stored = ('{"Rules": [{"ID": "r", "Status": "Enabled", "Filter": {"And": {"Prefix": "p/", '
              '"Tags": [{"Key": "k", "Value": "v"}], "ObjectSizeLessThan": 9}}, '
              '"Expiration": {"Date": "2030-01-01T00:00:00.000Z"}, '
              '"NoncurrentVersionExpiration": {"NoncurrentDays": 2, "NewerNoncurrentVersions": 3}}, '
              '{"ID": "legacy", "Prefix": "old/", "Status": "Disabled", '
              '"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 4}}]}')
    first, legacy = rules_of(stored)
    assert first == Rule("r", True, prefix="p/", tags=(("k", "v"),), size_less_than=9,
                         expiration_date=at(2030, 1, 1), noncurrent_days=2, newer_noncurrent_versions=3)
    assert legacy == Rule("legacy", False, prefix="old/", abort_days=4)
    assert rules_of(None) == ()
