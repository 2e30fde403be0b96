"""KMS request shapes: AWS's validation wording, and what strongroom's KMS refuses to make."""

from __future__ import annotations

import base64

import pytest

from strongroom.kms import shapes
from strongroom.kms.errors import KmsError
from strongroom.kms.model import parse_ref


def error(fn, *args):  # type: ignore[no-untyped-def]
    with pytest.raises(KmsError) as e:
        fn(*args)
    return e.value.code, e.value.message


def test_data_key_size() -> None:
    assert shapes.data_key_size({"KeySpec": "AES_256"}) == 32
    assert shapes.data_key_size({"KeySpec": "AES_128"}) == 16
    assert shapes.data_key_size({"NumberOfBytes": 64}) == 64
    both = ("ValidationException", "Please specify either number of bytes or key spec.")
    assert error(shapes.data_key_size, {}) == both
    assert error(shapes.data_key_size, {"KeySpec": "AES_256", "NumberOfBytes": 32}) == both
    assert error(shapes.data_key_size, {"NumberOfBytes": 1025}) == (
        "ValidationException",
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy "
        "constraint: Member must have value less than or equal to 1024",
    )
    assert error(shapes.data_key_size, {"KeySpec": "AES_512"})[0] == "ValidationException"
    assert error(shapes.data_key_size, {"NumberOfBytes": "32"})[0] == "SerializationException"
    assert error(shapes.data_key_size, {"NumberOfBytes": True})[0] == "SerializationException"


def test_create_key_shapes() -> None:
    assert shapes.create_key({}) == ("", {})
    assert shapes.create_key(
        {
            "Description": "d",
            "KeySpec": "SYMMETRIC_DEFAULT",
            "KeyUsage": "ENCRYPT_DECRYPT",
            "Tags": [{"TagKey": "team", "TagValue": "x"}],
        }
    ) == ("d", {"team": "x"})
    for params in (
        {"KeySpec": "RSA_2048"},
        {"KeyUsage": "SIGN_VERIFY"},
        {"Origin": "EXTERNAL"},
        {"MultiRegion": True},
        {"CustomerMasterKeySpec": "HMAC_256"},
    ):
        assert error(shapes.create_key, params)[0] == "UnsupportedOperationException"
    assert error(shapes.create_key, {"KeySpec": "AES"})[0] == "ValidationException"
    assert (
        error(
            shapes.create_key, {"KeySpec": "SYMMETRIC_DEFAULT", "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT"}
        )[0]
        == "ValidationException"
    )
    assert error(shapes.create_key, {"Tags": [{"TagKey": "aws:x", "TagValue": "y"}]})[0] == "TagException"
    assert error(shapes.create_key, {"Description": "x" * 8193})[0] == "ValidationException"


def test_blobs_and_contexts() -> None:
    assert shapes.blob({"CiphertextBlob": base64.b64encode(b"abc").decode()}, "CiphertextBlob", 10) == b"abc"
    assert error(shapes.blob, {"CiphertextBlob": "***"}, "CiphertextBlob", 10)[0] == "SerializationException"
    code, message = error(shapes.plaintext, {"Plaintext": base64.b64encode(b"s" * 4097).decode()})
    assert code == "ValidationException" and "s" * 10 not in message  # never echoes the plaintext
    assert error(shapes.plaintext, {})[1] == (
        "1 validation error detected: Value null at 'plaintext' failed to satisfy constraint: "
        "Member must not be null"
    )
    assert shapes.context({"EncryptionContext": {"a": "b"}}) == {"a": "b"}
    assert shapes.context({}) == {}
    assert error(shapes.context, {"EncryptionContext": {"a": 1}})[0] == "SerializationException"
    assert error(shapes.context, {"EncryptionContext": ["a"]})[0] == "SerializationException"


def test_algorithms() -> None:
    shapes.symmetric_algorithm({"EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, "EncryptionAlgorithm")
    shapes.symmetric_algorithm({}, "EncryptionAlgorithm")
    assert (
        error(shapes.symmetric_algorithm, {"EncryptionAlgorithm": "RSAES_OAEP_SHA_1"}, "EncryptionAlgorithm")[
            0
        ]
        == "InvalidKeyUsageException"
    )
    assert (
        error(shapes.symmetric_algorithm, {"EncryptionAlgorithm": "ROT13"}, "EncryptionAlgorithm")[0]
        == "ValidationException"
    )


@pytest.mark.parametrize(
    "raw, kind",
    [
        ("1234abcd-12ab-34cd-56ef-1234567890ab", "id"),
        ("arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "key-arn"),
        ("alias/ExampleAlias", "alias"),
        ("arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias", "alias-arn"),
    ],
)
def test_key_id_forms(raw: str, kind: str) -> None:
    ref = parse_ref(raw)
    assert ref is not None and ref.kind == kind


@pytest.mark.parametrize(
    "raw", ["", "aws/s3", "arn:aws:s3:::bucket", "arn:aws:kms:us-east-1:1:thing/x", "1234"]
)
def test_not_key_ids(raw: str) -> None:
    assert parse_ref(raw) is None
