"""What a handler gets: the request, the resolved operation, who is asking, and the services."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from multidict import CIMultiDictProxy, MultiDict

from strongroom.blobs import BlobStore
from strongroom.catalog.api import Catalog
from strongroom.catalog.model import Bucket, User
from strongroom.config import Config
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
    vault: Vault
    keyring: RootKeyring
    executor: Executor
    account_id: str
    kms: Any = None  # the KMS backend, once configured
    inline_reads: bool = False  # point reads on the event loop (set for the SQLite catalog)
    # SQLite listings (CPU-bound decoding under the GIL) on one thread of their own: four at once on
    # the shared pool cost twice the CPU of one at a time (188 vs 277 pages/s, bench list-100k-c4).
    lister: Executor | None = None

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a catalog call. Point reads on the embedded SQLite catalog (get_*, lookup_*: indexed,
        ~10 us, never blocked by a writer in WAL mode) run inline: an executor hop costs more than the
        read. Everything else (writes, which fsync; listings; a networked PostgreSQL) runs off the loop."""
        name = getattr(fn, "__name__", "")
        if self.inline_reads and name.startswith(_POINT_READS):
            return fn(*args, **kwargs)
        if self.lister is not None and name.startswith("list_"):
            return await self._off_loop(fn, *args, executor=self.lister, **kwargs)
        return await self._off_loop(fn, *args, **kwargs)

    async def point_read(self, fn: Callable[..., T], *args: Any) -> T:
        """A read of a few indexed rows that `db` cannot tell by its name (a helper running several
        get_* calls): inline on SQLite, off the loop otherwise."""
        if self.inline_reads:
            return fn(*args)
        return await self._off_loop(fn, *args)

    async def _off_loop(self, fn: Callable[..., T], *args: Any, executor: Executor | None = None,
                        **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        pool = executor or self.executor
        if kwargs:
            return await loop.run_in_executor(pool, lambda: fn(*args, **kwargs))
        return await loop.run_in_executor(pool, fn, *args)


_POINT_READS = ("get_", "lookup_")


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
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        return self.request.headers

    @property
    def config(self) -> Config:
        return self.services.config

    async def bucket_configs(self, name: str) -> dict[str, str]:
        """The bucket's sub-resource documents by kind, read once per request (authorization and the
        encryption default both need them): the state as the request began, like `bucket_state`."""
        cache: dict[str, dict[str, str]] = self.extras.setdefault("bucket_configs", {})
        if name not in cache:
            cache[name] = await self.services.db(self.services.catalog.get_bucket_configs, name)
        return cache[name]

    @property
    def resource(self) -> str:
        """The path S3 names in errors' <Resource>."""
        if self.key is not None:
            return f"/{self.bucket_name}/{self.key}"
        if self.bucket_name:
            return f"/{self.bucket_name}"
        return "/"
