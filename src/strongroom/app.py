"""create_app(config): the composition root. The one place where the parts are wired together."""

from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from aiohttp import web

from strongroom import identity, servers
from strongroom.account import account_id
from strongroom.audit import open_audit_log
from strongroom.blobs import BlobStore, Reserve
from strongroom.catalog import MetadataSealer, SqliteCatalog, open_catalog
from strongroom.clock import Clock
from strongroom.config import Config
from strongroom.db import loop_pool
from strongroom.db.loop_pool import LoopPool
from strongroom.deployment import check_root_keys
from strongroom.inventory import Inventory
from strongroom.kms.adapter import build_key_service
from strongroom.logs import AccessLog
from strongroom.readiness import Readiness
from strongroom.s3.context import Services
from strongroom.s3.dispatch import GATE_KEY, SERVICES_KEY, add_request_ids, expect_continue, handle
from strongroom.s3.limits import Gate
from strongroom.s3.log_delivery import LogDelivery
from strongroom.s3.probes import ReadyGauge
from strongroom.vault import BlobSweeper, RootKeyring, Vault
from strongroom.vault.lifecycle import LifecycleWorker

log = logging.getLogger("strongroom")
T = TypeVar("T")

MAX_FIELD_SIZE = 64 * 1024  # S3 allows up to 8 KiB of headers; leave room for presigned URLs


def access_log(config: Config) -> AccessLog | None:
    """The access log: to a file when one is named; to stderr ("-", the default) as INFO records are,
    so that --log-level WARNING quiets it with the rest."""
    if not config.access_log:
        return None
    level = logging.getLevelNamesMapping().get(config.log_level.upper(), logging.INFO)
    if config.access_log == "-" and level > logging.INFO:
        return None
    return AccessLog(config.access_log)


def build_services(config: Config) -> Services:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    # PostgreSQL: the process's --db-pool-size connections are shared between the database threads (the
    # catalog's and the KMS store's pool) and the event loop's point reads (db/loop_pool.py).
    threads, on_loop = (loop_pool.split(config.db_pool_size) if config.catalog_url
                        else (config.db_pool_size, 0))
    pooled = dataclasses.replace(config, db_pool_size=threads)
    catalog = open_catalog(pooled, MetadataSealer.of(config.root_keys))
    clock = Clock(config.max_clock_skew)  # the catalog's time; its offset is measured at registration
    # New data keeps --min-free-space free where blobs and the SQLite catalog live (issue 14, safety).
    catalog_dirs = () if config.catalog_url else (config.data_dir,)
    reserve = Reserve.of((config.blob_dir, *catalog_dirs), config.min_free_space.required)
    blobs = BlobStore(config.blob_dir, reserve)
    keyring = RootKeyring(config.root_keys)
    executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="strongroom-io")
    identity.ensure_root(catalog, keyring, config.root_access_key, config.root_secret_key)
    account = account_id(catalog)
    readiness = Readiness()
    kms = build_key_service(pooled, account, executor, clock=clock.now, ready=lambda: readiness.ready,
                            protects=catalog.kms_key_protects)
    embedded = isinstance(catalog, SqliteCatalog)
    lister = ThreadPoolExecutor(max_workers=1, thread_name_prefix="strongroom-list") if embedded else None
    # PostgreSQL: as many threads for catalog calls as the pool has connections, so that a call beyond
    # them waits in the executor's queue, not in a thread blocked on the pool: a thread woken when a
    # connection comes back cost about 50 us of CPU more per call (in-process, 8 threads on a pool of
    # 4: 157-170 us per point read; on a pool of 8: 109-112 us).
    db_executor = None if embedded else ThreadPoolExecutor(threads, thread_name_prefix="strongroom-db")
    loop_db = LoopPool(config.catalog_url, on_loop, config.db_pool_timeout) if on_loop else None

    catalog.follow_changes()  # a shared catalog: keys, buckets and their configs cached, changes heard
    services = Services(config, catalog, blobs, keyring, executor, account, kms=kms,
                        inline_reads=embedded, lister=lister, db_executor=db_executor, loop_db=loop_db,
                        clock=clock, readiness=readiness, audit=open_audit_log(config.audit_log),
                        access_log=access_log(config))
    # The vault runs its catalog calls exactly as the handlers do (inline point reads on SQLite).
    services.vault = Vault(catalog, services, blobs, keyring, kms, executor, clock=clock.now)
    return services


def create_app(config: Config, address: str = "") -> web.Application:
    """The application of one serving process; `address` is where it listens (for the registry of live
    servers, in which it registers now: it refuses to start, SystemExit, while a root-key rotation runs
    or when its clock is beyond --max-clock-skew)."""
    services = build_services(config)
    registration = servers.register_server(services.catalog, services.clock, address,
                                           config.heartbeat_interval)
    heartbeat = servers.Heartbeat(registration, services.readiness, services.run,
                                  lambda: check_root_keys(services.catalog, config.root_keys))
    # auto_decompress off: a body sent with Content-Encoding: gzip is the object's bytes, stored as sent
    # (aiohttp would inflate it, storing other bytes than the client's, or fail on a body that is not gzip).
    app = web.Application(client_max_size=0,
                          handler_args={"max_field_size": MAX_FIELD_SIZE, "auto_decompress": False})
    app[SERVICES_KEY] = services
    app[GATE_KEY] = Gate(config, services.readiness)
    app.on_response_prepare.append(add_request_ids)
    # Every path, line feeds included (a key may hold one: `.` would not match it and aiohttp would
    # answer its own 404); Expect: 100-continue is answered by the dispatcher's own decision.
    app.router.add_route("*", r"/{tail:[\s\S]*}", handle, expect_handler=expect_continue)
    app.on_startup.append(services.kms.start)
    app.on_startup.append(heartbeat.start)
    delivery = LogDelivery(services, services.server_access_logs, config.access_log_delivery_interval)
    app.on_startup.append(delivery.start)
    app.on_cleanup.append(delivery.close)  # delivers what waits: before the KMS, executor and catalog close
    app.on_cleanup.append(heartbeat.close)  # deregisters: before the executor and catalog close
    app.on_cleanup.append(services.kms.close)  # before the executor and catalog close
    sweeper = BlobSweeper(services.catalog, services.blobs, interval=config.sweep_interval,
                          grace=config.sweep_grace)
    app.on_startup.append(sweeper.start)
    app.on_cleanup.append(sweeper.close)  # before the catalog closes
    builtin = services.kms.builtin
    inventory = Inventory(services.catalog, config.root_keys, config.metrics_interval,
                          builtin.store if builtin is not None else None,
                          builtin.arn if builtin is not None else None,
                          multiprocess=config.metrics_dir is not None)
    app.on_startup.append(inventory.start)
    app.on_cleanup.append(inventory.close)  # before the catalog closes
    ready_gauge = ReadyGauge(services, config.metrics_interval)
    app.on_startup.append(ready_gauge.start)
    app.on_cleanup.append(ready_gauge.close)  # before the executor closes
    worker = LifecycleWorker(services.vault, interval=config.lifecycle_interval,
                             day=config.lifecycle_day_seconds)
    app.on_startup.append(worker.start)
    app.on_cleanup.append(worker.close)  # before the catalog closes

    async def close(_: web.Application) -> None:
        if services.loop_db is not None:
            await services.loop_db.close()
        services.executor.shutdown(wait=True)
        for extra in (services.lister, services.db_executor):
            if extra is not None:
                extra.shutdown(wait=True)
        services.catalog.close()
        for log_file in (services.access_log, services.audit):
            if log_file is not None:
                log_file.close()

    app.on_cleanup.append(close)
    return app
