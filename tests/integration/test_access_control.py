"""ACLs, Object Ownership and Block Public Access, through boto3 with real users and anonymous requests.

AWS's answers: the S3 user guide ("Controlling ownership of objects and disabling ACLs", its
"Troubleshooting" page with AccessControlListNotSupported "The bucket does not allow ACLs" and
InvalidBucketAclWithObjectOwnership, "Canned ACL", "Mapping of ACL permissions and access policy
permissions", "Blocking public access"); the API reference for Get/Put/DeleteBucketOwnershipControls
and Get/Put/DeletePublicAccessBlock (404 OwnershipControlsNotFoundError and
NoSuchPublicAccessBlockConfiguration); AWS's April 2023 defaults for new buckets (ACLs disabled,
Block Public Access on).
"""

from __future__ import annotations

import secrets

import pytest
from botocore.exceptions import ClientError

from tests.integration.helpers import error_code, status_of
from tests.integration.principals import anonymous, denied, new_user

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
OPEN = {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False}


def fails(call, status: int, code: str, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    assert (status_of(e.value), error_code(e.value)) == (status, code), e.value.response
    return e.value


def rules(mode: str) -> dict:
    return {"Rules": [{"ObjectOwnership": mode}]}


def grants(response: dict) -> set[tuple[str, str]]:
    return {(g["Grantee"].get("ID") or g["Grantee"].get("URI"), g["Permission"]) for g in response["Grants"]}


@pytest.fixture
def alice(server):
    return new_user(server, "alice")


@pytest.fixture
def acl_bucket(alice) -> tuple[object, str]:
    """alice's bucket with ACLs enabled (ObjectWriter) and Block Public Access off."""
    s3 = alice.client()
    name = "acl-" + secrets.token_hex(6)
    s3.create_bucket(Bucket=name)
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=rules("ObjectWriter"))
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=OPEN)
    return s3, name


# --- the defaults of a new bucket ----------------------------------------------------------------------


def test_new_bucket_defaults(s3, bucket: str, server) -> None:
    owner = s3.list_buckets()["Owner"]["ID"]
    controls = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert controls == rules("BucketOwnerEnforced")
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True}
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert acl["Owner"]["ID"] == owner and grants(acl) == {(owner, "FULL_CONTROL")}
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert grants(s3.get_object_acl(Bucket=bucket, Key="k")) == {(owner, "FULL_CONTROL")}
    fails(s3.get_object_acl, 404, "NoSuchKey", Bucket=bucket, Key="absent")


def test_acls_disabled_refuse_acls_but_not_owner_full_control(s3, bucket: str) -> None:
    e = fails(s3.put_object, 400, "AccessControlListNotSupported", Bucket=bucket, Key="k", Body=b"x",
              ACL="public-read")
    assert e.response["Error"]["Message"] == "The bucket does not allow ACLs"
    fails(s3.put_bucket_acl, 400, "AccessControlListNotSupported", Bucket=bucket, ACL="public-read")
    fails(s3.put_bucket_acl, 400, "AccessControlListNotSupported", Bucket=bucket,
          GrantRead=f'uri="{ALL_USERS}"')
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_object(Bucket=bucket, Key="k2", Body=b"x", ACL="private")
    fails(s3.put_object_acl, 400, "AccessControlListNotSupported", Bucket=bucket, Key="k",
          ACL="authenticated-read")
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="private")
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="never")  # nothing written by the refused PUT
    assert {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]} == {"k", "k2"}


