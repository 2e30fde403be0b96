"""Who may do what, through boto3 with real users: the issue's five scenarios, user policies, copies, KMS.

Each scenario uses two real users made with `strongroom user add`: the bucket's owner and a second
user ("bob"). AWS's answers: the S3 API reference (PutBucketPolicy: the owner can always manage the
policy), the IAM policy evaluation logic (an explicit Deny wins), the S3 user guide's bucket policy
examples (aws:SecureTransport, s3:x-amz-server-side-encryption), botocore issue #471 and aws-cli
#4251 (UploadPart carries no encryption header, so the "deny unencrypted uploads" policy denies it).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_code, status_of
from tests.integration.principals import User, anonymous, denied, new_user, policy
from tests.integration.server import RunningServer

ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


@pytest.fixture
def alice(server: RunningServer) -> User:
    return new_user(server, "alice")


@pytest.fixture
def bob(server: RunningServer) -> User:
    return new_user(server, "bob")


@pytest.fixture
def owned(alice: User) -> tuple[User, object, str]:
    """A bucket made by alice (a user, not root), with alice's client."""
    s3 = alice.client()
    name = "az-" + secrets.token_hex(6)
    s3.create_bucket(Bucket=name)
    return alice, s3, name


# --- 1. a second user, PutBucketEncryption, and a bucket policy granting it -------------------------


def test_scenario_1_granting_put_encryption_configuration(owned, bob: User) -> None:
    alice, s3, name = owned
    theirs = bob.client()
    denied(theirs.put_bucket_encryption, Bucket=name, ServerSideEncryptionConfiguration=ENCRYPTION)
    s3.put_bucket_policy(Bucket=name, Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": bob.arn}, "Action": "s3:PutEncryptionConfiguration",
        "Resource": f"arn:aws:s3:::{name}"}))
    theirs.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/bobs"}}]})
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == "alias/bobs"  # bob's put took
    denied(theirs.get_bucket_encryption, Bucket=name)  # a different action: not granted
    theirs.delete_bucket_encryption(Bucket=name)  # Delete is guarded by s3:PutEncryptionConfiguration
    denied(theirs.put_object, Bucket=name, Key="k", Body=b"x")  # nothing else was granted
    s3.put_bucket_policy(Bucket=name, Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": bob.arn},
        "Action": ["s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration"],
        "Resource": f"arn:aws:s3:::{name}"}))
    assert theirs.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]


