"""Operating strongroom (issue 13): the probes, /metrics, and what they show of a real server.

The probes flip to 503 when the catalog file cannot be read or the disk is past the reserve, and back;
a scrape after a known set of requests shows their counts (one server, and --workers 2); the gauges of
stored objects come from the catalog without a scrape asking it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.factory import ServerFactory
from tests.integration.helpers import virtual_client
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: RunningServer, token: str | None = None) -> Samples:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = server.raw("GET", "/metrics", headers=headers, sign=False)
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(answer.body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


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


def test_metrics_behind_a_bearer_token(start_server: ServerFactory) -> None:
    token = "scrape-" + os.urandom(8).hex()
    server = start_server(env={"STRONGROOM_METRICS_TOKEN": token})
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {token}x"}):
        refused = server.raw("GET", "/metrics", headers=headers, sign=False)
        assert refused.status == 401 and refused.headers["www-authenticate"].startswith("Bearer ")
        assert b"strongroom_" not in refused.body
    assert server.raw("GET", "/", sign=False).status == 403  # an anonymous S3 request, counted
    assert value(scrape(server, token), "strongroom_s3_requests_total", operation="ListBuckets",
                 status="403") == 1
    assert token not in server.log()


def test_every_worker_counts_in_one_scrape(start_server: ServerFactory) -> None:
    server = start_server("--workers", "2")
    requests = 40
    for _ in range(requests):  # a new connection each: the kernel spreads them over both workers
        assert server.raw("GET", "/").status == 200
    for _ in range(3):  # whichever worker answers the scrape, it shows both workers' counts
        assert value(scrape(server), "strongroom_s3_requests_total", operation="ListBuckets",
                     status="200") == requests
