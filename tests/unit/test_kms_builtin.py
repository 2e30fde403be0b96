"""The built-in KMS over each real store (SQLite, PostgreSQL): names, the state machine, rotation,
deletion, sealing, and several instances (as several processes) sharing one store."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from strongroom.kms.builtin import BuiltinKms
from strongroom.kms.ciphertext import read_header
from strongroom.kms.errors import KmsError
from strongroom.kms.model import AWS_S3_ALIAS, KmsKey
from strongroom.kms.sealing import KmsKeyring, reseal_materials
from strongroom.kms.store import KmsStore
from tests.unit.conftest import KmsEngine

ACCOUNT, REGION, DAY = "111122223333", "us-east-1", 10.0
ROOT = os.urandom(32)
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def kms(kms_engine: KmsEngine, clock: Clock) -> Iterator[BuiltinKms]:
    store = kms_engine.open()
    yield BuiltinKms(store, KmsKeyring([ROOT]), ACCOUNT, REGION, DAY, clock)
    store.close()


@pytest.fixture
def other_stores(kms: BuiltinKms, kms_engine: KmsEngine) -> Iterator[list[KmsStore]]:
    """Four more instances on the same store, as other server processes (or the CLI) have."""
    stores = [kms_engine.open() for _ in range(4)]
    yield stores
    for store in stores:
        store.close()


def instance(store: KmsStore, clock: Clock) -> BuiltinKms:
    return BuiltinKms(store, KmsKeyring([ROOT]), ACCOUNT, REGION, DAY, clock)


def code(exc: pytest.ExceptionInfo[KmsError]) -> str:
    return exc.value.code


def test_every_name_of_a_key(kms: BuiltinKms) -> None:
    key = kms.create_key("d")
    kms.create_alias("alias/app", key.key_id)
    arn = kms.arn(key.key_id)
    for ref in (key.key_id, key.key_id.upper(), arn, "alias/app", kms.alias_arn("alias/app")):
        assert kms.resolve(ref).key_id == key.key_id


@pytest.mark.parametrize(
    "ref, message",
    [
        ("nope", "Invalid keyId 'nope'"),
        ("aws/s3", "Invalid keyId 'aws/s3'"),
        (
            "11111111-2222-3333-4444-555555555555",
            f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555' does not exist",
        ),
        (
            f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555",
            f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555' does not exist",
        ),
        (
            "arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555",
            "Invalid arn eu-west-1",
        ),
        ("alias/none", f"Alias arn:aws:kms:{REGION}:{ACCOUNT}:alias/none is not found."),
    ],
)
def test_unknown_keys(kms: BuiltinKms, ref: str, message: str) -> None:
    with pytest.raises(KmsError) as e:
        kms.resolve(ref)
    assert (e.value.code, e.value.message, e.value.status) == ("NotFoundException", message, 400)


def test_encrypt_decrypt_with_and_without_context(kms: BuiltinKms) -> None:
    key = kms.create_key()
    blob, used = kms.encrypt(key.key_id, b"plain", {"a": "1"})
    assert used.key_id == key.key_id
    plaintext, found, version = kms.decrypt(blob, {"a": "1"})
    assert (plaintext, found.key_id, version) == (b"plain", key.key_id, 1)
    with pytest.raises(KmsError) as e:
        kms.decrypt(blob, {})
    assert code(e) == "InvalidCiphertextException"
    blob2, _ = kms.encrypt(key.key_id, b"plain", {})
    assert kms.decrypt(blob2, {}, kms.arn(key.key_id))[0] == b"plain"


def test_decrypt_with_another_key_id_is_incorrect_key(kms: BuiltinKms) -> None:
    a, b = kms.create_key(), kms.create_key()
    blob, _ = kms.encrypt(a.key_id, b"x", {})
    with pytest.raises(KmsError) as e:
        kms.decrypt(blob, {}, b.key_id)
    assert code(e) == "IncorrectKeyException"


def test_garbage_and_forged_blobs(kms: BuiltinKms) -> None:
    key = kms.create_key()
    blob, _ = kms.encrypt(key.key_id, b"x", {})
    for bad in (b"junk", blob[:-1], blob[:17] + (99).to_bytes(4, "big") + blob[21:]):
        with pytest.raises(KmsError) as e:
            kms.decrypt(bad, {})
        assert code(e) == "InvalidCiphertextException"


def test_data_keys(kms: BuiltinKms) -> None:
    key = kms.create_key()
    plaintext, blob, _ = kms.generate_data_key(key.key_id, 16, {"c": "d"})
    assert len(plaintext) == 16
    assert kms.decrypt(blob, {"c": "d"})[0] == plaintext


def test_state_machine(kms: BuiltinKms, clock: Clock) -> None:
    key = kms.create_key()
    blob, _ = kms.encrypt(key.key_id, b"x", {})
    arn = kms.arn(key.key_id)
    kms.disable(key.key_id)
    kms.disable(key.key_id)  # idempotent, as on AWS
    for call in (
        lambda: kms.encrypt(key.key_id, b"x", {}),
        lambda: kms.decrypt(blob, {}),
        lambda: kms.generate_data_key(key.key_id, 32, {}),
    ):
        with pytest.raises(KmsError) as e:
            call()
        assert (e.value.code, e.value.message) == ("DisabledException", f"{arn} is disabled.")
    with pytest.raises(KmsError) as e:
        kms.cancel_deletion(key.key_id)
    assert (code(e), e.value.message) == ("KMSInvalidStateException", f"{arn} is not pending deletion.")
    pending = kms.schedule_deletion(key.key_id, 7)
    assert pending.state == "PendingDeletion" and pending.deletion_date == clock.now + 7 * DAY
    for call in (
        lambda: kms.decrypt(blob, {}),
        lambda: kms.enable(key.key_id),
        lambda: kms.disable(key.key_id),
        lambda: kms.schedule_deletion(key.key_id, 7),
    ):
        with pytest.raises(KmsError) as e:
            call()
        assert (code(e), e.value.message) == ("KMSInvalidStateException", f"{arn} is pending deletion.")
    assert kms.cancel_deletion(key.key_id).state == "Disabled"
    assert kms.resolve(key.key_id).deletion_date is None
    kms.enable(key.key_id)
    assert kms.decrypt(blob, {})[0] == b"x"


def test_deletion_window_expires(kms: BuiltinKms, clock: Clock) -> None:
    key = kms.create_key()
    kms.create_alias("alias/doomed", key.key_id)
    blob, _ = kms.encrypt(key.key_id, b"x", {})
    kms.schedule_deletion(key.key_id, 7)
    clock.now += 7 * DAY - 1
    assert kms.resolve(key.key_id).state == "PendingDeletion"
    clock.now += 2
    with pytest.raises(KmsError) as e:
        kms.decrypt(blob, {})
    assert code(e) == "NotFoundException"
    with pytest.raises(KmsError) as e:
        kms.resolve("alias/doomed")
    assert code(e) == "NotFoundException"
    assert kms.store.get_key(key.key_id) is None
    assert [m for m in kms.store.all_materials() if m.key_id == key.key_id] == []
    assert kms.store.list_aliases() == []


def test_sweep_deletes_expired_keys_only(kms: BuiltinKms, clock: Clock) -> None:
    doomed, kept, later = kms.create_key(), kms.create_key(), kms.create_key()
    kms.schedule_deletion(doomed.key_id, 7)
    kms.schedule_deletion(later.key_id, 30)
    clock.now += 8 * DAY
    assert kms.sweep() == [doomed.key_id]
    assert {k.key_id for k in kms.list_keys(100, None)[0]} == {kept.key_id, later.key_id}


def test_rotation_keeps_old_ciphertexts(kms: BuiltinKms) -> None:
    key = kms.create_key()
    old, _ = kms.encrypt(key.key_id, b"old", {})
    assert kms.rotate_on_demand(key.key_id).current_version == 2
    new, _ = kms.encrypt(key.key_id, b"new", {})
    assert (read_header(old).version, read_header(new).version) == (1, 2)
    assert kms.decrypt(old, {})[0] == b"old"
    assert kms.decrypt(new, {})[0] == b"new"


def test_automatic_rotation(kms: BuiltinKms, clock: Clock) -> None:
    key = kms.create_key()
    enabled = kms.set_rotation(key.key_id, True, 90)
    assert enabled.rotation_enabled and enabled.next_rotation == clock.now + 90 * DAY
    old, _ = kms.encrypt(key.key_id, b"x", {})
    clock.now += 90 * DAY
    new, _ = kms.encrypt(key.key_id, b"x", {})
    assert read_header(new).version == 2
    assert kms.resolve(key.key_id).next_rotation == clock.now + 90 * DAY
    assert kms.decrypt(old, {})[0] == b"x"
    assert not kms.set_rotation(key.key_id, False).rotation_enabled
    kms.disable(key.key_id)
    with pytest.raises(KmsError) as e:
        kms.set_rotation(key.key_id, True)
    assert code(e) == "DisabledException"
    with pytest.raises(KmsError) as e:
        kms.rotate_on_demand(key.key_id)
    assert code(e) == "DisabledException"


def test_aliases(kms: BuiltinKms) -> None:
    a, b = kms.create_key(), kms.create_key()
    kms.create_alias("alias/one", a.key_id)
    with pytest.raises(KmsError) as e:
        kms.create_alias("alias/one", b.key_id)
    assert (code(e), e.value.message) == (
        "AlreadyExistsException",
        f"An alias with the name arn:aws:kms:{REGION}:{ACCOUNT}:alias/one already exists",
    )
    kms.update_alias("alias/one", b.key_id)
    assert kms.resolve("alias/one").key_id == b.key_id
    kms.create_alias("alias/two", b.key_id)
    assert [x.name for x in kms.list_aliases(b.key_id, 100, None)[0]] == ["alias/one", "alias/two"]
    assert kms.list_aliases(a.key_id, 100, None)[0] == []
    kms.delete_alias("alias/one")
    with pytest.raises(KmsError) as e:
        kms.delete_alias("alias/one")
    assert code(e) == "NotFoundException"
    with pytest.raises(KmsError) as e:
        kms.update_alias("alias/one", a.key_id)
    assert code(e) == "NotFoundException"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("one", "ValidationException"),
        ("alias/aws/mine", "NotAuthorizedException"),
        ("alias/bad name", "ValidationException"),
        ("alias/a:b", "ValidationException"),
        ("alias/" + "x" * 251, "ValidationException"),
    ],
)
def test_bad_alias_names(kms: BuiltinKms, name: str, expected: str) -> None:
    key = kms.create_key()
    with pytest.raises(KmsError) as e:
        kms.create_alias(name, key.key_id)
    assert code(e) == expected
    assert kms.list_aliases(None, 100, None)[0] == []


def test_alias_targets(kms: BuiltinKms) -> None:
    key = kms.create_key()
    kms.create_alias("alias/one", key.key_id)
    with pytest.raises(KmsError) as e:
        kms.create_alias("alias/two", "alias/one")
    assert code(e) == "ValidationException"
    kms.disable(key.key_id)
    kms.create_alias("alias/disabled-ok", key.key_id)
    kms.schedule_deletion(key.key_id, 7)
    with pytest.raises(KmsError) as e:
        kms.create_alias("alias/three", key.key_id)
    assert code(e) == "KMSInvalidStateException"


def test_aws_managed_key(kms: BuiltinKms) -> None:
    plaintext, blob, key = kms.generate_data_key(None, 32, {"aws:s3:arn": "arn:aws:s3:::b/k"})
    assert key.manager == "AWS" and key.rotation_enabled
    assert kms.resolve(AWS_S3_ALIAS).key_id == key.key_id
    assert kms.generate_data_key(None, 32, {})[2].key_id == key.key_id  # created once
    assert kms.decrypt(blob, {"aws:s3:arn": "arn:aws:s3:::b/k"})[0] == plaintext
    for call in (
        lambda: kms.disable(key.key_id, USER),
        lambda: kms.schedule_deletion(key.key_id, 7, USER),
        lambda: kms.encrypt(AWS_S3_ALIAS, b"x", {}, USER),
        lambda: kms.decrypt(blob, {"aws:s3:arn": "arn:aws:s3:::b/k"}, principal=USER),
    ):
        with pytest.raises(KmsError) as e:
            call()
        assert code(e) == "AccessDeniedException"
        assert e.value.message.startswith(f"User: {USER} is not authorized to perform: kms:")
    for call in (lambda: kms.delete_alias(AWS_S3_ALIAS), lambda: kms.update_alias(AWS_S3_ALIAS, key.key_id)):
        with pytest.raises(KmsError) as e:
            call()
        assert code(e) == "NotAuthorizedException"
    assert kms.resolve(key.key_id).state == "Enabled"


def test_aws_managed_key_made_once_across_instances(kms: BuiltinKms, other_stores: list[KmsStore],
                                                    clock: Clock) -> None:
    other = instance(other_stores[0], clock)
    assert kms.aws_managed_key().key_id == other.aws_managed_key().key_id
    assert len(kms.list_keys(100, None)[0]) == 1


def test_aws_managed_key_made_once_when_instances_race(kms: BuiltinKms, other_stores: list[KmsStore],
                                                       clock: Clock) -> None:
    racers = [instance(store, clock) for store in other_stores]
    start = threading.Barrier(len(racers))

    def first_use(racer: BuiltinKms) -> str:
        start.wait()
        return racer.generate_data_key(None, 32, {})[2].key_id

    for _ in range(3):  # each round starts on an empty store
        with ThreadPoolExecutor(len(racers)) as pool:
            made = set(pool.map(first_use, racers))
        keys = kms.list_keys(100, None)[0]
        assert len(made) == 1 and [k.key_id for k in keys] == list(made)
        assert [m.version for m in kms.store.all_materials()] == [1]
        key_id = made.pop()  # deleted, with its alias, for the next round
        assert kms.store.update_key(key_id, lambda k: (k.with_(state="PendingDeletion", deletion_date=0.0),
                                                       None)) is not None
        assert kms.sweep() == [key_id]


def test_a_change_through_one_instance_is_seen_by_the_next_call_of_another(
        kms: BuiltinKms, other_stores: list[KmsStore], clock: Clock) -> None:
    other = instance(other_stores[0], clock)
    key = kms.create_key("shared")
    blob, _ = other.encrypt(key.key_id, b"x", {})
    kms.disable(key.key_id)
    with pytest.raises(KmsError) as e:
        other.decrypt(blob, {})
    assert code(e) == "DisabledException"
    other.enable(key.key_id)
    assert kms.decrypt(blob, {})[0] == b"x"
    kms.create_alias("alias/shared", key.key_id)
    assert other.resolve("alias/shared").key_id == key.key_id
    other.schedule_deletion(key.key_id, 7)
    clock.now += 7 * DAY + 1
    with pytest.raises(KmsError) as e:
        kms.resolve("alias/shared")
    assert code(e) == "NotFoundException"
    assert other.list_keys(100, None)[0] == []


def test_concurrent_rotations_lose_no_version(kms: BuiltinKms, other_stores: list[KmsStore],
                                             clock: Clock) -> None:
    # Each rotation reads the current version and writes the next: without the row lock two
    # instances would both write version n+1 (a lost update, or a duplicate material row).
    key = kms.create_key()
    racers = [instance(store, clock) for store in other_stores]
    start = threading.Barrier(len(racers))

    def rotate(racer: BuiltinKms) -> list[int]:
        start.wait()
        return [racer.rotate_on_demand(key.key_id).current_version for _ in range(5)]

    with ThreadPoolExecutor(len(racers)) as pool:
        versions = [v for vs in pool.map(rotate, racers) for v in vs]
    assert sorted(versions) == list(range(2, 22))
    assert kms.resolve(key.key_id).current_version == 21
    assert [m.version for m in kms.store.all_materials()] == list(range(1, 22))


def test_a_deletion_cancelled_while_a_sweep_waits_is_not_carried_out(
        kms: BuiltinKms, other_stores: list[KmsStore], clock: Clock) -> None:
    key = kms.create_key()
    kms.schedule_deletion(key.key_id, 7)
    clock.now += 7 * DAY + 1  # expired: a sweep starting now would delete it ...
    locked, finish = threading.Event(), threading.Event()

    def cancel(current: KmsKey) -> tuple[KmsKey, None]:
        locked.set()
        assert finish.wait(10)
        return current.with_(state="Disabled", deletion_date=None, pending_window_days=None), None

    with ThreadPoolExecutor(2) as pool:
        cancelled = pool.submit(kms.store.update_key, key.key_id, cancel)
        assert locked.wait(10)
        swept = pool.submit(other_stores[0].delete_expired, clock.now)  # ... but waits for the update
        time.sleep(0.3)  # time to reach the wait
        assert not swept.done()
        finish.set()
        assert cancelled.result(10) is not None
        assert swept.result(10) == []
    assert kms.resolve(key.key_id).state == "Disabled" and kms.sweep() == []
    assert kms.store.get_material(key.key_id, 1) is not None


def test_list_keys_pages(kms: BuiltinKms) -> None:
    made = sorted(kms.create_key().key_id for _ in range(5))
    first, marker = kms.list_keys(2, None)
    assert [k.key_id for k in first] == made[:2] and marker == made[1]
    second, marker = kms.list_keys(2, marker)
    third, end = kms.list_keys(2, marker)
    assert [k.key_id for k in second + third] == made[2:] and end is None


def test_material_is_stored_only_sealed(kms: BuiltinKms, kms_engine: KmsEngine) -> None:
    key = kms.create_key()
    record = kms.store.get_material(key.key_id, 1)
    assert record is not None
    material = kms.keyring.unseal(record)
    kms.store.close()  # SQLite: checkpoint the WAL into the file
    stored = kms_engine.stored()
    assert record.sealed in stored  # the check looks where the material is
    assert material not in stored and material.hex().encode() not in stored
    with pytest.raises(KmsError) as e:
        KmsKeyring([os.urandom(32)]).unseal(record)
    assert e.value.code == "KMSInternalException"


def test_material_bound_to_key_and_version(kms: BuiltinKms) -> None:
    a, b = kms.create_key(), kms.create_key()
    record = kms.store.get_material(a.key_id, 1)
    assert record is not None
    from dataclasses import replace

    with pytest.raises(KmsError):
        kms.keyring.unseal(replace(record, key_id=b.key_id))
    with pytest.raises(KmsError):
        kms.keyring.unseal(replace(record, version=2))


def test_reseal_under_a_new_root_key(kms: BuiltinKms) -> None:
    key = kms.create_key()
    kms.rotate_on_demand(key.key_id)
    blob, _ = kms.encrypt(key.key_id, b"x", {})
    old_blob = kms.encrypt(kms.create_key().key_id, b"y", {})[0]
    new_root = os.urandom(32)
    assert reseal_materials(kms.store, KmsKeyring([new_root, ROOT])) == 3
    assert reseal_materials(kms.store, KmsKeyring([new_root, ROOT])) == 0  # a re-run finds nothing left
    kms.keyring = KmsKeyring([new_root])  # the old root key is gone
    assert kms.decrypt(blob, {})[0] == b"x" and kms.decrypt(old_blob, {})[0] == b"y"


def test_key_material_is_read_once_and_never_outlives_its_key(kms: BuiltinKms, other_stores: list[KmsStore],
                                                              clock: Clock) -> None:
    key = kms.create_key()
    blob, _ = kms.encrypt(key.key_id, b"secret", {"a": "b"})
    reads = count_material_reads(kms.store)
    for _ in range(3):
        assert kms.decrypt(blob, {"a": "b"})[0] == b"secret"
    assert reads == []  # kept since the encrypt: each use of the key costs its record's read only
    # Another server disables the key, then schedules its deletion: the kept material serves neither.
    other = instance(other_stores[0], clock)
    other.disable(key.key_id)
    with pytest.raises(KmsError) as e:
        kms.decrypt(blob, {"a": "b"})
    assert code(e) == "DisabledException"
    other.enable(key.key_id)
    other.schedule_deletion(key.key_id, 7)
    clock.now += 8 * DAY
    with pytest.raises(KmsError) as e:
        kms.decrypt(blob, {"a": "b"})
    assert code(e) == "NotFoundException"
    # A new version (rotation) is read from the store once, then kept too.
    fresh = kms.create_key()
    kms.rotate_on_demand(fresh.key_id)
    new_blob, _ = kms.encrypt(fresh.key_id, b"v2", {})
    other_instance = instance(other_stores[1], clock)
    other_reads = count_material_reads(other_stores[1])
    assert other_instance.decrypt(new_blob, {})[0] == b"v2"
    assert other_instance.decrypt(new_blob, {})[0] == b"v2"
    assert other_reads == [(fresh.key_id, 2)]


def count_material_reads(store: KmsStore) -> list[tuple[str, int]]:
    """The (key id, version) of every material `store` is asked for from now on."""
    reads: list[tuple[str, int]] = []
    real = store.get_material

    def counted(key_id: str, version: int):  # type: ignore[no-untyped-def]
        reads.append((key_id, version))
        return real(key_id, version)

    store.get_material = counted  # type: ignore[method-assign]
    return reads
