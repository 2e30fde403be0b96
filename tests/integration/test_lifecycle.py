"""Put/Get/DeleteBucketLifecycle against a real server, on SQLite and PostgreSQL, with boto3 at its defaults
and the aws cli: the document round trip, AWS's validation (codes and messages), the integrity header,
x-amz-transition-default-minimum-object-size, and x-amz-expiration on PUT, GET and HEAD.

What the worker does with the rules is test_lifecycle_worker.py's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_of, fails, md5_b64
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

DAY = 86400


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, start_module_server: ServerFactory) -> Iterator[RunningServer]:
    if request.param == "sqlite":
        yield start_module_server()
        return
    with fresh_schema("lifecycle") as schema:
        running = start_module_server(env={"STRONGROOM_CATALOG": with_search_path(POSTGRES_URL, schema)})
        yield running
        running.stop()  # before its schema is dropped


def rule(**fields: object) -> dict[str, object]:
    return {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}, **fields}


def refused(s3, bucket: str, rules: list[dict[str, object]]) -> dict[str, object]:  # type: ignore[no-untyped-def]
    err = fails(s3.put_bucket_lifecycle_configuration, Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    found = error_of(err)
    return {"Code": found["Code"], "Message": found["Message"]}


def test_no_configuration_then_one_then_none(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    err = fails(s3.get_bucket_lifecycle_configuration, Bucket=bucket)
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error_of(err)["Code"] == "NoSuchLifecycleConfiguration"
    assert error_of(err)["Message"] == "The lifecycle configuration does not exist"
    rules = [
        {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30},
         "Transitions": [{"Days": 10, "StorageClass": "STANDARD_IA"}]},
        {"ID": "tagged", "Status": "Disabled",
         "Filter": {"And": {"Prefix": "t/", "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}],
                            "ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 1000}},
         "Expiration": {"Date": datetime(2030, 1, 1, tzinfo=UTC)}},
        {"ID": "old", "Status": "Enabled", "Filter": {"Tag": {"Key": "k", "Value": "v"}},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 3, "NewerNoncurrentVersions": 2},
         "NoncurrentVersionTransitions": [{"NoncurrentDays": 1, "StorageClass": "GLACIER"}]},
        {"ID": "uploads", "Status": "Enabled", "Filter": {"ObjectSizeGreaterThan": 5},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
        {"ID": "markers", "Status": "Enabled", "Filter": {},
         "Expiration": {"ExpiredObjectDeleteMarker": True}},
    ]
    put = s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    assert put["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert got["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    assert got["Rules"] == rules
    s3.delete_bucket_lifecycle(Bucket=bucket)
    assert error_of(fails(s3.get_bucket_lifecycle_configuration, Bucket=bucket))["Code"] == \
        "NoSuchLifecycleConfiguration"


def test_the_legacy_prefix_and_the_minimum_size_header(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    rules = [{"ID": "legacy", "Status": "Enabled", "Prefix": "old/", "Expiration": {"Days": 2}}]
    put = s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules},
                                                TransitionDefaultMinimumObjectSize="varies_by_storage_class")
    assert put["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert got["Rules"] == rules
    assert got["TransitionDefaultMinimumObjectSize"] == "varies_by_storage_class"


def test_a_rule_without_an_id_gets_one(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}]})
    (got,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert 0 < len(got["ID"]) <= 255


def test_aws_validation(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    invalid = "InvalidArgument"
    assert refused(s3, bucket, [rule(), rule()]) == {
        "Code": invalid, "Message": "Rule ID must be unique. Found same ID for more than one rule"}
    assert refused(s3, bucket, [rule(ID="x" * 256)]) == {
        "Code": invalid, "Message": "ID length should not exceed allowed limit of 255"}
    assert refused(s3, bucket, [rule(Expiration={"Days": 0})]) == {
        "Code": invalid, "Message": "'Days' for Expiration action must be a positive integer"}
    assert refused(s3, bucket, [rule(Expiration={"Date": datetime(2030, 1, 1, 12, tzinfo=UTC)})]) == {
        "Code": invalid, "Message": "'Date' must be at midnight GMT"}
    no_action = {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}}
    assert refused(s3, bucket, [no_action]) == {
        "Code": "InvalidRequest", "Message": "At least one action needs to be specified in a rule"}
    tags = [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]
    assert refused(s3, bucket, [rule(Filter={"And": {"Prefix": "", "Tags": tags}})]) == {
        "Code": "InvalidRequest", "Message": "Duplicate Tag Keys are not allowed."}
    abort_tag = {"ID": "r", "Status": "Enabled", "Filter": {"Tag": {"Key": "a", "Value": "1"}},
                 "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
    assert refused(s3, bucket, [abort_tag]) == {
        "Code": "InvalidRequest", "Message": "AbortIncompleteMultipartUpload cannot be specified with Tags."}
    assert refused(s3, bucket, [rule(ID=str(i)) for i in range(1001)])["Code"] == "InvalidRequest"
    malformed = "MalformedXML"
    assert refused(s3, bucket, [rule(Status="On")])["Code"] == malformed
    assert refused(s3, bucket, [rule(NoncurrentVersionExpiration={})])["Code"] == malformed
    assert refused(s3, bucket, [rule(Expiration={"Days": 1, "ExpiredObjectDeleteMarker": True})])["Code"] \
        == malformed
    two_conditions = {"Prefix": "a", "ObjectSizeGreaterThan": 1}
    assert refused(s3, bucket, [rule(Filter=two_conditions)])["Code"] == malformed
    assert refused(s3, bucket, [rule(Prefix="a")])["Code"] == malformed  # the legacy Prefix and a Filter
    assert refused(s3, bucket, [rule(Transitions=[{"Days": 1, "StorageClass": "NOPE"}])])["Code"] == malformed
    # Nothing refused was stored.
    assert error_of(fails(s3.get_bucket_lifecycle_configuration, Bucket=bucket))["Code"] == \
        "NoSuchLifecycleConfiguration"


def test_the_integrity_header_is_required(server: RunningServer, bucket: str) -> None:
    body = (b'<LifecycleConfiguration><Rule><ID>r</ID><Filter><Prefix></Prefix></Filter>'
            b'<Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>')
    reply = server.raw("PUT", f"/{bucket}?lifecycle", body)
    assert (reply.status, reply.code) == (400, "InvalidRequest")
    assert reply.detail("Message") == \
        "Missing required header for this request: Content-MD5 OR x-amz-checksum-*"
    reply = server.raw("PUT", f"/{bucket}?lifecycle", body, {"Content-MD5": md5_b64(b"other")})
    assert (reply.status, reply.code) == (400, "BadDigest")
    # Without the S3 namespace, as the SDKs send it, with its digest: stored.
    reply = server.raw("PUT", f"/{bucket}?lifecycle", body, {"Content-MD5": md5_b64(body)})
    assert reply.status == 200
    assert reply.headers["x-amz-transition-default-minimum-object-size"] == "all_storage_classes_128K"


def test_the_aws_cli(server: RunningServer, bucket: str, tmp_path: Path) -> None:
    document = tmp_path / "lifecycle.json"
    document.write_text(json.dumps({"Rules": [
        {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 7}}]}))
    server.aws("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
               "--lifecycle-configuration", f"file://{document}")
    out = json.loads(server.aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket).stdout)
    assert out["Rules"][0]["ID"] == "tmp"
    assert out["Rules"][0]["Expiration"] == {"Days": 7}
    server.aws("s3api", "delete-bucket-lifecycle", "--bucket", bucket)
    gone = server.aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket, check=False)
    assert gone.returncode != 0 and "NoSuchLifecycleConfiguration" in gone.stderr


def expiry(header: str) -> tuple[datetime, str]:
    date, rule_id = header.split(", rule-id=")
    assert date.startswith('expiry-date="') and date.endswith('"')
    return parsedate_to_datetime(date[len('expiry-date="'):-1]), rule_id.strip('"')


def test_x_amz_expiration_on_put_get_and_head(s3, bucket: str) -> None:  # type: ignore[no-untyped-def]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "in three days", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
         "Expiration": {"Days": 3}},
        {"ID": "sooner", "Status": "Enabled", "Filter": {"Prefix": "logs/big"}, "Expiration": {"Days": 1}},
        {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}},
    ]})
    put = s3.put_object(Bucket=bucket, Key="logs/a", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="logs/a")
    got = s3.get_object(Bucket=bucket, Key="logs/a")
    assert put["Expiration"] == head["Expiration"] == got["Expiration"]
    when, rule_id = expiry(head["Expiration"])
    assert rule_id == "in%20three%20days"  # URL-encoded, as the API reference says
    # Days rounded up to the next midnight UTC after the object's creation.
    created = head["LastModified"].timestamp()
    assert when.timestamp() % DAY == 0
    assert created + 3 * DAY <= when.timestamp() < created + 4 * DAY + 1
    # The rule that expires it first names the date.
    s3.put_object(Bucket=bucket, Key="logs/big", Body=b"x")
    assert expiry(s3.head_object(Bucket=bucket, Key="logs/big")["Expiration"])[1] == "sooner"
    # No rule (a disabled one does not count): no header.
    assert "Expiration" not in s3.put_object(Bucket=bucket, Key="other", Body=b"x")
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="other")
    # CopyObject and CompleteMultipartUpload say it too (API reference: x-amz-expiration in both outputs).
    assert expiry(s3.copy_object(Bucket=bucket, Key="logs/copy", CopySource={"Bucket": bucket, "Key": "other"}
                                 )["Expiration"])[1] == "in%20three%20days"
    upload = s3.create_multipart_upload(Bucket=bucket, Key="logs/mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="logs/mp", UploadId=upload, PartNumber=1, Body=b"p")["ETag"]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="logs/mp", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert expiry(done["Expiration"])[1] == "in%20three%20days"
