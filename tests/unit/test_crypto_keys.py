"""The key protocol: known-answer vectors, sealing round trips and tampering, SSE-C derivations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from strongroom.crypto import (
    KEY_SIZE,
    SEAL_VERSION,
    IntegrityError,
    customer_kek,
    customer_key_check,
    customer_key_matches,
    derive,
    key_id,
    object_context,
    random_key,
    seal,
    unseal,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "crypto" / "keys.json").read_text(encoding="utf-8"))
KEK = bytes(range(0x40, 0x60))
OTHER_KEK = bytes(range(0x41, 0x61))
KEY = bytes(range(0x60, 0x80))
SALT = bytes(range(16))
CONTEXT = object_context("object", "bucket", "key", "null", 0)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# Known answers


@pytest.mark.parametrize("case", VECTORS["derive"])
def test_derive_vector(case: dict) -> None:
    assert derive(h(case["root_key"]), case["purpose"]).hex() == case["key"]


@pytest.mark.parametrize("case", VECTORS["key_id"])
def test_key_id_vector(case: dict) -> None:
    assert key_id(h(case["key"])) == case["key_id"]


@pytest.mark.parametrize("case", VECTORS["object_context"])
def test_object_context_vector(case: dict) -> None:
    assert object_context(*case["parts"]).hex() == case["context"]


@pytest.mark.parametrize("case", VECTORS["seal"])
def test_seal_vector(case: dict) -> None:
    kek, key, context = h(case["kek"]), h(case["key"]), h(case["context"])
    assert seal(kek, key, context, _nonce=h(case["nonce"])).hex() == case["sealed"]
    assert unseal(kek, h(case["sealed"]), context) == key


@pytest.mark.parametrize("case", VECTORS["customer"])
def test_customer_vector(case: dict) -> None:
    customer_key, salt = h(case["customer_key"]), h(case["salt"])
    assert customer_key_check(customer_key, salt).hex() == case["check"]
    assert customer_kek(customer_key, salt).hex() == case["kek"]


# Keys, derivation, ids


def test_random_key() -> None:
    keys = {random_key() for _ in range(100)}
    assert len(keys) == 100
    assert all(len(key) == KEY_SIZE == 32 for key in keys)


def test_derive_separates_purposes() -> None:
    root = bytes(range(32))
    keys = {derive(root, purpose) for purpose in ("a", "b", "sse-s3/kek", "sse-s3/kek ")}
    assert len(keys) == 4
    assert all(len(key) == 32 for key in keys)
    assert derive(root + b"\x00", "a") != derive(root, "a")
    assert derive(root * 2, "a") != derive(root, "a")


def test_derive_refuses_a_short_root_key() -> None:
    with pytest.raises(ValueError) as info:
        derive(bytes(31), "a")
    assert bytes(31).hex() not in str(info.value)


def test_key_id_is_a_short_fingerprint() -> None:
    ids = {key_id(random_key()) for _ in range(100)}
    assert len(ids) == 100
    for value in ids:
        assert len(value) == 16 and int(value, 16) >= 0
    assert key_id(KEY) == key_id(bytes(KEY))
    assert key_id(KEY) not in KEY.hex()


# Sealing


def test_seal_round_trip() -> None:
    sealed = seal(KEK, KEY, CONTEXT)
    assert len(sealed) == 61
    assert sealed[0] == SEAL_VERSION == 1
    assert KEY not in sealed
    assert unseal(KEK, sealed, CONTEXT) == KEY


def test_seal_uses_a_fresh_nonce() -> None:
    assert seal(KEK, KEY, CONTEXT) != seal(KEK, KEY, CONTEXT)


def assert_unseal_fails(sealed: bytes, kek: bytes = KEK, context: bytes = CONTEXT) -> None:
    with pytest.raises(IntegrityError) as info:
        unseal(kek, sealed, context)
    for secret in (KEK, OTHER_KEK, KEY):
        assert secret.hex() not in str(info.value) and repr(secret) not in str(info.value)


def test_unseal_with_the_wrong_kek() -> None:
    assert_unseal_fails(seal(KEK, KEY, CONTEXT), kek=OTHER_KEK)


@pytest.mark.parametrize(
    "context",
    [
        object_context("object", "bucket", "key", "null", 1),  # another part
        object_context("object", "bucket", "key", "v2", 0),  # another version
        object_context("object", "bucket", "key2", "null", 0),  # another object
        object_context("object", "bucket2", "key", "null", 0),  # another bucket
        b"",
    ],
)
def test_unseal_with_the_wrong_context(context: bytes) -> None:
    assert_unseal_fails(seal(KEK, KEY, CONTEXT), context=context)


def test_unseal_after_any_flipped_bit() -> None:
    sealed = seal(KEK, KEY, CONTEXT)
    for position in range(len(sealed)):
        for bit in (0, 7):
            changed = bytearray(sealed)
            changed[position] ^= 1 << bit
            assert_unseal_fails(bytes(changed))


@pytest.mark.parametrize("version", [0, 2, 255])
def test_unseal_with_a_bad_version(version: int) -> None:
    sealed = seal(KEK, KEY, CONTEXT)
    assert_unseal_fails(bytes([version]) + sealed[1:])


def test_unseal_with_a_bad_length() -> None:
    sealed = seal(KEK, KEY, CONTEXT)
    for bad in (b"", sealed[:1], sealed[:-1], sealed + b"\x00", sealed * 2):
        assert_unseal_fails(bad)


def test_seal_refuses_bad_sizes() -> None:
    with pytest.raises(ValueError):
        seal(KEK[:16], KEY, CONTEXT)
    with pytest.raises(ValueError):
        seal(KEK, b"", CONTEXT)
    with pytest.raises(ValueError):
        seal(KEK, bytes(1025), CONTEXT)
    with pytest.raises(ValueError):
        seal(KEK, KEY, CONTEXT, _nonce=bytes(8))
    with pytest.raises(ValueError):
        unseal(KEK[:16], seal(KEK, KEY, CONTEXT), CONTEXT)


# Contexts


@pytest.mark.parametrize(
    "a, b",
    [
        (("ab", "c"), ("a", "bc")),
        (("1",), (1,)),
        (("a",), ("a", "")),
        ((1, 2), (258,)),
        (("object", "b", "k", "null", 1), ("object", "b", "k", "null", 2)),
        (("a\x00",), ("a",)),
    ],
)
def test_object_context_is_unambiguous(a: tuple, b: tuple) -> None:
    assert object_context(*a) != object_context(*b)


def test_object_context_encodes_any_string() -> None:
    assert object_context("\udc80") != object_context("\udc81")
    assert object_context("猫") == object_context("猫")


@pytest.mark.parametrize("parts", [(), (True,), (-1,), (2**64,), (1.5,), (b"bytes",), (None,)])
def test_object_context_refuses_bad_parts(parts: tuple) -> None:
    with pytest.raises((TypeError, ValueError)):
        object_context(*parts)


# SSE-C


def test_customer_key_check_depends_on_key_and_salt() -> None:
    other_key = bytes(range(1, 33))
    other_salt = bytes(range(1, 17))
    values = {
        customer_key_check(KEY, SALT),
        customer_key_check(other_key, SALT),
        customer_key_check(KEY, other_salt),
        customer_key_check(other_key, other_salt),
    }
    assert len(values) == 4
    assert customer_key_check(KEY, SALT) == customer_key_check(KEY, SALT)
    assert len(customer_key_check(KEY, SALT)) == 32


def test_customer_key_matches() -> None:
    check = customer_key_check(KEY, SALT)
    assert customer_key_matches(KEY, SALT, check)
    assert not customer_key_matches(bytes(32), SALT, check)
    assert not customer_key_matches(KEY, bytes(16), check)


def test_customer_kek_is_distinct_from_the_check_and_the_key() -> None:
    kek = customer_kek(KEY, SALT)
    assert len(kek) == 32
    assert kek not in (KEY, customer_key_check(KEY, SALT))
    assert kek != customer_kek(KEY, bytes(range(1, 17)))
    assert kek != customer_kek(bytes(32), SALT)
    sealed = seal(kek, random_key(), CONTEXT)
    assert_unseal_fails(sealed, kek=customer_kek(bytes(32), SALT))


def test_customer_derivations_refuse_bad_input() -> None:
    for function in (customer_key_check, customer_kek):
        with pytest.raises(ValueError) as info:
            function(KEY[:16], SALT)
        assert KEY[:16].hex() not in str(info.value)
        with pytest.raises(ValueError):
            function(KEY, SALT[:8])
