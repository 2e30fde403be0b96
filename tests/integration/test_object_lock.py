"""Object Lock against a real server, on SQLite and PostgreSQL, with boto3 at its defaults and the aws cli:
CreateBucket with x-amz-bucket-object-lock-enabled, Put/GetObjectLockConfiguration and their errors,
the object-level requests in a bucket without Object Lock, the IAM actions that authorize them.

Requests the SDKs will not send (no namespace, no integrity header) go through `RunningServer.raw`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_of, fails, md5_b64, new_bucket, new_user
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MISSING = {"Code": "InvalidRequest", "Message": "Bucket is missing Object Lock Configuration"}
ENABLED = "<ObjectLockEnabled>Enabled</ObjectLockEnabled>"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, start_module_server: ServerFactory) -> Iterator[RunningServer]:
    if request.param == "sqlite":
        yield start_module_server()
        return
    with fresh_schema("objectlock") as schema:
        yield start_module_server(env={"STRONGROOM_CATALOG": with_search_path(POSTGRES_URL, schema)})


def locked_bucket(s3) -> str:  # type: ignore[no-untyped-def]
    name = new_bucket(s3, "lock-")
    s3.delete_bucket(Bucket=name)
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def code_message(err: ClientError) -> dict[str, object]:
    found = error_of(err)
    return {"Code": found["Code"], "Message": found["Message"]}


# --- the bucket's configuration -------------------------------------------------------------------


def test_create_bucket_with_object_lock_and_read_its_configuration(s3) -> None:  # type: ignore[no-untyped-def]
    name = locked_bucket(s3)
    got = s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
    assert got == {"ObjectLockEnabled": "Enabled"}
    # Putting the configuration again without a Rule is accepted and changes nothing.
    s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"] == got


def test_a_bucket_without_object_lock_has_no_configuration(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    err = fails(s3.get_object_lock_configuration, Bucket=bucket)
    assert error_of(err)["Code"] == "ObjectLockConfigurationNotFoundError"
    assert error_of(err)["Message"] == "Object Lock configuration does not exist for this bucket"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert err.response["Error"]["BucketName"] == bucket


def test_object_lock_cannot_be_put_on_an_unversioned_bucket(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    err = fails(s3.put_object_lock_configuration, Bucket=bucket,
                ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert code_message(err) == {
        "Code": "InvalidBucketState",
        "Message": "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"}
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert error_of(fails(s3.get_object_lock_configuration, Bucket=bucket))["Code"] == \
        "ObjectLockConfigurationNotFoundError"


def test_missing_bucket(s3) -> None:  # type: ignore[no-untyped-def]
    for call in (s3.get_object_lock_configuration, s3.put_object_lock_configuration):
        kwargs = {} if call == s3.get_object_lock_configuration else {
            "ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled"}}
        assert error_of(fails(call, Bucket="no-such-bucket-ol", **kwargs))["Code"] == "NoSuchBucket"


@pytest.mark.parametrize("ns", [True, False])
def test_documents_are_read_with_and_without_the_namespace(server: RunningServer, s3, ns: bool) -> None:  # type: ignore[no-untyped-def]
    name = locked_bucket(s3)
    xmlns = f' xmlns="{NS}"' if ns else ""
    body = f"<ObjectLockConfiguration{xmlns}>{ENABLED}</ObjectLockConfiguration>"
    reply = server.raw("PUT", f"/{name}?object-lock", body.encode(), {"Content-MD5": md5_b64(body.encode())})
    assert reply.status == 200, reply.body
    root = ET.fromstring(server.raw("GET", f"/{name}?object-lock").body)
    assert root.tag == f"{{{NS}}}ObjectLockConfiguration"
    assert root.findtext(f"{{{NS}}}ObjectLockEnabled") == "Enabled"


def test_validation_errors_leave_the_configuration_as_it_was(server: RunningServer, s3) -> None:  # type: ignore[no-untyped-def]
    name = locked_bucket(s3)
    before = server.raw("GET", f"/{name}?object-lock").body
    cases = [
        ("<ObjectLockEnabled>Disabled</ObjectLockEnabled>", 400, "MalformedXML"),
        ("<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode>"
         "<Days>1</Days><Years>1</Years></DefaultRetention></Rule>", 400, "MalformedXML"),
        ("<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>WORM</Mode>"
         "<Days>1</Days></DefaultRetention></Rule>", 400, "MalformedXML"),
        ("<ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode>"
         "<Days>0</Days></DefaultRetention></Rule>", 400, "InvalidArgument"),
    ]
    for inner, status, code in cases:
        body = f"<ObjectLockConfiguration>{inner}</ObjectLockConfiguration>".encode()
        reply = server.raw("PUT", f"/{name}?object-lock", body, {"Content-MD5": md5_b64(body)})
        assert (reply.status, ET.fromstring(reply.body).findtext("Code")) == (status, code), inner
    body = f"<ObjectLockConfiguration>{ENABLED}</ObjectLockConfiguration>".encode()
    reply = server.raw("PUT", f"/{name}?object-lock", body, {})  # no Content-MD5 nor x-amz-checksum-*
    assert (reply.status, ET.fromstring(reply.body).findtext("Code")) == (400, "InvalidRequest")
    assert server.raw("GET", f"/{name}?object-lock").body == before


def test_a_default_retention_is_refused_until_versions_keep_it(s3) -> None:  # type: ignore[no-untyped-def]
    """Never accepted and not enforced: 501 NotImplemented, and the configuration unchanged."""
    name = locked_bucket(s3)
    err = fails(s3.put_object_lock_configuration, Bucket=name, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled"}


def test_the_aws_cli(server: RunningServer, s3) -> None:  # type: ignore[no-untyped-def]
    name = new_bucket(s3, "cli-")
    s3.delete_bucket(Bucket=name)
    server.aws("s3api", "create-bucket", "--bucket", name, "--object-lock-enabled-for-bucket")
    out = json.loads(server.aws("s3api", "get-object-lock-configuration", "--bucket", name).stdout)
    assert out == {"ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled"}}
    server.aws("s3api", "put-object-lock-configuration", "--bucket", name,
               "--object-lock-configuration", '{"ObjectLockEnabled": "Enabled"}')
    plain = new_bucket(s3, "cli-")
    failed = server.aws("s3api", "get-object-lock-configuration", "--bucket", plain, check=False)
    assert failed.returncode != 0 and "ObjectLockConfigurationNotFoundError" in failed.stderr


# --- object-level requests --------------------------------------------------------------------------


def test_object_requests_in_a_bucket_without_object_lock(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    future = datetime.now(UTC) + timedelta(days=1)
    calls = [
        (s3.get_object_retention, {}),
        (s3.put_object_retention, {"Retention": {"Mode": "GOVERNANCE", "RetainUntilDate": future}}),
        (s3.get_object_legal_hold, {}),
        (s3.put_object_legal_hold, {"LegalHold": {"Status": "ON"}}),
        (s3.put_object, {"Body": b"x", "ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": future}),
        (s3.put_object, {"Body": b"x", "ObjectLockLegalHoldStatus": "ON"}),
        (s3.copy_object, {"CopySource": {"Bucket": bucket, "Key": "k"}, "ObjectLockLegalHoldStatus": "ON"}),
        (s3.create_multipart_upload, {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": future}),
    ]
    for call, kwargs in calls:
        err = fails(call, Bucket=bucket, Key="k", **kwargs)
        assert code_message(err) == MISSING, call
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_write_headers_are_validated(server: RunningServer, s3) -> None:  # type: ignore[no-untyped-def]
    name = locked_bucket(s3)
    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    err = fails(s3.put_object, Bucket=name, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                ObjectLockRetainUntilDate=datetime.now(UTC) - timedelta(days=1))
    assert code_message(err) == {"Code": "InvalidArgument",
                                 "Message": "The retain until date must be in the future!"}
    reply = server.raw("PUT", f"/{name}/k", b"x", {"x-amz-object-lock-mode": "GOVERNANCE",
                                                   "Content-MD5": md5_b64(b"x")})
    root = ET.fromstring(reply.body)
    assert (reply.status, root.findtext("Code"), root.findtext("ArgumentName")) == (
        400, "InvalidArgument", "x-amz-object-lock-retain-until-date")
    reply = server.raw("PUT", f"/{name}/k", b"x", {"x-amz-object-lock-legal-hold": "ON"})
    assert (reply.status, ET.fromstring(reply.body).findtext("Message")) == (
        400, "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object "
             "Lock parameters")
    reply = server.raw("PUT", f"/{name}/k", b"x", {"x-amz-object-lock-mode": "COMPLIANCE",
                                                   "x-amz-object-lock-retain-until-date": past,
                                                   "Content-MD5": md5_b64(b"x")})
    assert ET.fromstring(reply.body).findtext("ArgumentValue") == past
    assert error_of(fails(s3.head_object, Bucket=name, Key="k"))["Code"] == "404"


# --- who may ----------------------------------------------------------------------------------------


def test_iam_actions(server: RunningServer, s3, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """s3:GetBucketObjectLockConfiguration and s3:PutBucketObjectLockConfiguration guard the bucket's
    configuration; CreateBucket with Object Lock also needs s3:PutBucketObjectLockConfiguration and
    s3:PutBucketVersioning (API CreateBucket, Permissions)."""
    name = locked_bucket(s3)
    access, secret = new_user(server, "ol-reader")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetBucketObjectLockConfiguration", "Resource": "*"},
        # any user may create buckets unless denied: deny only the lock that CreateBucket may ask for
        {"Effect": "Deny", "Action": "s3:PutBucketObjectLockConfiguration", "Resource": "*"}]}
    document = tmp_path / "reader.json"
    document.write_text(json.dumps(policy))
    server.cli("policy", "attach", "ol-reader", str(document), "--name", "reader")
    user = server.client("s3", access, secret)
    assert user.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled"}
    err = fails(user.put_object_lock_configuration, Bucket=name,
                ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert error_of(err)["Code"] == "AccessDenied"
    fresh = new_bucket(s3, "iam-")
    s3.delete_bucket(Bucket=fresh)
    assert error_of(fails(user.create_bucket, Bucket=fresh, ObjectLockEnabledForBucket=True))["Code"] == \
        "AccessDenied"
    user.create_bucket(Bucket=fresh)  # without Object Lock, the lock's action is not needed
    assert error_of(fails(s3.get_object_lock_configuration, Bucket=fresh))["Code"] == \
        "ObjectLockConfigurationNotFoundError"
