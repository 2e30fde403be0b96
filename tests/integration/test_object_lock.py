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
LOCKED_MESSAGE = "Access Denied because object protected by object lock."


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, start_module_server: ServerFactory) -> Iterator[RunningServer]:
    if request.param == "sqlite":
        yield start_module_server()
        return
    with fresh_schema("objectlock") as schema:
        running = start_module_server(env={"STRONGROOM_CATALOG": with_search_path(POSTGRES_URL, schema)})
        yield running
        running.stop()  # before its schema is dropped


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


def test_a_default_retention_is_kept_and_read_back(s3) -> None:  # type: ignore[no-untyped-def]
    name = locked_bucket(s3)
    for rule in ({"Mode": "COMPLIANCE", "Days": 1}, {"Mode": "GOVERNANCE", "Years": 3}):
        s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": rule}})
        assert s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"] == {
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": rule}}
    # a configuration without a Rule removes the default retention; Object Lock stays enabled
    s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
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


# --- a version's retention and legal hold ------------------------------------------------------------


def in_days(days: float) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def test_retention_and_legal_hold_are_kept_shown_and_read_back(server: RunningServer, s3) -> None:  # type: ignore[no-untyped-def]
    name = locked_bucket(s3)
    until = in_days(2)
    s3.put_object(Bucket=name, Key="k", Body=b"kept", ObjectLockMode="GOVERNANCE",
                  ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON")
    head = s3.head_object(Bucket=name, Key="k")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"], head["ObjectLockLegalHoldStatus"]) == (
        "GOVERNANCE", until, "ON")
    got = s3.get_object(Bucket=name, Key="k")
    assert got["ObjectLockMode"] == "GOVERNANCE" and got["Body"].read() == b"kept"
    assert s3.get_object_retention(Bucket=name, Key="k")["Retention"] == {
        "Mode": "GOVERNANCE", "RetainUntilDate": until}
    assert s3.get_object_legal_hold(Bucket=name, Key="k")["LegalHold"] == {"Status": "ON"}
    # extended and turned into COMPLIANCE without any bypass; the legal hold released
    later = in_days(3)
    s3.put_object_retention(Bucket=name, Key="k", Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later})
    s3.put_object_legal_hold(Bucket=name, Key="k", LegalHold={"Status": "OFF"})
    assert s3.get_object_retention(Bucket=name, Key="k")["Retention"]["Mode"] == "COMPLIANCE"
    assert s3.get_object_legal_hold(Bucket=name, Key="k")["LegalHold"] == {"Status": "OFF"}
    # COMPLIANCE: never shortened, removed or made GOVERNANCE, bypass header or not (root here)
    for retention in ({"Mode": "COMPLIANCE", "RetainUntilDate": in_days(1)},
                      {"Mode": "GOVERNANCE", "RetainUntilDate": in_days(9)}):
        for bypass in (False, True):
            err = fails(s3.put_object_retention, Bucket=name, Key="k", Retention=retention,
                        BypassGovernanceRetention=bypass)
            assert code_message(err) == {"Code": "AccessDenied", "Message": LOCKED_MESSAGE}
    assert s3.get_object_retention(Bucket=name, Key="k")["Retention"] == {
        "Mode": "COMPLIANCE", "RetainUntilDate": later}


def test_retention_documents_without_the_namespace_as_veeam_sends_them(server: RunningServer, s3) -> None:  # type: ignore[no-untyped-def]
    name = locked_bucket(s3)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    until = in_days(1).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = f"<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>{until}</RetainUntilDate></Retention>"
    body = body.encode()
    reply = server.raw("PUT", f"/{name}/k?retention", body, {"Content-MD5": md5_b64(body)})
    assert reply.status == 200, reply.body
    root = ET.fromstring(server.raw("GET", f"/{name}/k?retention").body)
    assert root.findtext(f"{{{NS}}}Mode") == "COMPLIANCE"
    hold = b"<LegalHold><Status>ON</Status></LegalHold>"
    assert server.raw("PUT", f"/{name}/k?legal-hold", hold, {"Content-MD5": md5_b64(hold)}).status == 200
    assert s3.get_object_legal_hold(Bucket=name, Key="k")["LegalHold"] == {"Status": "ON"}


