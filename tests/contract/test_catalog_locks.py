"""Object Lock in the catalog, on every engine: a locked version survives every way of removing it (by id,
an overwritten or deleted `null` version), GOVERNANCE gives way to the bypass and COMPLIANCE to nothing,
retention changes follow the rules on the database's clock, multipart uploads carry their lock to the
completed version, and a KMS key is known to protect while a version it seals is locked."""

from __future__ import annotations

import dataclasses

import pytest

from strongroom.catalog.api import Catalog, NeedsTransaction
from strongroom.catalog.model import Bucket, ObjectVersion, Sealing, Upload
from strongroom.errors import S3Error
from strongroom.object_lock import COMPLIANCE, GOVERNANCE, Lock, Retention
from tests.contract.test_catalog import OWNER, version

KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000001"
SSE_KMS = Sealing("aws:kms", kms_key_arn=KEY_ARN)
LOCKED = "Access Denied because object protected by object lock."


@pytest.fixture
def bucket(catalog: Catalog) -> str:
    catalog.create_bucket(Bucket("b", OWNER, "us-east-1", 1.0))
    return "b"


def v(key: str, tag: str, *, null: bool = False, kms: bool = False) -> ObjectVersion:
    found = version("b", key, tag, version_id=f"{tag}-{key}".ljust(32, "x"), null_version=null)
    return dataclasses.replace(found, sealing=SSE_KMS) if kms else found


def denied(call, *args, **kwargs) -> S3Error:  # type: ignore[no-untyped-def]
    with pytest.raises(S3Error) as caught:
        call(*args, **kwargs)
    assert (caught.value.code, caught.value.status) == ("AccessDenied", 403)
    return caught.value


def test_a_locked_version_cannot_be_deleted_by_id(catalog: Catalog, bucket: str) -> None:
    now = catalog.now()
    gov, comp, held = v("k", "gov"), v("k", "comp"), v("k", "held")
    catalog.put_object(gov, lock=Lock(Retention(GOVERNANCE, now + 3600)))
    catalog.put_object(comp, lock=Lock(Retention(COMPLIANCE, now + 3600)))
    catalog.put_object(held, lock=Lock(None, legal_hold=True))
    assert catalog.get_lock(comp.version_id) == Lock(Retention(COMPLIANCE, now + 3600))
    for target in (gov, comp, held):
        assert denied(catalog.delete_version, bucket, "k", target.version_id).message == LOCKED
    for target in (comp, held):
        denied(catalog.delete_version, bucket, "k", target.version_id, bypass_governance=True)
    assert all(catalog.get_version(bucket, "k", t.version_id) is not None for t in (gov, comp, held))
    assert catalog.expired_blobs("garbage", -60.0, 100) == []
    # GOVERNANCE gives way to the bypass; the lock goes with the version
    assert catalog.delete_version(bucket, "k", gov.version_id, bypass_governance=True) is not None
    assert catalog.get_lock(gov.version_id) is None
    # a legal hold removed, the version can go
    catalog.put_legal_hold(bucket, "k", held.version_id, False)
    assert catalog.delete_version(bucket, "k", held.version_id) is not None


def test_a_passed_retention_protects_nothing(catalog: Catalog, bucket: str) -> None:
    old = v("k", "old")
    catalog.put_object(old, lock=Lock(Retention(COMPLIANCE, catalog.now() - 1)))
    assert catalog.delete_version(bucket, "k", old.version_id) is not None


def test_a_locked_null_version_is_neither_overwritten_nor_deleted(catalog: Catalog, bucket: str) -> None:
    null = v("k", "null", null=True)
    catalog.put_object(null)
    catalog.put_retention(bucket, "k", "null", Retention(COMPLIANCE, catalog.now() + 3600))
    denied(catalog.put_object, v("k", "over", null=True))
    denied(catalog.delete_object, bucket, "k")
    assert catalog.get_object(bucket, "k").version_id == null.version_id  # type: ignore[union-attr]
    # a new version over it (an Enabled bucket) and a delete marker are fine: the null version stays
    catalog.put_object(v("k", "new"))
    assert catalog.get_version(bucket, "k", "null") is not None


