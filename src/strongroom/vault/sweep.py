"""The blob sweep: files go when the catalog says so, one server at a time, after a grace period.

Every server process runs a `BlobSweeper`; a round runs in the one that holds the catalog lease
`blob-sweep` (taken and renewed on the database's clock, so servers whose clocks differ still agree;
if its holder dies, the lease expires and another server takes over). A round:

1. Garbage: blobs recorded 'garbage' (by the commit that replaced or deleted what used them) for
   longer than the grace period: the file goes first, then the record. A reader that looked up the
   old version before the commit has had the whole grace period to open its blob.
2. Pending: blobs recorded 'pending' (before their file was created) for longer than the grace
   period, whose file and temporary file have not been modified within it either (a slow writer still
   writing is spared): the write died. The record goes first (its commit, if it ever comes, then
   fails: catalog BlobExpired), then the files.
3. Orphans (the first round this process leads, then every ORPHAN_SCAN_EVERY): blob and temporary
   files no record names: left by releases before blob records, or by a record removed while its
   file could not be. The files older than the grace period are listed FIRST, then one catalog
   snapshot of every referenced and recorded id is read: a file that is in neither was already
   unknown to the catalog when it was listed, and no new record ever names an old file (ids are
   recorded before their file exists). A file younger than the grace period is never touched.

File ages compare a file's mtime with the database's clock (catalog_time), never a server's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from strongroom.blobs import BlobStore
from strongroom.catalog.api import Catalog
from strongroom.periodic import Background, lease_holder, repeat

log = logging.getLogger("strongroom.sweep")

LEASE = "blob-sweep"
BATCH = 500  # records removed per catalog transaction
ORPHAN_SCAN_EVERY = 6 * 3600.0  # seconds between orphan scans in a process that leads the sweep


class BlobSweeper:
    """Runs sweep rounds every `interval` seconds (with jitter) while the server runs."""

    def __init__(self, catalog: Catalog, blobs: BlobStore, *, interval: float, grace: float) -> None:
        self.catalog, self.blobs = catalog, blobs
        self.interval, self.grace = interval, grace
        # Long enough to cover a round between renewals; short enough that a dead holder's lease is
        # taken over soon. Two rounds overlapping would do no harm (each removal is idempotent).
        self.lease_seconds = max(3 * interval, 1.0)
        self.holder = lease_holder()
        self._orphans_due = 0.0  # monotonic time of the next orphan scan: the first round that leads
        self._task = Background()
        self._executor: ThreadPoolExecutor | None = None

    # --- the server's life ---

    async def start(self, _app: object = None) -> None:
        if not self._task.running:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="strongroom-sweep")
            self._task.start(self._forever)

    async def close(self, _app: object = None) -> None:
        if not await self._task.stop():
            return
        assert self._executor is not None
        loop = asyncio.get_running_loop()
        try:  # the next server need not wait for the lease to expire
            await loop.run_in_executor(self._executor, self.catalog.release_lease, LEASE, self.holder)
        except Exception as e:  # noqa: BLE001 - it expires anyway
            log.warning("could not release the sweep lease (%s); it expires by itself", e)
        self._executor.shutdown(wait=True)

    async def _forever(self) -> None:
        loop = asyncio.get_running_loop()
        await repeat(lambda: loop.run_in_executor(self._executor, self.round), interval=self.interval,
                     jitter=0.5, log=log, what="the blob sweep")

    # --- one round (blocking) ---

    def round(self) -> int:
        """One sweep round if this process holds (or takes) the lease; the number of files removed."""
        if not self.catalog.take_lease(LEASE, self.holder, self.lease_seconds):
            return 0
        removed = self.sweep_garbage() + self.sweep_pending()
        if time.monotonic() >= self._orphans_due and self._renew():
            removed += self.sweep_orphans()
            self._orphans_due = time.monotonic() + ORPHAN_SCAN_EVERY
        if removed:
            log.info("the blob sweep removed %d file(s)", removed)
        return removed

    def _renew(self) -> bool:
        return self.catalog.renew_lease(LEASE, self.holder, self.lease_seconds)

    def sweep_garbage(self) -> int:
        removed = 0
        while True:
            ids = self.catalog.expired_blobs("garbage", self.grace, BATCH)
            gone = [blob_id for blob_id in ids if self._delete(blob_id)]
            removed += len(gone)
            if gone:
                self.catalog.forget_blobs("garbage", gone)
            if len(ids) < BATCH or len(gone) < len(ids) or not self._renew():
                return removed

    def sweep_pending(self) -> int:
        removed = 0
        ids = self.catalog.expired_blobs("pending", self.grace, BATCH)
        if not ids:
            return 0
        cutoff = self.catalog.catalog_time() - self.grace
        for blob_id in ids:
            modified = self.blobs.last_modified(blob_id)
            if modified is not None and modified >= cutoff:
                continue  # a slow writer is still writing it
            # The record first, one at a time: a commit racing this either found it (and the blob is
            # referenced now: nothing is removed) or finds it gone and fails.
            if self.catalog.forget_blobs("pending", [blob_id]) and self._delete(blob_id):
                removed += modified is not None
        return removed

    def sweep_orphans(self) -> int:
        cutoff = self.catalog.catalog_time() - self.grace
        candidates = self.blobs.files_older_than(cutoff)  # listed BEFORE the snapshot: see the docstring
        if not candidates:
            return 0
        known = set(self.catalog.known_blob_ids())
        removed = sum(self.blobs.remove_file(path) for blob_id, path in candidates if blob_id not in known)
        if removed:
            log.info("the blob sweep removed %d file(s) no catalog record names", removed)
        return removed

    def _delete(self, blob_id: str) -> bool:
        try:
            self.blobs.delete(blob_id)
        except OSError as e:
            log.warning("could not remove blob %s (%s); the next sweep will try again", blob_id, e.strerror)
            return False
        return True