def test_no_lock_yet(s3) -> None:  # type: ignore[no-untyped-def]
    name = locked_bucket(s3)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    for call in (s3.get_object_retention, s3.get_object_legal_hold):
        err = fails(call, Bucket=name, Key="k")
        assert code_message(err) == {
            "Code": "NoSuchObjectLockConfiguration",
            "Message": "The specified object does not have a ObjectLock configuration"}
    head = s3.head_object(Bucket=name, Key="k")
    assert "ObjectLockMode" not in head and "ObjectLockLegalHoldStatus" not in head
    assert error_of(fails(s3.get_object_retention, Bucket=name, Key="missing"))["Code"] == "NoSuchKey"
    err = fails(s3.put_object_retention, Bucket=name, Key="k",
                Retention={"Mode": "GOVERNANCE", "RetainUntilDate": datetime.now(UTC) - timedelta(hours=1)})
    assert code_message(err) == {"Code": "InvalidArgument",
                                 "Message": "The retain until date must be in the future!"}


def test_default_retention_applies_to_new_versions(s3) -> None:  # type: ignore[no-untyped-def]
    name = locked_bucket(s3)
    s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 2}}})
    before = datetime.now(UTC)
    s3.put_object(Bucket=name, Key="plain", Body=b"x")
    s3.copy_object(Bucket=name, Key="copied", CopySource={"Bucket": name, "Key": "plain"})
    upload = s3.create_multipart_upload(Bucket=name, Key="multi")
    part = s3.upload_part(Bucket=name, Key="multi", UploadId=upload["UploadId"], PartNumber=1, Body=b"y")
    s3.complete_multipart_upload(Bucket=name, Key="multi", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    for key in ("plain", "copied", "multi"):
        retention = s3.get_object_retention(Bucket=name, Key=key)["Retention"]
        assert retention["Mode"] == "COMPLIANCE"
        assert before + timedelta(days=2) - timedelta(minutes=1) < retention["RetainUntilDate"] \
            < datetime.now(UTC) + timedelta(days=2, minutes=1)
    # a write's own retention wins over the default
    own = in_days(5)
    s3.put_object(Bucket=name, Key="own", Body=b"x", ObjectLockMode="GOVERNANCE",
                  ObjectLockRetainUntilDate=own)
    assert s3.get_object_retention(Bucket=name, Key="own")["Retention"] == {
        "Mode": "GOVERNANCE", "RetainUntilDate": own}


def test_multipart_upload_carries_its_lock(s3) -> None:  # type: ignore[no-untyped-def]
    name = locked_bucket(s3)
    until = in_days(4)
    upload = s3.create_multipart_upload(Bucket=name, Key="m", ObjectLockMode="COMPLIANCE",
                                        ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON")
    part = s3.upload_part(Bucket=name, Key="m", UploadId=upload["UploadId"], PartNumber=1, Body=b"z" * 10)
    s3.complete_multipart_upload(Bucket=name, Key="m", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    head = s3.head_object(Bucket=name, Key="m")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"], head["ObjectLockLegalHoldStatus"]) == (
        "COMPLIANCE", until, "ON")


# --- the KMS keeps the keys of locked versions --------------------------------------------------------


def test_a_kms_key_sealing_a_locked_version_cannot_be_disabled_or_deleted(server: RunningServer, s3) -> None:  # type: ignore[no-untyped-def]
    kms = server.client("kms")
    name = locked_bucket(s3)
    locked_key = kms.create_key()["KeyMetadata"]["KeyId"]
    free_key = kms.create_key()["KeyMetadata"]["KeyId"]
    s3.put_object(Bucket=name, Key="locked", Body=b"secret", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=locked_key, ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=in_days(1))
    s3.put_object(Bucket=name, Key="free", Body=b"other", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=free_key)
    for call, kwargs in ((kms.schedule_key_deletion, {"PendingWindowInDays": 7}), (kms.disable_key, {})):
        err = fails(call, KeyId=locked_key, **kwargs)
        assert err.response["Error"]["Code"] == "KMSInvalidStateException"
        assert "Object Lock" in err.response["Error"]["Message"]
    refused = server.cli("kms", "disable", locked_key, check=False)
    assert refused.returncode != 0 and "KMSInvalidStateException" in refused.stderr
    assert kms.describe_key(KeyId=locked_key)["KeyMetadata"]["KeyState"] == "Enabled"
    assert s3.get_object(Bucket=name, Key="locked")["Body"].read() == b"secret"
    # a key that seals nothing locked is the owner's to shred
    kms.schedule_key_deletion(KeyId=free_key, PendingWindowInDays=7)
    assert kms.describe_key(KeyId=free_key)["KeyMetadata"]["KeyState"] == "PendingDeletion"


def user_with(server: RunningServer, tmp_path: Path, name: str, actions: list[str]):  # type: ignore[no-untyped-def]
    access, secret = new_user(server, name)
    document = tmp_path / f"{name}.json"
    document.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
    server.cli("policy", "attach", name, str(document), "--name", "lock")
    return server.client("s3", access, secret)


def test_who_may_lock_and_who_may_bypass(server: RunningServer, s3, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    name = locked_bucket(s3)
    writer = user_with(server, tmp_path, "ol-writer", ["s3:PutObject", "s3:GetObject"])
    keeper = user_with(server, tmp_path, "ol-keeper", ["s3:PutObject", "s3:PutObjectRetention",
                                                       "s3:PutObjectLegalHold", "s3:GetObjectRetention"])
    admin = user_with(server, tmp_path, "ol-admin", ["s3:PutObjectRetention", "s3:GetObjectRetention",
                                                     "s3:BypassGovernanceRetention"])
    until = in_days(2)
    for kwargs in ({"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": until},
                   {"ObjectLockLegalHoldStatus": "ON"}):
        assert error_of(fails(writer.put_object, Bucket=name, Key="w", Body=b"x", **kwargs))["Code"] == \
            "AccessDenied"
    writer.put_object(Bucket=name, Key="w", Body=b"x")  # without a lock, s3:PutObject is enough
    assert "ObjectLockMode" not in writer.head_object(Bucket=name, Key="w")
    keeper.put_object(Bucket=name, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=until)
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": in_days(1)}
    # the bypass header without the permission, and the permission without the header: refused
    err = fails(keeper.put_object_retention, Bucket=name, Key="k", Retention=shorter,
                BypassGovernanceRetention=True)
    assert code_message(err) == {"Code": "AccessDenied", "Message": LOCKED_MESSAGE}
    assert error_of(fails(admin.put_object_retention, Bucket=name, Key="k", Retention=shorter))["Code"] == \
        "AccessDenied"
    admin.put_object_retention(Bucket=name, Key="k", Retention=shorter, BypassGovernanceRetention=True)
    assert admin.get_object_retention(Bucket=name, Key="k")["Retention"] == shorter
    # the retention is shown only to those who may read it
    assert "ObjectLockMode" not in writer.head_object(Bucket=name, Key="k")


# --- versioning and Object Lock ---------------------------------------------------------------------


def test_lock_enabled_on_an_existing_versioned_bucket_which_then_stays_versioned(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    err = fails(s3.put_object_lock_configuration, Bucket=bucket,
                ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert error_of(err)["Code"] == "InvalidBucketState"  # Suspended is not Enabled
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    err = fails(s3.put_bucket_versioning, Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert code_message(err) == {
        "Code": "InvalidBucketState",
        "Message": "An Object Lock configuration is present on this bucket, so the versioning state cannot "
                   "be changed."}
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})  # no change: fine


def test_a_locked_version_survives_overwrites_and_deletes(s3) -> None:  # type: ignore[no-untyped-def]
    name = locked_bucket(s3)
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    first = s3.put_object(Bucket=name, Key="k", Body=b"first", ObjectLockMode="GOVERNANCE",
                          ObjectLockRetainUntilDate=in_days(1))["VersionId"]
    second = s3.put_object(Bucket=name, Key="k", Body=b"second")["VersionId"]  # over a locked one: fine
    marker = s3.delete_object(Bucket=name, Key="k")
    assert marker["DeleteMarker"] is True
    err = fails(s3.delete_object, Bucket=name, Key="k", VersionId=first)
    assert code_message(err) == {"Code": "AccessDenied", "Message": LOCKED_MESSAGE}
    answer = s3.delete_objects(Bucket=name, Delete={"Objects": [
        {"Key": "k", "VersionId": first}, {"Key": "k", "VersionId": second},
        {"Key": "k", "VersionId": marker["VersionId"]}]})
    assert [(e["VersionId"], e["Code"], e["Message"]) for e in answer["Errors"]] == [
        (first, "AccessDenied", LOCKED_MESSAGE)]
    assert sorted(d["VersionId"] for d in answer["Deleted"]) == sorted([second, marker["VersionId"]])
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"first"
    # the root user's bypass (header and, as root, the permission) lets GOVERNANCE go
    s3.delete_object(Bucket=name, Key="k", VersionId=first, BypassGovernanceRetention=True)
    assert s3.list_object_versions(Bucket=name).get("Versions", []) == []
    s3.delete_bucket(Bucket=name)


def test_retention_by_version_id(s3) -> None:  # type: ignore[no-untyped-def]
    name = locked_bucket(s3)
    old = s3.put_object(Bucket=name, Key="k", Body=b"old")["VersionId"]
    s3.put_object(Bucket=name, Key="k", Body=b"new")
    until = in_days(1)
    s3.put_object_retention(Bucket=name, Key="k", VersionId=old,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until})
    s3.put_object_legal_hold(Bucket=name, Key="k", VersionId=old, LegalHold={"Status": "ON"})
    assert s3.get_object_retention(Bucket=name, Key="k", VersionId=old)["Retention"]["Mode"] == "COMPLIANCE"
    assert error_of(fails(s3.get_object_retention, Bucket=name, Key="k"))["Code"] == \
        "NoSuchObjectLockConfiguration"  # the current version has none
    head = s3.head_object(Bucket=name, Key="k", VersionId=old)
    assert (head["ObjectLockMode"], head["ObjectLockLegalHoldStatus"]) == ("COMPLIANCE", "ON")
    missing = "x" * 32  # the shape of a version id, of no version
    assert error_of(fails(s3.get_object_retention, Bucket=name, Key="k", VersionId=missing))["Code"] == \
        "NoSuchVersion"
    assert error_of(fails(s3.put_object_legal_hold, Bucket=name, Key="k", VersionId="not a version id",
                          LegalHold={"Status": "OFF"}))["Code"] == "InvalidArgument"


def test_update_object_encryption_stays_allowed_and_the_lock_follows_the_key(  # type: ignore[no-untyped-def]
        s3, server: RunningServer) -> None:
    """UpdateObjectEncryption re-wraps a locked version's key without changing its data: allowed, and the
    KMS key that now seals it is the one kept from shredding."""
    kms = server.client("kms")
    name = locked_bucket(s3)
    first = kms.create_key()["KeyMetadata"]
    second = kms.create_key()["KeyMetadata"]
    s3.put_object(Bucket=name, Key="k", Body=b"ledger", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=first["Arn"], ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=in_days(1))
    s3.update_object_encryption(Bucket=name, Key="k",
                                ObjectEncryption={"SSEKMS": {"KMSKeyArn": second["Arn"]}})
    got = s3.get_object(Bucket=name, Key="k")
    assert (got["Body"].read(), got["SSEKMSKeyId"], got["ObjectLockMode"]) == (
        b"ledger", second["Arn"], "COMPLIANCE")
    err = fails(kms.disable_key, KeyId=second["KeyId"])
    assert err.response["Error"]["Code"] == "KMSInvalidStateException"
    kms.disable_key(KeyId=first["KeyId"])  # it seals nothing locked any more


def test_creating_an_existing_bucket_with_object_lock_never_answers_for_one_without(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    """us-east-1 answers 200 to its owner re-creating a bucket; not when the request asks for Object Lock
    and the bucket has none: that would be a lock promised and not there."""
    s3.create_bucket(Bucket=bucket)  # S3's legacy 200 in us-east-1
    err = fails(s3.create_bucket, Bucket=bucket, ObjectLockEnabledForBucket=True)
    assert error_of(err)["Code"] == "BucketAlreadyOwnedByYou"
    assert error_of(fails(s3.get_object_lock_configuration, Bucket=bucket))["Code"] == \
        "ObjectLockConfigurationNotFoundError"
    name = locked_bucket(s3)
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)  # it has one: the legacy 200
