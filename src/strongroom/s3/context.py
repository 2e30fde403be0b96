"""What a handler gets: the request, the resolved operation, who is asking, and the services."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from aiohttp import web
from multidict import CIMultiDictProxy, MultiDict

from strongroom.audit import AuditLog
from strongroom.blobs import BlobStore
from strongroom.catalog.api import Catalog
from strongroom.catalog.model import AccessKey, Bucket, User
from strongroom.clock import Clock
from strongroom.config import Config
from strongroom.db.database import DatabaseBusy, OneStatement
from strongroom.db.loop_pool import LoopPool
from strongroom.logs import AccessLog, ServerAccessLogBuffer
from strongroom.policy import Policy
from strongroom.readiness import Readiness
from strongroom.s3.access.state import BucketState
from strongroom.s3.access.write_acls import NewBucketAccess
from strongroom.s3.routing import Operation
from strongroom.sigv4 import ParsedAuth, SigningContext
from strongroom.vault import RootKeyring, Vault

T = TypeVar("T")


@dataclass(slots=True)
class Services:
    """Everything a request may use; built once per process by `create_app`."""

    config: Config
    catalog: Catalog
    blobs: BlobStore
    keyring: RootKeyring
    executor: Executor
    account_id: str
    kms: Any = None  # the KMS backend, once configured
    inline_reads: bool = False  # point reads on the event loop (set for the SQLite catalog)
    # SQLite listings (CPU-bound decoding under the GIL) on one thread of their own: four at once on
    # the shared pool cost twice the CPU of one at a time (188 vs 277 pages/s, bench list-100k-c4).
    lister: Executor | None = None
    # PostgreSQL: the catalog's calls run on as many threads as the process's pool has connections
    # (app.py says why), and one still queued after config.db_pool_timeout is dropped: DatabaseBusy.
    db_executor: Executor | None = None
    # PostgreSQL: the event loop's own connections, for single statements (db/loop_pool.py says why).
    loop_db: LoopPool | None = None
    clock: Clock = field(default_factory=Clock)  # the catalog's time (clock.py): dates of writes, policies
    readiness: Readiness = field(default_factory=Readiness)  # whether this process answers (readiness.py)
    access_log: AccessLog | None = None  # one JSON line per request (logs.py); None: --access-log off
    audit: AuditLog | None = None  # every change to who may do what, and to keys (audit.py)
    # Server access log records waiting for delivery into buckets (s3/log_delivery.py)
    server_access_logs: ServerAccessLogBuffer = field(default_factory=ServerAccessLogBuffer)
    vault: Vault = field(init=False)  # built on these services (its catalog calls run as ours do)

    # The caller names the kind of catalog call; each kind has its thread. Point reads on the embedded
    # SQLite catalog (indexed, ~10 us, never blocked by a writer in WAL mode) run inline: an executor hop
    # costs more than the read. Everything else (writes, which fsync; listings; a networked PostgreSQL)
    # runs off the loop.

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A point read of a few indexed rows: inline on SQLite, off the loop otherwise."""
        if self.inline_reads:
            return fn(*args, **kwargs)
        if self.db_executor is not None:
            return await self._on_db(fn, *args, **kwargs)
        return await self._off_loop(fn, *args, **kwargs)

    async def point(self, read: OneStatement[T]) -> T:
        """A point read (db.OneStatement): inline on SQLite, on the event loop's connections on PostgreSQL."""
        if self.inline_reads:
            return self.catalog.fetch(read)
        if self.loop_db is not None:
            return await self.loop_db.fetch(read)
        return await self.read(self.catalog.fetch, read)

    async def single_write(self, statement: OneStatement[T]) -> T:
        """A write that is one statement, its own transaction (catalog.put_statement): on the event loop's
        connections on PostgreSQL, else as `write`."""
        if self.loop_db is not None:
            return await self.loop_db.fetch(statement)
        return await self.write(self.catalog.fetch, statement)

    # Access keys, buckets and bucket configs: a shared catalog's cache (catalog/read_cache.py) answers
    # most of them from memory, inline; a miss is a point read like any other.

    async def access_key(self, access_key: str) -> tuple[AccessKey, User] | None:
        if self.inline_reads:
            return self.catalog.lookup_access_key(access_key)
        found = self.catalog.cache.access_key(access_key)
        if found is not None:
            return found
        return await self.read(self.catalog.lookup_access_key, access_key)

    async def bucket(self, name: str) -> Bucket | None:
        if self.inline_reads:
            return self.catalog.get_bucket(name)
        found = self.catalog.cache.bucket(name)
        return found if found is not None else await self.read(self.catalog.get_bucket, name)

    async def bucket_configs(self, name: str) -> dict[str, str]:
        if self.inline_reads:
            return self.catalog.get_bucket_configs(name)
        found = self.catalog.cache.bucket_configs(name)
        return found if found is not None else await self.read(self.catalog.get_bucket_configs, name)

    async def listing(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A listing (a page of rows to decode): on the lister thread when there is one."""
        if self.lister is None and self.db_executor is not None:
            return await self._on_db(fn, *args, **kwargs)
        return await self._off_loop(fn, *args, executor=self.lister, **kwargs)

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A catalog write (it commits, and may fsync): on the executor."""
        if self.db_executor is not None:
            return await self._on_db(fn, *args, **kwargs)
        return await self._off_loop(fn, *args, **kwargs)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Any other blocking call (a read of many rows, a validation that asks the catalog): on the
        executor."""
        return await self._off_loop(fn, *args, **kwargs)

    async def _on_db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn` on the database threads; DatabaseBusy if it has not started within the pool timeout (a
        call that started is waited for: a request is done whole or refused, never half done)."""
        assert self.db_executor is not None
        loop = asyncio.get_running_loop()
        call = self.db_executor.submit(fn, *args, **kwargs)
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = call.cancel()  # False once it runs

        timer = loop.call_later(self.config.db_pool_timeout, expire)
        try:
            return await asyncio.wrap_future(call, loop=loop)
        except asyncio.CancelledError:
            if expired:
                raise DatabaseBusy(f"a catalog call waited {self.config.db_pool_timeout:g} s for one of "
                                   f"{self.config.db_pool_size} connections") from None
            raise
        finally:
            timer.cancel()

    async def _off_loop(self, fn: Callable[..., T], *args: Any, executor: Executor | None = None,
                        **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        pool = executor or self.executor
        if kwargs:
            return await loop.run_in_executor(pool, lambda: fn(*args, **kwargs))
        return await loop.run_in_executor(pool, fn, *args)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who sent a request: a user, or nobody (anonymous)."""

    user: User | None
    access_key: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.user is None

    @property
    def user_id(self) -> str:
        return self.user.user_id if self.user else ""

    @property
    def is_root(self) -> bool:
        return bool(self.user and self.user.is_root)


ANONYMOUS = Principal(None)


class Access(Protocol):
    """Decisions a handler needs beyond the request's own, answered by authorization (which sets
    `Ctx.access`): DeleteObjects decides each key, GetObject a missing key's 403 or 404."""

    async def may(self, action: str, key: str | None) -> bool:
        """Whether the requester may run `action` on `key` in the request's bucket (None: the bucket)."""
        ...


class _NoAccess:
    async def may(self, action: str, key: str | None) -> bool:
        return False  # fail closed: no decision was made for this request


NO_ACCESS: Access = _NoAccess()


@dataclass(slots=True)
class Ctx:
    request: web.Request
    services: Services
    op: Operation
    request_id: str
    bucket_name: str | None
    key: str | None
    query: MultiDict[str]
    principal: Principal = ANONYMOUS
    auth: ParsedAuth | None = None
    signing: SigningContext | None = None
    bucket: Bucket | None = None  # loaded by the dispatcher for bucket and object operations
    secure: bool = False  # over TLS, or behind a TLS proxy
    signature_version: str | None = None  # "AWS" (SigV2) or "AWS4-HMAC-SHA256", once authenticated
    # Read once per request (authorization, the encryption default and the handler share them), as the
    # state was when the request began: bucket configs by kind and access states, by bucket name.
    configs: dict[str, dict[str, str]] = field(default_factory=dict)
    bucket_states: dict[str, BucketState] = field(default_factory=dict)
    identity_policies: list[Policy] | None = None  # the requester's user policies, once read
    # Set by authorization for the handler:
    access: Access = NO_ACCESS  # further decisions in the request's bucket
    object_acl: str | None = None  # the ACL an object write or upload stores in its own transaction (JSON)
    new_bucket_access: NewBucketAccess | None = None  # CreateBucket: ownership and ACL to store

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        return self.request.headers

    @property
    def config(self) -> Config:
        return self.services.config

    async def bucket_configs(self, name: str) -> dict[str, str]:
        """The bucket's sub-resource documents by kind, read once per request (authorization and the
        encryption default both need them): the state as the request began, like `bucket_state`."""
        if name not in self.configs:
            self.configs[name] = await self.services.bucket_configs(name)
        return self.configs[name]

    @property
    def resource(self) -> str:
        """The path S3 names in errors' <Resource>."""
        if self.key is not None:
            return f"/{self.bucket_name}/{self.key}"
        if self.bucket_name:
            return f"/{self.bucket_name}"
        return "/"
