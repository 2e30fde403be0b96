"""A KMS key is deleted only when the database's own clock agrees its window has passed
(kms/store_sql.py), whatever the clock of the process asking: one 8 days ahead cannot cut a 7-day
window short."""

from __future__ import annotations

import os
import time

from strongroom.kms.builtin import BuiltinKms
from strongroom.kms.sealing import KmsKeyring
from tests.unit.conftest import KmsEngine

DAY = 86400.0


def kms_at(engine: KmsEngine, clock_offset: float) -> BuiltinKms:
    return BuiltinKms(engine.open(), KmsKeyring([os.urandom(32)]), "111122223333", "us-east-1", DAY,
                      lambda: time.time() + clock_offset)


def test_a_process_8_days_ahead_does_not_delete_a_key_with_7_days_left(kms_engine: KmsEngine) -> None:
    right = kms_at(kms_engine, 0.0)
    key = right.create_key()
    right.schedule_deletion(key.key_id, 7)
    ahead = kms_at(kms_engine, 8 * DAY)
    try:
        assert ahead.sweep() == []
        assert ahead.store.delete_expired(time.time() + 8 * DAY) == []
        assert ahead.resolve(key.key_id).state == "PendingDeletion"  # touched: still there
    finally:
        ahead.store.close()
    assert right.resolve(key.key_id).state == "PendingDeletion"
    right.store.close()


def test_a_key_whose_date_has_passed_on_both_clocks_is_deleted(kms_engine: KmsEngine) -> None:
    kms = kms_at(kms_engine, 0.0)
    key, kept = kms.create_key(), kms.create_key()
    kms.schedule_deletion(key.key_id, 7)
    kms.schedule_deletion(kept.key_id, 7)
    kms.store.update_key(key.key_id, lambda k: (k.with_(deletion_date=time.time() - 1), None))
    assert kms.sweep() == [key.key_id]
    assert kms.store.get_key(kept.key_id) is not None
    kms.store.close()
