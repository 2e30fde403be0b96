"""One clock for a deployment: servers whose clock is shifted (libfaketime, Debian's `faketime`) against
a PostgreSQL catalog, whose time is the one that counts (clock.py).

`python3 dev.py test` installs faketime (dev.py, SYSTEM_PACKAGES); without it these tests skip.
"""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from botocore.exceptions import ClientError

from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_code, new_bucket
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

pytestmark = pytest.mark.postgres

DAY = 86400.0


def libfaketime() -> str:
    """The preload library of Debian's faketime; skips the test when it is not installed."""
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if shutil.which("faketime") is None or not found:
        pytest.skip("faketime is not installed (`python3 dev.py test` installs it with apt-get, as root)")
    return found[0]


def shifted(spec: str) -> dict[str, str]:
    """The environment that runs a process with its clock shifted by `spec` (e.g. "+8d")."""
    return {"LD_PRELOAD": libfaketime(), "FAKETIME": spec}


@pytest.fixture
def catalog_url() -> Iterator[str]:
    with fresh_schema("clock") as schema:
        yield with_search_path(POSTGRES_URL, schema)


@pytest.fixture
def start(catalog_url: str, start_server: ServerFactory) -> ServerFactory:
    """`start_server`, whose servers stop before the catalog's schema is dropped."""
    return start_server


@pytest.fixture
def first(start: ServerFactory, catalog_url: str) -> RunningServer:
    """A server with the right clock on a PostgreSQL catalog: the deployment the others join."""
    return start(env={"STRONGROOM_CATALOG": catalog_url})


def test_a_server_two_hours_ahead_refuses_to_start_saying_both_times(first: RunningServer) -> None:
    libfaketime()
    started = subprocess.run(
        ["faketime", "-f", "+2h", sys.executable, "-m", "strongroom", "serve", "--port", "0"],
        env=first.env, capture_output=True, text=True, timeout=60,
    )
    assert started.returncode != 0
    message = started.stderr
    assert "refusing to start" in message and "--max-clock-skew 300 s" in message
    assert "this server's clock reads" in message and "the catalog's" in message
    assert re.search(r"\+7[12]\d\d\.\d s apart", message), message  # how far apart: about 2 h
    # the one that started normally was not disturbed
    assert first.client().list_buckets()["Buckets"] == []


def test_a_kms_key_is_not_deleted_early_by_a_server_whose_clock_is_8_days_ahead(
        start: ServerFactory, first: RunningServer, catalog_url: str) -> None:
    kms = first.client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    scheduled = kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)["DeletionDate"].timestamp()
    assert abs(scheduled - (time.time() + 7 * DAY)) < 120
    # 8 days ahead: it refuses to start ...
    with pytest.raises(RuntimeError, match="refusing to start"):
        start(like=first, env=shifted("+8d"))
    # ... and even when let start (a bound of 10 days), it runs on the catalog's clock: its sweep (at
    # start, and on ListKeys) and its reads leave the key pending, and its own dates are the catalog's.
    ahead = start("--max-clock-skew", str(10 * DAY), like=first, env=shifted("+8d"))
    kms_ahead = ahead.client("kms")
    assert key in [k["KeyId"] for k in kms_ahead.list_keys()["Keys"]]
    described = kms_ahead.describe_key(KeyId=key)["KeyMetadata"]
    assert described["KeyState"] == "PendingDeletion"
    assert described["DeletionDate"].timestamp() == pytest.approx(scheduled, abs=1)
    other = kms_ahead.create_key()["KeyMetadata"]["KeyId"]
    when = kms_ahead.schedule_key_deletion(KeyId=other, PendingWindowInDays=7)["DeletionDate"].timestamp()
    assert abs(when - (time.time() + 7 * DAY)) < 120  # not 15 days from now
    s3 = ahead.client()  # SigV4 dates are checked on the catalog's clock too: the request is accepted
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    modified = s3.head_object(Bucket=bucket, Key="k")["LastModified"].timestamp()
    assert abs(modified - time.time()) < 120  # Last-Modified from the one clock, not 8 days ahead
    assert first.client("kms").describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"


def test_the_sweep_compares_in_the_database_when_the_stored_date_passes(
        first: RunningServer, catalog_url: str) -> None:
    kms = first.client("kms")
    doomed, kept = (kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(2))
    for key in (doomed, kept):
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    with psycopg.connect(catalog_url, autocommit=True) as conn:  # the window of one has run out
        conn.execute("UPDATE kms_keys SET deletion_date = extract(epoch FROM clock_timestamp()) - 1 "
                     "WHERE key_id = %s", (doomed,))
    listed = [k["KeyId"] for k in kms.list_keys()["Keys"]]  # ListKeys sweeps first
    assert doomed not in listed and kept in listed
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId=doomed)
    assert error_code(e.value) == "NotFoundException"


def test_a_server_that_drifts_past_the_bound_answers_503_and_says_why(
        start: ServerFactory, first: RunningServer, tmp_path: Path) -> None:
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    env = {"LD_PRELOAD": libfaketime(), "FAKETIME_TIMESTAMP_FILE": str(offset), "FAKETIME_NO_CACHE": "1"}
    drifting = start("--heartbeat-interval", "0.5", like=first, env=env)
    drifting.expect_log_errors("not ready")
    s3 = drifting.client(retries={"max_attempts": 1, "mode": "standard"})
    bucket = new_bucket(s3)
    offset.write_text("+2h\n")  # the machine's clock jumps two hours ahead
    deadline = time.monotonic() + 20
    while True:
        try:
            s3.head_bucket(Bucket=bucket)
        except ClientError as e:
            status = e.response["ResponseMetadata"]["HTTPStatusCode"]
            if status == 503:
                break
            # Until its next heartbeat measures the jump, the server judges signatures by its own
            # (now wrong) clock: RequestTimeTooSkewed, a refusal too, never a write on a wrong date.
            assert status == 403, e.response
        assert time.monotonic() < deadline, "the server never turned not-ready"
        time.sleep(0.2)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert error_code(e.value) == "ServiceUnavailable"
    assert "clock" in e.value.response["Error"]["Message"]
    log = drifting.log()
    assert "not ready: this server's clock reads" in log and "beyond --max-clock-skew 300 s" in log
    assert first.client().head_bucket(Bucket=bucket)  # the others serve on
    # The clock set back before the teardown stops the server: libfaketime shifts the monotonic clock
    # too, so the waits of its stop (the thread joins of its pool's close) would end two hours from now,
    # and the teardown would wait its 15 s, then kill it.
    offset.write_text("+0\n")
