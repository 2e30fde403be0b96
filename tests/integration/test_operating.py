"""Operating strongroom (issue 13): the probes, /metrics, and what they show of a real server.

The probes flip to 503 when the catalog file cannot be read or the disk is past the reserve, and back;
a scrape after a known set of requests shows their counts (one server, and --workers 2); the gauges of
stored objects come from the catalog without a scrape asking it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import new_user, virtual_client
from tests.integration.scrapes import Samples, scrape, value
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path


def probe(server: RunningServer, path: str, method: str = "GET") -> tuple[int, dict[str, object] | None]:
    answer = server.raw(method, path, sign=False)
    if method == "HEAD":
        assert answer.body == b""
        return answer.status, None
    assert answer.headers["content-type"] == "application/json"
    return answer.status, json.loads(answer.body)


def wait_for(condition, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


# --- probes --------------------------------------------------------------------------------------------


def test_probes_answer_without_shadowing_buckets(start_server: ServerFactory) -> None:
    server = start_server()
    for path in ("/health/live", "/minio/health/live"):
        assert probe(server, path) == (200, {"status": "live"})
        assert probe(server, path, "HEAD") == (200, None)
    for path in ("/health/ready", "/minio/health/ready"):
        assert probe(server, path) == (200, {"status": "ready"})
        assert probe(server, path, "HEAD") == (200, None)
    # Buckets named health, minio and metrics keep their keys: signed requests are S3's, path-style too...
    s3 = server.client()
    for bucket, key in (("health", "live"), ("health", "ready"), ("minio", "health/live"), ("metrics", "x")):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=f"{bucket}/{key}".encode())
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == f"{bucket}/{key}".encode()
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="metrics")["Contents"]] == ["x"]
    # ... and virtual-hosted ones, unsigned included (the bucket is not public: S3 refuses them).
    virtual, hosts = virtual_client(server)
    assert virtual.get_object(Bucket="health", Key="live")["Body"].read() == b"health/live"
    assert hosts == [f"health.localhost:{server.port}"]
    refused = server.raw("GET", "/live", headers={"Host": f"health.localhost:{server.port}"}, sign=False)
    assert refused.status == 403 and b"<Code>AccessDenied</Code>" in refused.body
    # The probes never answered a write: a PUT to the path is S3's (anonymous: refused).
    assert server.raw("PUT", "/health/live", body=b"x", sign=False).status == 403


def test_ready_fails_while_the_catalog_file_cannot_be_read(start_server: ServerFactory) -> None:
    server = start_server()
    catalog = server.data_dir / "catalog.sqlite3"
    catalog.chmod(0o000)  # the tests run as root, whom no mode stops: the probe reads the mode too
    try:
        status, body = probe(server, "/health/ready")
        assert status == 503 and body is not None
        assert body["status"] == "not ready"
        failed = body["failed"]
        assert isinstance(failed, dict) and set(failed) == {"catalog"}, failed
        assert "catalog.sqlite3 cannot be read" in failed["catalog"]
        assert probe(server, "/health/ready", "HEAD") == (503, None)
        assert probe(server, "/health/live") == (200, {"status": "live"})  # still serving
    finally:
        catalog.chmod(0o600)
    assert probe(server, "/health/ready") == (200, {"status": "ready"})
    samples = scrape(server)
    assert value(samples, "strongroom_ready") == 1.0


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small"
    mount_point.mkdir(mode=0o700)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_ready_fails_while_the_disk_is_past_the_reserve(small_filesystem: Path,
                                                          start_server: ServerFactory) -> None:
    server = start_server(data_dir=small_filesystem / "data", env={"STRONGROOM_MIN_FREE_SPACE": "8MiB"})
    assert probe(server, "/health/ready") == (200, {"status": "ready"})
    st = os.statvfs(small_filesystem)
    filler = small_filesystem / "filler"
    with open(filler, "wb") as f:  # leaves 4 MiB free: below the 8 MiB reserve
        f.write(b"\0" * (st.f_bavail * st.f_frsize - (4 << 20)))
    try:
        status, body = probe(server, "/health/ready")
        assert status == 503 and body is not None
        failed = body["failed"]
        assert isinstance(failed, dict) and set(failed) == {"blobs"}, failed
        assert "free on the filesystem" in failed["blobs"]
    finally:
        filler.unlink()
    assert probe(server, "/health/ready") == (200, {"status": "ready"})


# --- metrics -------------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def engine_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield {}
        return
    with fresh_schema("metrics") as schema:
        yield {"STRONGROOM_CATALOG": with_search_path(POSTGRES_URL, schema)}


def test_a_scrape_counts_known_requests(start_server: ServerFactory, engine_env: dict[str, str]) -> None:
    server = start_server("--metrics-interval", "0.5", env=engine_env)
    assert probe(server, "/health/ready") == (200, {"status": "ready"})  # each engine's catalog check
    s3 = server.client()
    s3.create_bucket(Bucket="counted")
    bodies = [os.urandom(n) for n in (1000, 4096, 100_000)]
    for i, body in enumerate(bodies):
        s3.put_object(Bucket="counted", Key=f"k{i}", Body=body)
    for i in range(2):
        assert s3.get_object(Bucket="counted", Key=f"k{i}")["Body"].read() == bodies[i]
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket="counted", Key="missing")
    kms = server.client("kms")
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    s3.put_object(Bucket="counted", Key="kms", Body=b"sealed by kms", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=key_arn)
    assert s3.get_object(Bucket="counted", Key="kms")["Body"].read() == b"sealed by kms"

    samples = scrape(server)
    assert value(samples, "strongroom_s3_requests_total", operation="CreateBucket", status="200") == 1
    assert value(samples, "strongroom_s3_requests_total", operation="PutObject", status="200") == 4
    assert value(samples, "strongroom_s3_requests_total", operation="GetObject", status="200") == 3
    assert value(samples, "strongroom_s3_requests_total", operation="GetObject", status="404") == 1
    assert value(samples, "strongroom_s3_request_duration_seconds_count", operation="PutObject") == 4
    received = value(samples, "strongroom_s3_bytes_received_total")
    assert received >= sum(map(len, bodies)) + len(b"sealed by kms")
    assert received < sum(map(len, bodies)) + 10_000  # the bodies (and the KMS calls' JSON), not more
    sent = value(samples, "strongroom_s3_bytes_sent_total")
    assert sent >= len(bodies[0]) + len(bodies[1]) + len(b"sealed by kms")
    assert value(samples, "strongroom_kms_requests_total", operation="CreateKey", outcome="ok") == 1
    assert value(samples, "strongroom_kms_requests_total", operation="GenerateDataKey", outcome="ok") == 1
    assert value(samples, "strongroom_kms_requests_total", operation="Decrypt", outcome="ok") == 1
    assert value(samples, "strongroom_kms_request_duration_seconds_count", operation="Decrypt") == 1
    assert value(samples, "strongroom_catalog_commit_duration_seconds_count") >= 4
    assert value(samples, "strongroom_blob_fsync_duration_seconds_count") >= 1  # the 100 kB body's blob

    def inventoried() -> Samples | None:
        now = scrape(server)
        done = (value(now, "strongroom_objects", bucket="counted", encryption="AES256") == 3
                and value(now, "strongroom_objects", bucket="counted", encryption="aws:kms") == 1)
        return now if done else None

    samples = wait_for(inventoried)
    assert samples is not None, "strongroom_objects never showed the bucket's objects"
    assert value(samples, "strongroom_object_bytes", bucket="counted", encryption="AES256") == sum(
        map(len, bodies))
    assert value(samples, "strongroom_objects", bucket="counted", encryption="aws:kms") == 1
    assert value(samples, "strongroom_object_bytes", bucket="counted", encryption="aws:kms") == 13
    assert 0 <= value(samples, "strongroom_root_key_age_seconds") < 60
    assert 0 <= value(samples, "strongroom_kms_key_rotation_age_seconds", key=key_arn) < 60
    # Deleted objects leave the gauges at the next round.
    for key in ("k0", "k1", "k2"):
        s3.delete_object(Bucket="counted", Key=key)
    assert wait_for(lambda: ("strongroom_objects", (("bucket", "counted"), ("encryption", "AES256")))
                    not in scrape(server))


def test_metrics_behind_a_bearer_token(start_server: ServerFactory, tmp_path: Path) -> None:
    # From a file here; from STRONGROOM_METRICS_TOKEN in the scripted session below.
    token = "scrape-" + os.urandom(8).hex()
    token_file = tmp_path / "metrics-token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    server = start_server("--metrics-token-file", str(token_file))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {token}x"}):
        refused = server.raw("GET", "/metrics", headers=headers, sign=False)
        assert refused.status == 401 and refused.headers["www-authenticate"].startswith("Bearer ")
        assert b"strongroom_" not in refused.body
    assert server.raw("GET", "/", sign=False).status == 403  # an anonymous S3 request, counted
    # A body refused before `100 Continue` is counted too (it never reaches the dispatcher's handler).
    refused = server.raw("PUT", "/nobucket/k", body=b"x" * 10, headers={"Expect": "100-continue"})
    assert refused.status == 404
    assert value(scrape(server, token), "strongroom_s3_requests_total", operation="PutObject",
                 status="404") == 1
    assert value(scrape(server, token), "strongroom_s3_requests_total", operation="ListBuckets",
                 status="403") == 1
    assert token not in server.log()


def test_every_worker_counts_in_one_scrape(start_server: ServerFactory) -> None:
    server = start_server("--workers", "2", "--metrics-interval", "0.5")
    requests = 40
    for _ in range(requests):  # a new connection each: the kernel spreads them over both workers
        assert server.raw("GET", "/").status == 200
    for _ in range(3):  # whichever worker answers the scrape, it shows both workers' counts
        assert value(scrape(server), "strongroom_s3_requests_total", operation="ListBuckets",
                     status="200") == requests
    # The gauges: one figure whichever worker counted; a deleted object's series falls to 0.
    s3 = server.client()
    s3.create_bucket(Bucket="workers")
    s3.put_object(Bucket="workers", Key="k", Body=b"12345")
    objects = ("strongroom_objects", (("bucket", "workers"), ("encryption", "AES256")))
    assert wait_for(lambda: scrape(server).get(objects) == 1)
    assert value(scrape(server), "strongroom_object_bytes", bucket="workers", encryption="AES256") == 5
    s3.delete_object(Bucket="workers", Key="k")
    assert wait_for(lambda: scrape(server).get(objects) == 0)
    # verify's gauges: 0 before any run in every worker, then the run's figures whichever answers.
    last_run = ("strongroom_verify_last_run_timestamp_seconds", ())
    assert scrape(server)[last_run] == 0
    assert server.cli("verify").returncode == 0
    assert wait_for(lambda: scrape(server).get(last_run, 0) > 0)
    for _ in range(3):
        samples = scrape(server)
        assert samples[last_run] > 0 and samples[("strongroom_verify_failed_objects", ())] == 0


# --- the access log, the server's JSON lines, the audit log --------------------------------------------


def lines_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_logs_of_a_scripted_session_hold_the_right_lines_and_no_secret(
        start_server: ServerFactory, tmp_path: Path) -> None:
    access_log, audit_log = tmp_path / "access.log", tmp_path / "audit.log"
    token = "scrape-" + os.urandom(8).hex()
    # The audit log by environment: the command line, given the server's environment, writes there too.
    server = start_server("--access-log", str(access_log), "--log-format", "json", "--behind-tls-proxy",
                          "--allow-sse-c-new-buckets",
                          env={"STRONGROOM_AUDIT_LOG": str(audit_log), "STRONGROOM_METRICS_TOKEN": token})
    account = "arn:aws:iam::"
    alice_access, alice_secret = new_user(server, "alice")
    server.cli("user", "disable-key", alice_access)
    server.cli("user", "enable-key", alice_access)
    policy_file = tmp_path / "alice.json"
    policy = {"Version": "2012-10-17",
              "Statement": [{"Effect": "Allow", "Action": ["s3:*", "kms:*"], "Resource": "*"}]}
    policy_file.write_text(json.dumps(policy))
    server.cli("policy", "attach", "alice", str(policy_file))

    s3, kms = server.client(), server.client("kms")
    s3.create_bucket(Bucket="logged")
    bucket_policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::logged"}]}
    s3.put_bucket_policy(Bucket="logged", Policy=json.dumps(bucket_policy))
    s3.put_public_access_block(Bucket="logged", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    key_arn = kms.create_key(Description="logged")["KeyMetadata"]["Arn"]
    kms.disable_key(KeyId=key_arn)
    kms.enable_key(KeyId=key_arn)
    kms.enable_key_rotation(KeyId=key_arn)
    kms.rotate_key_on_demand(KeyId=key_arn)
    kms.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=7)
    kms.cancel_key_deletion(KeyId=key_arn)
    kms.enable_key(KeyId=key_arn)  # a cancelled deletion leaves the key disabled
    s3.put_bucket_encryption(Bucket="logged", ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}}]})
    plaintext = b"the plaintext " + os.urandom(8).hex().encode()
    alice = server.client(access_key=alice_access, secret_key=alice_secret)
    put = alice.put_object(Bucket="logged", Key="by alice", Body=plaintext)
    assert alice.get_object(Bucket="logged", Key="by alice")["Body"].read() == plaintext
    customer_key = os.urandom(32)
    ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": customer_key}
    s3.put_object(Bucket="logged", Key="customer", Body=plaintext, **ssec)
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket="logged", Key="nothing here")
    presigned = server.client(signature_version="s3v4").generate_presigned_url(  # SSE-KMS: SigV4 only
        "get_object", Params={"Bucket": "logged", "Key": "by alice"})
    assert server.raw("GET", presigned, sign=False).status == 200
    # The bucket configurations that decide what is kept and who may read: versioning, Object Lock,
    # access logging (to a bucket whose policy lets the logging service write), CORS, tags.
    s3.put_bucket_versioning(Bucket="logged", VersioningConfiguration={"Status": "Enabled"})
    lock = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    s3.put_object_lock_configuration(Bucket="logged", ObjectLockConfiguration=lock)
    s3.create_bucket(Bucket="logs")
    s3.put_bucket_policy(Bucket="logs", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::logs/*"}]}))
    s3.put_bucket_logging(Bucket="logged", BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": "logs", "TargetPrefix": "logged/"}})
    s3.put_bucket_cors(Bucket="logged", CORSConfiguration={"CORSRules": [{
        "AllowedMethods": ["GET"], "AllowedOrigins": ["https://example.com"]}]})
    s3.delete_bucket_cors(Bucket="logged")
    s3.put_bucket_tagging(Bucket="logged", Tagging={"TagSet": [{"Key": "team", "Value": "vault"}]})
    s3.delete_bucket_tagging(Bucket="logged")
    s3.delete_bucket_tagging(Bucket="logged")  # nothing left to delete: no line
    assert value(scrape(server, token), "strongroom_s3_requests_total", operation="PutObject",
                 status="200") == 2
    server.stop()
    server.cli("root-key", "rotate")

    # The access log: one line per S3 request, with who, what and how it ended.
    access = lines_of(access_log)
    by_operation: dict[str, list[dict[str, object]]] = {}
    for line in access:
        by_operation.setdefault(str(line["operation"]), []).append(line)
        assert set(line) == {"time", "request_id", "remote", "principal", "operation", "bucket", "key",
                             "version_id", "status", "error_code", "bytes_in", "bytes_out", "duration_ms",
                             "sse", "kms_key_arn"}
    alice_put, root_put = by_operation["PutObject"]
    assert alice_put["principal"] == f"{account}{server_account(access)}:user/alice"
    assert (alice_put["bucket"], alice_put["key"], alice_put["status"]) == ("logged", "by alice", 200)
    assert alice_put["sse"] == "aws:kms" and alice_put["kms_key_arn"] == key_arn
    # The body as received: boto3 frames it (aws-chunked, with a checksum trailer).
    assert len(plaintext) <= int(alice_put["bytes_in"]) < 1000 and alice_put["error_code"] is None
    assert alice_put["request_id"] == put["ResponseMetadata"]["RequestId"]
    assert root_put["sse"] == "SSE-C" and str(root_put["principal"]).endswith(":root")
    missing = [line for line in by_operation["GetObject"] if line["status"] == 404]
    assert len(missing) == 1 and missing[0]["error_code"] == "NoSuchKey"
    assert sum(1 for line in by_operation["GetObject"] if line["status"] == 200) == 2
    assert by_operation["GetObject"][0]["bytes_out"] == len(plaintext)
    assert "PostService" in by_operation  # the KMS calls on the S3 port are requests too
    assert "/metrics" not in access_log.read_text()  # the scrape is not an S3 request

    # The server's own lines are JSON.
    own = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    assert own and all({"time", "level", "logger", "message"} <= set(line) for line in own)

    # The audit log: every change, who, what, before -> after, from the command line and the S3 port.
    audit = lines_of(audit_log)
    actions = [(line["source"], line["action"]) for line in audit]
    assert actions == [
        ("cli", "CreateUser"), ("cli", "UpdateAccessKey"), ("cli", "UpdateAccessKey"),
        ("cli", "PutUserPolicy"),
        ("s3", "PutBucketPolicy"), ("s3", "PutPublicAccessBlock"),
        ("kms", "CreateKey"), ("kms", "DisableKey"), ("kms", "EnableKey"), ("kms", "EnableKeyRotation"),
        ("kms", "RotateKeyOnDemand"), ("kms", "ScheduleKeyDeletion"), ("kms", "CancelKeyDeletion"),
        ("kms", "EnableKey"), ("s3", "PutBucketEncryption"),
        ("s3", "PutBucketVersioning"), ("s3", "PutObjectLockConfiguration"), ("s3", "PutBucketPolicy"),
        ("s3", "PutBucketLogging"), ("s3", "PutBucketCors"), ("s3", "DeleteBucketCors"),
        ("s3", "PutBucketTagging"), ("s3", "DeleteBucketTagging"),
        ("cli", "RotateRootKey"),
    ], actions
    created, disabled, enabled, attached = audit[:4]
    assert created["target"] == "user/alice" and created["before"] is None
    assert created["after"]["access_keys"] == {alice_access: "Active"}  # type: ignore[index]
    assert str(created["actor"]).startswith("local:")
    assert disabled["before"]["access_keys"] == {alice_access: "Active"}  # type: ignore[index]
    assert disabled["after"]["access_keys"] == {alice_access: "Inactive"}  # type: ignore[index]
    assert enabled["after"]["access_keys"] == {alice_access: "Active"}  # type: ignore[index]
    assert (attached["before"], attached["after"]) == (None, policy)
    put_policy = audit[4]
    assert str(put_policy["actor"]).endswith(":root") and put_policy["target"] == "arn:aws:s3:::logged"
    assert put_policy["before"]["policy"] is None  # type: ignore[index]
    assert put_policy["after"]["policy"] == bucket_policy  # type: ignore[index]
    disable = audit[7]
    assert disable["target"] == key_arn
    assert disable["before"]["state"] == "Enabled" and disable["after"]["state"] == "Disabled"  # type: ignore[index]
    rotated = audit[10]
    assert rotated["after"]["current_version"] == rotated["before"]["current_version"] + 1  # type: ignore[index]
    encryption = audit[14]
    assert key_arn in json.dumps(encryption["after"]) and encryption["before"] != encryption["after"]
    versioned, locked, _, logging_on, cors_on, cors_off, tagged, untagged = audit[15:23]
    for line in audit[15:23]:
        assert str(line["actor"]).endswith(":root"), line
    assert versioned["target"] == "arn:aws:s3:::logged"
    assert (versioned["before"], versioned["after"]) == ({"versioning": None},
                                                          {"versioning": {"Status": "Enabled"}})
    assert locked["before"] == {"object-lock": None}, locked
    assert locked["after"] == {"object-lock": {  # the stored form (object_lock.LockConfiguration)
        "enabled": True, "default": {"mode": "GOVERNANCE", "days": 1, "years": None}}}
    assert logging_on["before"] == {"logging": None}
    assert "logs" in json.dumps(logging_on["after"]) and "logged/" in json.dumps(logging_on["after"])
    assert cors_on["before"] == {"cors": None} and "https://example.com" in json.dumps(cors_on["after"])
    assert (cors_off["before"], cors_off["after"]) == (cors_on["after"], {"cors": None})
    assert tagged["before"] == {"tagging": None} and "vault" in json.dumps(tagged["after"])
    assert (untagged["before"], untagged["after"]) == (tagged["after"], {"tagging": None})
    root = audit[-1]
    assert root["before"]["key_ids"] != root["after"]["key_ids"]  # type: ignore[index]

    # No secret anywhere: the root and alice's secrets, the customer key, the token, the plaintext.
    root_secret = server.secret_key
    texts = [access_log.read_text(), audit_log.read_text(), server.log()]
    secrets_used = [root_secret, alice_secret, base64.b64encode(customer_key).decode(),
                    base64.b64encode(hashlib.md5(customer_key).digest()).decode(), customer_key.hex(),
                    token, plaintext.decode(), presigned.split("X-Amz-Signature=")[1].split("&")[0]]
    for text in texts:
        for secret in secrets_used:
            assert secret not in text


def server_account(access: list[dict[str, object]]) -> str:
    principal = next(str(line["principal"]) for line in access if str(line["principal"]).endswith(":root"))
    return principal.removeprefix("arn:aws:iam::").removesuffix(":root")


def test_the_access_log_goes_to_stderr_by_default_as_info(start_server: ServerFactory) -> None:
    default, quiet = start_server(), start_server("--log-level", "WARNING")
    for server in (default, quiet):
        server.client().list_buckets()
        server.stop()
    lines = [json.loads(line) for line in default.log().splitlines() if line.startswith("{")]
    assert [(line["operation"], line["status"]) for line in lines] == [("ListBuckets", 200)]
    assert '"operation"' not in quiet.log()


def test_a_change_the_audit_log_cannot_record_is_kept_and_logged(start_server: ServerFactory) -> None:
    server = start_server("--audit-log", "/dev/full")  # every write to it fails: ENOSPC
    server.expect_log_errors(r"the audit log /dev/full could not record (PutBucketPolicy|kms:CreateKey)")
    s3 = server.client()
    s3.create_bucket(Bucket="unaudited")
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*",
                         "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::unaudited"}]})
    s3.put_bucket_policy(Bucket="unaudited", Policy=policy)  # answered as it went: the policy is set
    assert json.loads(s3.get_bucket_policy(Bucket="unaudited")["Policy"]) == json.loads(policy)
    assert server.client("kms").create_key()["KeyMetadata"]["Enabled"]
    server.stop()
    log = server.log()
    assert "could not record PutBucketPolicy" in log and "could not record kms:CreateKey" in log
