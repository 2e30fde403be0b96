"""The vault's view of the KMS: S3 errors as AWS S3 reports them, and the S3 Bucket Key cache."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from strongroom.errors import S3Error
from strongroom.kms import adapter
from strongroom.kms.adapter import BuiltinBackend, KmsService, is_bucket_key_context, s3_error
from strongroom.kms.builtin import BuiltinKms
from strongroom.kms.errors import KmsError
from strongroom.kms.sealing import KmsKeyring
from tests.unit.conftest import KmsEngine

BUCKET_CTX = {"aws:s3:arn": "arn:aws:s3:::photos"}
OBJECT_CTX = {"aws:s3:arn": "arn:aws:s3:::photos/a.jpg"}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def parts(kms_engine: KmsEngine) -> Iterator[tuple[BuiltinKms, KmsService, Clock]]:
    store = kms_engine.open()
    kms = BuiltinKms(store, KmsKeyring([os.urandom(32)]), "111122223333", "us-east-1")
    clock = Clock()
    with ThreadPoolExecutor(4) as executor:
        yield kms, KmsService(BuiltinBackend(kms, executor), kms, clock=clock), clock
    store.close()


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_bucket_key_contexts() -> None:
    assert is_bucket_key_context(BUCKET_CTX)
    assert is_bucket_key_context({**BUCKET_CTX, "user": "ctx"})
    assert not is_bucket_key_context(OBJECT_CTX)
    assert not is_bucket_key_context({})


def test_object_keys_are_never_cached(parts: tuple[BuiltinKms, KmsService, Clock]) -> None:
    kms, service, _ = parts
    key = kms.create_key()
    first = run(service.generate_data_key(key.key_id, OBJECT_CTX))
    second = run(service.generate_data_key(key.key_id, OBJECT_CTX))
    assert first[0] != second[0] and service.calls == 2
    assert run(service.decrypt(first[1], OBJECT_CTX, first[2])) == first[0]
    assert service.calls == 3


def test_a_burst_of_bucket_key_puts_makes_one_call(parts: tuple[BuiltinKms, KmsService, Clock]) -> None:
    kms, service, clock = parts
    key = kms.create_key()

    async def burst() -> list[tuple[bytes, bytes, str]]:
        return list(
            await asyncio.gather(*(service.generate_data_key(key.key_id, BUCKET_CTX) for _ in range(50)))
        )

    results = run(burst())
    assert len({r[0] for r in results}) == 1 and service.calls == 1
    other = run(service.generate_data_key(key.key_id, {"aws:s3:arn": "arn:aws:s3:::other"}))
    assert other[0] != results[0][0] and service.calls == 2
    clock.now += adapter.BUCKET_KEY_TTL + 1
    renewed = run(service.generate_data_key(key.key_id, BUCKET_CTX))
    assert renewed[0] != results[0][0] and service.calls == 3


def test_bucket_key_uses_are_bounded(
    parts: tuple[BuiltinKms, KmsService, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    kms, service, _ = parts
    monkeypatch.setattr(adapter, "BUCKET_KEY_USES", 3)
    key = kms.create_key()
    for _ in range(7):
        run(service.generate_data_key(key.key_id, BUCKET_CTX))
    assert service.calls == 3


def test_a_disabled_key_stops_cached_bucket_keys(parts: tuple[BuiltinKms, KmsService, Clock]) -> None:
    kms, service, _ = parts
    key = kms.create_key()
    plaintext, blob, arn = run(service.generate_data_key(key.key_id, BUCKET_CTX))
    kms.disable(key.key_id)
    with pytest.raises(S3Error) as e:
        run(service.generate_data_key(key.key_id, BUCKET_CTX))
    assert (e.value.code, e.value.status) == ("KMS.DisabledException", 400)
    with pytest.raises(S3Error) as e:
        run(service.decrypt(blob, BUCKET_CTX, arn))
    assert e.value.code == "KMS.DisabledException"
    kms.enable(key.key_id)
    kms.schedule_deletion(key.key_id, 7)
    with pytest.raises(S3Error) as e:
        run(service.decrypt(blob, BUCKET_CTX, arn))
    assert e.value.code == "KMS.KMSInvalidStateException"


def test_aws_managed_key_for_s3(parts: tuple[BuiltinKms, KmsService, Clock]) -> None:
    kms, service, _ = parts
    plaintext, blob, arn = run(service.generate_data_key(None, OBJECT_CTX))
    assert arn == kms.arn(kms.resolve("alias/aws/s3").key_id)
    assert run(service.decrypt(blob, OBJECT_CTX, arn)) == plaintext


def test_unknown_keys_for_s3(parts: tuple[BuiltinKms, KmsService, Clock]) -> None:
    _, service, _ = parts
    with pytest.raises(S3Error) as e:
        run(service.generate_data_key("not-a-key", OBJECT_CTX))
    assert (e.value.code, e.value.status, e.value.message) == (
        "KMS.NotFoundException",
        400,
        "Invalid keyId 'not-a-key'",
    )


def test_error_mapping() -> None:
    assert s3_error(KmsError("AccessDeniedException", "User: x is not authorized")).code == "AccessDenied"
    assert s3_error(KmsError("AccessDeniedException", "m")).status == 403
    assert s3_error(KmsError("KMSInternalException", "", 500)).code == "InternalError"
    assert s3_error(KmsError("InvalidCiphertextException")).status == 500
    assert s3_error(KmsError("KMSInvalidStateException", "m")).code == "KMS.KMSInvalidStateException"


def test_reads_do_not_depend_on_the_recorded_arn(parts: tuple[BuiltinKms, KmsService, Clock]) -> None:
    # The blob names its key: an object stays readable after the deployment's region or account id changes.
    kms, service, _ = parts
    key = kms.create_key()
    plaintext, blob, _ = run(service.generate_data_key(key.key_id, OBJECT_CTX))
    old_arn = f"arn:aws:kms:eu-west-1:999999999999:key/{key.key_id}"
    assert run(service.decrypt(blob, OBJECT_CTX, old_arn)) == plaintext
