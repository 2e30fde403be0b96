"""The key protocol: known-answer vectors (checked against the functions production seals with),
sealing round trips and tampering, SSE-C derivations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from strongroom.catalog.model import Sealing
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
from strongroom.kms.sealing import material_context
from strongroom.vault.keyring import RootKeyring, access_key_context
from strongroom.vault.keys import ObjectKek, layer_context, piece_context, sse_s3_kek, unseal_piece_key

VECTORS = json.loads((Path(__file__).parent / "vectors" / "crypto" / "keys.json").read_text(encoding="utf-8"))
KEK = bytes(range(0x40, 0x60))
OTHER_KEK = bytes(range(0x41, 0x61))
KEY = bytes(range(0x60, 0x80))
SALT = bytes(range(16))
CONTEXT = piece_context("bucket", "key", "v1", 1)


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


def _production_context(use: str, parts: list) -> bytes:
    """The context as the code that seals with it builds it, from the vector's parts."""
    if use == "piece":
        return piece_context(*parts[1:])
    if use == "layer":
        assert parts[5] == "layer"
        return layer_context(piece_context(*parts[1:5]), parts[6])
    if use == "access-key":
        return access_key_context(parts[1])
    assert use == "kms key material"
    return material_context(parts[1], parts[2])


@pytest.mark.parametrize("case", VECTORS["object_context"], ids=lambda case: case["use"])
def test_production_builds_the_context_vectors(case: dict) -> None:
    assert _production_context(case["use"], case["parts"]).hex() == case["context"]


def test_single_part_objects_are_part_1() -> None:
    # FORMAT.md: a single-part object's piece is part 1 (its blob's AD and its sealing context alike).
    single = VECTORS["object_context"][0]
    assert single["parts"][0] == "piece" and single["parts"][-1] == 1


@pytest.mark.parametrize("case", VECTORS["piece_key"], ids=lambda case: case["mode"])
def test_piece_key_vector(case: dict) -> None:
    if case["mode"] == "SSE-S3":
        kek = sse_s3_kek(RootKeyring([h(case["root_key"])]))
    elif case["mode"] == "SSE-C":
        sealing = Sealing("SSE-C")
        kek = ObjectKek(sealing, customer_kek(h(case["customer_key"]), h(case["salt"])))
    else:
        data_keys = [h(k) for k in case["data_keys"]]
        kek = ObjectKek(Sealing("aws:kms"), data_keys[0], data_keys[1] if len(data_keys) > 1 else None)
    where = (case["bucket"], case["key"], case["version_id"])
    context = piece_context(*where, case["part_number"])
    assert unseal_piece_key(kek, h(case["sealed_key"]), context) == h(case["piece_keys"])
    with pytest.raises(IntegrityError):  # bound to its part
        unseal_piece_key(kek, h(case["sealed_key"]), piece_context(*where, case["part_number"] + 1))


@pytest.mark.parametrize("case", VECTORS["access_key_secret"])
def test_access_key_secret_vector(case: dict) -> None:
    keyring = RootKeyring([h(case["root_key"])])
    assert keyring.unseal_secret(h(case["stored"]), case["access_key"]) == case["secret"]
    with pytest.raises(IntegrityError):
        RootKeyring([h(case["root_key"])]).unseal_secret(h(case["stored"]), "AKIAOTHERKEY")


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
        piece_context("bucket", "key", "v1", 2),  # another part
        piece_context("bucket", "key", "v2", 1),  # another version
        piece_context("bucket", "key2", "v1", 1),  # another object
        piece_context("bucket2", "key", "v1", 1),  # another bucket
        layer_context(CONTEXT, 0),  # a DSSE-KMS layer of the same piece
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
        (("piece", "b", "k", "v1", 1), ("piece", "b", "k", "v1", 2)),
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