def test_a_policy_naming_bob_by_canonical_id_grants_bob_only(owned, bob: User, server: RunningServer) -> None:
    alice, s3, name = owned
    carol = new_user(server, "carol")
    s3.put_object(Bucket=name, Key="doc", Body=b"shared")
    s3.put_bucket_policy(Bucket=name, Policy=policy({
        "Effect": "Allow", "Principal": {"CanonicalUser": bob.id}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*"}))
    assert bob.client().get_object(Bucket=name, Key="doc")["Body"].read() == b"shared"
    denied(carol.client().get_object, Bucket=name, Key="doc")
    denied(anonymous(server).get_object, Bucket=name, Key="doc")


# --- 2. deny unencrypted uploads ----------------------------------------------------------------------


def test_scenario_2_deny_uploads_without_the_kms_header(owned) -> None:
    alice, s3, name = owned
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
    s3.put_bucket_policy(Bucket=name, Policy=policy({
        "Sid": "DenyIncorrectEncryptionHeader", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{name}/*",
        "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}}))
    # Relying on the bucket default (which is aws:kms!) is denied: the request itself has no header.
    denied(s3.put_object, Bucket=name, Key="default", Body=b"x")
    denied(s3.put_object, Bucket=name, Key="aes", Body=b"x", ServerSideEncryption="AES256")
    made = s3.put_object(Bucket=name, Key="kms", Body=b"secret", ServerSideEncryption="aws:kms")
    assert made["ServerSideEncryption"] == "aws:kms"
    assert s3.get_object(Bucket=name, Key="kms")["Body"].read() == b"secret"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", [])] == ["kms"]
    # Multipart: CreateMultipartUpload carries the header; UploadPart cannot, so it is denied as on AWS.
    upload = s3.create_multipart_upload(Bucket=name, Key="mp", ServerSideEncryption="aws:kms")["UploadId"]
    denied(s3.upload_part, Bucket=name, Key="mp", UploadId=upload, PartNumber=1, Body=b"part")
    s3.abort_multipart_upload(Bucket=name, Key="mp", UploadId=upload)


def test_scenario_2_the_same_mechanics_with_aes256(owned) -> None:
    alice, s3, name = owned
    s3.put_bucket_policy(Bucket=name, Policy=policy({
        "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{name}/*",
        "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}}}))
    denied(s3.put_object, Bucket=name, Key="plain", Body=b"x")
    s3.put_object(Bucket=name, Key="sse", Body=b"x", ServerSideEncryption="AES256")
    denied(s3.copy_object, Bucket=name, Key="copy", CopySource={"Bucket": name, "Key": "sse"})
    s3.copy_object(Bucket=name, Key="copy", CopySource={"Bucket": name, "Key": "sse"},
                   ServerSideEncryption="AES256")
    assert s3.get_object(Bucket=name, Key="copy")["Body"].read() == b"x"


def test_scenario_2_requiring_a_specific_kms_key(owned, server: RunningServer, tmp_path: Path) -> None:
    alice, s3, name = owned
    kms = server.client("kms")
    wanted = kms.create_key(Description="the bucket's key")["KeyMetadata"]["Arn"]
    other = kms.create_key(Description="another key")["KeyMetadata"]["Arn"]
    # Under the keys' default key policy, alice uses them by her IAM policy (issue 14: keys belong to
    # someone), so the bucket policy is what refuses below.
    attach(server, alice, policy({"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": "*"}),
           tmp_path, "kms")
    s3.put_bucket_policy(Bucket=name, Policy=policy({
        "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{name}/*",
        "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": wanted}}}))
    denied(s3.put_object, Bucket=name, Key="none", Body=b"x", ServerSideEncryption="aws:kms")
    denied(s3.put_object, Bucket=name, Key="other", Body=b"x", ServerSideEncryption="aws:kms",
           SSEKMSKeyId=other)
    made = s3.put_object(Bucket=name, Key="right", Body=b"x", ServerSideEncryption="aws:kms",
                         SSEKMSKeyId=wanted)
    assert made["SSEKMSKeyId"] == wanted


# --- 3. aws:SecureTransport -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_twin(server: RunningServer, start_module_server: ServerFactory) -> tuple[RunningServer, Path]:
    """A second server process over HTTPS on the same data directory (they share the catalog)."""
    running = start_module_server(like=server, tls=True)
    assert running.cert is not None
    return running, running.cert


def test_scenario_3_deny_insecure_transport(owned, tls_twin: tuple[RunningServer, Path]) -> None:
    alice, s3, name = owned
    tls, cert = tls_twin
    s3.put_object(Bucket=name, Key="k", Body=b"over tls only")
    s3.put_bucket_policy(Bucket=name, Policy=policy({
        "Sid": "AllowSSLRequestsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}))
    denied(s3.get_object, Bucket=name, Key="k")
    denied(s3.put_object, Bucket=name, Key="k2", Body=b"x")
    denied(s3.list_objects_v2, Bucket=name)
    secure = alice.tls_client(tls, cert)
    assert secure.get_object(Bucket=name, Key="k")["Body"].read() == b"over tls only"
    secure.put_object(Bucket=name, Key="k2", Body=b"x")
    assert {o["Key"] for o in secure.list_objects_v2(Bucket=name)["Contents"]} == {"k", "k2"}
    s3.delete_bucket_policy(Bucket=name)  # the owner may always manage the policy, even over HTTP
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"over tls only"


# --- 4. public read through a bucket policy ----------------------------------------------------------


def test_scenario_4_public_read_policy(owned, server: RunningServer) -> None:
    alice, s3, name = owned
    s3.put_object(Bucket=name, Key="public/page.html", Body=b"<h1>hello</h1>")
    public = policy({"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                     "Resource": f"arn:aws:s3:::{name}/*"})
    # New buckets block public policies (Block Public Access on by default since April 2023).
    e = denied(s3.put_bucket_policy, Bucket=name, Policy=public)
    assert e.response["Error"]["Message"] == (
        f"User: {alice.arn} is not authorized to perform: s3:PutBucketPolicy on resource: "
        f'"arn:aws:s3:::{name}" because public policies are blocked by the BlockPublicPolicy block public '
        "access setting.")
    s3.delete_public_access_block(Bucket=name)
    s3.put_bucket_policy(Bucket=name, Policy=public)
    assert s3.get_bucket_policy_status(Bucket=name)["PolicyStatus"]["IsPublic"] is True
    anon = anonymous(server)
    assert anon.get_object(Bucket=name, Key="public/page.html")["Body"].read() == b"<h1>hello</h1>"
    assert anon.head_object(Bucket=name, Key="public/page.html")["ContentLength"] == 14
    denied(anon.put_object, Bucket=name, Key="public/defaced.html", Body=b"x")
    denied(anon.list_objects_v2, Bucket=name)
    denied(anon.delete_object, Bucket=name, Key="public/page.html")
    denied(anon.get_bucket_policy, Bucket=name)
    assert s3.head_object(Bucket=name, Key="public/page.html")["ContentLength"] == 14  # not deleted
    # RestrictPublicBuckets: the public policy stays but gives anonymous requests nothing.
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})
    denied(anon.get_object, Bucket=name, Key="public/page.html")


def test_a_missing_key_is_403_without_list_bucket_and_404_with_it(owned, bob: User) -> None:
    """GetObject/HeadObject docs: without s3:ListBucket on the bucket a missing key is 403 Access
    Denied (the reader may not learn which keys exist); with it, 404 NoSuchKey."""
    alice, s3, name = owned
    s3.put_object(Bucket=name, Key="there", Body=b"x")
    read_only = {"Effect": "Allow", "Principal": {"AWS": bob.arn}, "Action": "s3:GetObject",
                 "Resource": f"arn:aws:s3:::{name}/*"}
    s3.put_bucket_policy(Bucket=name, Policy=policy(read_only))
    theirs = bob.client()
    assert theirs.get_object(Bucket=name, Key="there")["Body"].read() == b"x"
    denied(theirs.get_object, Bucket=name, Key="missing")
    with pytest.raises(ClientError) as e:  # a HEAD answer has no body: only the status
        theirs.head_object(Bucket=name, Key="missing")
    assert status_of(e.value) == 403
    with pytest.raises(ClientError) as e:  # the owner may list: 404
        s3.get_object(Bucket=name, Key="missing")
    assert (status_of(e.value), error_code(e.value)) == (404, "NoSuchKey")
    listing = {"Effect": "Allow", "Principal": {"AWS": bob.arn}, "Action": "s3:ListBucket",
               "Resource": f"arn:aws:s3:::{name}"}
    s3.put_bucket_policy(Bucket=name, Policy=policy(read_only, listing))
    with pytest.raises(ClientError) as e:
        theirs.get_object(Bucket=name, Key="missing")
    assert (status_of(e.value), error_code(e.value)) == (404, "NoSuchKey")
    with pytest.raises(ClientError) as e:
        theirs.head_object(Bucket=name, Key="missing")
    assert status_of(e.value) == 404


# --- 5. an explicit Deny beats the owner --------------------------------------------------------------


def test_scenario_5_explicit_deny_beats_the_owner(owned, server: RunningServer) -> None:
    alice, s3, name = owned
    s3.put_object(Bucket=name, Key="keep/me", Body=b"precious")
    s3.put_bucket_policy(Bucket=name, Policy=policy({
        "Effect": "Deny", "Principal": "*", "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
        "Resource": f"arn:aws:s3:::{name}/keep/*"}))
    denied(s3.delete_object, Bucket=name, Key="keep/me")
    denied(s3.get_object, Bucket=name, Key="keep/me")
    denied(s3.put_object, Bucket=name, Key="keep/other", Body=b"x")
    denied(server.client().get_object, Bucket=name, Key="keep/me")  # the root user too
    s3.put_object(Bucket=name, Key="elsewhere", Body=b"fine")  # outside the Deny: the owner's own access
    assert s3.get_bucket_policy(Bucket=name)["Policy"]  # policy management stays the owner's
    s3.delete_bucket_policy(Bucket=name)
    assert s3.get_object(Bucket=name, Key="keep/me")["Body"].read() == b"precious"


def test_a_policy_denying_policy_changes_still_lets_the_owner_change_it(owned, bob: User) -> None:
    alice, s3, name = owned
    lockout = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                      "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]})
    s3.put_bucket_policy(Bucket=name, Policy=lockout)
    denied(s3.list_objects_v2, Bucket=name)
    assert json.loads(s3.get_bucket_policy(Bucket=name)["Policy"]) == json.loads(lockout)
    s3.put_bucket_policy(Bucket=name, Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": bob.arn}, "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{name}"}))
    s3.list_objects_v2(Bucket=name)
    bob.client().list_objects_v2(Bucket=name)
    denied(bob.client().delete_bucket_policy, Bucket=name)  # bob does not own the bucket


# --- user policies through the CLI ---------------------------------------------------------------------


def attach(server: RunningServer, user: User, document: str, tmp_path: Path, name: str = "p") -> None:
    path = tmp_path / f"{name}-{secrets.token_hex(3)}.json"
    path.write_text(document)
    server.cli("policy", "attach", user.name, str(path), "--name", name)


def test_user_policies_grant_and_deny(owned, bob: User, server: RunningServer, tmp_path: Path) -> None:
    alice, s3, name = owned
    s3.put_object(Bucket=name, Key="reports/q1.csv", Body=b"q1")
    s3.put_object(Bucket=name, Key="private/x", Body=b"x")
    theirs = bob.client()
    denied(theirs.get_object, Bucket=name, Key="reports/q1.csv")
    attach(server, bob, policy({"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                                "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/reports/*"]}),
           tmp_path, "reader")
    assert theirs.get_object(Bucket=name, Key="reports/q1.csv")["Body"].read() == b"q1"
    assert theirs.list_objects_v2(Bucket=name)["KeyCount"] == 2
    denied(theirs.get_object, Bucket=name, Key="private/x")
    denied(theirs.put_object, Bucket=name, Key="reports/q2.csv", Body=b"q2")
    listed = server.cli("policy", "list", bob.name).stdout
    assert re.search(rf"^{bob.name}\treader\t", listed, re.M), listed
    # A user policy's Deny beats the bucket policy's Allow.
    s3.put_bucket_policy(Bucket=name, Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": bob.arn}, "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{name}/*"}))
    theirs.put_object(Bucket=name, Key="reports/q2.csv", Body=b"q2")
    attach(server, bob, policy({"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}), tmp_path, "ro")
    denied(theirs.put_object, Bucket=name, Key="reports/q3.csv", Body=b"q3")
    server.cli("policy", "detach", bob.name, "ro")
    theirs.put_object(Bucket=name, Key="reports/q3.csv", Body=b"q3")
    server.cli("policy", "detach", bob.name, "reader")
    denied(theirs.get_object, Bucket=name, Key="reports/q1.csv")
    assert server.cli("policy", "list", bob.name).stdout == ""


def test_user_policy_denies_even_in_the_users_own_bucket(bob: User, server: RunningServer,
                                                         tmp_path: Path) -> None:
    theirs = bob.client()
    name = "own-" + secrets.token_hex(5)
    theirs.create_bucket(Bucket=name)
    attach(server, bob, policy({"Effect": "Deny", "Action": ["s3:CreateBucket", "s3:DeleteObject"],
                                "Resource": "*"}), tmp_path)
    theirs.put_object(Bucket=name, Key="k", Body=b"x")
    denied(theirs.delete_object, Bucket=name, Key="k")
    denied(theirs.create_bucket, Bucket="never-" + secrets.token_hex(5))
    assert theirs.head_object(Bucket=name, Key="k")["ContentLength"] == 1


def test_policy_variables_and_prefix_conditions(owned, bob: User, server: RunningServer,
                                                tmp_path: Path) -> None:
    alice, s3, name = owned
    attach(server, bob, policy(
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
         "Resource": f"arn:aws:s3:::{name}/home/${{aws:username}}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{name}",
         "Condition": {"StringLike": {"s3:prefix": "home/${aws:username}/*"}}}), tmp_path)
    theirs = bob.client()
    theirs.put_object(Bucket=name, Key=f"home/{bob.name}/notes", Body=b"mine")
    denied(theirs.put_object, Bucket=name, Key="home/alice/notes", Body=b"not mine")
    assert theirs.list_objects_v2(Bucket=name, Prefix=f"home/{bob.name}/")["KeyCount"] == 1
    denied(theirs.list_objects_v2, Bucket=name)  # no prefix: the condition's key is absent
    denied(theirs.list_objects_v2, Bucket=name, Prefix="home/")


def test_policy_cli_refuses_bad_documents(server: RunningServer, bob: User, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    for document, message in (
            ("not json", "first byte must be '{'"),
            ('{"Statement": {"Effect": "Allow", "Action": "s3:Fly", "Resource": "*"}}', "invalid action"),
            ('{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}}',
             "should not specify a principal"),
            (policy(*[{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::b{i}/*"}
                      for i in range(500)]), "PolicySize")):
        bad.write_text(document)
        refused = server.cli("policy", "attach", bob.name, str(bad), check=False)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
    refused = server.cli("policy", "attach", "nobody-" + secrets.token_hex(3), str(bad), check=False)
    assert refused.returncode == 1 and "no user" in refused.stderr
    refused = server.cli("policy", "attach", "root", str(bad), check=False)
    assert refused.returncode == 1 and "root" in refused.stderr
    refused = server.cli("policy", "detach", bob.name, "absent", check=False)
    assert refused.returncode == 1 and "has no policy" in refused.stderr
    assert server.cli("policy", "list", bob.name).stdout == ""


def test_access_keys_added_disabled_and_deleted(server: RunningServer, bob: User) -> None:
    extra = server.cli("user", "add-key", bob.name).stdout
    access = re.search(r"access key: (\S+)", extra).group(1)  # type: ignore[union-attr]
    secret = re.search(r"secret key: (\S+)", extra).group(1)  # type: ignore[union-attr]
    second = server.client("s3", access_key=access, secret_key=secret, retries={"max_attempts": 1})
    second.list_buckets()
    server.cli("user", "disable-key", access)
    with pytest.raises(ClientError) as e:
        second.list_buckets()
    assert error_code(e.value) == "InvalidAccessKeyId"
    server.cli("user", "enable-key", access)
    second.list_buckets()
    server.cli("user", "delete-key", access)
    with pytest.raises(ClientError) as e:
        second.list_buckets()
    assert error_code(e.value) == "InvalidAccessKeyId"
    bob.client().list_buckets()  # the first key still works


# --- copies need read access to the source ------------------------------------------------------------


def test_copy_needs_get_object_on_the_source(owned, bob: User, server: RunningServer) -> None:
    alice, s3, name = owned
    s3.put_object(Bucket=name, Key="src", Body=b"copied")
    theirs = bob.client()
    target = "bob-" + secrets.token_hex(5)
    theirs.create_bucket(Bucket=target)
    denied(theirs.copy_object, Bucket=target, Key="dst", CopySource={"Bucket": name, "Key": "src"})
    with pytest.raises(ClientError):
        theirs.head_object(Bucket=target, Key="dst")


def test_copy_from_a_bucket_whose_policy_grants_get_object(owned, bob: User) -> None:
    alice, s3, name = owned
    s3.put_object(Bucket=name, Key="src", Body=b"copied")
    s3.put_bucket_policy(Bucket=name, Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": bob.arn}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/src"}))
    theirs = bob.client()
    target = "bob-" + secrets.token_hex(5)
    theirs.create_bucket(Bucket=target)
    theirs.copy_object(Bucket=target, Key="dst", CopySource={"Bucket": name, "Key": "src"})
    assert theirs.get_object(Bucket=target, Key="dst")["Body"].read() == b"copied"


# --- KMS keys: using is allowed by default, a Deny in a user policy refuses ----------------------------


def test_kms_use_denied_by_a_user_policy(owned, server: RunningServer, tmp_path: Path) -> None:
    alice, s3, name = owned
    key = server.client("kms").create_key()["KeyMetadata"]["Arn"]
    attach(server, alice, policy({"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                                  "Resource": key}), tmp_path, "kms")
    s3.put_object(Bucket=name, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"x"
    attach(server, alice, policy({"Effect": "Deny", "Action": "kms:Decrypt", "Resource": key}), tmp_path)
    denied(s3.get_object, Bucket=name, Key="k")


def test_kms_generate_data_key_denied_by_a_user_policy(owned, server: RunningServer, tmp_path: Path) -> None:
    alice, s3, name = owned
    key = server.client("kms").create_key()["KeyMetadata"]["Arn"]
    deny = policy({"Effect": "Deny", "Action": "kms:GenerateDataKey", "Resource": key})
    attach(server, alice, deny, tmp_path)
    denied(s3.put_object, Bucket=name, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    denied(s3.create_multipart_upload, Bucket=name, Key="m", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    assert "Contents" not in s3.list_objects_v2(Bucket=name)  # nothing stored
    s3.put_object(Bucket=name, Key="k", Body=b"x")  # SSE-S3 is untouched by the KMS policy


def test_authorization_stays_fast_with_a_big_policy(owned, bob: User) -> None:
    alice, s3, name = owned
    statements = [{"Effect": "Deny", "Principal": {"AWS": bob.arn}, "Action": "s3:GetObject",
                   "Resource": f"arn:aws:s3:::{name}/{'*' * 40}x{i}?"} for i in range(100)]
    document = json.dumps({"Statement": statements}, separators=(",", ":"))
    assert 15_000 < len(document) < 20 * 1024
    s3.put_bucket_policy(Bucket=name, Policy=document)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    started = time.monotonic()
    for _ in range(20):
        s3.get_object(Bucket=name, Key="k")["Body"].read()
    assert time.monotonic() - started < 5


# --- object tags in conditions, and the extra actions some headers need ----------------------------------


def test_existing_object_tags_in_conditions(owned, bob: User) -> None:
    alice, s3, name = owned
    s3.put_object(Bucket=name, Key="shared", Body=b"s", Tagging="share=yes")
    s3.put_object(Bucket=name, Key="secret", Body=b"x", Tagging="share=no")
    s3.put_object(Bucket=name, Key="untagged", Body=b"u")
    s3.put_bucket_policy(Bucket=name, Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": bob.arn}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*",
        "Condition": {"StringEquals": {"s3:ExistingObjectTag/share": "yes"}}}))
    theirs = bob.client()
    assert theirs.get_object(Bucket=name, Key="shared")["Body"].read() == b"s"
    denied(theirs.get_object, Bucket=name, Key="secret")
    denied(theirs.get_object, Bucket=name, Key="untagged")


def test_tags_and_acls_on_a_put_need_their_own_actions(owned, bob: User) -> None:
    alice, s3, name = owned
    s3.put_bucket_policy(Bucket=name, Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": bob.arn}, "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{name}/*"}))
    theirs = bob.client()
    theirs.put_object(Bucket=name, Key="plain", Body=b"x")
    denied(theirs.put_object, Bucket=name, Key="tagged", Body=b"x", Tagging="a=b")  # s3:PutObjectTagging
    denied(theirs.put_object, Bucket=name, Key="acl", Body=b"x", ACL="bucket-owner-full-control")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]] == ["plain"]


def test_delete_objects_decides_each_key(owned) -> None:
    alice, s3, name = owned
    for key in ("keep/a", "tmp/b"):
        s3.put_object(Bucket=name, Key=key, Body=b"x")
    s3.put_bucket_policy(Bucket=name, Policy=policy({
        "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
        "Resource": f"arn:aws:s3:::{name}/keep/*"}))
    result = s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "keep/a"}, {"Key": "tmp/b"}]})
    assert [e["Key"] for e in result.get("Errors", [])] == ["keep/a"]
    assert result["Errors"][0]["Code"] == "AccessDenied"
    assert s3.head_object(Bucket=name, Key="keep/a")["ContentLength"] == 1


# --- the request's own condition keys --------------------------------------------------------------------


def test_source_ip_time_signature_and_auth_type(owned, bob: User) -> None:
    alice, s3, name = owned
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    arn = f"arn:aws:s3:::{name}/*"

    def only(condition: dict) -> object:
        s3.put_bucket_policy(Bucket=name, Policy=policy(
            {"Effect": "Allow", "Principal": {"AWS": bob.arn}, "Action": "s3:GetObject", "Resource": arn,
             "Condition": condition}))
        return bob.client()

    assert only({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}).get_object(Bucket=name, Key="k")
    denied(only({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}).get_object, Bucket=name, Key="k")
    before = {"DateLessThan": {"aws:CurrentTime": "2999-01-01T00:00:00Z"}}
    assert only(before).get_object(Bucket=name, Key="k")
    after = {"DateLessThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}}
    denied(only(after).get_object, Bucket=name, Key="k")
    sigv4_only = {"StringEquals": {"s3:signatureversion": "AWS4-HMAC-SHA256"}}
    assert only(sigv4_only).get_object(Bucket=name, Key="k")
    sigv2 = bob.client(signature_version="s3")
    denied(sigv2.get_object, Bucket=name, Key="k")
    headers_only = {"StringEquals": {"s3:authType": "REST-HEADER", "aws:username": bob.name}}
    assert only(headers_only).get_object(Bucket=name, Key="k")
    url = bob.client().generate_presigned_url("get_object", Params={"Bucket": name, "Key": "k"})
    refused = bob.server.raw("GET", url, sign=False)
    assert refused.status == 403 and b"<Code>AccessDenied</Code>" in refused.body
    only({"StringEquals": {"s3:authType": "REST-QUERY-STRING"}})
    got = bob.server.raw("GET", url, sign=False)
    assert (got.status, got.body) == (200, b"x")
