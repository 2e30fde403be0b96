"""Issue 14's five users on one real server: who may use which key and which object, end to end.

- root: the deployment's administrator;
- alice: IAM policies allowing S3 and KMS; she makes a customer key and writes under it;
- bob: S3 only. Alice's bucket policy lets him read her objects, but her key's (default) key policy
  and his identity policies give him no KMS use, so her SSE-KMS objects stay closed to him, through
  S3 and through the KMS API alike; the account's `aws/s3` key works for him through S3 only;
- dora: allowed everything, with `Deny kms:*`: the explicit Deny wins at both doors;
- carol: granted by name in a bucket policy, removed, and a new, unrelated carol made under the old
  name: the new one inherits nothing.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.helpers import error_code, status_of
from tests.integration.principals import User, account_of, denied, policy
from tests.integration.server import RunningServer

S3_ALL = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
KMS_ALL = {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}
DENY_KMS = {"Effect": "Deny", "Action": "kms:*", "Resource": "*"}


def attach(server: RunningServer, user: User, document: str, name: str) -> None:
    path = server.data_dir.parent / f"{user.name}-{name}.json"
    path.write_text(document)
    server.cli("policy", "attach", user.name, str(path), "--name", name)


def kms_denied(call, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    assert error_code(e.value) == "AccessDeniedException", e.value.response
    return str(e.value.response["Error"]["Message"])


@pytest.fixture(scope="module")
def people(server: RunningServer) -> dict[str, User]:
    account = account_of(server)
    made = {name: User(server, name, account) for name in ("alice", "bob", "dora", "carol")}
    attach(server, made["alice"], policy(S3_ALL, KMS_ALL), "s3-and-kms")
    attach(server, made["bob"], policy(S3_ALL), "s3")
    attach(server, made["dora"], policy(S3_ALL, KMS_ALL, DENY_KMS), "all-but-kms")
    # carol has no identity policy: what she may read, alice's bucket policy gives her by name
    return made


def test_the_five_users(server: RunningServer, people: dict[str, User]) -> None:
    alice, bob, dora, carol = (people[n] for n in ("alice", "bob", "dora", "carol"))
    root_s3, root_kms = server.client(), server.client("kms")

    # alice: her own key, an SSE-KMS object under it, and her bucket open to bob and carol for reads
    key = alice.client("kms").create_key(Description="alice's")["KeyMetadata"]["Arn"]
    a3 = alice.client()
    a3.create_bucket(Bucket="alices")
    a3.put_object(Bucket="alices", Key="secret", Body=b"alice's secret", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=key)
    a3.put_object(Bucket="alices", Key="plain", Body=b"alice's note")
    a3.put_public_access_block(Bucket="alices", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    a3.put_bucket_policy(Bucket="alices", Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": [bob.arn, carol.arn]}, "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::alices/*"}))
    assert a3.get_object(Bucket="alices", Key="secret")["Body"].read() == b"alice's secret"

    # bob: the bucket policy opens the SSE-S3 object; the SSE-KMS one needs kms:Decrypt he lacks
    b3 = bob.client()
    assert b3.get_object(Bucket="alices", Key="plain")["Body"].read() == b"alice's note"
    denied(b3.get_object, Bucket="alices", Key="secret")
    message = kms_denied(bob.client("kms").encrypt, KeyId=key, Plaintext=b"x")
    assert f"user/{bob.name} is not authorized to perform: kms:Encrypt" in message
    kms_denied(bob.client("kms").describe_key, KeyId=key)
    # ... and may not write under alice's key either
    b3.create_bucket(Bucket="bobs")
    denied(b3.put_object, Bucket="bobs", Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
    # the account's aws/s3 key serves him through S3, not directly
    b3.put_object(Bucket="bobs", Key="managed", Body=b"bob's", ServerSideEncryption="aws:kms")
    assert b3.get_object(Bucket="bobs", Key="managed")["Body"].read() == b"bob's"
    kms_denied(bob.client("kms").encrypt, KeyId="alias/aws/s3", Plaintext=b"x")

    # dora: an explicit Deny of kms:* wins over her Allow, at the KMS API and through S3
    message = kms_denied(dora.client("kms").describe_key, KeyId=key)
    assert "explicit deny" in message
    d3 = dora.client()
    d3.create_bucket(Bucket="doras")
    denied(d3.put_object, Bucket="doras", Key="k", Body=b"x", ServerSideEncryption="aws:kms")
    d3.put_object(Bucket="doras", Key="k", Body=b"SSE-S3 needs no KMS")  # the bucket default: SSE-S3

    # root: the default key policy gives the account root the key
    assert root_kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"] == key
    assert root_s3.get_object(Bucket="alices", Key="secret")["Body"].read() == b"alice's secret"

    # carol: granted by name, removed, and a new carol made: the grant does not pass to her
    assert carol.client().get_object(Bucket="alices", Key="plain")["Body"].read() == b"alice's note"
    server.cli("user", "remove", carol.name)
    new_carol = User(server, carol.name, account_of(server))
    with pytest.raises(ClientError) as e:
        new_carol.client().get_object(Bucket="alices", Key="plain")
    assert (status_of(e.value), error_code(e.value)) == (403, "AccessDenied")
    shown = a3.get_bucket_policy(Bucket="alices")["Policy"]
    assert carol.arn not in shown and bob.arn in shown  # the removed user shows as her unique id


def test_the_cli_sees_the_same_rules(server: RunningServer, people: dict[str, User]) -> None:
    """The aws cli, as a user would run it: bob cannot use alice's key, the KMS API says why."""
    alice, bob = people["alice"], people["bob"]
    key = alice.client("kms").create_key(Description="for the cli")["KeyMetadata"]["KeyId"]
    out = server.aws("kms", "describe-key", "--key-id", key, access_key=bob.access, secret_key=bob.secret,
                     check=False)
    assert out.returncode != 0 and "AccessDeniedException" in out.stderr
    ok = server.aws("kms", "describe-key", "--key-id", key, access_key=alice.access, secret_key=alice.secret)
    assert key in ok.stdout
