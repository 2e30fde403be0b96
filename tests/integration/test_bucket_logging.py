"""Server access logging: PutBucketLogging / GetBucketLogging with AWS's validation, and records delivered
as objects into the target bucket in AWS's format (simple and partitioned keys), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_code, fails, new_bucket, new_user, status_of
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

SERVICE = "logging.s3.amazonaws.com"
SIMPLE_KEY = re.compile(r"logs/\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9A-F]{16}")
# Bucket Owner, Bucket, [Time], Remote IP, Requester, Request ID, Operation, Key, "Request-URI", status,
# Error Code, Bytes Sent, Object Size, Total Time, Turn-Around Time, "Referer", "User-Agent", Version Id,
# Host Id, Signature Version, Cipher Suite, Authentication Type, Host Header, TLS version, Access Point ARN,
# aclRequired, Source Region
QUOTED = r'"((?:[^"\\]|\\.)*)"'
RECORD = re.compile(rf"(\S+) (\S+) \[([^\]]+)\] (\S+) (\S+) (\S+) (\S+) (\S+) {QUOTED} (\d+) (\S+) "
                    rf"(\S+) (\S+) (\d+) (\d+) {QUOTED} {QUOTED} (\S+) (\S+) (\S+) (\S+) "
                    r"(\S+) (\S+) (\S+) (\S+) (\S+) (\S+)")


def delivery_policy(target: str, source: str | None = None, account: str | None = None) -> str:
    condition: dict[str, dict[str, str]] = {}
    if source is not None:
        condition["ArnLike"] = {"aws:SourceArn": f"arn:aws:s3:::{source}"}
    if account is not None:
        condition["StringEquals"] = {"aws:SourceAccount": account}
    statement: dict[str, object] = {"Sid": "S3ServerAccessLogsPolicy", "Effect": "Allow",
                                    "Principal": {"Service": SERVICE}, "Action": "s3:PutObject",
                                    "Resource": f"arn:aws:s3:::{target}/*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def enabled(target: str, prefix: str = "logs/", **extra: object) -> dict[str, object]:
    return {"LoggingEnabled": {"TargetBucket": target, "TargetPrefix": prefix, **extra}}


def account_of(server: RunningServer) -> str:
    return str(server.client("sts").get_caller_identity()["Account"])


def test_unconfigured_logging_is_an_empty_status(server: RunningServer, s3, bucket: str) -> None:
    got = s3.get_bucket_logging(Bucket=bucket)
    assert "LoggingEnabled" not in got
    assert server.aws("s3api", "get-bucket-logging", "--bucket", bucket).stdout.strip() == ""
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.get_bucket_logging(Bucket="no-such-bucket-for-logging")


def test_put_logging_validates_the_target_and_changes_nothing_when_refused(server: RunningServer,
                                                                           s3) -> None:
    source, target = new_bucket(s3), new_bucket(s3)
    account = account_of(server)

    err = fails(s3.put_bucket_logging, Bucket=source, BucketLoggingStatus=enabled("no-such-target-bucket"))
    assert (error_code(err), status_of(err)) == ("InvalidTargetBucketForLogging", 400)
    assert err.response["Error"]["Message"] == "The target bucket for logging does not exist"

    # No policy (and ACLs disabled): the logging service may not write there.
    err = fails(s3.put_bucket_logging, Bucket=source, BucketLoggingStatus=enabled(target))
    assert (error_code(err), status_of(err)) == ("InvalidTargetBucketForLogging", 400)
    assert "log-delivery group WRITE and READ_ACP" in err.response["Error"]["Message"]

    # A policy for another source bucket does not count; nor one for another account.
    s3.put_bucket_policy(Bucket=target, Policy=delivery_policy(target, source="some-other-bucket"))
    assert error_code(fails(s3.put_bucket_logging, Bucket=source,
                            BucketLoggingStatus=enabled(target))) == "InvalidTargetBucketForLogging"
    s3.put_bucket_policy(Bucket=target, Policy=delivery_policy(target, account="111122223333"))
    assert error_code(fails(s3.put_bucket_logging, Bucket=source,
                            BucketLoggingStatus=enabled(target))) == "InvalidTargetBucketForLogging"

    s3.put_bucket_policy(Bucket=target, Policy=delivery_policy(target, source=source, account=account))
    # Target grants on a bucket owner enforced target (the default for new buckets)
    grants = [{"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
               "Permission": "READ"}]
    with_grants = enabled(target, TargetGrants=grants)
    err = fails(s3.put_bucket_logging, Bucket=source, BucketLoggingStatus=with_grants)
    assert (error_code(err), status_of(err)) == ("AccessControlListNotSupported", 400)
    assert err.response["Error"]["Message"] == "Target grants not allowed for bucket owner enforced buckets"

    bad_source = enabled(target, TargetObjectKeyFormat={"PartitionedPrefix": {
        "PartitionDateSource": "Never"}})
    assert error_code(fails(s3.put_bucket_logging, Bucket=source,
                            BucketLoggingStatus=bad_source)) == "MalformedXML"
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=source)  # nothing was stored

    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus=enabled(
        target, TargetObjectKeyFormat={"PartitionedPrefix": {"PartitionDateSource": "DeliveryTime"}}))
    got = s3.get_bucket_logging(Bucket=source)["LoggingEnabled"]
    assert got["TargetBucket"] == target and got["TargetPrefix"] == "logs/"
    assert got["TargetObjectKeyFormat"] == {"PartitionedPrefix": {"PartitionDateSource": "DeliveryTime"}}

    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={})  # an empty status turns logging off
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=source)


def test_acl_grants_to_log_delivery_allow_the_target(start_server: ServerFactory) -> None:
    server = start_server()
    s3 = server.client()
    source, target = new_bucket(s3), new_bucket(s3)
    s3.put_bucket_ownership_controls(Bucket=target, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]})
    assert error_code(fails(s3.put_bucket_logging, Bucket=source,
                            BucketLoggingStatus=enabled(target))) == "InvalidTargetBucketForLogging"
    s3.put_bucket_acl(Bucket=target, ACL="log-delivery-write")
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus=enabled(target))
    assert s3.get_bucket_logging(Bucket=source)["LoggingEnabled"]["TargetBucket"] == target


@pytest.fixture(params=["sqlite", "postgres"])
def engine_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield {}
        return
    with fresh_schema("logging") as schema:
        yield {"STRONGROOM_CATALOG": with_search_path(POSTGRES_URL, schema)}


def delivered(s3, target: str, prefix: str, wanted: int,  # type: ignore[no-untyped-def]
              timeout: float = 30) -> dict[str, str]:
    """The log objects under `prefix` once their records number at least `wanted`: {key: text}."""
    deadline = time.monotonic() + timeout
    while True:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=target, Prefix=prefix).get("Contents", [])]
        texts = {k: s3.get_object(Bucket=target, Key=k)["Body"].read().decode() for k in keys}
        if sum(len(t.splitlines()) for t in texts.values()) >= wanted or time.monotonic() > deadline:
            return texts
        time.sleep(0.5)


def test_records_are_delivered_in_aws_format(start_server: ServerFactory, engine_env: dict[str, str]) -> None:
    server = start_server("--access-log-delivery-interval", "1", env=engine_env)
    s3 = server.client()
    source, target = new_bucket(s3), new_bucket(s3)
    account = account_of(server)
    s3.put_bucket_policy(Bucket=target, Policy=delivery_policy(target, source=source, account=account))
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus=enabled(target))

    body = b"logged body"
    s3.put_object(Bucket=source, Key="dir/a b.txt", Body=body)
    assert s3.get_object(Bucket=source, Key="dir/a b.txt")["Body"].read() == body
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=source, Key="missing")
    params = {"Bucket": source, "Key": "dir/a b.txt"}
    urls = [s3.generate_presigned_url("get_object", Params=params),  # boto3's default: SigV2
            server.client(signature_version="s3v4").generate_presigned_url("get_object", Params=params)]
    signatures = [re.search(r"Signature=([^&]+)", url) for url in urls]
    for url in urls:
        with urllib.request.urlopen(url) as answer:
            assert answer.read() == body
    s3.put_object(Bucket=target, Key="not-logged", Body=b"x")  # the target itself does not log
    access, secret = new_user(server, "mallory")  # no policy: denied, and the denial is recorded
    with pytest.raises(ClientError) as denied:
        server.client(access_key=access, secret_key=secret).get_object(Bucket=source, Key="dir/a b.txt")
    assert error_code(denied.value) == "AccessDenied"

    texts = delivered(s3, target, "logs/", 6)
    assert texts and all(SIMPLE_KEY.fullmatch(k) for k in texts), sorted(texts)
    for key in texts:  # written through the vault, with the target's default encryption (SSE-S3)
        assert s3.head_object(Bucket=target, Key=key)["ServerSideEncryption"] == "AES256"
    lines = [line for text in texts.values() for line in text.splitlines()]
    records = [RECORD.fullmatch(line) for line in lines]
    assert all(records), lines
    fields = [r.groups() for r in records if r is not None]
    by_op = {}
    for f in fields:
        by_op.setdefault((f[6], f[7]), []).append(f)
    owner = fields[0][0]
    assert all(f[0] == owner and f[1] == source for f in fields)  # nothing of the target bucket's own

    put = by_op[("REST.PUT.OBJECT", "dir/a%20b.txt")][0]
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", put[2])
    assert put[3] == "127.0.0.1" and put[4] == owner  # the root user: its canonical id, the bucket's owner
    assert put[8] == f"PUT /{source}/dir/a%20b.txt HTTP/1.1"
    assert (put[9], put[10], put[11], put[12]) == ("200", "-", "-", str(len(body)))
    assert "Boto3" in put[16] or "Botocore" in put[16]
    assert (put[19], put[20], put[21]) == ("SigV4", "-", "AuthHeader")
    assert put[22] == f"127.0.0.1:{server.port}" and put[23] == "-"

    gets = by_op[("REST.GET.OBJECT", "dir/a%20b.txt")]
    served = sorted((g[19], g[21]) for g in gets if g[9] == "200")
    assert served == [("SigV2", "QueryString"), ("SigV4", "AuthHeader"), ("SigV4", "QueryString")]
    assert all((g[11], g[12]) == (str(len(body)), str(len(body))) for g in gets if g[9] == "200")
    presigned = [g[8] for g in gets if g[21] == "QueryString"]
    assert "&Signature=REDACTED" in presigned[0] + presigned[1]
    assert "X-Amz-Signature=REDACTED" in presigned[0] + presigned[1]
    missing = by_op[("REST.GET.OBJECT", "missing")][0]
    assert (missing[9], missing[10]) == ("404", "NoSuchKey")
    refused = [g for g in gets if g[9] == "403"]
    assert len(refused) == 1 and refused[0][10] == "AccessDenied"
    assert refused[0][4] == f"arn:aws:iam::{account}:user/mallory"
    everything = "\n".join(lines)
    assert all(m is not None and m.group(1) not in everything for m in signatures)
    assert server.secret_key not in everything and secret not in everything

    # Logging turned off: nothing more is delivered.
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={})
    s3.put_object(Bucket=source, Key="after", Body=b"x")
    time.sleep(2.5)
    after = delivered(s3, target, "logs/", len(lines))
    assert not any("after" in text for text in after.values())


def test_partitioned_keys_by_event_time_with_the_cli(start_server: ServerFactory) -> None:
    server = start_server("--access-log-delivery-interval", "1")
    s3 = server.client()
    source, target = new_bucket(s3), new_bucket(s3)
    account = account_of(server)
    server.aws("s3api", "put-bucket-policy", "--bucket", target, "--policy",
               delivery_policy(target, source=source, account=account))
    status = enabled(target, "part/", TargetObjectKeyFormat={"PartitionedPrefix": {
        "PartitionDateSource": "EventTime"}})
    server.aws("s3api", "put-bucket-logging", "--bucket", source,
               "--bucket-logging-status", json.dumps(status))
    shown = json.loads(server.aws("s3api", "get-bucket-logging", "--bucket", source).stdout)
    assert shown["LoggingEnabled"]["TargetObjectKeyFormat"] == {
        "PartitionedPrefix": {"PartitionDateSource": "EventTime"}}
    server.aws("s3api", "list-objects-v2", "--bucket", source)
    texts = delivered(s3, target, "part/", 2)  # GetBucketLogging, ListObjectsV2
    day = time.strftime("%Y/%m/%d", time.gmtime())
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    pattern = re.compile(rf"part/{account}/[a-z0-9-]+/{source}/{day}/{stamp}-00-00-00-[0-9A-F]{{16}}")
    assert texts and all(pattern.fullmatch(k) for k in texts), sorted(texts)
    listed = [f for t in texts.values() for line in t.splitlines() if (f := RECORD.fullmatch(line))]
    assert sorted(f.group(7) for f in listed) == ["REST.GET.BUCKET", "REST.GET.LOGGING_STATUS"], texts
    assert all(f.group(17).startswith("aws-cli/") for f in listed), texts


def test_two_servers_on_one_postgresql_each_deliver_their_own_objects(start_server: ServerFactory) -> None:
    with fresh_schema("logging2") as schema:
        env = {"STRONGROOM_CATALOG": with_search_path(POSTGRES_URL, schema)}
        first = start_server("--access-log-delivery-interval", "1", env=env)
        second = start_server("--access-log-delivery-interval", "1", like=first)
        s3_first, s3_second = first.client(), second.client()
        source, target = new_bucket(s3_first), new_bucket(s3_first)
        s3_first.put_bucket_policy(Bucket=target, Policy=delivery_policy(target, source=source))
        s3_first.put_bucket_logging(Bucket=source, BucketLoggingStatus=enabled(target))
        s3_first.put_object(Bucket=source, Key="from-first", Body=b"1")
        s3_second.put_object(Bucket=source, Key="from-second", Body=b"2")
        texts = delivered(s3_first, target, "logs/", 2)
        owners = {key: {k for k in ("from-first", "from-second") if f" {k} " in text}
                  for key, text in texts.items()}
        # each process wrote its own record into its own object; none was lost or written twice
        assert sorted(k for found in owners.values() for k in found) == ["from-first", "from-second"], texts
        assert all(len(found) <= 1 for found in owners.values()), texts
