"""The lifecycle worker with a short day (`--lifecycle-day-seconds`), on SQLite and PostgreSQL: current
versions expire (removed on an unversioned bucket, under a delete marker on a versioned one), noncurrent
versions expire NoncurrentDays after they became noncurrent (NewerNoncurrentVersions kept), expired delete
markers go, old multipart uploads are aborted, each on the right "day" and not before; versions under
Object Lock retention or legal hold never go.

A "day" lasts DAY seconds and the worker runs every 0.2 s: a rule with Days=n acts at the first multiple
of DAY after creation + n*DAY (the x-amz-expiration header says when), and at most a round later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import new_bucket
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

DAY = 3.0
FLAGS = ("--lifecycle-day-seconds", str(DAY), "--lifecycle-interval", "0.2")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, start_module_server: ServerFactory) -> Iterator[RunningServer]:
    if request.param == "sqlite":
        yield start_module_server(*FLAGS)
        return
    with fresh_schema("lifecycleworker") as schema:
        url = with_search_path(POSTGRES_URL, schema)
        running = start_module_server(*FLAGS, env={"STRONGROOM_CATALOG": url})
        yield running
        running.stop()  # before its schema is dropped


def boundary_after(t: float, days: int) -> float:
    """When a rule with `days` acts on what started at `t` (the next "midnight" after t + days)."""
    return -(-(t + days * DAY) // DAY) * DAY


def wait_for(condition: Callable[[], bool], timeout: float = 4 * DAY) -> float:
    """Poll until `condition` holds; the time it first did."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return time.time()
        time.sleep(0.1)
    raise AssertionError("the lifecycle worker did not act in time")


def versions(s3, bucket: str) -> list[tuple[str, str, bool]]:  # type: ignore[no-untyped-def]
    """(key, version id, is a delete marker), newest first per key."""
    listed = s3.list_object_versions(Bucket=bucket)
    entries = [(v["Key"], v["VersionId"], False, v["LastModified"]) for v in listed.get("Versions", [])]
    entries += [(m["Key"], m["VersionId"], True, m["LastModified"]) for m in listed.get("DeleteMarkers", [])]
    entries.sort(key=lambda e: (e[0], -e[3].timestamp()))
    return [(k, v, m) for k, v, m, _ in entries]


def expiry_of(head: dict[str, object]) -> float:
    date = str(head["Expiration"]).split('"')[1]
    return parsedate_to_datetime(date).timestamp()


def put_rules(s3, bucket: str, *rules: dict[str, object]) -> None:  # type: ignore[no-untyped-def]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": list(rules)})


def test_current_versions_of_an_unversioned_bucket_go_on_their_day(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3, "lc-")
    put_rules(s3, bucket, {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
                           "Expiration": {"Days": 1}})
    s3.put_object(Bucket=bucket, Key="logs/a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="keep/b", Body=b"b")
    when = expiry_of(s3.head_object(Bucket=bucket, Key="logs/a"))
    assert when % DAY == 0
    if time.time() < when - 0.5:  # not before its day
        assert s3.head_object(Bucket=bucket, Key="logs/a")["ContentLength"] == 1
    gone = wait_for(lambda: "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="logs/"))
    assert gone >= when - 0.3  # the server's clock and ours are the same machine's
    assert s3.get_object(Bucket=bucket, Key="keep/b")["Body"].read() == b"b"
    assert [k for k, _, _ in versions(s3, bucket)] == ["keep/b"]  # removed, no marker


def test_a_versioned_key_expires_then_its_noncurrent_versions_then_its_marker(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3, "lc-")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    v2_put = s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    v2 = v2_put["VersionId"]
    v2_created = s3.head_object(Bucket=bucket, Key="k", VersionId=v2)["LastModified"].timestamp()
    put_rules(s3, bucket, {"ID": "all", "Status": "Enabled", "Filter": {"Prefix": ""},
                           "Expiration": {"Days": 1}, "NoncurrentVersionExpiration": {"NoncurrentDays": 2}})
    # Day 1 after v2: v2 expires under a delete marker; v1 (noncurrent since v2) stays until day 2.
    wait_for(lambda: versions(s3, bucket)[0][2])
    listed = versions(s3, bucket)
    assert [(v, m) for _, v, m in listed][1:] == [(v2, False), (v1, False)]
    assert time.time() < boundary_after(v2_created + 1, 2) + 0.5  # v1's day has not come yet
    # Day 2 after v2 was made: v1 goes; v2 (noncurrent since the marker) later; then the lone marker.
    wait_for(lambda: v1 not in [v for _, v, _ in versions(s3, bucket)])
    assert time.time() >= boundary_after(v2_created, 2) - 0.3
    wait_for(lambda: versions(s3, bucket) == [], timeout=6 * DAY)


def test_newer_noncurrent_versions_are_kept(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3, "lc-")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    made = [s3.put_object(Bucket=bucket, Key="k", Body=str(i).encode())["VersionId"] for i in range(5)]
    put_rules(s3, bucket, {"ID": "keep2", "Status": "Enabled", "Filter": {"Prefix": ""},
                           "NoncurrentVersionExpiration": {"NoncurrentDays": 1,
                                                           "NewerNoncurrentVersions": 2}})
    wait_for(lambda: len(versions(s3, bucket)) == 3)
    time.sleep(2 * DAY)  # and nothing more goes
    assert [v for _, v, _ in versions(s3, bucket)] == made[:1:-1]  # the current one and the 2 newest
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"4"


def test_locked_versions_never_go(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3, "lc-lock-")
    s3.delete_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    until = datetime.now(UTC) + timedelta(days=1)
    retained = s3.put_object(Bucket=bucket, Key="k", Body=b"retained", ObjectLockMode="COMPLIANCE",
                             ObjectLockRetainUntilDate=until)["VersionId"]
    held = s3.put_object(Bucket=bucket, Key="k", Body=b"held", ObjectLockLegalHoldStatus="ON")["VersionId"]
    free = s3.put_object(Bucket=bucket, Key="k", Body=b"free")["VersionId"]
    put_rules(s3, bucket, {"ID": "all", "Status": "Enabled", "Filter": {"Prefix": ""},
                           "Expiration": {"Days": 1}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})
    # The current version expires under a marker, then goes for good (it is not locked); the others stay.
    wait_for(lambda: free not in [v for _, v, _ in versions(s3, bucket)], timeout=6 * DAY)
    time.sleep(DAY)
    left = versions(s3, bucket)
    assert [(v, m) for _, v, m in left][1:] == [(held, False), (retained, False)]
    assert left[0][2]  # the marker stays: the key still has versions
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=retained)["Body"].read() == b"retained"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=held)["Body"].read() == b"held"


