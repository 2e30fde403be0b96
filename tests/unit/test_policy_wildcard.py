"""The `*`/`?` matcher: agreement with a plain reference matcher, linear time on hostile patterns,
and policy-variable templates."""

from __future__ import annotations

import random
import time
from functools import cache

import pytest

from strongroom.policy.wildcard import ONE, STAR, Glob, Pattern, Variable, parse_template


def reference(pattern: str, text: str) -> bool:
    """Textbook dynamic programming over (pattern position, text position)."""

    @cache
    def m(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(text)
        if pattern[i] == "*":
            return m(i + 1, j) or (j < len(text) and m(i, j + 1))
        return j < len(text) and (pattern[i] == "?" or pattern[i] == text[j]) and m(i + 1, j + 1)

    return m(0, 0)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("", "", True),
        ("", "a", False),
        ("*", "", True),
        ("*", "anything", True),
        ("?", "", False),
        ("?", "a", True),
        ("a*", "a", True),
        ("*a", "ba", True),
        ("*a", "ab", False),
        ("a*b*c", "abc", True),
        ("a*b*c", "aXbYc", True),
        ("a*b*c", "acb", False),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("*?*", "", False),
        ("*??*", "a", False),
        ("**a**", "xax", True),
        ("a*a", "a", False),
        ("a*a", "aa", True),
        ("*ab?d*", "xxabcabxd", True),
        ("*a?a?b", "aaaaab", True),
        ("*a?a?b", "aaaab", True),
        ("*a?a?b", "aab", False),
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/k:with:colons", True),
        ("x*y*z", "xyz", True),
        ("*.csv", "a.csv.txt", False),
    ],
)
def test_examples(pattern: str, text: str, expected: bool) -> None:
    assert reference(pattern, text) is expected
    assert Glob.compile(pattern).match(text) is expected


def test_agrees_with_the_reference_on_random_inputs() -> None:
    rng = random.Random(20240601)
    for _ in range(20_000):
        pattern = "".join(rng.choice("ab*?") for _ in range(rng.randint(0, 9)))
        text = "".join(rng.choice("abc") for _ in range(rng.randint(0, 10)))
        assert Glob.compile(pattern).match(text) is reference(pattern, text), (pattern, text)


def test_fold_is_case_insensitive_both_ways() -> None:
    assert Glob.compile("S3:Get*", fold=True).match("s3:GETOBJECT")
    assert not Glob.compile("S3:Get*").match("s3:GetObject")


def _time(glob: Glob, text: str) -> tuple[bool, float]:
    start = time.perf_counter()
    result = glob.match(text)
    return result, time.perf_counter() - start


KEY = "a" * 1023 + "b"  # an S3 key of the maximum length


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("*" * 5000, "a" * 1024, True),
        ("*" * 5000 + "b", "a" * 1024, False),
        ("*a" * 2500 + "b", "a" * 1024, False),  # classic backtracking killer (refused by length)
        ("*a" * 400 + "b", KEY, True),  # ... and the same shape that must scan the whole key
        ("*a" * 1000 + "*b", KEY, True),
        ("a*" * 500 + "*ab*" * 200 + "b", KEY, False),
        ("a*" * 2500 + "b", "a" * 5000 + "c", False),
        ("*" + "a?" * 300 + "c*b", KEY, False),  # '?' chunks take the bit-parallel path
        ("*" + "a?" * 2500 + "b", "a" * 5000, False),
        ("*" + "?" * 4000 + "*", "a" * 5000, True),
        ("*" + "ab?" * 1500 + "*", "abx" * 1600, True),
    ],
)
def test_hostile_patterns_are_fast(pattern: str, text: str, expected: bool) -> None:
    glob = Glob.compile(pattern)
    result, seconds = _time(glob, text)
    assert result is expected
    assert seconds < 0.25, f"{seconds:.3f}s"


def test_templates_and_variables() -> None:
    t = parse_template("a/${aws:username}/*${*}${?}${$}?", wildcards=True, variables=True)
    assert t.tokens == ("a/", Variable("aws:username"), "/", STAR, "*?$", ONE)
    assert t.has_variables and t.has_wildcards
    assert parse_template("${aws:userid, 'anonymous'}", wildcards=False, variables=True).tokens == (
        Variable("aws:userid", "anonymous"),
    )
    # Not variables: malformed, or variables switched off (the 2008-10-17 language).
    for text in ["${}", "${a b}", "${x, unquoted}", "${x", "$x"]:
        assert not parse_template(text, wildcards=False, variables=True).has_variables, text
    assert parse_template("${aws:username}", wildcards=False, variables=False).tokens == ("${aws:username}",)


def test_a_substituted_value_is_literal() -> None:
    pattern = Pattern(parse_template("home/${aws:username}/*", wildcards=True, variables=True))
    values = {"aws:username": "a*"}
    assert pattern.match("home/a*/x", values.get)
    assert not pattern.match("home/abc/x", values.get)
    assert not pattern.match("home/a*/x", {}.get)  # unresolved: matches nothing


def test_wildcard_tokens_print_as_themselves() -> None:
    assert (repr(STAR), repr(ONE)) == ("*", "?")
