"""PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy, GetBucketPolicyStatus: the round trip and bad input.

AWS's answers: the S3 API reference for each operation (204s, NoSuchBucketPolicy), the S3 user guide
("Special information for Amazon S3 policies": 20 KB at most; "The meaning of 'public'"), and the
MalformedPolicy messages of the policy engine (strongroom.policy.document, from AWS's own wording).
Every refused policy leaves the stored one unchanged, and is refused fast.
"""

from __future__ import annotations

import json
import secrets
import time

import pytest
from botocore.exceptions import ClientError

from tests.integration.helpers import error_code, keys_in, status_of
from tests.integration.principals import account_of, new_user, policy
from tests.integration.server import RunningServer


def read_only(bucket: str, principal: object = None) -> str:
    return policy({"Sid": "Read", "Effect": "Allow", "Principal": principal or {"AWS": "*"},
                   "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{bucket}/*",
                   "Condition": {"IpAddress": {"aws:SourceIp": "10.1.2.0/24"}}})


def malformed(s3, bucket: str, document: str, message: str | None = None) -> None:
    started = time.monotonic()
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=bucket, Policy=document)
    assert time.monotonic() - started < 2, "a refused policy must be refused fast"
    assert (status_of(e.value), error_code(e.value)) == (400, "MalformedPolicy"), e.value.response
    if message is not None:
        assert e.value.response["Error"]["Message"] == message


def test_put_get_delete_round_trip(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert (status_of(e.value), error_code(e.value)) == (404, "NoSuchBucketPolicy")
    assert e.value.response["Error"]["Message"] == "The bucket policy does not exist"
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy_status(Bucket=bucket)
    assert error_code(e.value) == "NoSuchBucketPolicy"
    document = read_only(bucket)  # fixed to a /24: not public, so Block Public Access lets it in
    put = s3.put_bucket_policy(Bucket=bucket, Policy=document)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == document  # verbatim
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": False}
    assert s3.delete_bucket_policy(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_bucket_policy(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError):
        s3.get_bucket_policy(Bucket=bucket)


def test_policy_of_a_missing_bucket(s3) -> None:
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket="no-such-" + secrets.token_hex(4))
    assert (status_of(e.value), error_code(e.value)) == (404, "NoSuchBucket")


def test_is_public_and_block_public_policy(s3, bucket: str) -> None:
    public = read_only(bucket).replace('"IpAddress": {"aws:SourceIp": "10.1.2.0/24"}',
                                       '"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}')
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=bucket, Policy=public)
    assert (status_of(e.value), error_code(e.value)) == (403, "AccessDenied")
    assert "BlockPublicPolicy" in e.value.response["Error"]["Message"]
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True})
    s3.put_bucket_policy(Bucket=bucket, Policy=public)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": True}


BAD = [
    ("", "Policies must be valid JSON and the first byte must be '{'"),
    ("[]", "Policies must be valid JSON and the first byte must be '{'"),
    ('{"Statement": [', "This policy contains invalid Json"),
    ('{"Version": "2012-10-17"}', "Missing required field Statement"),
    ('{"Version": "2099-01-01", "Statement": []}', "The policy must contain a valid version string"),
    ('{"Statement": []}', "Could not parse the policy: Statement is empty!"),
    ('{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}}',
     "Missing required field Resource"),
    ('{"Statement": {"Effect": "Maybe", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}}',
     "Invalid effect: Maybe"),
    ('{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:Teleport", "Resource": "R"}}',
     "Policy has invalid action"),
    ('{"Statement": {"Effect": "Allow", "Principal": "*", "Action": 42, "Resource": "R"}}',
     "Policy has invalid action"),
    ('{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "R"}}',
     "Policy has invalid action"),  # a bucket policy speaks S3 only
]


@pytest.mark.parametrize(("document", "message"), BAD)
def test_malformed_documents(s3, bucket: str, document: str, message: str) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=read_only(bucket))
    malformed(s3, bucket, document.replace('"R"', f'"arn:aws:s3:::{bucket}/*"'), message)
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == read_only(bucket)  # unchanged


def test_bad_resources_and_principals(server: RunningServer, s3, bucket: str) -> None:
    account = account_of(server)
    bob = new_user(server, "bob")

    def statement(**fields: object) -> str:
        base = {"Effect": "Allow", "Principal": {"AWS": bob.arn}, "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*"}
        return policy({**base, **fields})

    for resource in ("arn:aws:s3:::someone-elses-bucket/*", "not-an-arn", "*",
                     f"arn:aws:s3:us-east-1::{bucket}/*"):
        malformed(s3, bucket, statement(Resource=resource), "Policy has invalid resource")
    malformed(s3, bucket, statement(Resource=f"arn:aws:s3:::{bucket}"),
              "Action does not apply to any resource(s) in statement")
    for who in ({"AWS": f"arn:aws:iam::{account}:user/nobody-{secrets.token_hex(3)}"},
                {"AWS": "arn:aws:iam::999999999999:user/bob"}, {"AWS": f"arn:aws:iam::{account}:role/r"},
                {"CanonicalUser": "f" * 64}, {"AWS": "arn:aws:iam::*:user/bob"}, {"Nobody": "x"}):
        malformed(s3, bucket, statement(Principal=who), "Invalid principal in policy")
    s3.put_bucket_policy(Bucket=bucket, Policy=statement(Principal={"CanonicalUser": bob.id}))
    s3.put_bucket_policy(Bucket=bucket, Policy=statement(Principal={"AWS": [account, bob.arn]}))