def test_old_multipart_uploads_are_aborted(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3, "lc-")
    put_rules(s3, bucket, {"ID": "uploads", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
                           "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}})
    doomed = s3.create_multipart_upload(Bucket=bucket, Key="tmp/big")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="tmp/big", UploadId=doomed, PartNumber=1, Body=b"x" * 100)
    kept = s3.create_multipart_upload(Bucket=bucket, Key="other/big")["UploadId"]
    started = time.time()

    def uploads() -> set[str]:
        return {u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])}

    gone = wait_for(lambda: doomed not in uploads())
    assert gone >= boundary_after(started - 1, 1) - 0.3
    assert uploads() == {kept}


@pytest.mark.postgres
def test_several_servers_on_one_postgresql_run_it_one_at_a_time(start_server: ServerFactory) -> None:
    """Three servers whose workers all try every 0.05 s: each expired key gets exactly one delete marker
    (two workers acting at once would both see the version current, and both put a marker over it)."""
    flags = ("--lifecycle-day-seconds", "1", "--lifecycle-interval", "0.05")
    with fresh_schema("lifecyclescale") as schema:
        first = start_server(*flags, env={"STRONGROOM_CATALOG": with_search_path(POSTGRES_URL, schema)})
        servers = [first, start_server(*flags, like=first), start_server(*flags, like=first)]
        s3 = first.client("s3")
        bucket = new_bucket(s3, "lc-scale-")
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        keys = [f"k{i:03d}" for i in range(60)]
        for key in keys:
            s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
        put_rules(s3, bucket, {"ID": "all", "Status": "Enabled", "Filter": {"Prefix": ""},
                               "Expiration": {"Days": 1}})
        wait_for(lambda: sum(m for _, _, m in versions(s3, bucket)) >= len(keys), timeout=10)
        time.sleep(1)  # more rounds of every server
        listed = s3.list_object_versions(Bucket=bucket)
        assert sorted(m["Key"] for m in listed["DeleteMarkers"]) == keys  # one marker per key, no more
        assert sorted(v["Key"] for v in listed["Versions"]) == keys  # and every version kept
        for running in servers:
            running.stop()  # before the schema is dropped


def test_filters_on_tags_and_size_select_what_expires(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3, "lc-")
    put_rules(s3, bucket, {"ID": "tagged-big", "Status": "Enabled",
                           "Filter": {"And": {"Prefix": "d/", "Tags": [{"Key": "tmp", "Value": "yes"}],
                                              "ObjectSizeGreaterThan": 3}},
                           "Expiration": {"Days": 1}})
    s3.put_object(Bucket=bucket, Key="d/goes", Body=b"12345", Tagging="tmp=yes")
    s3.put_object(Bucket=bucket, Key="d/small", Body=b"123", Tagging="tmp=yes")
    s3.put_object(Bucket=bucket, Key="d/untagged", Body=b"12345")
    s3.put_object(Bucket=bucket, Key="d/other-tag", Body=b"12345", Tagging="tmp=no")
    s3.put_object(Bucket=bucket, Key="e/goes-not", Body=b"12345", Tagging="tmp=yes")
    assert "Expiration" in s3.head_object(Bucket=bucket, Key="d/goes")
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="d/small")
    wait_for(lambda: "d/goes" not in [k for k, _, _ in versions(s3, bucket)])
    time.sleep(DAY)
    assert [k for k, _, _ in versions(s3, bucket)] == ["d/other-tag", "d/small", "d/untagged", "e/goes-not"]


def test_a_suspended_bucket_expires_under_a_null_marker(s3) -> None:  # type: ignore[no-untyped-def]
    bucket = new_bucket(s3, "lc-")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"versioned")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"null")
    put_rules(s3, bucket, {"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""},
                           "Expiration": {"Days": 1}})
    wait_for(lambda: versions(s3, bucket)[0][2])
    time.sleep(0.5)
    # The null version was replaced by the null marker; the versioned one stays (no noncurrent rule).
    assert [(v, m) for _, v, m in versions(s3, bucket)] == [("null", True), (kept, False)]
