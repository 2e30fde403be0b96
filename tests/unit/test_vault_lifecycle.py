"""The vault's lifecycle on a real SQLite catalog and blob directory, without HTTP: the one write
sequence (new KEK, write, own, commit, discard the replaced), conditional writes, the KMS checks,
copies, multipart uploads and deletes."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from strongroom.blobs import BlobStore
from strongroom.catalog.api import Catalog, CatalogConflict
from strongroom.catalog.model import Bucket
from strongroom.catalog.sealer import MetadataSealer
from strongroom.catalog.sqlite import SqliteCatalog
from strongroom.db.database import OneStatement
from strongroom.errors import S3Error
from strongroom.kms.service import KeyService
from strongroom.vault import BlobSweeper, Conditions, Encryption, NewObject, PartsChanged, RootKeyring, Vault

T = TypeVar("T")
ARN = "arn:aws:kms:us-east-1:111122223333:key/k"
BIG = 200_000  # over the 64 KiB kept inline: a blob file


class FakeKms(KeyService):
    async def generate_data_key(
        self, key_id: str | None, context: dict[str, str]
    ) -> tuple[bytes, bytes, str]:
        return b"D" * 32, b"blob", ARN

    async def decrypt(self, blob: bytes, context: dict[str, str], key_arn: str) -> bytes:
        return b"D" * 32


class Calls:
    """Catalog calls off the loop, as the server runs them (CatalogCalls)."""

    def __init__(self, executor: ThreadPoolExecutor, catalog: Catalog) -> None:
        self.executor, self.catalog = executor, catalog

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, lambda: fn(*args, **kwargs))

    write = read

    async def point(self, read: OneStatement[T]) -> T:
        return await self.read(self.catalog.fetch, read)

    single_write = point


class FailingDeletes(BlobStore):
    """A blob store whose deletes fail as a sick disk or a stale NFS handle makes them fail."""

    def delete(self, blob_id: str) -> None:
        raise OSError(errno.EIO, "Input/output error")


def make_vault(tmp_path: Path, blobs: type[BlobStore] = BlobStore) -> tuple[Vault, ThreadPoolExecutor]:
    root_key = os.urandom(32)
    catalog = SqliteCatalog.open(tmp_path / "catalog.sqlite3", MetadataSealer.of([root_key]))
    catalog.create_bucket(Bucket("b", "owner", "us-east-1", 0.0))
    executor = ThreadPoolExecutor(4)
    keyring = RootKeyring([root_key])
    vault = Vault(catalog, Calls(executor, catalog), blobs(tmp_path / "blobs"), keyring, FakeKms(), executor)
    return vault, executor


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    made, executor = make_vault(tmp_path)
    yield made
    executor.shutdown()
    made.catalog.close()


async def _body(data: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(data), 65536):
        yield data[i : i + 65536]


class Checks:
    def __init__(self, refuse: bool = False) -> None:
        self.calls: list[tuple[str, str | None]] = []
        self.contexts: list[dict[str, str]] = []
        self.refuse = refuse

    async def __call__(self, action: str, key_arn: str | None, context: Mapping[str, str]) -> None:
        self.calls.append((action, key_arn))
        self.contexts.append(dict(context))
        if self.refuse:
            raise S3Error("AccessDenied", 403, "Access Denied")


def _blobs(vault: Vault) -> list[Path]:
    return [p for p in vault.blobs.root.rglob("*") if p.is_file()]


async def _read(vault: Vault, bucket: str, key: str, customer_key: bytes | None = None) -> bytes:
    version = await vault.calls.read(vault.catalog.get_object, bucket, key)
    opened = await vault.open(version, customer_key, kms_check=Checks())
    return b"".join([c async for c in opened.read(0, version.size)])


def test_put_replace_read_delete(vault: Vault) -> None:
    first, second = os.urandom(BIG), os.urandom(BIG)
    target = NewObject("b", "k", "owner")

    async def run() -> None:
        await vault.put(
            target, _body(first), Encryption("AES256"), kms_check=Checks(), size_hint=BIG, acl="{}"
        )
        assert len(_blobs(vault)) == 1
        version = await vault.put(
            target, _body(second), Encryption("AES256"), kms_check=Checks(), size_hint=BIG
        )
        # The replaced version's blob stays (a reader may have looked it up) and is recorded garbage,
        # in the commit's transaction; the sweep removes it once the grace period has passed.
        assert len(_blobs(vault)) == 2
        # A grace of -1 s: records made this very millisecond count too (the catalog's clock compares
        # strictly, so with 0 a fast machine saw none: this test was flaky).
        assert vault.catalog.expired_blobs("pending", -1.0, 10) == []
        (old,) = vault.catalog.expired_blobs("garbage", -1.0, 10)
        sweeper = BlobSweeper(vault.catalog, vault.blobs, interval=60.0, grace=3600.0)
        assert sweeper.round() == 0 and len(_blobs(vault)) == 2  # within the grace period
        sweeper.grace = -1.0
        assert sweeper.round() == 1
        assert [p.name for p in _blobs(vault)] == [version.pieces[0].blob_id] != [old]
        assert await _read(vault, "b", "k") == second
        assert version.etag == hashlib.md5(second).hexdigest()
        await vault.delete("b", "k")
        assert await vault.calls.read(vault.catalog.get_object, "b", "k") is None
        assert sweeper.round() == 1 and _blobs(vault) == []
        assert vault.catalog.expired_blobs("garbage", -1.0, 10) == []

    asyncio.run(run())


def test_an_overwrite_that_committed_survives_a_failing_delete_of_what_it_replaced(tmp_path: Path) -> None:
    """Issue 14: the commit succeeded, so the request succeeds and the new object reads back; the
    replaced blob stays as an orphan for the sweep (it used to take the new blob with it)."""
    vault, executor = make_vault(tmp_path, FailingDeletes)
    first, second = os.urandom(BIG), os.urandom(BIG)
    target = NewObject("b", "k", "owner")

    async def run() -> None:
        await vault.put(target, _body(first), Encryption("AES256"), kms_check=Checks(), size_hint=BIG)
        await vault.put(target, _body(second), Encryption("AES256"), kms_check=Checks(), size_hint=BIG)
        assert await _read(vault, "b", "k") == second
        assert len(_blobs(vault)) == 2  # the new one, and the replaced one left for the sweep
        await vault.delete("b", "k")  # the delete is committed too, whatever the disk says
        assert await vault.calls.read(vault.catalog.get_object, "b", "k") is None

    try:
        asyncio.run(run())
    finally:
        executor.shutdown()
        vault.catalog.close()


def test_the_acl_is_stored_with_the_version(vault: Vault) -> None:
    async def run() -> None:
        version = await vault.put(
            NewObject("b", "k", "owner"),
            _body(b"x"),
            Encryption("AES256"),
            kms_check=Checks(),
            size_hint=1,
            acl='{"grants": []}',
        )
        assert await vault.calls.read(vault.catalog.get_object_acl, version.version_id) == '{"grants": []}'

    asyncio.run(run())


def test_conditional_writes_fail_as_s3_fails_them_and_keep_nothing(vault: Vault) -> None:
    target = NewObject("b", "k", "owner")

    async def put(conditions: Conditions) -> None:
        await vault.put(
            target,
            _body(os.urandom(BIG)),
            Encryption("AES256"),
            kms_check=Checks(),
            size_hint=BIG,
            conditions=conditions,
        )

    async def run() -> None:
        with pytest.raises(S3Error) as caught:
            await put(Conditions(if_match="abc"))
        assert caught.value.code == "NoSuchKey"
        await put(Conditions(if_none_match=True))
        with pytest.raises(S3Error) as caught:
            await put(Conditions(if_none_match=True))
        assert caught.value.code == "PreconditionFailed"
        with pytest.raises(S3Error) as caught:
            await put(Conditions(if_match="abc"))
        assert caught.value.code == "PreconditionFailed"
        assert len(_blobs(vault)) == 1
        # The refused writes deleted their blobs and forgot their pending records at once.
        assert vault.catalog.expired_blobs("pending", 0.0, 10) == []

    asyncio.run(run())


def test_kms_checks_come_before_anything_is_stored(vault: Vault) -> None:
    async def run() -> None:
        refused = Checks(refuse=True)
        with pytest.raises(S3Error):
            await vault.put(
                NewObject("b", "k", "owner"),
                _body(b"x" * BIG),
                Encryption("aws:kms"),
                kms_check=refused,
                size_hint=BIG,
            )
        assert refused.calls == [("kms:GenerateDataKey", ARN)] and _blobs(vault) == []
        checks = Checks()
        version = await vault.put(
            NewObject("b", "k", "owner"),
            _body(b"x" * BIG),
            Encryption("aws:kms"),
            kms_check=checks,
            size_hint=BIG,
        )
        opened = await vault.open(version, None, kms_check=checks)
        assert checks.calls == [("kms:GenerateDataKey", ARN), ("kms:Decrypt", ARN)]
        assert checks.contexts == [{"aws:s3:arn": "arn:aws:s3:::b/k"}] * 2  # kms:EncryptionContext:*
        assert b"".join([c async for c in opened.read(10, 20)]) == b"x" * 10
        with pytest.raises(S3Error) as caught:
            await vault.open(version, None, kms_check=Checks(refuse=True))
        assert caught.value.code == "AccessDenied"

    asyncio.run(run())


def test_copy_re_encrypts_under_a_new_key(vault: Vault) -> None:
    data = os.urandom(BIG)
    customer = os.urandom(32)

    async def run() -> None:
        source = await vault.put(
            NewObject("b", "src", "owner"),
            _body(data),
            Encryption("AES256"),
            kms_check=Checks(),
            size_hint=BIG,
        )
        opened = await vault.open(source, None, kms_check=Checks())
        copy = await vault.copy(
            opened,
            NewObject("b", "dst", "owner"),
            Encryption("SSE-C", customer_key=customer),
            kms_check=Checks(),
        )
        assert copy.sealing.algorithm == "SSE-C"
        assert await _read(vault, "b", "dst", customer) == data
        with pytest.raises(S3Error) as caught:
            await _read(vault, "b", "dst", os.urandom(32))
        assert caught.value.code == "AccessDenied"

    asyncio.run(run())


def test_a_multipart_upload(vault: Vault) -> None:
    parts = [os.urandom(BIG), os.urandom(1000)]

    async def run() -> None:
        upload = await vault.create_upload(
            NewObject("b", "k", "owner"), Encryption("AES256"), kms_check=Checks()
        )
        replaced = await vault.put_part(upload, 1, _body(b"old"), customer_key=None, kms_check=Checks(),
                                        size_hint=3)
        for number, data in enumerate(parts, 1):
            await vault.put_part(upload, number, _body(data), customer_key=None, kms_check=Checks(),
                                 size_hint=len(data))
        stored = await vault.parts(upload)
        assert [p.piece.part_number for p in stored] == [1, 2]
        assert replaced.piece not in [p.piece for p in stored]
        version = await vault.complete(
            upload, [p.piece for p in stored], etag="e-2", checksums={}, checksum_type=None,
            kms_check=Checks(),
        )
        assert version.version_id == upload.upload_id
        assert await _read(vault, "b", "k") == b"".join(parts)
        with pytest.raises(S3Error) as caught:
            await vault.abort(upload)
        assert caught.value.code == "NoSuchUpload"

    asyncio.run(run())


def test_complete_reports_a_lost_race(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    async def run() -> None:
        upload = await vault.create_upload(
            NewObject("b", "k", "owner"), Encryption("AES256"), kms_check=Checks()
        )
        await vault.put_part(upload, 1, _body(b"x"), customer_key=None, kms_check=Checks(), size_hint=1)
        stored = await vault.parts(upload)

        def conflict(*args: Any, **kwargs: Any) -> Any:
            raise CatalogConflict()

        monkeypatch.setattr(vault.catalog, "complete_upload", conflict)
        with pytest.raises(PartsChanged):
            await vault.complete(
                upload, [p.piece for p in stored], etag="e-1", checksums={}, checksum_type=None,
                kms_check=Checks(),
            )

    asyncio.run(run())


class SlowCommits(Calls):
    """Calls whose writes (the commits) start on the thread at once but take `delay` to finish: a request
    cancelled meanwhile (a server's shutdown deadline) leaves the commit running, as on the server."""

    def __init__(self, executor: ThreadPoolExecutor, catalog: Catalog, delay: float) -> None:
        super().__init__(executor, catalog)
        self.delay, self.started = delay, asyncio.Event()

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:  # type: ignore[override]
        if getattr(fn, "__name__", "") not in ("put_object", "put_part"):
            return await super().write(fn, *args, **kwargs)  # e.g. the pending record, before the blob

        loop = asyncio.get_running_loop()

        def slow() -> T:
            loop.call_soon_threadsafe(self.started.set)  # running: a cancellation no longer stops it
            done = fn(*args, **kwargs)
            time.sleep(self.delay)
            return done

        return await loop.run_in_executor(self.executor, slow)


def test_a_commit_cut_short_keeps_its_blob_for_whatever_landed(tmp_path: Path) -> None:
    vault, executor = make_vault(tmp_path)
    calls = SlowCommits(executor, vault.catalog, 0.3)
    vault.calls = calls
    data = os.urandom(BIG)

    async def cut_short(start: Any) -> None:
        calls.started.clear()
        task = asyncio.ensure_future(start())
        await calls.started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.5)  # the commit on its thread has landed by now

    async def run() -> None:
        # A PUT: the version committed; its blob must not have been deleted as a failed write's.
        await cut_short(lambda: vault.put(NewObject("b", "k", "owner"), _body(data), Encryption("AES256"),
                                          kms_check=Checks(), size_hint=BIG))
        calls.delay = 0.0
        assert await _read(vault, "b", "k") == data
        # A part likewise: Complete finds it whole.
        upload = await vault.create_upload(NewObject("b", "m", "owner"), Encryption("AES256"),
                                           kms_check=Checks())
        calls.delay = 0.3
        await cut_short(lambda: vault.put_part(upload, 1, _body(data), customer_key=None, kms_check=Checks(),
                                               size_hint=BIG))
        calls.delay = 0.0
        stored = await vault.parts(upload)
        await vault.complete(upload, [p.piece for p in stored], etag="e-1", checksums={}, checksum_type=None,
                             kms_check=Checks())
        assert await _read(vault, "b", "m") == data
        # Nothing is left pending: the commits removed the records, so the sweep has nothing to take.
        assert vault.catalog.expired_blobs("pending", -1.0, 10) == []

    try:
        asyncio.run(run())
    finally:
        executor.shutdown()
        vault.catalog.close()
