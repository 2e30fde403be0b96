"""kms.api without HTTP: plain values in, (status, JSON, headers) out; who may call what, on which key."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strongroom.kms import api
from strongroom.kms.access import KmsCaller
from strongroom.kms.builtin import BuiltinKms
from strongroom.kms.sealing import KmsKeyring
from strongroom.kms.store import SqliteKmsStore
from strongroom.policy import Policy, Principal, parse_policy

ACCOUNT, REGION = "111122223333", "us-east-1"
ROOT = KmsCaller(Principal.root(ACCOUNT))
ALICE = Principal.user(ACCOUNT, "alice", "AIDAALICE")


@pytest.fixture
def kms(tmp_path: Path) -> Iterator[BuiltinKms]:
    store = SqliteKmsStore.open(tmp_path / "catalog.sqlite3")
    yield BuiltinKms(store, KmsKeyring([os.urandom(32)]), ACCOUNT, REGION)
    store.close()


def policy(*statements: dict[str, Any]) -> Policy:
    doc = {"Version": "2012-10-17", "Statement": list(statements)}
    return parse_policy(json.dumps(doc), kind="identity", account_id=ACCOUNT)


def call(kms: BuiltinKms | None, op: str, caller: KmsCaller, **members: Any) -> tuple[int, dict[str, Any]]:
    reply = api.call(kms, api.KmsCall(op, json.dumps(members).encode(), caller, ACCOUNT, REGION))
    assert reply.headers["Content-Type"] == api.CONTENT_TYPE
    return reply.status, json.loads(reply.body or b"{}")


def new_key(kms: BuiltinKms) -> str:
    status, result = call(kms, "CreateKey", ROOT)
    assert status == 200
    key_id: str = result["KeyMetadata"]["KeyId"]
    return key_id


def arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"


def test_unknown_operations_and_bad_json(kms: BuiltinKms) -> None:
    assert call(kms, "NoSuchOperation", ROOT) == (400, {"__type": "UnknownOperationException"})
    reply = api.call(kms, api.KmsCall("DescribeKey", b"[]", ROOT, ACCOUNT, REGION))
    assert (reply.status, json.loads(reply.body)["__type"]) == (400, "SerializationException")


def test_managing_needs_an_allow_in_iams_words(kms: BuiltinKms) -> None:
    key = new_key(kms)
    status, error = call(kms, "DisableKey", KmsCaller(ALICE), KeyId=key)
    assert (status, error["__type"]) == (400, "AccessDeniedException")
    assert error["message"] == (
        f"User: {ALICE.arn} is not authorized to perform: kms:DisableKey on resource: {arn(key)} "
        "because no identity-based policy allows the kms:DisableKey action")
    grant = policy({"Effect": "Allow", "Action": "kms:DisableKey", "Resource": arn(key)})
    allowed = KmsCaller(ALICE, (grant,))
    assert call(kms, "DisableKey", allowed, KeyId=key) == (200, {})


def test_a_deny_follows_the_key_through_aliases_and_ciphertexts(kms: BuiltinKms) -> None:
    key, other = new_key(kms), new_key(kms)
    assert call(kms, "CreateAlias", ROOT, AliasName="alias/denied", TargetKeyId=key)[0] == 200
    _, sealed = call(kms, "Encrypt", ROOT, KeyId=key, Plaintext=base64.b64encode(b"x").decode())
    caller = KmsCaller(ALICE, (policy({"Effect": "Deny", "Action": "kms:*", "Resource": arn(key)},
                                      {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}),))
    denial = (f"User: {ALICE.arn} is not authorized to perform: kms:DescribeKey on resource: {arn(key)} "
              "with an explicit deny in an identity-based policy")
    assert call(kms, "DescribeKey", caller, KeyId="alias/denied") == (
        400, {"__type": "AccessDeniedException", "message": denial})
    status, error = call(kms, "Decrypt", caller, CiphertextBlob=sealed["CiphertextBlob"])
    assert (status, error["message"]) == (400, denial.replace("DescribeKey", "Decrypt"))
    status, error = call(kms, "ReEncrypt", caller, CiphertextBlob=sealed["CiphertextBlob"],
                         DestinationKeyId=other)
    assert (status, error["message"]) == (400, denial.replace("DescribeKey", "ReEncryptFrom"))
    assert call(kms, "DescribeKey", caller, KeyId=other)[0] == 200  # another key: allowed by IAM


def test_the_external_kms_answers_after_authorization(kms: BuiltinKms) -> None:
    status, error = call(None, "CreateKey", KmsCaller(ALICE))
    assert (status, error["__type"]) == (400, "AccessDeniedException")
    status, error = call(None, "CreateKey", ROOT)
    assert (status, error["__type"]) == (400, "UnsupportedOperationException")
