"""The AWS KMS JSON shapes: typed values out of request documents, documents out of records.

Pure. Input errors are AWS's: a value of the wrong JSON type is a
SerializationException, a value outside its constraint a ValidationException in
AWS's "1 validation error detected" wording, naming the member in camelCase.
Blobs travel as base64 strings; timestamps as epoch seconds.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from strongroom.kms import errors
from strongroom.kms.model import SYMMETRIC_DEFAULT, Alias, KmsKey, material_id

Params = dict[str, Any]

KEY_SPECS = ["RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
             "ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512", "SM2",
             "ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ECC_NIST_EDWARDS25519"]
LEGACY_SPECS = [s for s in KEY_SPECS if not s.startswith(("ML_", "ECC_NIST_E"))]
ONLY = "strongroom's KMS makes only"
KEY_USAGES = ["SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"]
ORIGINS = ["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"]
ENCRYPTION_ALGORITHMS = ["SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"]
DATA_KEY_SPECS = {"AES_256": 32, "AES_128": 16}
MAX_PLAINTEXT = 4096
MAX_CIPHERTEXT = 6144


def camel(name: str) -> str:
    return name[0].lower() + name[1:]


def _typed(p: Params, name: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = p.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise errors.serialization(f"Value for {name} must be {what}")
    return value


def text(p: Params, name: str, *, required: bool = False, max_len: int = 2048,
         min_len: int = 1) -> str | None:
    value = _typed(p, name, str, "a string")
    if value is None:
        if required:
            raise errors.constraint(None, camel(name), "must not be null")
        return None
    if len(value) < min_len:
        raise errors.constraint(value, camel(name), f"must have length greater than or equal to {min_len}")
    if len(value) > max_len:
        raise errors.constraint(value, camel(name), f"must have length less than or equal to {max_len}")
    return value


def key_id(p: Params, name: str = "KeyId", *, required: bool = True) -> str | None:
    return text(p, name, required=required)


def integer(p: Params, name: str, low: int, high: int) -> int | None:
    value = _typed(p, name, int, "an integer")
    if value is None:
        return None
    if value < low:
        raise errors.constraint(value, camel(name), f"must have value greater than or equal to {low}")
    if value > high:
        raise errors.constraint(value, camel(name), f"must have value less than or equal to {high}")
    return int(value)


def boolean(p: Params, name: str) -> bool | None:
    return _typed(p, name, bool, "a boolean")


def enum(p: Params, name: str, allowed: list[str]) -> str | None:
    value = _typed(p, name, str, "a string")
    if value is not None and value not in allowed:
        raise errors.constraint(value, camel(name), f"must satisfy enum value set: [{', '.join(allowed)}]")
    return value


def blob(p: Params, name: str, max_len: int, *, required: bool = True) -> bytes | None:
    """A base64 member; its value is never echoed in an error (it may be secret)."""
    value = _typed(p, name, str, "a base64-encoded string")
    if value is None:
        if required:
            raise errors.constraint(None, camel(name), "must not be null")
        return None
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise errors.serialization(f"Value for {name} is not valid base64") from None
    if not data:
        raise errors.validation(f"1 validation error detected: Value at '{camel(name)}' failed to satisfy "
                                "constraint: Member must have length greater than or equal to 1")
    if len(data) > max_len:
        raise errors.validation(f"1 validation error detected: Value at '{camel(name)}' failed to satisfy "
                                f"constraint: Member must have length less than or equal to {max_len}")
    return data


def context(p: Params, name: str = "EncryptionContext") -> dict[str, str]:
    value = _typed(p, name, dict, "a map of strings")
    if value is None:
        return {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise errors.serialization(f"Value for {name} must be a map of strings")
    return dict(value)


def tags(p: Params) -> dict[str, str]:
    value = _typed(p, "Tags", list, "a list")
    found: dict[str, str] = {}
    for i, tag in enumerate(value or [], start=1):
        if not isinstance(tag, dict):
            raise errors.serialization("Value for Tags must be a list of tags")
        tag_key = text(tag, "TagKey", required=True, max_len=128)
        tag_value = text(tag, "TagValue", required=True, max_len=256, min_len=0)
        assert tag_key is not None and tag_value is not None
        if tag_key.lower().startswith("aws:"):
            raise errors.KmsError("TagException", "Tags beginning with aws: are reserved")
        if tag_key in found:
            raise errors.KmsError("TagException", f"Duplicate tag keys: {tag_key} (tag {i})")
        found[tag_key] = tag_value
    return found


def symmetric_algorithm(p: Params, name: str) -> None:
    algorithm = enum(p, name, ENCRYPTION_ALGORITHMS)
    if algorithm not in (None, SYMMETRIC_DEFAULT):
        raise errors.KmsError("InvalidKeyUsageException",
                              f"Algorithm {algorithm} is incompatible with key spec {SYMMETRIC_DEFAULT}.")


def data_key_size(p: Params) -> int:
    spec = enum(p, "KeySpec", list(DATA_KEY_SPECS))
    size = integer(p, "NumberOfBytes", 1, 1024)
    if (spec is None) == (size is None):
        raise errors.validation("Please specify either number of bytes or key spec.")
    return DATA_KEY_SPECS[spec] if spec is not None else int(size or 0)


def plaintext(p: Params) -> bytes:
    data = blob(p, "Plaintext", MAX_PLAINTEXT)
    assert data is not None
    return data


def create_key(p: Params) -> tuple[str, dict[str, str]]:
    """(description, tags) of a CreateKey request; what strongroom cannot make is UnsupportedOperation."""
    spec = enum(p, "KeySpec", KEY_SPECS)
    legacy = enum(p, "CustomerMasterKeySpec", LEGACY_SPECS)
    if spec is not None and legacy is not None:
        raise errors.validation("You cannot specify KeySpec and CustomerMasterKeySpec in the same request. "
                                "CustomerMasterKeySpec is deprecated.")
    usage = enum(p, "KeyUsage", KEY_USAGES)
    origin = enum(p, "Origin", ORIGINS)
    spec = spec or legacy or SYMMETRIC_DEFAULT
    if spec != SYMMETRIC_DEFAULT:
        raise errors.unsupported(f"KeySpec {spec} is not supported: {ONLY} SYMMETRIC_DEFAULT keys.")
    if usage not in (None, "ENCRYPT_DECRYPT"):
        raise errors.unsupported(f"KeyUsage {usage} is not supported: {ONLY} ENCRYPT_DECRYPT keys.")
    if origin not in (None, "AWS_KMS"):
        raise errors.unsupported(f"Origin {origin} is not supported: {ONLY} AWS_KMS keys.")
    if boolean(p, "MultiRegion"):
        raise errors.unsupported("Multi-Region keys are not supported.")
    if p.get("CustomKeyStoreId") is not None or p.get("XksKeyId") is not None:
        raise errors.unsupported("Custom key stores are not supported.")
    text(p, "Policy", max_len=131072)  # accepted; strongroom has no key policies yet
    boolean(p, "BypassPolicyLockoutSafetyCheck")
    return text(p, "Description", max_len=8192, min_len=0) or "", tags(p)


# --- rendering -------------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def key_metadata(key: KmsKey, arn: str, account_id: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "AWSAccountId": account_id,
        "KeyId": key.key_id,
        "Arn": arn,
        "CreationDate": key.created,
        "Enabled": key.state == "Enabled",
        "Description": key.description,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": key.state,
        "Origin": "AWS_KMS",
        "KeyManager": key.manager,
        "CustomerMasterKeySpec": SYMMETRIC_DEFAULT,
        "KeySpec": SYMMETRIC_DEFAULT,
        "EncryptionAlgorithms": [SYMMETRIC_DEFAULT],
        "MultiRegion": False,
        "CurrentKeyMaterialId": material_id(key.key_id, key.current_version),
    }
    if key.deletion_date is not None:
        meta["DeletionDate"] = key.deletion_date
        meta["PendingDeletionWindowInDays"] = key.pending_window_days
    return meta


def alias_entry(alias: Alias, alias_arn: str) -> dict[str, Any]:
    return {"AliasName": alias.name, "AliasArn": alias_arn, "TargetKeyId": alias.key_id,
            "CreationDate": alias.created, "LastUpdatedDate": alias.updated}


def page(items_name: str, items: list[Any], next_marker: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {items_name: items, "Truncated": next_marker is not None}
    if next_marker is not None:
        result["NextMarker"] = next_marker
    return result
