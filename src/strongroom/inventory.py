"""The gauges a scrape shows without asking the catalog: objects and bytes per bucket and encryption type,
the root key's age, the built-in KMS keys' rotation ages (metrics.py).

Counting the objects is a scan of the catalog's versions, so it is never done by a scrape, nor by every
server: every `--metrics-interval` seconds the one process that holds the catalog lease
`metrics-inventory` counts them and stores the figures, with the catalog's time, in the catalog setting
`metrics.inventory`; every process (this one included) then reads that one setting (a point read) and
sets its gauges from it. So every server of a deployment on one PostgreSQL shows the same figures, at most
one interval old (strongroom_inventory_age_seconds says how old), and a deployment pays one scan per
interval however many servers it has.

`strongroom verify` is a job, not a server: a run over the whole store records its summary (the
catalog's time, objects, verified, failed) in the setting `verify.last_run` (record_verify_run), and
each round shows it as strongroom_verify_last_run_timestamp_seconds and strongroom_verify_failed_objects.
Before the first run both are 0 (set so, for --workers): a timestamp of 0 reads "never verified",
so the alert on a stale verification (deploy/prometheus-alerts.yml) fires for a store never verified
too, which is what an operator who has no proof yet should hear; 0 failed objects alerts nothing.

The root key's age counts from when the catalog first recorded it (`root_key_recorded.<key id>`: a
catalog that predates this counts from the first start of a server that knows it).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from strongroom import metrics
from strongroom.catalog.api import Catalog
from strongroom.deployment import key_ids
from strongroom.kms.store_api import KmsStore
from strongroom.periodic import Background, lease_holder, repeat

log = logging.getLogger("strongroom.metrics")

LEASE = "metrics-inventory"
SETTING = "metrics.inventory"
ROOT_KEY_SETTING = "root_key_recorded."
VERIFY_SETTING = "verify.last_run"


def record_verify_run(catalog: Catalog, *, objects: int, verified: int, failed: int) -> None:
    """Store a full `strongroom verify` run's summary, on the catalog's clock, for every server's gauges."""
    catalog.put_setting(VERIFY_SETTING, json.dumps({
        "time": catalog.catalog_time(), "objects": objects, "verified": verified, "failed": failed}))


class Inventory:
    """The task of one serving process that keeps the catalog-derived gauges current."""

    def __init__(self, catalog: Catalog, root_keys: tuple[bytes, ...], interval: float,
                 kms_store: KmsStore | None = None, kms_arn: Callable[[str], str] | None = None,
                 multiprocess: bool = False) -> None:
        self.catalog, self.interval, self.multiprocess = catalog, interval, multiprocess
        self.root_key_id = key_ids(root_keys)[0]
        self.kms_store, self.kms_arn = kms_store, kms_arn
        self.holder = lease_holder()
        self._shown: set[tuple[str, str]] = set()
        self._task = Background()
        self._executor: ThreadPoolExecutor | None = None

    async def start(self, _app: object = None) -> None:
        if not self._task.running:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="strongroom-inventory")
            self._task.start(self._forever)

    async def close(self, _app: object = None) -> None:
        if await self._task.stop():
            assert self._executor is not None
            self._executor.shutdown(wait=True)

    async def _forever(self) -> None:
        # A failed round leaves the gauges at their last values; a warning, not a traceback, per round.
        loop = asyncio.get_running_loop()
        await repeat(lambda: loop.run_in_executor(self._executor, self.round), interval=self.interval,
                     jitter=0.2, log=log, what="the metrics inventory", traceback=False)

    def round(self) -> None:
        """Count (when this process holds the lease), then show the stored figures (blocking)."""
        now = self.catalog.catalog_time()
        if self.catalog.take_lease(LEASE, self.holder, max(3 * self.interval, 1.0)):
            counted = self.catalog.count_versions()
            self.catalog.put_setting(SETTING, json.dumps({"time": now, "counts": counted}))
        stored = self.catalog.get_setting(SETTING)
        if stored is not None:
            self._show(json.loads(stored), now)
        verify_run = self.catalog.get_setting(VERIFY_SETTING)
        # Set even before any run: with --workers a gauge never set is missing from the scrape.
        summary = json.loads(verify_run) if verify_run is not None else {"time": 0, "failed": 0}
        metrics.VERIFY_LAST_RUN.set(summary["time"])
        metrics.VERIFY_FAILED.set(summary["failed"])
        recorded = self.catalog.set_setting_if_absent(ROOT_KEY_SETTING + self.root_key_id, repr(now))
        metrics.ROOT_KEY_AGE.set(max(0.0, now - float(recorded)))
        if self.kms_store is not None and self.kms_arn is not None:
            for key in self.kms_store.list_keys(limit=10_000):
                material = self.kms_store.get_material(key.key_id, key.current_version)
                since = material.created if material is not None else key.created
                metrics.KMS_KEY_ROTATION_AGE.labels(self.kms_arn(key.key_id)).set(max(0.0, now - since))

    def _show(self, stored: dict[str, object], now: float) -> None:
        counts = stored.get("counts")
        assert isinstance(counts, list)
        shown = set()
        for bucket, algorithm, objects, size in counts:
            metrics.OBJECTS.labels(bucket, algorithm).set(objects)
            metrics.OBJECT_BYTES.labels(bucket, algorithm).set(size)
            shown.add((bucket, algorithm))
        for gone in self._shown - shown:  # a bucket emptied or deleted: its series end
            if self.multiprocess:  # prometheus_client cannot remove a series there: it shows 0
                metrics.OBJECTS.labels(*gone).set(0)
                metrics.OBJECT_BYTES.labels(*gone).set(0)
            else:
                metrics.OBJECTS.remove(*gone)
                metrics.OBJECT_BYTES.remove(*gone)
        self._shown = shown
        counted_at = stored.get("time")
        assert isinstance(counted_at, (int, float))
        metrics.INVENTORY_AGE.set(max(0.0, now - counted_at))