def test_a_put_as_one_statement_leaves_a_locked_null_version_to_the_transaction(catalog: Catalog,
                                                                              bucket: str) -> None:
    # The statement the server sends from its event loop (put_statement) does not decide Object Lock: it
    # stops, having done nothing, and put_object's transaction decides (and refuses).
    null = v("k", "null", null=True)
    catalog.put_object(null)
    over = v("k", "over", null=True)
    assert catalog.put_statement(over, lock=Lock(legal_hold=True)) is None  # a lock to write: never one
    assert catalog.put_statement(over, if_match=null.etag) is None  # If-Match: never one
    statement = catalog.put_statement(over)
    if statement is None:  # SQLite: its writes join a group commit
        return
    catalog.put_legal_hold(bucket, "k", "null", True)
    with pytest.raises(NeedsTransaction):
        catalog.fetch(statement)
    denied(catalog.put_object, over)
    assert catalog.get_object(bucket, "k").version_id == null.version_id  # type: ignore[union-attr]
    catalog.put_legal_hold(bucket, "k", "null", False)
    assert catalog.fetch(statement).version_id == null.version_id  # type: ignore[union-attr]  # replaced
    assert catalog.get_object(bucket, "k").version_id == over.version_id  # type: ignore[union-attr]


def test_retention_changes_follow_the_rules(catalog: Catalog, bucket: str) -> None:
    target = v("k", "one")
    catalog.put_object(target)
    now = catalog.now()
    catalog.put_retention(bucket, "k", None, Retention(GOVERNANCE, now + 100))
    catalog.put_retention(bucket, "k", None, Retention(GOVERNANCE, now + 200))  # extend
    denied(catalog.put_retention, bucket, "k", None, Retention(GOVERNANCE, now + 50))
    catalog.put_retention(bucket, "k", None, Retention(GOVERNANCE, now + 50), bypass_governance=True)
    catalog.put_retention(bucket, "k", target.version_id, Retention(COMPLIANCE, now + 300))
    for new in (None, Retention(COMPLIANCE, now + 250), Retention(GOVERNANCE, now + 900)):
        denied(catalog.put_retention, bucket, "k", None, new, bypass_governance=True)
    assert catalog.get_lock(target.version_id) == Lock(Retention(COMPLIANCE, now + 300))
    with pytest.raises(S3Error) as past:
        catalog.put_retention(bucket, "k", None, Retention(COMPLIANCE, catalog.now() - 10))
    assert past.value.code == "InvalidArgument"
    assert catalog.put_retention(bucket, "missing", None, None) is None


def test_an_upload_carries_its_lock_to_its_version(catalog: Catalog, bucket: str) -> None:
    now = catalog.now()
    upload = Upload("u1", "b", "mp", 1.0, OWNER, SSE_KMS)
    catalog.create_upload(upload, lock=Lock(Retention(COMPLIANCE, now + 3600), legal_hold=True))
    done = dataclasses.replace(v("mp", "done", kms=True), pieces=())
    catalog.complete_upload("u1", done, lock=Lock(Retention(GOVERNANCE, now + 60)))  # the pending one wins
    assert catalog.get_lock(done.version_id) == Lock(Retention(COMPLIANCE, now + 3600), legal_hold=True)
    assert catalog.kms_key_protects(KEY_ARN)
    # without a pending lock, the default given at completion applies; an aborted upload's lock is gone
    catalog.create_upload(Upload("u2", "b", "mp2", 1.0, OWNER, SSE_S3_SEALING))
    second = dataclasses.replace(v("mp2", "second"), pieces=())
    catalog.complete_upload("u2", second, lock=Lock(Retention(GOVERNANCE, now + 60)))
    assert catalog.get_lock(second.version_id) == Lock(Retention(GOVERNANCE, now + 60))
    catalog.create_upload(Upload("u3", "b", "mp3", 1.0, OWNER, SSE_KMS), lock=Lock(None, True))
    catalog.abort_upload("u3")
    assert catalog.get_lock("upload:u3") is None


SSE_S3_SEALING = Sealing("AES256")


def test_kms_key_protects_while_a_version_it_seals_is_locked(catalog: Catalog, bucket: str) -> None:
    assert not catalog.kms_key_protects(KEY_ARN)
    sealed = v("k", "sealed", kms=True)
    catalog.put_object(sealed, lock=Lock(Retention(GOVERNANCE, catalog.now() + 3600)))
    assert catalog.kms_key_protects(KEY_ARN)
    assert not catalog.kms_key_protects(KEY_ARN + "0")
    # re-keyed under another key (UpdateObjectEncryption): the lock follows the version's key
    other = KEY_ARN.replace("0001", "0002")
    assert catalog.rekey_version(dataclasses.replace(sealed, sealing=Sealing("aws:kms", kms_key_arn=other)))
    assert not catalog.kms_key_protects(KEY_ARN)
    assert catalog.kms_key_protects(other)
    catalog.put_retention(bucket, "k", None, None, bypass_governance=True)
    assert not catalog.kms_key_protects(other)