def test_create_bucket_with_acl_and_ownership(s3) -> None:
    name = "cb-" + secrets.token_hex(6)
    e = fails(s3.create_bucket, 400, "InvalidBucketAclWithObjectOwnership", Bucket=name, ACL="public-read")
    assert e.response["Error"]["Message"] == (
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")
    fails(s3.head_bucket, 404, "404", Bucket=name)  # not created
    s3.create_bucket(Bucket=name, ACL="private")
    other = "cb-" + secrets.token_hex(6)
    # A public ACL fails while the new bucket's Block Public Access is on (boto3's CreateBucket
    # documentation: "If you try to create a bucket with a public ACL, the request will fail").
    fails(s3.create_bucket, 400, "InvalidBucketAclWithBlockPublicAccessError", Bucket=other,
          ObjectOwnership="ObjectWriter", ACL="public-read")
    fails(s3.head_bucket, 404, "404", Bucket=other)
    s3.create_bucket(Bucket=other, ObjectOwnership="ObjectWriter", ACL="log-delivery-write")
    assert s3.get_bucket_ownership_controls(Bucket=other)["OwnershipControls"] == rules("ObjectWriter")
    log_delivery = "http://acs.amazonaws.com/groups/s3/LogDelivery"
    assert (log_delivery, "WRITE") in grants(s3.get_bucket_acl(Bucket=other))


# --- ACLs when enabled ------------------------------------------------------------------------------


def test_canned_acls_on_objects_decide_access(acl_bucket, server) -> None:
    s3, name = acl_bucket
    bob = new_user(server, "bob")
    anon = anonymous(server)
    s3.put_object(Bucket=name, Key="private", Body=b"p")
    s3.put_object(Bucket=name, Key="public", Body=b"for all", ACL="public-read")
    s3.put_object(Bucket=name, Key="members", Body=b"for users", ACL="authenticated-read")
    assert anon.get_object(Bucket=name, Key="public")["Body"].read() == b"for all"
    denied(anon.get_object, Bucket=name, Key="private")
    denied(anon.get_object, Bucket=name, Key="members")
    assert bob.client().get_object(Bucket=name, Key="members")["Body"].read() == b"for users"
    denied(bob.client().get_object, Bucket=name, Key="private")
    denied(anon.put_object, Bucket=name, Key="public", Body=b"defaced")  # READ is not WRITE
    denied(anon.get_object_acl, Bucket=name, Key="public")
    assert (ALL_USERS, "READ") in grants(s3.get_object_acl(Bucket=name, Key="public"))
    s3.put_object_acl(Bucket=name, Key="public", ACL="private")
    denied(anon.get_object, Bucket=name, Key="public")
    s3.put_object_acl(Bucket=name, Key="private", GrantRead=f'id="{bob.id}"')
    assert bob.client().get_object(Bucket=name, Key="private")["Body"].read() == b"p"


def test_bucket_acls_and_the_object_writer(acl_bucket, server) -> None:
    s3, name = acl_bucket
    bob = new_user(server, "bob")
    theirs = bob.client()
    denied(theirs.put_object, Bucket=name, Key="bobs", Body=b"x")
    owner = s3.list_buckets()["Owner"]["ID"]
    s3.put_bucket_acl(Bucket=name, AccessControlPolicy={"Owner": {"ID": owner}, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": owner}, "Permission": "FULL_CONTROL"},
        {"Grantee": {"Type": "CanonicalUser", "ID": bob.id}, "Permission": "WRITE"},
        {"Grantee": {"Type": "Group", "URI": AUTHENTICATED}, "Permission": "READ"}]})
    theirs.put_object(Bucket=name, Key="bobs", Body=b"written by bob")
    assert theirs.list_objects_v2(Bucket=name)["KeyCount"] == 1  # AuthenticatedUsers READ: listing
    denied(anonymous(server).list_objects_v2, Bucket=name)
    # ObjectWriter: bob owns what he wrote, so its default ACL is his full control.
    assert grants(theirs.get_object_acl(Bucket=name, Key="bobs")) == {(bob.id, "FULL_CONTROL")}
    assert theirs.get_object(Bucket=name, Key="bobs")["Body"].read() == b"written by bob"
    fails(s3.put_bucket_acl, 400, "InvalidArgument", Bucket=name, GrantRead='id="' + "0" * 64 + '"')
    fails(s3.put_bucket_acl, 400, "InvalidRequest", Bucket=name, ACL="private", GrantRead=f'id="{bob.id}"')