def test_huge_and_hostile_policies_are_refused_fast(s3, bucket: str) -> None:
    many = json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                      "Resource": f"arn:aws:s3:::{bucket}/k{i}"} for i in range(5000)]})
    malformed(s3, bucket, many, "Policy exceeds the maximum allowed document size.")
    stars = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::" + "*" * 5000 + "x"})  # names no bucket of this name
    malformed(s3, bucket, stars, "Policy has invalid resource")
    malformed(s3, bucket, "{" * 5000, "This policy contains invalid Json")
    malformed(s3, bucket, '{"Statement": ' + "[" * 3000 + "]" * 3000 + "}")
    # A legal policy full of wildcards is accepted, and deciding against it stays fast.
    hostile = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                      "Resource": f"arn:aws:s3:::{bucket}/" + "*a" * 2500 + "b"})
    s3.put_bucket_policy(Bucket=bucket, Policy=hostile)
    s3.put_object(Bucket=bucket, Key="a" * 1000, Body=b"x")
    started = time.monotonic()
    assert s3.get_object(Bucket=bucket, Key="a" * 1000)["Body"].read() == b"x"
    assert time.monotonic() - started < 2


def test_a_policy_body_is_checked_against_its_digest(server: RunningServer, bucket: str) -> None:
    s3 = server.client("s3")

    def spoil_checksums(request, **_kwargs) -> None:
        for name in [h for h in request.headers if h.lower().startswith(("content-md5", "x-amz-checksum-"))]:
            request.headers.replace_header(name, "AAAAAA==" if "crc32" in name.lower() else
                                           "1B2M2Y8AsgTpgAmY7PhCfg==")

    s3.meta.events.register("before-sign.s3.PutBucketPolicy", spoil_checksums)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=bucket, Policy=read_only(bucket))
    assert (status_of(e.value), error_code(e.value)) == (400, "BadDigest"), e.value.response
    with pytest.raises(ClientError):
        s3.get_bucket_policy(Bucket=bucket)  # nothing stored


def test_a_policy_body_without_a_digest_is_accepted(server: RunningServer, bucket: str) -> None:
    """As s3cmd sends it (S3/S3.py set_policy): no Content-MD5, no checksum."""
    s3 = server.client("s3")

    def drop_checksums(request, **_kwargs) -> None:
        for name in [h for h in request.headers if h.lower().startswith(("content-md5", "x-amz-checksum",
                                                                         "x-amz-sdk-checksum"))]:
            del request.headers[name]

    s3.meta.events.register("before-sign.s3.PutBucketPolicy", drop_checksums)
    s3.put_bucket_policy(Bucket=bucket, Policy=read_only(bucket))
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == read_only(bucket)


# --- a user named by ARN is saved as its unique ID (issue 14) ---------------------------------------


def test_a_user_recreated_under_a_granted_name_inherits_nothing(
    server: RunningServer, s3, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="secret", Body=b"for alice only")
    alice = new_user(server, "alice")
    old_id = alice.client("sts").get_caller_identity()["UserId"]
    assert old_id.startswith("AIDA")
    document = policy({"Sid": "Alice", "Effect": "Allow", "Principal": {"AWS": alice.arn},
                       "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"})
    s3.put_bucket_policy(Bucket=bucket, Policy=document)
    assert alice.client().get_object(Bucket=bucket, Key="secret")["Body"].read() == b"for alice only"
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == document  # verbatim while alice exists
    server.cli("user", "remove", alice.name)
    # As AWS shows a deleted principal: its unique ID where the ARN was.
    shown = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert shown["Statement"][0]["Principal"] == {"AWS": old_id}
    assert shown["Statement"][0]["Resource"] == f"arn:aws:s3:::{bucket}/*"
    # A new user of the same name is another principal: denied.
    again = server.cli("user", "add", alice.name).stdout
    access, secret = keys_in(again)
    new_alice = server.client("s3", access_key=access, secret_key=secret, retries={"max_attempts": 1})
    new_id = server.client("sts", access_key=access, secret_key=secret).get_caller_identity()["UserId"]
    assert new_id != old_id
    with pytest.raises(ClientError) as caught:
        new_alice.get_object(Bucket=bucket, Key="secret")
    assert (status_of(caught.value), error_code(caught.value)) == (403, "AccessDenied")
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]["Principal"] == {
        "AWS": old_id
    }
    # The policy as shown names no one who exists: putting it back is refused, as on AWS.
    malformed(s3, bucket, s3.get_bucket_policy(Bucket=bucket)["Policy"], "Invalid principal in policy")
    # Granting the name again grants the new user (the ARN is resolved anew when saved).
    s3.put_bucket_policy(Bucket=bucket, Policy=document)
    assert new_alice.get_object(Bucket=bucket, Key="secret")["Body"].read() == b"for alice only"
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == document


def test_a_deny_by_arn_follows_its_user_too(server: RunningServer, s3, bucket: str) -> None:
    """NotPrincipal and Deny statements name IDs as well: the shown policy keeps the other entries."""
    bob = new_user(server, "bob")
    everyone = {"Sid": "All", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*"}
    root = f"arn:aws:iam::{account_of(server)}:root"
    deny_bob = {"Sid": "NoBob", "Effect": "Deny", "Principal": {"AWS": [bob.arn, root]},
                "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False})
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(everyone, deny_bob))
    bob_id = bob.client("sts").get_caller_identity()["UserId"]
    server.cli("user", "remove", bob.name)
    shown = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert shown["Statement"][1]["Principal"] == {"AWS": [bob_id, root]}
    assert shown["Statement"][0]["Principal"] == "*"
