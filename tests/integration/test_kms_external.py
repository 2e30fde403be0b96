"""SSE-KMS with an external AWS-KMS-compatible endpoint: a real second process (moto_server) as the KMS."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_code, free_port, status_of
from tests.integration.scrapes import scrape, value
from tests.integration.server import RunningServer

MOTO_KEYS = {"aws_access_key_id": "moto-access", "aws_secret_access_key": "moto-secret"}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    moto = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=15)


@pytest.fixture(scope="module")
def moto_kms(moto_endpoint: str):
    return boto3.client("kms", endpoint_url=moto_endpoint, region_name="us-east-1", **MOTO_KEYS)


def external_server(start: ServerFactory, endpoint: str) -> RunningServer:
    # the access key as a flag, the secret from the environment: both ways are read
    return start(
        "--kms-endpoint",
        endpoint,
        "--kms-access-key",
        "moto-access",
        env={"STRONGROOM_KMS_SECRET_KEY": "moto-secret"},
    )


@pytest.fixture(scope="module")
def server(start_module_server: ServerFactory, moto_endpoint: str) -> RunningServer:
    return external_server(start_module_server, moto_endpoint)


def test_sse_kms_round_trip_through_the_external_kms(
    server: RunningServer, moto_kms, s3, bucket: str, moto_endpoint: str
) -> None:
    key = moto_kms.create_key(Description="external")["KeyMetadata"]
    body = b"kept under an external key " * 1000
    put = s3.put_object(
        Bucket=bucket, Key="obj", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"]
    )
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms", key["Arn"])
    got = s3.get_object(Bucket=bucket, Key="obj")
    assert (got["Body"].read(), got["SSEKMSKeyId"]) == (body, key["Arn"])
    assert s3.get_object(Bucket=bucket, Key="obj", Range="bytes=5-20")["Body"].read() == body[5:21]
    on_disk = b"".join(p.read_bytes() for p in server.data_dir.rglob("*") if p.is_file())
    assert b"kept under an external key" not in on_disk
    # strongroom verify asks the same external KMS for the data key, given the same options as serve
    report = json.loads(server.cli("verify", "--json", "--bucket", bucket, "--kms-endpoint", moto_endpoint,
                                   "--kms-access-key", "moto-access").stdout)
    assert [(g["key"], g["objects"], g["verified"]) for g in report["groups"]] == [(key["Arn"], 1, 1)]


def test_bucket_keys_and_the_default_key(moto_kms, s3, bucket: str) -> None:
    key = moto_kms.create_key()["KeyMetadata"]
    for name in ("a", "b"):
        s3.put_object(
            Bucket=bucket,
            Key=name,
            Body=name.encode(),
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=key["Arn"],
            BucketKeyEnabled=True,
        )
    assert [s3.get_object(Bucket=bucket, Key=n)["Body"].read() for n in ("a", "b")] == [b"a", b"b"]
    s3.put_object(Bucket=bucket, Key="default", Body=b"aws/s3", ServerSideEncryption="aws:kms")
    default = s3.get_object(Bucket=bucket, Key="default")
    assert default["Body"].read() == b"aws/s3"
    assert default["SSEKMSKeyId"] == moto_kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["Arn"]


def test_external_kms_errors_reach_s3_callers(moto_kms, s3, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.put_object(
            Bucket=bucket,
            Key="k",
            Body=b"x",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId="11111111-2222-3333-4444-555555555555",
        )
    assert (error_code(e.value), status_of(e.value)) == ("KMS.NotFoundException", 400)
    key = moto_kms.create_key()["KeyMetadata"]
    s3.put_object(
        Bucket=bucket,
        Key="bk",
        Body=b"x",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key["Arn"],
        BucketKeyEnabled=True,
    )
    moto_kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as e:  # the cached bucket key is not used once the key is disabled
        s3.put_object(
            Bucket=bucket,
            Key="bk2",
            Body=b"x",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=key["Arn"],
            BucketKeyEnabled=True,
        )
    assert (error_code(e.value), status_of(e.value)) == ("KMS.DisabledException", 400)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="bk2")
    assert status_of(e.value) == 404


def test_calls_to_the_external_kms_are_counted_and_probed(server: RunningServer, s3, bucket: str) -> None:
    """Issue 13: every call to the external KMS is in the metrics, and readiness asks it."""
    before = scrape(server)
    s3.put_object(Bucket=bucket, Key="counted", Body=b"x", ServerSideEncryption="aws:kms")
    assert s3.get_object(Bucket=bucket, Key="counted")["Body"].read() == b"x"
    with pytest.raises(ClientError):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId="11111111-2222-3333-4444-555555555555")
    ready = server.raw("GET", "/health/ready", sign=False)
    assert (ready.status, json.loads(ready.body)) == (200, {"status": "ready"})
    after = scrape(server)

    def more(operation: str, outcome: str) -> float:
        name = "strongroom_kms_requests_total"
        return value(after, name, operation=operation, outcome=outcome) - value(
            before, name, operation=operation, outcome=outcome)

    assert more("GenerateDataKey", "ok") == 1 and more("Decrypt", "ok") == 1
    assert more("GenerateDataKey", "NotFoundException") == 1
    assert more("ListKeys", "ok") >= 1  # the readiness check's question


def test_the_built_in_kms_api_is_off(server: RunningServer) -> None:
    with pytest.raises(ClientError) as e:
        server.client("kms").create_key()
    assert error_code(e.value) == "UnsupportedOperationException"


def test_an_unreachable_kms_fails_closed(start_server: ServerFactory) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    running = external_server(start_server, dead)
    running.expect_log_errors(
        r"KMS GenerateDataKey at \S+ failed", r"did not answer GenerateDataKey", r": InternalError$"
    )
    try:
        s3 = running.client("s3", retries={"max_attempts": 1, "mode": "standard"})
        s3.create_bucket(Bucket="fail-closed")
        with pytest.raises(ClientError) as e:
            s3.put_object(
                Bucket="fail-closed",
                Key="k",
                Body=b"x",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId="11111111-2222-3333-4444-555555555555",
            )
        assert (error_code(e.value), status_of(e.value)) == ("InternalError", 500)
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket="fail-closed", Key="k")
        assert status_of(e.value) == 404
        s3.put_object(Bucket="fail-closed", Key="sse-s3", Body=b"still works")
        assert s3.get_object(Bucket="fail-closed", Key="sse-s3")["Body"].read() == b"still works"
    finally:
        running.stop()
    assert "did not answer GenerateDataKey" in running.log()


def test_objects_cannot_be_read_while_the_kms_is_down(server: RunningServer, moto_kms, bucket: str) -> None:
    key = moto_kms.create_key()["KeyMetadata"]
    server.client("s3").put_object(
        Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"]
    )
    down = server.restart(
        "--kms-endpoint", f"http://127.0.0.1:{free_port()}", "--kms-access-key", "moto-access"
    )
    down.expect_log_errors(r"KMS Decrypt at \S+ failed", r"did not answer Decrypt", r": InternalError$")
    try:
        s3 = down.client("s3", retries={"max_attempts": 1, "mode": "standard"})
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=bucket, Key="k")
        assert (error_code(e.value), status_of(e.value)) == ("InternalError", 500)
    finally:
        down.stop()

