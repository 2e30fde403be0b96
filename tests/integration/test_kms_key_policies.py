"""KMS keys belong to someone (issue 14): key policies with identity policies, through every door.

Users made with `strongroom user add`, real boto3 clients; raw requests for what an SDK will not send
(a body under a signature made for another, a presigned KMS call, JSON nested too deep).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from strongroom import sigv4
from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_code, status_of
from tests.integration.principals import User, account_of, denied, new_user
from tests.integration.server import RunningServer

KMS_JSON = {"Content-Type": "application/x-amz-json-1.1"}
S3_ALL = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}


@pytest.fixture(scope="module")
def server(start_module_server: ServerFactory) -> RunningServer:
    return start_module_server()


def attach(server: RunningServer, user: User, tmp_path: Path, *statements: dict, name: str = "p") -> None:
    document = tmp_path / f"{user.name}-{name}.json"
    document.write_text(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
    server.cli("policy", "attach", user.name, str(document), "--name", name)


def kms_fails(call, code: str, message: str | None = None) -> ClientError:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as e:
        call()
    assert (status_of(e.value), error_code(e.value)) == (400, code), e.value.response
    if message is not None:
        assert e.value.response["Error"]["Message"] == message
    return e.value


def key_policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def root_statement(account: str) -> dict:
    return {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}


# --- the key policy operations --------------------------------------------------------------------


def test_default_key_policy_and_put_get_list(server: RunningServer, kms, tmp_path: Path) -> None:
    acct = account_of(server)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    default = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    assert default["Statement"] == [root_statement(acct)]
    assert kms.get_key_policy(KeyId=key)["PolicyName"] == "default"
    assert kms.list_key_policies(KeyId=key)["PolicyNames"] == ["default"]
    kms_fails(lambda: kms.get_key_policy(KeyId=key, PolicyName="other"), "NotFoundException")

    alice, bob = new_user(server, "alice"), new_user(server, "bob")
    arn = f"arn:aws:kms:us-east-1:{acct}:key/{key}"
    # Under the default policy a user with no identity policy may not use the key.
    kms_fails(lambda: alice.client("kms").encrypt(KeyId=key, Plaintext=b"x"), "AccessDeniedException",
              f"User: {alice.arn} is not authorized to perform: kms:Encrypt on resource: {arn} because no "
              "identity-based policy allows the kms:Encrypt action")
    # A key policy naming alice lets her use it without any identity policy; bob still may not.
    named = key_policy(root_statement(acct), {"Effect": "Allow", "Principal": {"AWS": alice.arn},
                                              "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"})
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=named)
    assert kms.get_key_policy(KeyId=key)["Policy"] == named
    blob = alice.client("kms").encrypt(KeyId=key, Plaintext=b"alice's")["CiphertextBlob"]
    assert alice.client("kms").decrypt(CiphertextBlob=blob)["Plaintext"] == b"alice's"
    kms_fails(lambda: bob.client("kms").decrypt(CiphertextBlob=blob), "AccessDeniedException")
    kms_fails(lambda: alice.client("kms").disable_key(KeyId=key), "AccessDeniedException")
    # An explicit Deny in the key policy wins over bob's identity policy.
    attach(server, bob, tmp_path, {"Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    assert bob.client("kms").decrypt(CiphertextBlob=blob)["Plaintext"] == b"alice's"
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=key_policy(
        root_statement(acct),
        {"Effect": "Deny", "Principal": {"AWS": bob.arn}, "Action": "kms:Decrypt", "Resource": "*"}))
    kms_fails(lambda: bob.client("kms").decrypt(CiphertextBlob=blob), "AccessDeniedException",
              f"User: {bob.arn} is not authorized to perform: kms:Decrypt on resource: {arn} with an "
              "explicit deny in a resource-based policy")


def test_lockout_check_malformed_policies_and_a_locked_out_root(server: RunningServer, kms) -> None:
    acct = account_of(server)
    alice = new_user(server, "alice")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    only_alice = key_policy({"Effect": "Allow", "Principal": {"AWS": alice.arn}, "Action": "kms:*",
                             "Resource": "*"})
    lockout = "The new key policy will not allow you to update the key policy in the future."
    kms_fails(lambda: kms.put_key_policy(KeyId=key, PolicyName="default", Policy=only_alice),
              "MalformedPolicyDocumentException", lockout)
    kms_fails(lambda: kms.create_key(Policy=only_alice), "MalformedPolicyDocumentException", lockout)
    for bad in ("not json", "[]", '{"Statement": []}', "{" * 5000,
                key_policy({"Effect": "Allow", "Action": "kms:*", "Resource": "*"})):  # no Principal
        kms_fails(lambda bad=bad: kms.put_key_policy(KeyId=key, PolicyName="default", Policy=bad),
                  "MalformedPolicyDocumentException")
    assert json.loads(kms.get_key_policy(KeyId=key)["Policy"])["Statement"] == [root_statement(acct)]
    # Bypassing the check is the caller's choice: then the root user is locked out, as on AWS.
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=only_alice,
                       BypassPolicyLockoutSafetyCheck=True)
    arn = f"arn:aws:kms:us-east-1:{acct}:key/{key}"
    kms_fails(lambda: kms.describe_key(KeyId=key), "AccessDeniedException",
              f"User: arn:aws:iam::{acct}:root is not authorized to perform: kms:DescribeKey on resource: "
              f"{arn} because no resource-based policy allows the kms:DescribeKey action")
    assert alice.client("kms").describe_key(KeyId=key)["KeyMetadata"]["KeyId"] == key
    made = kms.create_key(Policy=key_policy(root_statement(acct), {
        "Effect": "Allow", "Principal": {"AWS": alice.arn}, "Action": "kms:GenerateDataKey",
        "Resource": "*"}))
    assert alice.client("kms").generate_data_key(KeyId=made["KeyMetadata"]["KeyId"], KeySpec="AES_256")


def test_the_aws_managed_key_for_s3(server: RunningServer, kms, s3, bucket: str, tmp_path: Path) -> None:
    acct = account_of(server)
    alice = new_user(server, "alice")
    attach(server, alice, tmp_path, S3_ALL)  # S3 only: no KMS permission at all
    mine = alice.client("s3")
    mine.put_object(Bucket=bucket, Key="default-kms", Body=b"through S3", ServerSideEncryption="aws:kms")
    assert mine.get_object(Bucket=bucket, Key="default-kms")["Body"].read() == b"through S3"
    policy = json.loads(kms.get_key_policy(KeyId="alias/aws/s3", PolicyName="default")["Policy"])
    assert policy["Id"] == "auto-s3-2"
    assert policy["Statement"][0]["Condition"]["StringEquals"] == {
        "kms:CallerAccount": acct, "kms:ViaService": "s3.us-east-1.amazonaws.com"}
    kms_fails(lambda: kms.put_key_policy(KeyId="alias/aws/s3", PolicyName="default",
                                         Policy=key_policy(root_statement(acct))), "AccessDeniedException")
    kms_fails(lambda: alice.client("kms").describe_key(KeyId="alias/aws/s3"), "AccessDeniedException")


# --- S3's doors: every KMS use decided by the one function -----------------------------------------


def test_s3_sse_kms_needs_the_kms_permissions_aws_requires(server: RunningServer, kms, s3, bucket: str,
                                                           tmp_path: Path) -> None:
    key = kms.create_key()["KeyMetadata"]["Arn"]
    s3.put_object(Bucket=bucket, Key="root-kms", Body=b"root's", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=key)
    s3.put_object(Bucket=bucket, Key="plain", Body=b"sse-s3")
    alice = new_user(server, "alice")
    attach(server, alice, tmp_path, S3_ALL)
    mine = alice.client("s3")
    # No KMS permission: reads and writes under the key are refused, and so is re-sealing under it.
    denied(mine.get_object, Bucket=bucket, Key="root-kms")
    denied(mine.get_object, Bucket=bucket, Key="root-kms", Range="bytes=0-0")
    # HEAD reads no byte: s3:GetObject is all it needs (HeadObject, API reference), not kms:Decrypt.
    head = mine.head_object(Bucket=bucket, Key="root-kms")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"], head["ContentLength"]) == ("aws:kms", key, 6)
    denied(mine.put_object, Bucket=bucket, Key="a", Body=b"x", ServerSideEncryption="aws:kms",
           SSEKMSKeyId=key)
    denied(mine.update_object_encryption, Bucket=bucket, Key="plain",
           ObjectEncryption={"SSEKMS": {"KMSKeyArn": key}})
    # kms:GenerateDataKey only: writes, not reads; a multipart upload starts, but no part goes in.
    attach(server, alice, tmp_path, {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": key},
           name="gdk")
    mine.put_object(Bucket=bucket, Key="a", Body=b"alice's", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    denied(mine.get_object, Bucket=bucket, Key="a")
    upload = mine.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="aws:kms",
                                          SSEKMSKeyId=key)["UploadId"]
    denied(mine.upload_part, Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"part")
    denied(mine.upload_part_copy, Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1,
           CopySource={"Bucket": bucket, "Key": "plain"})
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"root's part")
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    denied(mine.complete_multipart_upload, Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload=parts)
    assert s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload)["Parts"]  # nothing changed
    # With kms:Decrypt too, everything goes.
    attach(server, alice, tmp_path, {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key}, name="dec")
    assert mine.get_object(Bucket=bucket, Key="root-kms")["Body"].read() == b"root's"
    mine.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=2, Body=b"alice's part")
    mine.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload=parts)
    mine.update_object_encryption(Bucket=bucket, Key="plain", ObjectEncryption={"SSEKMS": {"KMSKeyArn": key}})
    assert s3.head_object(Bucket=bucket, Key="plain")["SSEKMSKeyId"] == key


def test_a_deny_in_a_user_policy_and_the_encryption_context(server: RunningServer, kms, s3, bucket: str,
                                                           tmp_path: Path) -> None:
    key = kms.create_key()["KeyMetadata"]["Arn"]
    for name in ("public/a", "secret/a"):
        s3.put_object(Bucket=bucket, Key=name, Body=name.encode(), ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=key)
    carol = new_user(server, "carol")
    attach(server, carol, tmp_path, S3_ALL, {
        "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key, "Condition": {
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{bucket}/public/*"}}})
    theirs = carol.client("s3")
    assert theirs.get_object(Bucket=bucket, Key="public/a")["Body"].read() == b"public/a"
    denied(theirs.get_object, Bucket=bucket, Key="secret/a")
    attach(server, carol, tmp_path, {"Effect": "Deny", "Action": "kms:*", "Resource": "*"}, name="deny")
    denied(theirs.get_object, Bucket=bucket, Key="public/a")
    kms_fails(lambda: carol.client("kms").list_keys(), "AccessDeniedException")


# --- the KMS and STS APIs bind the body -----------------------------------------------------------


def kms_raw(server: RunningServer, op: str, body: bytes, **kwargs: object):  # type: ignore[no-untyped-def]
    return server.raw("POST", "/", body, {**KMS_JSON, "X-Amz-Target": f"TrentService.{op}"}, service="kms",
                      **kwargs)  # type: ignore[arg-type]


def test_the_kms_api_signs_the_body_it_received(server: RunningServer, kms) -> None:
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    body = json.dumps({"KeyId": key, "Plaintext": base64.b64encode(b"x").decode()}).encode()
    assert kms_raw(server, "Encrypt", body).status == 200
    other = hashlib.sha256(b"another body").hexdigest()
    for claimed in ("UNSIGNED-PAYLOAD", other):
        reply = kms_raw(server, "Encrypt", body, content_sha256=claimed)
        assert (reply.status, reply.json()["__type"]) == (400, "InvalidSignatureException")
    url = sigv4.presign_url("POST", server.endpoint + "/", server.access_key, server.secret_key, "us-east-1",
                            "kms", 300, datetime.now(UTC))
    reply = server.raw("POST", url, body, {**KMS_JSON, "X-Amz-Target": "TrentService.Encrypt"}, sign=False)
    assert (reply.status, reply.json()["__type"]) == (400, "MissingAuthenticationTokenException")


@pytest.mark.parametrize("body", [b"[" * 100000 + b"]" * 100000, b'{"KeyId": "\xff\xfe"}', b'"a string"',
                                  b'{"a":' * 50000 + b"1" + b"}" * 50000])
def test_hostile_json_is_a_serialization_error(server: RunningServer, body: bytes) -> None:
    reply = kms_raw(server, "DescribeKey", body)
    assert (reply.status, reply.json()["__type"]) == (400, "SerializationException")


def test_sts_signs_the_body_it_received(server: RunningServer) -> None:
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert server.raw("POST", "/", body, headers, service="sts").status == 200
    reply = server.raw("POST", "/", body, headers, service="sts", content_sha256="UNSIGNED-PAYLOAD")
    assert reply.status == 403 and b"SignatureDoesNotMatch" in reply.body
