"""What the vault sees of a KMS (`service.KeyService`): data keys for SSE-KMS, and the S3 Bucket Key cache.

The backend is the built-in KMS (run on the executor) or an external one
(external.py). KMS errors reach S3 callers as AWS S3 reports them:
`KMS.<code>` with the KMS's status (NotFoundException, DisabledException,
KMSInvalidStateException: 400), AccessDeniedException as `AccessDenied` 403. A KMS
that fails or cannot be reached is an InternalError: nothing is stored without a
data key, nothing is read without the KMS.

S3 Bucket Keys: a data key generated for the context {"aws:s3:arn": "arn:aws:s3:::bucket"}
is kept per (bucket, requested key, context) for BUCKET_KEY_TTL seconds and
BUCKET_KEY_USES uses, so a burst of PUTs makes one GenerateDataKey. Before each
reuse the key's state is checked, so a disabled key stops new PUTs at once.
Decrypt is never cached: every read asks the KMS, which checks the key's state.
`calls` counts GenerateDataKey and Decrypt calls made to the backend.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from strongroom import metrics
from strongroom.config import Config
from strongroom.errors import S3Error, internal_error
from strongroom.kms.builtin import BuiltinKms
from strongroom.kms.errors import KmsError
from strongroom.kms.external import ExternalKms, KmsUnavailable
from strongroom.kms.model import AWS_S3_ALIAS
from strongroom.kms.sealing import KmsKeyring
from strongroom.kms.service import KeyService
from strongroom.kms.store import open_kms_store

log = logging.getLogger("strongroom.kms")

T = TypeVar("T")
DataKey = tuple[bytes, bytes, str]  # (plaintext data key, ciphertext blob, key ARN)
DATA_KEY_BYTES = 32
BUCKET_KEY_TTL = 300.0  # seconds a bucket-level data key is reused
BUCKET_KEY_USES = 10_000  # and at most this many times
BUCKET_KEY_ENTRIES = 1024  # bounded memory: least recently used entries go first
S3_ARN = "aws:s3:arn"


@dataclass(slots=True)
class _BucketKey:
    plaintext: bytes = field(repr=False)
    blob: bytes = field(repr=False)
    arn: str
    expires: float
    uses_left: int


class BuiltinBackend:
    """The built-in KMS seen from the event loop: each call runs on the executor."""

    def __init__(self, kms: BuiltinKms, executor: Executor) -> None:
        self.kms, self.executor = kms, executor

    async def _run(self, operation: str, fn: Callable[..., T], *args: Any) -> T:
        start, outcome = time.perf_counter(), "ok"
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)
        except KmsError as e:
            outcome = e.code
            raise
        except Exception:
            outcome = "InternalError"
            raise
        finally:
            metrics.KMS_REQUESTS.labels(operation, outcome).inc()
            metrics.KMS_DURATION.labels(operation).observe(time.perf_counter() - start)

    async def generate_data_key(self, key_id: str | None, context: dict[str, str]) -> DataKey:
        plaintext, blob, key = await self._run("GenerateDataKey", self.kms.generate_data_key, key_id,
                                               DATA_KEY_BYTES, context)
        return plaintext, blob, self.kms.arn(key.key_id)

    async def decrypt(self, blob: bytes, context: dict[str, str], key_arn: str) -> bytes:
        # The blob names (and authenticates) its key; the recorded ARN is not needed, so objects stay
        # readable if the deployment's region or account id is changed later.
        plaintext, _, _ = await self._run("Decrypt", self.kms.decrypt, blob, context, None)
        return plaintext

    async def check_usable(self, key_arn: str) -> None:
        await self._run("DescribeKey", self.kms.check_usable, key_arn)

    async def ping(self) -> None:
        """For the readiness probe: the KMS's store answers."""
        await self._run("ListKeys", self.kms.store.list_keys, "", 1)

    async def sweep(self) -> None:
        await self._run("Sweep", self.kms.sweep)

    async def close(self) -> None:
        self.kms.store.close()


class ExternalBackend:
    def __init__(self, client: ExternalKms) -> None:
        self.client = client

    async def generate_data_key(self, key_id: str | None, context: dict[str, str]) -> DataKey:
        return await self.client.generate_data_key(key_id or AWS_S3_ALIAS, context)

    async def decrypt(self, blob: bytes, context: dict[str, str], key_arn: str) -> bytes:
        return await self.client.decrypt(blob, context, key_arn)

    async def check_usable(self, key_arn: str) -> None:
        await self.client.check_usable(key_arn)

    async def ping(self) -> None:
        await self.client.call("ListKeys", {"Limit": 1}, quiet=True)

    async def sweep(self) -> None:
        return None

    async def close(self) -> None:
        await self.client.close()


def s3_error(err: KmsError) -> S3Error:
    """A KMS error as S3 reports it to its own callers."""
    if err.code == "AccessDeniedException":
        return S3Error("AccessDenied", 403, err.message or "Access Denied")
    if err.status >= 500 or err.code in ("InvalidCiphertextException", "IncorrectKeyException"):
        # The KMS failed, or refused a ciphertext strongroom stored itself: not the client's doing.
        log.error("the KMS failed: %s %s", err.code, err.message)
        return internal_error()
    return S3Error(f"KMS.{err.code}", err.status, err.message)


