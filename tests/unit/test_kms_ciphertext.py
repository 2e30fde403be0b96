"""The built-in KMS's ciphertext blob: round trips, the context bound in, tampering, the header."""

from __future__ import annotations

import os
import uuid

import pytest

from strongroom.kms import ciphertext
from strongroom.kms.ciphertext import BadCiphertext, decrypt, encode_context, encrypt, read_header

KEY_ID = str(uuid.uuid4())
MATERIAL = os.urandom(32)


def test_round_trip_and_header() -> None:
    blob = encrypt(MATERIAL, KEY_ID, 7, b"hello", {"purpose": "test"})
    assert decrypt(MATERIAL, blob, {"purpose": "test"}) == b"hello"
    header = read_header(blob)
    assert (header.key_id, header.version) == (KEY_ID, 7)
    assert blob[0] == ciphertext.FORMAT_VERSION
    assert len(blob) == ciphertext.OVERHEAD + len(b"hello")
    assert b"hello" not in blob


def test_two_encryptions_differ() -> None:
    assert encrypt(MATERIAL, KEY_ID, 1, b"same", {}) != encrypt(MATERIAL, KEY_ID, 1, b"same", {})


@pytest.mark.parametrize(
    "other",
    [
        {},
        {"purpose": "other"},
        {"Purpose": "test"},
        {"purpose": "test", "extra": ""},
        {"purpose": "test "},
    ],
)
def test_another_context_fails(other: dict[str, str]) -> None:
    blob = encrypt(MATERIAL, KEY_ID, 1, b"x", {"purpose": "test"})
    with pytest.raises(BadCiphertext):
        decrypt(MATERIAL, blob, other)


def test_context_order_does_not_matter() -> None:
    blob = encrypt(MATERIAL, KEY_ID, 1, b"x", {"b": "2", "a": "1"})
    assert decrypt(MATERIAL, blob, {"a": "1", "b": "2"}) == b"x"


def test_context_encoding_is_unambiguous() -> None:
    assert encode_context({"a": "bc"}) != encode_context({"ab": "c"})
    assert encode_context({"a": "b", "c": "d"}) != encode_context({"a": "bcd"})
    assert encode_context({}) != encode_context({"": ""})


def test_every_byte_is_authenticated() -> None:
    blob = encrypt(MATERIAL, KEY_ID, 1, b"payload", {"k": "v"})
    for i in range(len(blob)):
        damaged = bytearray(blob)
        damaged[i] ^= 0x01
        with pytest.raises(BadCiphertext):
            decrypt(MATERIAL, bytes(damaged), {"k": "v"})


def test_wrong_material_fails() -> None:
    blob = encrypt(MATERIAL, KEY_ID, 1, b"x", {})
    with pytest.raises(BadCiphertext):
        decrypt(os.urandom(32), blob, {})


@pytest.mark.parametrize("blob", [b"", b"\x01", b"\x02" + bytes(80), bytes(64)])
def test_not_a_blob(blob: bytes) -> None:
    with pytest.raises(BadCiphertext):
        read_header(blob)
    with pytest.raises(BadCiphertext):
        decrypt(MATERIAL, blob, {})


def test_truncated_blob_fails() -> None:
    blob = encrypt(MATERIAL, KEY_ID, 1, b"some plaintext", {})
    with pytest.raises(BadCiphertext):
        decrypt(MATERIAL, blob[:-1], {})
