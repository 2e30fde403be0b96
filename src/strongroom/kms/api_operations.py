"""The operations of the KMS JSON API, one function each, and the table naming them as AWS does.

Each takes the built-in KMS, the request's JSON members and the caller's ARN, checks
its members (shapes.py) and returns the result document (None for an empty one).
Blocking (the KMS store): kms.api runs them on the caller's executor thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strongroom.kms import errors, key_policy, shapes
from strongroom.kms.builtin import BuiltinKms
from strongroom.kms.model import material_id

ALGORITHM = {"EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}

Handler = Callable[[BuiltinKms, shapes.Params, str], "dict[str, Any] | None"]


def _meta(kms: BuiltinKms, key: Any) -> dict[str, Any]:
    return shapes.key_metadata(key, kms.arn(key.key_id), kms.account_id)


def create_key(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    description, tags = shapes.create_key(p)
    # Policy was read (and checked against lockout) by kms.api.authorize.
    policy = key_policy.check_text(p["Policy"]) if "Policy" in p else None
    return {"KeyMetadata": _meta(kms, kms.create_key(description, tags, policy))}


def _policy_name(p: shapes.Params, required: bool) -> None:
    """Every key has one policy, "default" (GetKeyPolicy / PutKeyPolicy API reference)."""
    name = shapes.text(p, "PolicyName", required=required, max_len=128)
    if name is not None and name != key_policy.POLICY_NAME:
        raise errors.key_not_found_policy(name)


def get_key_policy(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    _policy_name(p, required=False)
    key = kms.resolve(shapes.key_id(p) or "")
    return {"Policy": kms.key_policy(key.key_id), "PolicyName": key_policy.POLICY_NAME}


def put_key_policy(kms: BuiltinKms, p: shapes.Params, principal: str) -> None:
    _policy_name(p, required=False)
    raw, policy = shapes.key_id(p) or "", key_policy.check_text(p.get("Policy"))
    kms.put_key_policy(raw, policy, principal)


def list_key_policies(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    shapes.integer(p, "Limit", 1, 1000)
    kms.resolve(shapes.key_id(p) or "")
    return {"PolicyNames": [key_policy.POLICY_NAME], "Truncated": False}


def describe_key(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    return {"KeyMetadata": _meta(kms, kms.resolve(shapes.key_id(p) or ""))}


def list_keys(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    limit = shapes.integer(p, "Limit", 1, 1000) or 100
    keys, marker = kms.list_keys(limit, shapes.text(p, "Marker", max_len=1024))
    return shapes.page("Keys", [{"KeyId": k.key_id, "KeyArn": kms.arn(k.key_id)} for k in keys], marker)


def create_alias(kms: BuiltinKms, p: shapes.Params, principal: str) -> None:
    name = shapes.text(p, "AliasName", required=True, max_len=256) or ""
    kms.create_alias(name, shapes.key_id(p, "TargetKeyId") or "", principal)


def update_alias(kms: BuiltinKms, p: shapes.Params, principal: str) -> None:
    name = shapes.text(p, "AliasName", required=True, max_len=256) or ""
    kms.update_alias(name, shapes.key_id(p, "TargetKeyId") or "", principal)


def delete_alias(kms: BuiltinKms, p: shapes.Params, principal: str) -> None:
    kms.delete_alias(shapes.text(p, "AliasName", required=True, max_len=256) or "")


def list_aliases(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    limit = shapes.integer(p, "Limit", 1, 1000) or 100
    aliases, marker = kms.list_aliases(shapes.key_id(p, required=False), limit,
                                       shapes.text(p, "Marker", max_len=1024))
    return shapes.page("Aliases", [shapes.alias_entry(a, kms.alias_arn(a.name)) for a in aliases], marker)


def enable_key(kms: BuiltinKms, p: shapes.Params, principal: str) -> None:
    kms.enable(shapes.key_id(p) or "", principal)


def disable_key(kms: BuiltinKms, p: shapes.Params, principal: str) -> None:
    kms.disable(shapes.key_id(p) or "", principal)


def schedule_key_deletion(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    raw = shapes.key_id(p) or ""
    days = shapes.integer(p, "PendingWindowInDays", 7, 30) or 30
    key = kms.schedule_deletion(raw, days, principal)
    return {"KeyId": kms.arn(key.key_id), "DeletionDate": key.deletion_date, "KeyState": key.state,
            "PendingWindowInDays": days}


def cancel_key_deletion(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    return {"KeyId": kms.arn(kms.cancel_deletion(shapes.key_id(p) or "", principal).key_id)}


def encrypt(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    raw, plaintext, context = shapes.key_id(p) or "", shapes.plaintext(p), shapes.context(p)
    shapes.symmetric_algorithm(p, "EncryptionAlgorithm")
    blob, key = kms.encrypt(raw, plaintext, context, principal)
    return {"CiphertextBlob": shapes.b64(blob), "KeyId": kms.arn(key.key_id), **ALGORITHM}


def decrypt(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    blob = shapes.blob(p, "CiphertextBlob", shapes.MAX_CIPHERTEXT) or b""
    context, raw = shapes.context(p), shapes.key_id(p, required=False)
    shapes.symmetric_algorithm(p, "EncryptionAlgorithm")
    plaintext, key, version = kms.decrypt(blob, context, raw, principal)
    return {"KeyId": kms.arn(key.key_id), "Plaintext": shapes.b64(plaintext),
            "KeyMaterialId": material_id(key.key_id, version), **ALGORITHM}


def re_encrypt(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    blob = shapes.blob(p, "CiphertextBlob", shapes.MAX_CIPHERTEXT) or b""
    destination = shapes.key_id(p, "DestinationKeyId") or ""
    shapes.symmetric_algorithm(p, "SourceEncryptionAlgorithm")
    shapes.symmetric_algorithm(p, "DestinationEncryptionAlgorithm")
    new_blob, source, dest = kms.re_encrypt(blob, shapes.context(p, "SourceEncryptionContext"),
                                            shapes.key_id(p, "SourceKeyId", required=False), destination,
                                            shapes.context(p, "DestinationEncryptionContext"), principal)
    return {"CiphertextBlob": shapes.b64(new_blob), "SourceKeyId": kms.arn(source.key_id),
            "KeyId": kms.arn(dest.key_id), "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"}


def generate_data_key(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    raw, size, context = shapes.key_id(p) or "", shapes.data_key_size(p), shapes.context(p)
    plaintext, blob, key = kms.generate_data_key(raw, size, context, principal)
    return {"CiphertextBlob": shapes.b64(blob), "Plaintext": shapes.b64(plaintext),
            "KeyId": kms.arn(key.key_id), "KeyMaterialId": material_id(key.key_id, key.current_version)}


def generate_data_key_without_plaintext(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    result = generate_data_key(kms, p, principal)
    del result["Plaintext"]
    return result


def enable_key_rotation(kms: BuiltinKms, p: shapes.Params, principal: str) -> None:
    raw = shapes.key_id(p) or ""
    kms.set_rotation(raw, True, shapes.integer(p, "RotationPeriodInDays", 90, 2560), principal)


def disable_key_rotation(kms: BuiltinKms, p: shapes.Params, principal: str) -> None:
    kms.set_rotation(shapes.key_id(p) or "", False, principal=principal)


def get_key_rotation_status(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    key = kms.resolve(shapes.key_id(p) or "")
    result: dict[str, Any] = {"KeyRotationEnabled": key.rotation_enabled, "KeyId": key.key_id}
    if key.rotation_enabled:
        result["RotationPeriodInDays"] = key.rotation_period_days
        result["NextRotationDate"] = key.next_rotation
    return result


def rotate_key_on_demand(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    return {"KeyId": kms.rotate_on_demand(shapes.key_id(p) or "", principal).key_id}


OPERATIONS: dict[str, Handler] = {
    "CreateKey": create_key, "DescribeKey": describe_key, "ListKeys": list_keys,
    "CreateAlias": create_alias, "UpdateAlias": update_alias, "DeleteAlias": delete_alias,
    "ListAliases": list_aliases, "EnableKey": enable_key, "DisableKey": disable_key,
    "ScheduleKeyDeletion": schedule_key_deletion, "CancelKeyDeletion": cancel_key_deletion,
    "Encrypt": encrypt, "Decrypt": decrypt, "ReEncrypt": re_encrypt, "GenerateDataKey": generate_data_key,
    "GenerateDataKeyWithoutPlaintext": generate_data_key_without_plaintext,
    "EnableKeyRotation": enable_key_rotation, "DisableKeyRotation": disable_key_rotation,
    "GetKeyRotationStatus": get_key_rotation_status, "RotateKeyOnDemand": rotate_key_on_demand,
    "GetKeyPolicy": get_key_policy, "PutKeyPolicy": put_key_policy, "ListKeyPolicies": list_key_policies,
}