def is_bucket_key_context(context: dict[str, str]) -> bool:
    """S3 asks for a bucket-level key with the bucket's ARN (no key part) as aws:s3:arn."""
    arn = context.get(S3_ARN, "")
    return arn.startswith("arn:aws:s3:::") and "/" not in arn[len("arn:aws:s3:::"):]


class KmsService(KeyService):
    def __init__(self, backend: BuiltinBackend | ExternalBackend, builtin: BuiltinKms | None = None,
                 sweep_interval: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 ready: Callable[[], bool] = lambda: True) -> None:
        self.backend, self.builtin = backend, builtin
        self.sweep_interval, self.clock = sweep_interval, clock
        self.ready = ready  # the deletion sweep waits while the process is not ready (its clock is off)
        self.calls = 0
        self._bucket_keys: OrderedDict[tuple[str | None, str], _BucketKey] = OrderedDict()
        self._locks: dict[tuple[str | None, str], asyncio.Lock] = {}
        self._sweeper: asyncio.Task[None] | None = None

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except KmsError as e:
            raise s3_error(e) from None
        except KmsUnavailable as e:
            log.error("SSE-KMS request refused: %s", e)
            raise internal_error() from None

    async def _generate(self, key_id: str | None, context: dict[str, str]) -> DataKey:
        self.calls += 1
        log.debug("KMS GenerateDataKey #%d for %s", self.calls, key_id or AWS_S3_ALIAS)
        result: DataKey = await self._call(self.backend.generate_data_key(key_id, context))
        return result

    async def generate_data_key(self, key_id: str | None, context: dict[str, str]) -> DataKey:
        if not is_bucket_key_context(context):
            return await self._generate(key_id, context)
        cache_key = (key_id, json.dumps(context, sort_keys=True))
        lock = self._locks.setdefault(cache_key, asyncio.Lock())
        async with lock:  # one GenerateDataKey per bucket key, however many PUTs arrive at once
            entry = self._bucket_keys.get(cache_key)
            if entry is not None and entry.expires > self.clock() and entry.uses_left > 0:
                try:
                    await self._call(self.backend.check_usable(entry.arn))
                except S3Error:
                    self._bucket_keys.pop(cache_key, None)
                    raise
                entry.uses_left -= 1
                metrics.KMS_CACHE_HITS.inc()
                self._bucket_keys.move_to_end(cache_key)
                return entry.plaintext, entry.blob, entry.arn
            plaintext, blob, arn = await self._generate(key_id, context)
            self._bucket_keys[cache_key] = _BucketKey(plaintext, blob, arn, self.clock() + BUCKET_KEY_TTL,
                                                      BUCKET_KEY_USES - 1)
            self._bucket_keys.move_to_end(cache_key)
            while len(self._bucket_keys) > BUCKET_KEY_ENTRIES:
                old, _ = self._bucket_keys.popitem(last=False)
                self._locks.pop(old, None)
            return plaintext, blob, arn

    async def decrypt(self, blob: bytes, context: dict[str, str], key_arn: str) -> bytes:
        self.calls += 1
        log.debug("KMS Decrypt #%d for %s", self.calls, key_arn)
        result: bytes = await self._call(self.backend.decrypt(blob, context, key_arn))
        return result

    async def ping(self) -> None:
        """The readiness probe's question: does the KMS (built-in or external) answer? Raises if not."""
        await self.backend.ping()

    def forget_bucket_keys(self) -> None:
        self._bucket_keys.clear()

    # --- life cycle (aiohttp on_startup / on_cleanup) ------------------------------------------------

    async def start(self, _app: Any = None) -> None:
        if self.builtin is not None and self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            try:
                if self.ready():
                    await self.backend.sweep()
            except Exception:
                log.exception("the KMS deletion sweep failed")
            await asyncio.sleep(self.sweep_interval)

    async def close(self, _app: Any = None) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        self._bucket_keys.clear()
        await self.backend.close()


def build_key_service(config: Config, account_id: str, executor: Executor,
                      clock: Callable[[], float] = time.time, ready: Callable[[], bool] = lambda: True,
                      protects: Callable[[str], bool] = lambda arn: False) -> KmsService:
    """The KMS of this process: an external endpoint when configured, else the built-in KMS, whose dates
    follow `clock` (the catalog's time, clock.py), whose deletion sweep runs only while `ready()`, and
    which keeps usable every key that `protects` (object versions under Object Lock: BuiltinKms). An
    external KMS is not ours to refuse: its keys' deletion is its own business (README, security model)."""
    if config.kms_endpoint:
        if not (config.kms_access_key and config.kms_secret_key):
            raise SystemExit("strongroom: --kms-endpoint needs --kms-access-key and --kms-secret-key")
        client = ExternalKms(config.kms_endpoint, config.kms_access_key, config.kms_secret_key,
                             config.kms_region or config.region)
        log.info("SSE-KMS uses the external KMS at %s", config.kms_endpoint)
        return KmsService(ExternalBackend(client))
    store = open_kms_store(config)
    kms = BuiltinKms(store, KmsKeyring(config.root_keys), account_id, config.region,
                     config.kms_key_deletion_window_unit, clock, protects)
    interval = min(60.0, max(1.0, config.kms_key_deletion_window_unit))
    return KmsService(BuiltinBackend(kms, executor), kms, sweep_interval=interval, ready=ready)
