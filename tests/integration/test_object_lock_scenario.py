"""A backup tool against a lock-enabled bucket, on SQLite and PostgreSQL: it enables Object Lock, writes its
backups under COMPLIANCE retention (SSE-KMS, one of them multipart), and then everything an attacker with
the tool's keys, or a script gone wrong, could try to destroy them is tried: delete by version id,
DeleteObjects, the bypass header without and with the permission, overwrites, a delete without version id,
suspending versioning, deleting the bucket, shortening the retention, a lifecycle rule, disabling or
deleting the KMS key, `aws s3 rm --recursive`. Every byte of every backup is read back intact at the end,
after the blob sweep has run many times with no grace at all.

restic (Debian's package, installed by `python3 dev.py test`) initialises a repository in such a bucket,
backs up to it and restores byte-identical; its test skips when restic is not on PATH.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_of, fails, new_user
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

LOCKED = {"Code": "AccessDenied", "Message": "Access Denied because object protected by object lock."}
RESTIC = shutil.which("restic")
# The sweep runs every 0.2 s and removes garbage at once: any byte a removal let go would be gone. The
# lifecycle worker runs as often, with a "day" of 0.1 s: a rule that expires everything acts at once.
SWEEP = ("--sweep-interval", "0.2", "--sweep-grace", "0.001", "--lifecycle-interval", "0.2",
         "--lifecycle-day-seconds", "0.1")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, start_module_server: ServerFactory) -> Iterator[RunningServer]:
    if request.param == "sqlite":
        yield start_module_server(*SWEEP)
        return
    with fresh_schema("lockscenario") as schema:
        url = with_search_path(POSTGRES_URL, schema)
        running = start_module_server(*SWEEP, env={"STRONGROOM_CATALOG": url})
        yield running
        running.stop()  # before its schema is dropped


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def policy_user(server: RunningServer, tmp_path: Path, actions: list[str]):  # type: ignore[no-untyped-def]
    name = "u" + secrets.token_hex(4)
    access, secret = new_user(server, name)
    document = tmp_path / f"{name}.json"
    document.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
    server.cli("policy", "attach", name, str(document), "--name", "p")
    return server.client("s3", access, secret)


def test_nothing_destroys_a_compliance_backup(server: RunningServer, tmp_path: Path) -> None:
    s3, kms = server.client("s3"), server.client("kms")
    bucket = "backup-" + secrets.token_hex(4)
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
    key_id = kms.create_key(Description="backups")["KeyMetadata"]["KeyId"]
    until = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    kept: dict[tuple[str, str], str] = {}  # (key, version id) -> sha256 of its bytes

    def backup(key: str, data: bytes, **extra: object) -> str:
        out = s3.put_object(Bucket=bucket, Key=key, Body=data, ServerSideEncryption="aws:kms",
                            SSEKMSKeyId=key_id, ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until,
                            **extra)
        kept[key, out["VersionId"]] = sha(data)
        return str(out["VersionId"])

    first = backup("snapshots/1", os.urandom(300_000))
    backup("index", b"index v1")
    big = os.urandom(6 * 1024 * 1024)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="packs/big", ServerSideEncryption="aws:kms",
                                        SSEKMSKeyId=key_id, ObjectLockMode="COMPLIANCE",
                                        ObjectLockRetainUntilDate=until)
    mib5 = 5 * 1024 * 1024
    parts = [s3.upload_part(Bucket=bucket, Key="packs/big", UploadId=upload["UploadId"], PartNumber=n + 1,
                            Body=big[n * mib5:(n + 1) * mib5])["ETag"] for n in range(2)]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="packs/big", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": e} for n, e in enumerate(parts)]})
    kept["packs/big", done["VersionId"]] = sha(big)
    # a version under the bucket's default retention only (no headers: COMPLIANCE, 1 day)
    plain = s3.put_object(Bucket=bucket, Key="plain", Body=b"default-retained")
    kept["plain", plain["VersionId"]] = sha(b"default-retained")

    # 1. delete by version id, as root, with and without the bypass header
    for (key, version_id) in kept:
        for bypass in (False, True):
            err = fails(s3.delete_object, Bucket=bucket, Key=key, VersionId=version_id,
                        BypassGovernanceRetention=bypass)
            assert {k: error_of(err)[k] for k in ("Code", "Message")} == LOCKED
    # 2. DeleteObjects: an Error per locked version, nothing deleted
    answer = s3.delete_objects(Bucket=bucket, BypassGovernanceRetention=True, Delete={
        "Objects": [{"Key": k, "VersionId": v} for k, v in kept]})
    assert answer.get("Deleted", []) == []
    assert sorted((e["Key"], e["VersionId"], e["Code"]) for e in answer["Errors"]) == sorted(
        (k, v, "AccessDenied") for k, v in kept)
    # 3. a user with every permission but the bypass, and one with it: COMPLIANCE holds for both
    for actions in (["s3:*"], ["s3:DeleteObjectVersion", "s3:BypassGovernanceRetention",
                               "s3:PutObjectRetention"]):
        user = policy_user(server, tmp_path, actions)
        err = fails(user.delete_object, Bucket=bucket, Key="snapshots/1", VersionId=first,
                    BypassGovernanceRetention=True)
        assert error_of(err)["Code"] == "AccessDenied"
        err = fails(user.put_object_retention, Bucket=bucket, Key="snapshots/1", VersionId=first,
                    BypassGovernanceRetention=True,
                    Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until + timedelta(days=1)})
        assert {k: error_of(err)[k] for k in ("Code", "Message")} == LOCKED
    # 4. shortened, removed: refused
    for retention in ({"Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(hours=1)}, {}):
        err = fails(s3.put_object_retention, Bucket=bucket, Key="index", Retention=retention,
                    BypassGovernanceRetention=True)
        assert error_of(err)["Code"] == "AccessDenied"
    # 5. overwrites and deletes without a version id only add versions and delete markers
    s3.put_object(Bucket=bucket, Key="index", Body=b"index v2 (ransomware)")
    marker = s3.delete_object(Bucket=bucket, Key="snapshots/1")
    assert marker["DeleteMarker"] is True
    server.aws("s3", "rm", f"s3://{bucket}", "--recursive")
    # 6. the bucket: versioning stays Enabled, the bucket stays, a lifecycle rule expiring every version
    #    after a day (0.1 s here) only adds delete markers: the final check runs after many of its rounds
    err = fails(s3.put_bucket_versioning, Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert error_of(err)["Code"] == "InvalidBucketState"
    assert error_of(fails(s3.delete_bucket, Bucket=bucket))["Code"] == "BucketNotEmpty"
    rule = {"Rules": [{"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": ""},
                       "Expiration": {"Days": 1}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=rule)
    # 7. crypto-shredding: the key can be neither disabled nor scheduled for deletion
    for call, kwargs in ((kms.schedule_key_deletion, {"PendingWindowInDays": 7}), (kms.disable_key, {})):
        assert fails(call, KeyId=key_id, **kwargs).response["Error"]["Code"] == "KMSInvalidStateException"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    # 8. a root-less attacker with the aws cli: the same answers
    refused = server.aws("s3api", "delete-object", "--bucket", bucket, "--key", "index", "--version-id",
                         next(v for k, v in kept if k == "index"), "--bypass-governance-retention",
                         check=False)
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr

    # Every byte of every backup, by version id, after the sweep has had many rounds.
    time.sleep(1.5)  # the sweep's and lifecycle's rounds (every 0.2 s, no grace) have come and gone
    for (key, version_id), digest in kept.items():
        got = s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)
        assert sha(got["Body"].read()) == digest, key
        assert got["ObjectLockMode"] == "COMPLIANCE"
    listed = s3.list_object_versions(Bucket=bucket)
    assert {(v["Key"], v["VersionId"]) for v in listed["Versions"]} >= set(kept)


def restic(server: RunningServer, repo: str, password_file: Path, *args: str,
           check: bool = True) -> subprocess.CompletedProcess[str]:
    assert RESTIC is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RESTIC_"))}
    env.update(AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret_key,
               AWS_DEFAULT_REGION="us-east-1", RESTIC_PASSWORD_FILE=str(password_file),
               RESTIC_REPOSITORY=f"s3:{server.endpoint}/{repo}")
    result = subprocess.run([RESTIC, "--no-cache", *args], env=env, capture_output=True, text=True,
                            timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"restic {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.mark.skipif(RESTIC is None,
                    reason="restic is not on PATH (`python3 dev.py test` installs it, as root)")
def test_restic_backs_up_to_a_locked_bucket_and_restores(server: RunningServer, tmp_path: Path) -> None:
    s3 = server.client("s3")
    repo = "restic-" + secrets.token_hex(4)
    s3.create_bucket(Bucket=repo, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=repo, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    source = tmp_path / "source"
    (source / "docs").mkdir(parents=True)
    files = {"docs/a.txt": b"alpha\n" * 1000, "b.bin": os.urandom(3 * 1024 * 1024), "empty": b""}
    for name, data in files.items():
        (source / name).write_bytes(data)
    password = tmp_path / "password"
    password.write_text("correct horse battery staple\n")
    restic(server, repo, password, "init")
    restic(server, repo, password, "backup", str(source))
    restic(server, repo, password, "check")
    target = tmp_path / "restored"
    restic(server, repo, password, "restore", "latest", "--target", str(target))
    restored_root = target / source.relative_to("/")
    for name, data in files.items():
        assert (restored_root / name).read_bytes() == data, name
    # what restic wrote is locked: its data cannot be deleted by version
    versions = s3.list_object_versions(Bucket=repo, Prefix="data/")["Versions"]
    assert versions
    err = fails(s3.delete_object, Bucket=repo, Key=versions[0]["Key"], VersionId=versions[0]["VersionId"])
    assert error_of(err)["Code"] == "AccessDenied"
