"""`serve --new-bucket-object-ownership` and `--new-bucket-public-access-block`: what a bucket starts with
when its CreateBucket does not say, for applications written before AWS's April 2023 defaults (ACLs
everywhere, public buckets by policy). The defaults stay AWS's (test_access_control.py checks them).

With ObjectWriter (and the block off) ACLs work as AWS documents them ("Access control list (ACL)
overview": canned ACLs, grants by `id=` and `uri=`; email grantees answered as AWS answers them since
2025-10-01, 405 MethodNotAllowed); a public bucket policy is accepted and opens the bucket. With the block
on, a CreateBucket asking for a public ACL fails as on AWS (boto3's CreateBucket documentation: "If you
try to create a bucket with a public ACL, the request will fail"). Bucket configuration is stored in the
catalog: both engines.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_code, fails, status_of
from tests.integration.principals import anonymous, denied, new_user
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
MIGRATING = ("--new-bucket-object-ownership", "ObjectWriter", "--new-bucket-public-access-block", "off")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog_env(request: pytest.FixtureRequest) -> Iterator[Callable[[], dict[str, str]]]:
    """Makes the environment of one more server: its SQLite catalog, or a PostgreSQL schema of its own
    (dropped when the module ends)."""
    with ExitStack() as stack:
        def make() -> dict[str, str]:
            if request.param == "sqlite":
                return {}
            schema = stack.enter_context(fresh_schema("newbucket"))
            return {"STRONGROOM_CATALOG": with_search_path(POSTGRES_URL, schema)}
        yield make


@pytest.fixture(scope="module")
def migrating(catalog_env: Callable[[], dict[str, str]],
              start_module_server: ServerFactory) -> Iterator[RunningServer]:
    running = start_module_server(*MIGRATING, env=catalog_env())
    yield running
    running.stop()  # before its schema is dropped (the factory checks its log at the module's end)


@pytest.fixture(scope="module")
def preferred(catalog_env: Callable[[], dict[str, str]],
              start_module_server: ServerFactory) -> Iterator[RunningServer]:
    """BucketOwnerPreferred by its variable, as a deployment would set it; the block left on."""
    running = start_module_server(env={**catalog_env(),
                                       "STRONGROOM_NEW_BUCKET_OBJECT_OWNERSHIP": "BucketOwnerPreferred"})
    yield running
    running.stop()


def grants(response: dict) -> set[tuple[str, str]]:
    return {(g["Grantee"].get("ID") or g["Grantee"].get("URI"), g["Permission"]) for g in response["Grants"]}


def name() -> str:
    return "nb-" + secrets.token_hex(6)


def test_a_new_bucket_starts_with_acls_and_no_block(migrating: RunningServer) -> None:
    s3 = migrating.client()
    bucket = name()
    s3.create_bucket(Bucket=bucket)
    controls = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert controls == {"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    e = fails(s3.get_public_access_block, Bucket=bucket)
    assert (status_of(e), error_code(e)) == (404, "NoSuchPublicAccessBlockConfiguration")
    # the request still chooses: x-amz-object-ownership wins over the server's default
    enforced = name()
    s3.create_bucket(Bucket=enforced, ObjectOwnership="BucketOwnerEnforced")
    controls = s3.get_bucket_ownership_controls(Bucket=enforced)["OwnershipControls"]
    assert controls == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    e = fails(s3.put_object, Bucket=enforced, Key="k", Body=b"x", ACL="public-read")
    assert (status_of(e), error_code(e)) == (400, "AccessControlListNotSupported")


def test_canned_and_explicit_acls_work(migrating: RunningServer) -> None:
    s3 = migrating.client()
    bucket = name()
    s3.create_bucket(Bucket=bucket, ACL="public-read")  # a public bucket ACL at creation: no block
    assert (ALL_USERS, "READ") in grants(s3.get_bucket_acl(Bucket=bucket))
    anon = anonymous(migrating)
    assert anon.list_objects_v2(Bucket=bucket)["KeyCount"] == 0  # READ on a bucket lists it
    s3.put_object(Bucket=bucket, Key="public", Body=b"for all", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="private", Body=b"mine")
    assert anon.get_object(Bucket=bucket, Key="public")["Body"].read() == b"for all"
    denied(anon.get_object, Bucket=bucket, Key="private")
    bob = new_user(migrating, "bob")
    denied(bob.client().get_object, Bucket=bucket, Key="private")
    s3.put_object_acl(Bucket=bucket, Key="private", GrantRead=f'id="{bob.id}"')
    assert bob.client().get_object(Bucket=bucket, Key="private")["Body"].read() == b"mine"
    s3.put_object(Bucket=bucket, Key="by-uri", Body=b"u", GrantRead=f'uri="{ALL_USERS}"')
    assert anon.get_object(Bucket=bucket, Key="by-uri")["Body"].read() == b"u"
    e = fails(s3.put_object_acl, Bucket=bucket, Key="private", GrantRead='emailAddress="a@example.com"')
    assert (status_of(e), error_code(e)) == (405, "MethodNotAllowed")
    # ObjectWriter: what bob writes (WRITE granted by id) is his
    owner = s3.list_buckets()["Owner"]["ID"]
    s3.put_bucket_acl(Bucket=bucket, GrantWrite=f'id="{bob.id}"', GrantFullControl=f'id="{owner}"')
    bob.client().put_object(Bucket=bucket, Key="bobs", Body=b"b")
    acl = bob.client().get_object_acl(Bucket=bucket, Key="bobs")
    assert acl["Owner"]["ID"] == bob.id and grants(acl) == {(bob.id, "FULL_CONTROL")}


def test_the_aws_cli_and_a_public_policy(migrating: RunningServer, tmp_path) -> None:
    body = tmp_path / "body"
    body.write_bytes(b"")
    bucket = name()
    migrating.aws("s3api", "create-bucket", "--bucket", bucket)
    migrating.aws("s3api", "put-object", "--bucket", bucket, "--key", "page", "--body", str(body),
                  "--acl", "public-read")
    out = json.loads(migrating.aws("s3api", "get-object-acl", "--bucket", bucket, "--key", "page").stdout)
    assert (ALL_USERS, "READ") in grants(out)
    migrating.aws("s3api", "put-object", "--bucket", bucket, "--key", "other", "--body", str(body))
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
              "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}
    migrating.aws("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", json.dumps(policy))
    assert anonymous(migrating).get_object(Bucket=bucket, Key="other")["Body"].read() == b""


def test_preferred_with_the_block_on(preferred: RunningServer) -> None:
    s3 = preferred.client()
    bucket = name()
    e = fails(s3.create_bucket, Bucket=bucket, ACL="public-read")
    assert (status_of(e), error_code(e)) == (400, "InvalidBucketAclWithBlockPublicAccessError")
    message = "Bucket cannot have public ACLs set with BlockPublicAccess enabled"
    assert e.response["Error"]["Message"] == message
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]  # nothing was created
    s3.create_bucket(Bucket=bucket)
    controls = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert controls == {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert set(block.values()) == {True}
    e = fails(s3.put_object, Bucket=bucket, Key="k", Body=b"x", ACL="public-read")
    assert (status_of(e), error_code(e)) == (403, "AccessDenied")  # BlockPublicAcls
    bob = new_user(preferred, "bob")
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": bob.arn}, "Action": ["s3:PutObject", "s3:PutObjectAcl"],
        "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    bob.client().put_object(Bucket=bucket, Key="given", Body=b"g", ACL="bucket-owner-full-control")
    owner = s3.list_buckets()["Owner"]["ID"]
    assert s3.get_object_acl(Bucket=bucket, Key="given")["Owner"]["ID"] == owner  # the owner's now


@pytest.mark.parametrize("flags", [("--new-bucket-object-ownership", "Writer"),
                                   ("--new-bucket-public-access-block", "maybe")])
def test_a_bad_value_is_a_usage_error(flags: tuple[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "strongroom", "serve", *flags], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and flags[0] in done.stderr and "Traceback" not in done.stderr