def test_malformed_acl_documents(acl_bucket) -> None:
    s3, name = acl_bucket
    owner = s3.list_buckets()["Owner"]["ID"]
    fails(s3.put_bucket_acl, 400, "MalformedACLError", Bucket=name, AccessControlPolicy={
        "Owner": {"ID": owner}, "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": owner},
                                           "Permission": "EVERYTHING"}]})
    fails(s3.put_bucket_acl, 400, "InvalidArgument", Bucket=name, AccessControlPolicy={
        "Owner": {"ID": owner}, "Grants": [{"Grantee": {"Type": "Group", "URI": "http://example.com/x"},
                                           "Permission": "READ"}]})
    fails(s3.put_object, 400, "InvalidArgument", Bucket=name, Key="k", Body=b"x", ACL="nonsense")
    assert grants(s3.get_bucket_acl(Bucket=name)) == {(owner, "FULL_CONTROL")}  # unchanged


def test_block_public_access_on_acls(acl_bucket, server) -> None:
    s3, name = acl_bucket
    anon = anonymous(server)
    s3.put_object(Bucket=name, Key="public", Body=b"x", ACL="public-read")
    assert anon.get_object(Bucket=name, Key="public")["Body"].read() == b"x"
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={**OPEN, "IgnorePublicAcls": True})
    denied(anon.get_object, Bucket=name, Key="public")  # the public grant counts for nothing
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={**OPEN, "BlockPublicAcls": True})
    assert anon.get_object(Bucket=name, Key="public")["Body"].read() == b"x"  # existing ACLs still work
    denied(s3.put_object, Bucket=name, Key="new", Body=b"x", ACL="public-read")
    denied(s3.put_object_acl, Bucket=name, Key="public", ACL="public-read-write")
    denied(s3.put_bucket_acl, Bucket=name, ACL="public-read")
    s3.put_object(Bucket=name, Key="new", Body=b"x", ACL="private")


def test_ownership_controls_round_trip(acl_bucket) -> None:
    s3, name = acl_bucket
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    fails(s3.put_bucket_ownership_controls, 400, "InvalidBucketAclWithObjectOwnership", Bucket=name,
          OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    s3.put_bucket_acl(Bucket=name, ACL="private")
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=rules("BucketOwnerEnforced"))
    fails(s3.put_bucket_acl, 400, "AccessControlListNotSupported", Bucket=name, ACL="public-read")
    deleted = s3.delete_bucket_ownership_controls(Bucket=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    e = fails(s3.get_bucket_ownership_controls, 404, "OwnershipControlsNotFoundError", Bucket=name)
    assert e.response["Error"]["Message"] == "The bucket ownership controls were not found"
    s3.put_bucket_acl(Bucket=name, ACL="public-read")  # no controls: ACLs count again


def test_malformed_ownership_and_public_access_block(s3, bucket: str) -> None:
    fails(s3.put_bucket_ownership_controls, 400, "MalformedXML", Bucket=bucket,
          OwnershipControls={"Rules": [{"ObjectOwnership": "Nobody"}]})
    fails(s3.put_bucket_ownership_controls, 400, "MalformedXML", Bucket=bucket,
          OwnershipControls={"Rules": rules("ObjectWriter")["Rules"] * 2})
    current = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert current == rules("BucketOwnerEnforced")  # unchanged
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicPolicy": True})
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": False}
    assert s3.delete_public_access_block(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    e = fails(s3.get_public_access_block, 404, "NoSuchPublicAccessBlockConfiguration", Bucket=bucket)
    assert e.response["Error"]["Message"] == "The public access block configuration was not found"


def test_configuration_needs_the_owner(s3, bucket: str, server) -> None:
    bob = new_user(server, "bob").client()
    denied(bob.delete_public_access_block, Bucket=bucket)
    denied(bob.put_bucket_ownership_controls, Bucket=bucket,
           OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    denied(bob.get_bucket_acl, Bucket=bucket)
    denied(bob.get_bucket_policy, Bucket=bucket)
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]


def test_multipart_upload_acl_reaches_the_object(acl_bucket, server) -> None:
    s3, name = acl_bucket
    upload = s3.create_multipart_upload(Bucket=name, Key="mp", ACL="public-read")["UploadId"]
    etag = s3.upload_part(Bucket=name, Key="mp", UploadId=upload, PartNumber=1, Body=b"parts")["ETag"]
    s3.complete_multipart_upload(Bucket=name, Key="mp", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert anonymous(server).get_object(Bucket=name, Key="mp")["Body"].read() == b"parts"
