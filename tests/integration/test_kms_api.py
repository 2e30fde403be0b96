"""The built-in KMS through real clients: boto3's kms client and `aws kms`, against a real server.

Deletion windows are shortened (STRONGROOM_KMS_DAY_SECONDS) so that a scheduled
deletion can be watched to its end; the server logs at DEBUG so the secrecy check
sees everything it writes.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from strongroom.config import read_key_file
from strongroom.kms.sealing import KmsKeyring
from strongroom.kms.store import SqliteKmsStore
from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_code, status_of
from tests.integration.server import RunningServer

DAY = 0.2  # seconds per day of a deletion window


@pytest.fixture(scope="module")
def server(start_module_server: ServerFactory) -> RunningServer:
    return start_module_server("--log-level", "DEBUG", env={"STRONGROOM_KMS_DAY_SECONDS": str(DAY)})


@pytest.fixture(scope="module")
def kms(server: RunningServer):
    return server.client("kms")


@pytest.fixture
def key(kms) -> str:
    return kms.create_key(Description="test key")["KeyMetadata"]["KeyId"]


def fails(call, code: str, message: str | None = None) -> ClientError:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as e:
        call()
    assert error_code(e.value) == code, e.value.response
    assert status_of(e.value) == 400
    if message is not None:
        assert e.value.response["Error"]["Message"] == message
    return e.value


def account(server: RunningServer) -> str:
    return server.client("sts").get_caller_identity()["Account"]


def raw_call(server: RunningServer, target: str, body: bytes, *, sign: bool = True) -> tuple[int, dict]:
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
    reply = server.raw("POST", "/", body, headers, sign=sign, service="kms", timeout=10)
    return reply.status, reply.json()


class _store:
    def __init__(self, server: RunningServer) -> None:
        self.store = SqliteKmsStore.open(server.data_dir / "catalog.sqlite3")

    def __enter__(self) -> SqliteKmsStore:
        return self.store

    def __exit__(self, *_: object) -> None:
        self.store.close()


# --- keys --------------------------------------------------------------------------------------------


def test_create_and_describe(server: RunningServer, kms) -> None:
    made = kms.create_key(Description="described", Tags=[{"TagKey": "team", "TagValue": "storage"}])[
        "KeyMetadata"
    ]
    acct = account(server)
    arn = f"arn:aws:kms:us-east-1:{acct}:key/{made['KeyId']}"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", made["KeyId"])
    assert {
        k: made[k]
        for k in (
            "AWSAccountId",
            "Arn",
            "Description",
            "Enabled",
            "KeyUsage",
            "KeyState",
            "Origin",
            "KeyManager",
            "KeySpec",
            "CustomerMasterKeySpec",
            "EncryptionAlgorithms",
            "MultiRegion",
        )
    } == {
        "AWSAccountId": acct,
        "Arn": arn,
        "Description": "described",
        "Enabled": True,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": "Enabled",
        "Origin": "AWS_KMS",
        "KeyManager": "CUSTOMER",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": False,
    }
    assert "DeletionDate" not in made
    assert abs(made["CreationDate"].timestamp() - time.time()) < 60
    kms.create_alias(AliasName="alias/described", TargetKeyId=made["KeyId"])
    for ref in (made["KeyId"], arn, "alias/described", f"arn:aws:kms:us-east-1:{acct}:alias/described"):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == made["KeyId"]


def test_create_key_refuses_what_it_cannot_make(kms) -> None:
    with pytest.raises(ClientError) as e:
        kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    assert error_code(e.value) == "UnsupportedOperationException"
    fails(lambda: kms.create_key(Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}]), "TagException")


def test_list_keys_pages(kms) -> None:
    made = {kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)}
    seen, marker, pages = [], None, 0
    while True:
        page = kms.list_keys(Limit=2, **({"Marker": marker} if marker else {}))
        seen += [k["KeyId"] for k in page["Keys"]]
        assert all(k["KeyArn"].endswith(":key/" + k["KeyId"]) for k in page["Keys"])
        pages += 1
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    assert made <= set(seen) and len(seen) == len(set(seen)) and pages >= 2


@pytest.mark.parametrize(
    "ref, message",
    [
        ("not-a-key", "Invalid keyId 'not-a-key'"),
        ("alias/missing", "Alias arn:aws:kms:us-east-1:{acct}:alias/missing is not found."),
        (
            "11111111-2222-3333-4444-555555555555",
            "Key 'arn:aws:kms:us-east-1:{acct}:key/11111111-2222-3333-4444-555555555555' does not exist",
        ),
    ],
)
def test_not_found(server: RunningServer, kms, ref: str, message: str) -> None:
    fails(lambda: kms.describe_key(KeyId=ref), "NotFoundException", message.format(acct=account(server)))
    fails(lambda: kms.encrypt(KeyId=ref, Plaintext=b"x"), "NotFoundException")


# --- cryptography ------------------------------------------------------------------------------------


def test_encrypt_decrypt_with_and_without_context(server: RunningServer, kms, key: str) -> None:
    arn = kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"]
    plain = kms.encrypt(KeyId=key, Plaintext=b"no context")
    assert plain["KeyId"] == arn and plain["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert kms.decrypt(CiphertextBlob=plain["CiphertextBlob"])["Plaintext"] == b"no context"
    bound = kms.encrypt(KeyId=key, Plaintext=b"bound", EncryptionContext={"user": "alice"})
    out = kms.decrypt(CiphertextBlob=bound["CiphertextBlob"], EncryptionContext={"user": "alice"}, KeyId=key)
    assert (out["Plaintext"], out["KeyId"]) == (b"bound", arn)
    for ctx in ({}, {"user": "bob"}, {"user": "alice", "more": "x"}):
        err = fails(
            lambda ctx=ctx: kms.decrypt(CiphertextBlob=bound["CiphertextBlob"], EncryptionContext=ctx),
            "InvalidCiphertextException",
            "",
        )
        assert "bound" not in json.dumps(err.response, default=str)
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    fails(lambda: kms.decrypt(CiphertextBlob=plain["CiphertextBlob"], KeyId=other), "IncorrectKeyException")
    fails(lambda: kms.decrypt(CiphertextBlob=b"\x01" + secrets.token_bytes(80)), "NotFoundException")
    fails(lambda: kms.decrypt(CiphertextBlob=b"not ours"), "InvalidCiphertextException")
    fails(lambda: kms.encrypt(KeyId=key, Plaintext=b"x" * 4097), "ValidationException")


def test_re_encrypt(kms, key: str) -> None:
    other = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"moving", EncryptionContext={"a": "1"})["CiphertextBlob"]
    moved = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext={"a": "1"},
        DestinationKeyId=other["KeyId"],
        DestinationEncryptionContext={"b": "2"},
    )
    assert moved["KeyId"] == other["Arn"] and moved["SourceKeyId"].endswith(key)
    assert (
        kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"b": "2"})["Plaintext"]
        == b"moving"
    )
    fails(
        lambda: kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=other["KeyId"]),
        "InvalidCiphertextException",
    )


def test_generate_data_key(kms, key: str) -> None:
    made = kms.generate_data_key(KeyId=key, KeySpec="AES_256", EncryptionContext={"k": "v"})
    assert len(made["Plaintext"]) == 32
    assert (
        kms.decrypt(CiphertextBlob=made["CiphertextBlob"], EncryptionContext={"k": "v"})["Plaintext"]
        == made["Plaintext"]
    )
    assert len(kms.generate_data_key(KeyId=key, KeySpec="AES_128")["Plaintext"]) == 16
    assert len(kms.generate_data_key(KeyId=key, NumberOfBytes=100)["Plaintext"]) == 100
    bare = kms.generate_data_key_without_plaintext(KeyId=key, KeySpec="AES_256")
    assert (
        "Plaintext" not in bare and len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 32
    )
    fails(
        lambda: kms.generate_data_key(KeyId=key),
        "ValidationException",
        "Please specify either number of bytes or key spec.",
    )
    fails(lambda: kms.generate_data_key(KeyId=key, NumberOfBytes=2048), "ValidationException")


# --- state -------------------------------------------------------------------------------------------


def test_disable_and_enable(kms, key: str) -> None:
    arn = kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=key)
    meta = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("Disabled", False)
    fails(lambda: kms.encrypt(KeyId=key, Plaintext=b"x"), "DisabledException", f"{arn} is disabled.")
    fails(lambda: kms.decrypt(CiphertextBlob=blob), "DisabledException", f"{arn} is disabled.")
    fails(lambda: kms.generate_data_key(KeyId=key, KeySpec="AES_256"), "DisabledException")
    kms.enable_key(KeyId=key)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_schedule_cancel_and_expire(kms, key: str) -> None:
    arn = kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    for days, rule in ((6, "greater than or equal to 7"), (31, "less than or equal to 30")):
        fails(
            lambda days=days: kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=days),
            "ValidationException",
            f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' "
            f"failed to satisfy constraint: Member must have value {rule}",
        )
    scheduled = kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert (scheduled["KeyId"], scheduled["KeyState"], scheduled["PendingWindowInDays"]) == (
        arn,
        "PendingDeletion",
        7,
    )
    meta = kms.describe_key(KeyId=key)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion" and meta["PendingDeletionWindowInDays"] == 7
    assert meta["DeletionDate"] == scheduled["DeletionDate"]
    pending = f"{arn} is pending deletion."
    fails(lambda: kms.encrypt(KeyId=key, Plaintext=b"x"), "KMSInvalidStateException", pending)
    fails(lambda: kms.decrypt(CiphertextBlob=blob), "KMSInvalidStateException", pending)
    fails(lambda: kms.enable_key(KeyId=key), "KMSInvalidStateException", pending)
    assert kms.cancel_key_deletion(KeyId=key)["KeyId"] == arn
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"  # as on AWS
    fails(
        lambda: kms.cancel_key_deletion(KeyId=key),
        "KMSInvalidStateException",
        f"{arn} is not pending deletion.",
    )
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    time.sleep(7 * DAY + 0.3)
    fails(lambda: kms.describe_key(KeyId=key), "NotFoundException", f"Key '{arn}' does not exist")
    fails(lambda: kms.decrypt(CiphertextBlob=blob), "NotFoundException")
    assert key not in {k["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"]}


def test_expired_keys_are_swept_without_being_touched(server: RunningServer, kms) -> None:
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    time.sleep(7 * DAY + 1.5)  # the sweep runs every second with these short days
    with _store(server) as store:
        assert store.get_key(key) is None and store.get_material(key, 1) is None


def test_rotation(server: RunningServer, kms, key: str) -> None:
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["KeyRotationEnabled"] is False
    old = kms.encrypt(KeyId=key, Plaintext=b"old")["CiphertextBlob"]
    kms.enable_key_rotation(KeyId=key, RotationPeriodInDays=180)
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 180
    # boto3 checks the minimum itself; a raw request reaches the server's check
    body = json.dumps({"KeyId": key, "RotationPeriodInDays": 10}).encode()
    assert raw_call(server, "TrentService.EnableKeyRotation", body) == (
        400,
        {
            "__type": "ValidationException",
            "message": "1 validation error detected: Value '10' at 'rotationPeriodInDays' failed to satisfy "
            "constraint: Member must have value greater than or equal to 90",
        },
    )
    before = kms.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert kms.rotate_key_on_demand(KeyId=key)["KeyId"] == key
    after = kms.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert before != after
    new = kms.encrypt(KeyId=key, Plaintext=b"new")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"old"
    assert kms.decrypt(CiphertextBlob=new)["KeyMaterialId"] == after
    kms.disable_key_rotation(KeyId=key)
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is False
    kms.disable_key(KeyId=key)
    fails(lambda: kms.rotate_key_on_demand(KeyId=key), "DisabledException")


# --- aliases -----------------------------------------------------------------------------------------


def test_aliases(server: RunningServer, kms, key: str) -> None:
    name = "alias/app-" + secrets.token_hex(4)
    kms.create_alias(AliasName=name, TargetKeyId=key)
    acct = account(server)
    fails(
        lambda: kms.create_alias(AliasName=name, TargetKeyId=key),
        "AlreadyExistsException",
        f"An alias with the name arn:aws:kms:us-east-1:{acct}:{name} already exists",
    )
    fails(
        lambda: kms.create_alias(AliasName="no-prefix", TargetKeyId=key),
        "ValidationException",
        'Alias must start with the prefix "alias/". Please see '
        "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
    )
    fails(lambda: kms.create_alias(AliasName="alias/aws/mine", TargetKeyId=key), "NotAuthorizedException")
    fails(lambda: kms.create_alias(AliasName=name + "-2", TargetKeyId=name), "ValidationException")
    listed = kms.list_aliases(KeyId=key)["Aliases"]
    assert [(a["AliasName"], a["TargetKeyId"], a["AliasArn"]) for a in listed] == [
        (name, key, f"arn:aws:kms:us-east-1:{acct}:{name}")
    ]
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.update_alias(AliasName=name, TargetKeyId=other)
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == other
    assert kms.list_aliases(KeyId=key)["Aliases"] == []
    kms.delete_alias(AliasName=name)
    fails(
        lambda: kms.delete_alias(AliasName=name),
        "NotFoundException",
        f"Alias arn:aws:kms:us-east-1:{acct}:{name} is not found.",
    )
    fails(lambda: kms.describe_key(KeyId=name), "NotFoundException")


def test_aws_managed_key_is_made_by_s3_and_protected(server: RunningServer, kms, s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"default kms", ServerSideEncryption="aws:kms")
    head = s3.head_object(Bucket=bucket, Key="k")
    managed = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert head["SSEKMSKeyId"] == managed["Arn"] and managed["KeyManager"] == "AWS"
    assert managed["Description"] == (
        "Default KMS key that protects my S3 objects when no other key is defined"
    )
    assert kms.get_key_rotation_status(KeyId="alias/aws/s3")["KeyRotationEnabled"] is True
    for call in (
        lambda: kms.disable_key(KeyId=managed["KeyId"]),
        lambda: kms.schedule_key_deletion(KeyId=managed["KeyId"]),
        lambda: kms.encrypt(KeyId="alias/aws/s3", Plaintext=b"x"),
    ):
        err = fails(call, "AccessDeniedException")
        assert err.response["Error"]["Message"].startswith(
            f"User: arn:aws:iam::{account(server)}:root is not authorized to perform: kms:"
        )
    fails(lambda: kms.delete_alias(AliasName="alias/aws/s3"), "NotAuthorizedException")
    fails(
        lambda: kms.update_alias(AliasName="alias/aws/s3", TargetKeyId=managed["KeyId"]),
        "NotAuthorizedException",
    )
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"default kms"


# --- who may call --------------------------------------------------------------------------------------


def kms_user(server: RunningServer, tmp_path: Path, *statements: dict, name: str = "kmsuser"):  # type: ignore[no-untyped-def]
    """A new user (its name, its kms client) with an identity policy of these statements, if any."""
    name += secrets.token_hex(3)
    out = server.cli("user", "add", name).stdout
    ak = re.search(r"access key: (\S+)", out).group(1)  # type: ignore[union-attr]
    sk = re.search(r"secret key: (\S+)", out).group(1)  # type: ignore[union-attr]
    if statements:
        document = tmp_path / f"{name}.json"
        document.write_text(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
        server.cli("policy", "attach", name, str(document), "--name", "kms")
    return name, server.client("kms", access_key=ak, secret_key=sk)


USE_KEYS = {"Effect": "Allow", "Resource": "*", "Action": [
    "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey",
    "kms:ListKeys"]}


def test_users_may_use_keys_their_policies_allow_but_not_manage_them(
    server: RunningServer, kms, key: str, tmp_path: Path
) -> None:
    name, user = kms_user(server, tmp_path, USE_KEYS)
    blob = user.encrypt(KeyId=key, Plaintext=b"user data")["CiphertextBlob"]
    assert user.decrypt(CiphertextBlob=blob)["Plaintext"] == b"user data"
    assert user.describe_key(KeyId=key)["KeyMetadata"]["KeyId"] == key
    user.list_keys()
    acct = account(server)
    fails(
        lambda: user.create_key(),
        "AccessDeniedException",
        f"User: arn:aws:iam::{acct}:user/{name} is not authorized to perform: kms:CreateKey on resource: * "
        "because no identity-based policy allows the kms:CreateKey action",
    )
    fails(
        lambda: user.disable_key(KeyId=key),
        "AccessDeniedException",
        f"User: arn:aws:iam::{acct}:user/{name} is not authorized to perform: kms:DisableKey on resource: "
        f"arn:aws:kms:us-east-1:{acct}:key/{key} because no identity-based policy allows the "
        "kms:DisableKey action",
    )
    fails(lambda: user.create_alias(AliasName="alias/u", TargetKeyId=key), "AccessDeniedException")
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"


def test_a_user_without_a_policy_may_use_no_key(server: RunningServer, key: str, tmp_path: Path) -> None:
    """Keys belong to someone: under the default key policy, IAM policies decide, and nothing allows."""
    name, user = kms_user(server, tmp_path)
    acct = account(server)
    arn = f"arn:aws:kms:us-east-1:{acct}:key/{key}"
    for action, call in (
        ("Encrypt", lambda: user.encrypt(KeyId=key, Plaintext=b"x")),
        ("DescribeKey", lambda: user.describe_key(KeyId=key)),
        ("GenerateDataKey", lambda: user.generate_data_key(KeyId=key, KeySpec="AES_256")),
    ):
        fails(call, "AccessDeniedException",
              f"User: arn:aws:iam::{acct}:user/{name} is not authorized to perform: kms:{action} on "
              f"resource: {arn} because no identity-based policy allows the kms:{action} action")
    fails(lambda: user.list_keys(), "AccessDeniedException")


def test_an_explicit_deny_in_a_user_policy_refuses_even_the_use_of_keys(
    server: RunningServer, kms, key: str, tmp_path: Path
) -> None:
    name, user = kms_user(server, tmp_path, USE_KEYS)
    assert user.describe_key(KeyId=key)["KeyMetadata"]["KeyId"] == key  # allowed by its policy
    document = tmp_path / "deny-kms.json"
    document.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "kms:*", "Resource": "*"}]}))
    server.cli("policy", "attach", name, str(document), "--name", "deny-kms")
    acct = account(server)
    arn = f"arn:aws:kms:us-east-1:{acct}:key/{key}"
    for action, call in (
        ("DescribeKey", lambda: user.describe_key(KeyId=key)),
        ("Encrypt", lambda: user.encrypt(KeyId=key, Plaintext=b"x")),
    ):
        fails(
            call,
            "AccessDeniedException",
            f"User: arn:aws:iam::{acct}:user/{name} is not authorized to perform: kms:{action} on resource: "
            f"{arn} with an explicit deny in an identity-based policy",
        )
    blob = kms.encrypt(KeyId=key, Plaintext=b"root's")["CiphertextBlob"]  # root is not bound by it
    fails(lambda: user.decrypt(CiphertextBlob=blob), "AccessDeniedException")
    fails(lambda: user.list_keys(), "AccessDeniedException")


def test_authentication_errors(server: RunningServer, key: str) -> None:
    wrong = server.client("kms", secret_key="wrong-secret-key")
    fails(lambda: wrong.describe_key(KeyId=key), "InvalidSignatureException")
    unknown = server.client("kms", access_key="NOSUCHACCESSKEY00000")
    fails(
        lambda: unknown.describe_key(KeyId=key),
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    status, body = raw_call(
        server, "TrentService.DescribeKey", json.dumps({"KeyId": key}).encode(), sign=False
    )
    assert (status, body["__type"]) == (400, "MissingAuthenticationTokenException")


@pytest.mark.parametrize(
    "target, body, code",
    [
        ("TrentService.DescribeKey", b"{not json", "SerializationException"),
        ("TrentService.DescribeKey", b"[]", "SerializationException"),
        ("TrentService.DescribeKey", b"{}", "ValidationException"),
        ("TrentService.DescribeKey", b'{"KeyId": 5}', "SerializationException"),
        ("TrentService.Encrypt", b'{"KeyId": "alias/x", "Plaintext": "%%%"}', "SerializationException"),
        ("TrentService.NoSuchOperation", b"{}", "UnknownOperationException"),
    ],
)
def test_malformed_requests(server: RunningServer, target: str, body: bytes, code: str) -> None:
    status, answer = raw_call(server, target, body)
    assert (status, answer["__type"]) == (400, code)


def test_oversized_body(server: RunningServer) -> None:
    status, answer = raw_call(server, "TrentService.Encrypt", b'{"Plaintext": "' + b"A" * (1 << 20) + b'"}')
    assert (status, answer["__type"]) == (400, "ValidationException")


# --- through S3 ----------------------------------------------------------------------------------------


def test_sse_kms_objects_follow_their_key(kms, s3, bucket: str, key: str) -> None:
    arn = kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"]
    s3.put_object(Bucket=bucket, Key="plain", Body=b"one", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    s3.put_object(
        Bucket=bucket,
        Key="bk",
        Body=b"two",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=arn,
        BucketKeyEnabled=True,
    )
    got = s3.get_object(Bucket=bucket, Key="plain")
    assert (got["Body"].read(), got["SSEKMSKeyId"]) == (b"one", arn)
    kms.disable_key(KeyId=key)
    for name in ("plain", "bk"):
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=bucket, Key=name)
        assert (error_code(e.value), status_of(e.value)) == ("KMS.DisabledException", 400)
    with pytest.raises(ClientError) as e:
        s3.put_object(
            Bucket=bucket,
            Key="bk2",
            Body=b"x",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=arn,
            BucketKeyEnabled=True,
        )
    assert error_code(e.value) == "KMS.DisabledException"
    kms.enable_key(KeyId=key)
    assert s3.get_object(Bucket=bucket, Key="bk")["Body"].read() == b"two"
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=30)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="plain")
    assert (error_code(e.value), status_of(e.value)) == ("KMS.KMSInvalidStateException", 400)
    kms.cancel_key_deletion(KeyId=key)


def test_sse_kms_unknown_keys(s3, bucket: str) -> None:
    for ref, message in (("not-a-key", "Invalid keyId 'not-a-key'"), ("alias/none", None)):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=ref)
        assert (error_code(e.value), status_of(e.value)) == ("KMS.NotFoundException", 400)
        if message:
            assert e.value.response["Error"]["Message"] == message
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="k")
    assert status_of(e.value) == 404


# --- the command line and the aws cli ---------------------------------------------------------------------


def test_strongroom_kms_commands(server: RunningServer, kms) -> None:
    made = server.cli("kms", "create-key", "--description", "from the command line").stdout.split()
    key_id = made[0]
    assert made[1].endswith(":key/" + key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "from the command line"
    server.cli("kms", "disable", made[1])
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    listed = [line.split("\t") for line in server.cli("kms", "list").stdout.splitlines()]
    assert [key_id, "Disabled", "CUSTOMER", "-", "0 objects", "from the command line"] in listed
    bad = server.cli("kms", "enable", "alias/does-not-exist", check=False)
    assert bad.returncode == 1 and "NotFoundException" in bad.stderr
    server.cli("kms", "enable", key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_aws_cli(server: RunningServer, tmp_path: Path) -> None:
    made = json.loads(server.aws("kms", "create-key", "--description", "cli").stdout)["KeyMetadata"]
    key = made["KeyId"]
    assert (made["KeyState"], made["Description"]) == ("Enabled", "cli")
    server.aws("kms", "create-alias", "--alias-name", "alias/cli-test", "--target-key-id", key)
    (tmp_path / "plain").write_bytes(b"from the aws cli")
    out = json.loads(
        server.aws(
            "kms",
            "encrypt",
            "--key-id",
            "alias/cli-test",
            "--plaintext",
            f"fileb://{tmp_path / 'plain'}",
            "--encryption-context",
            "app=cli",
        ).stdout
    )
    assert out["KeyId"].endswith(":key/" + key)
    (tmp_path / "blob").write_bytes(base64.b64decode(out["CiphertextBlob"]))
    plain = json.loads(
        server.aws(
            "kms",
            "decrypt",
            "--ciphertext-blob",
            f"fileb://{tmp_path / 'blob'}",
            "--encryption-context",
            "app=cli",
        ).stdout
    )["Plaintext"]
    assert base64.b64decode(plain) == b"from the aws cli"
    bad = server.aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'blob'}", check=False)
    assert bad.returncode != 0 and "InvalidCiphertextException" in bad.stderr
    data_key = json.loads(
        server.aws("kms", "generate-data-key", "--key-id", key, "--key-spec", "AES_256").stdout
    )
    assert len(base64.b64decode(data_key["Plaintext"])) == 32
    scheduled = json.loads(
        server.aws("kms", "schedule-key-deletion", "--key-id", key, "--pending-window-in-days", "30").stdout
    )
    assert scheduled["KeyState"] == "PendingDeletion"
    listed = json.loads(server.aws("kms", "list-keys").stdout)["Keys"]
    assert key in {k["KeyId"] for k in listed}


# --- secrecy: runs last, over everything the tests above left behind ---------------------------------------


def test_no_key_material_or_data_key_on_disk_or_in_the_log(
    server: RunningServer, kms, s3, bucket: str
) -> None:
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    data_key = kms.generate_data_key(KeyId=key, KeySpec="AES_256")["Plaintext"]
    marker = b"plaintext-marker-" + secrets.token_hex(8).encode()
    kms.encrypt(KeyId=key, Plaintext=marker)
    s3.put_object(Bucket=bucket, Key="obj", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    keyring = KmsKeyring(read_key_file(server.key_file))
    with _store(server) as store:
        materials = [keyring.unseal(m) for m in store.all_materials()]
    assert len(materials) >= 2
    secrets_ = [data_key, marker, *materials]
    files = [p for p in server.data_dir.rglob("*") if p.is_file()] + [server.log_path]
    for path in files:
        content = path.read_bytes()
        for secret in secrets_:
            for form in (secret, secret.hex().encode(), base64.b64encode(secret)):
                assert form not in content, f"a secret is in {path}"
