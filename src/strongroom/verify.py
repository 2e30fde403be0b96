"""`strongroom verify`: proof that every stored byte is encrypted and intact.

Every piece of every version in scope is read and each of its segments authenticated under its sealed
key, its sizes, ETags and checksums recomputed and compared with the catalog (vault/check.py). The
report counts, per bucket and per encryption type and key, the objects and bytes, and how many were
verified, checked for structure only (SSE-C: the customer's key is never stored), not verified (their
key is unusable: a disabled or deleted KMS key) and failed, naming each object that failed or could not
be verified, and why. Exit status 0 when every object passed as far as its encryption allows, 1 when
any failed or could not be verified.

It runs beside live servers, on the data directory and the catalog, and only reads: catalog reads are
one page or one record each (catalog/walk.py), so a writer never waits for it. It is a command rather
than an operation on the S3 port because it is an operator's job, not a client's: S3 has no such
operation to follow, a walk of the whole store outlives any HTTP request, and it must work with every
server stopped too. A blob that is missing because its version was replaced or deleted while the walk
ran is not a failure: the version is re-read and, when it is no longer current, counted as changed.

A run over the whole store (no --bucket, no --prefix) ends with one write: its summary (the catalog's
time, objects, verified, failed) in a catalog setting (inventory.record_verify_run) that every server's
metrics inventory shows as strongroom_verify_* gauges, so the scrape and its alerts see the outcome of
a job that is not the server. A run over part of the store records nothing: its clean result must not
hide a failure found elsewhere by the last full run. A catalog that refuses the write (a read-only
replica, a read-only database role) costs the metrics that run, not the report or the exit status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

from strongroom.account import account_id
from strongroom.blobs import BlobStore
from strongroom.catalog import walk
from strongroom.catalog.api import Catalog
from strongroom.catalog.model import ObjectVersion
from strongroom.clock import Clock
from strongroom.config import Config
from strongroom.deployment import open_checked
from strongroom.errors import S3Error
from strongroom.inventory import record_verify_run
from strongroom.kms.adapter import build_key_service
from strongroom.kms.service import KeyService
from strongroom.progress import Progress
from strongroom.tables import table
from strongroom.vault import ObjectKek, RootKeyring
from strongroom.vault.check import FAILED, STRUCTURE, VERIFIED, check_version
from strongroom.vault.keys import existing_object_kek
from strongroom.vault.wrapping import sealed_by

T = TypeVar("T")
NOT_VERIFIED = "not verified"  # the key that opens it is unusable (a disabled KMS key): nothing is known


@dataclass(slots=True)
class Tally:
    objects: int = 0
    bytes: int = 0
    verified: int = 0
    structure: int = 0
    not_verified: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class Finding:
    """An object that failed, or could not be verified, and why."""

    bucket: str
    key: str
    version_id: str
    status: str  # FAILED | NOT_VERIFIED
    reasons: tuple[str, ...]


@dataclass(slots=True)
class Verification:
    """What a verify run found: tallies per (bucket, encryption, key), and the objects that did not pass."""

    groups: dict[tuple[str, str, str], Tally] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    changed: int = 0  # replaced or deleted while the walk ran: not checked
    seconds: float = 0.0

    def add(self, version: ObjectVersion, key_name: str, status: str, reasons: tuple[str, ...] = ()) -> None:
        tally = self.groups.setdefault((version.bucket, version.sealing.algorithm, key_name), Tally())
        tally.objects += 1
        tally.bytes += version.size
        if status == VERIFIED:
            tally.verified += 1
        elif status == STRUCTURE:
            tally.structure += 1
        else:
            if status == FAILED:
                tally.failed += 1
            else:
                tally.not_verified += 1
            self.findings.append(Finding(version.bucket, version.key, version.version_id, status, reasons))

    def total(self) -> Tally:
        out = Tally()
        for tally in self.groups.values():
            for f in dataclasses.fields(Tally):
                setattr(out, f.name, getattr(out, f.name) + getattr(tally, f.name))
        return out

    @property
    def passed(self) -> bool:
        return not self.findings

    def document(self) -> dict[str, Any]:
        """The report as JSON (`--json`)."""
        total = self.total()
        return {
            "passed": self.passed,
            "seconds": round(self.seconds, 3),
            "changed_during_run": self.changed,
            "total": _tally_json(total),
            "groups": [
                {"bucket": b, "encryption": e, "key": k, **_tally_json(t)}
                for (b, e, k), t in sorted(self.groups.items())
            ],
            "findings": [
                {"bucket": f.bucket, "key": f.key, "version_id": f.version_id, "status": f.status,
                 "reasons": list(f.reasons)}
                for f in sorted(self.findings, key=lambda f: (f.bucket, f.key))
            ],
        }

    def lines(self) -> list[str]:
        """The report as text."""
        header = ["bucket", "encryption", "key", "objects", "bytes", "verified", "structure only",
                  "not verified", "failed"]
        rows = [[b, e, k, t.objects, t.bytes, t.verified, t.structure, t.not_verified, t.failed]
                for (b, e, k), t in sorted(self.groups.items())]
        out = table(header, rows) if rows else ["no object in scope"]
        for f in sorted(self.findings, key=lambda f: (f.status, f.bucket, f.key)):
            reasons = "; ".join(f.reasons)
            out.append(f"{f.status.upper()}: {f.bucket}/{f.key} (version {f.version_id}): {reasons}")
        total = self.total()
        if total.structure:
            out.append(f"{total.structure} SSE-C object(s): structure only (every blob present, with the "
                       "format's header and the length of the recorded size; the record consistent); their "
                       "content cannot be authenticated without the customer's key, which is never stored")
        if self.changed:
            out.append(f"{self.changed} object(s) replaced or deleted during the run: not checked")
        checked = total.verified + total.structure
        summary = (f"{checked} of {total.objects} object(s) ({total.bytes} bytes) passed "
                   f"in {self.seconds:.1f} s")
        if total.failed:
            summary += f"; {total.failed} FAILED"
        if total.not_verified:
            summary += f"; {total.not_verified} could not be verified"
        out.append(("verify: " if self.passed else "verify: NOT PASSED: ") + summary)
        return out


def _tally_json(t: Tally) -> dict[str, int]:
    return {"objects": t.objects, "bytes": t.bytes, "verified": t.verified, "structure_only": t.structure,
            "not_verified": t.not_verified, "failed": t.failed}


class Verifier:
    """One verify run over a catalog, its blobs and the keys that open them."""

    def __init__(self, catalog: Catalog, blobs: BlobStore, keyring: RootKeyring, kms: KeyService,
                 executor: ThreadPoolExecutor, workers: int) -> None:
        self.catalog, self.blobs, self.keyring, self.kms = catalog, blobs, keyring, kms
        self.executor, self.workers = executor, workers
        self.result = Verification()

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def run(self, scope: walk.Scope, progress: Callable[[int, int], Progress]) -> Verification:
        started = time.monotonic()
        meter = progress(*await self._run(walk.totals, self.catalog, scope))
        slots = asyncio.Semaphore(self.workers)
        tasks: set[asyncio.Task[None]] = set()

        def done(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            slots.release()

        versions: Iterator[ObjectVersion] = walk.versions(self.catalog, scope)
        try:
            while batch := await self._run(lambda: list(islice(versions, self.workers))):
                for version in batch:
                    await slots.acquire()
                    task = asyncio.ensure_future(self._one(version, meter))
                    tasks.add(task)
                    task.add_done_callback(done)
            await asyncio.gather(*tasks)
        finally:
            meter.close()
        self.result.seconds = time.monotonic() - started
        return self.result

    async def _one(self, version: ObjectVersion, meter: Progress) -> None:
        name = sealed_by(version.sealing, self.keyring.current_id)
        try:
            status, reasons = await self._check(version)
        except Exception as e:  # noqa: BLE001 - the report names it; the other objects are still checked
            status, reasons = FAILED, (f"could not be checked: {e!r}",)
        if status is not None:
            self.result.add(version, name, status, reasons)
        else:
            self.result.changed += 1
        meter.advance(version.size)

    async def _check(self, version: ObjectVersion) -> tuple[str | None, tuple[str, ...]]:
        """(outcome, reasons); outcome None: the version was replaced or deleted while it was checked."""
        kek: ObjectKek | None = None
        if version.sealing.algorithm != "SSE-C":
            try:
                kek = await existing_object_kek(self.keyring, self.kms, version.sealing, None)
            except S3Error as e:
                if e.code.startswith("KMS."):  # the key refuses (disabled, pending deletion, not found)
                    return NOT_VERIFIED, (f"the KMS refused its data key ({e.code}: {e.message})",)
                return FAILED, (f"its key could not be recovered ({e.code}; see the log above)",)
        checked = await self._run(check_version, self.blobs, version, kek)
        if checked.missing_blob:  # the sweep removes a replaced version's blobs after the grace period
            current = await self._run(self.catalog.get_object, version.bucket, version.key)
            if current is None or current.version_id != version.version_id:
                return None, ()
        return checked.outcome, checked.problems


def verify(config: Config, scope: walk.Scope, workers: int, as_json: bool) -> int:
    """Run `strongroom verify` and print its report; the exit status."""
    # On PostgreSQL every worker holds a connection for a moment at a time: a pool as wide as them.
    config = dataclasses.replace(config, db_pool_size=max(config.db_pool_size, workers + 1))
    catalog = open_checked(config)
    if (wrong := scope.unknown(catalog)) is not None:
        catalog.close()
        print(wrong, file=sys.stderr)
        return 2
    executor = ThreadPoolExecutor(max_workers=workers + 1, thread_name_prefix="strongroom-verify")
    try:
        # The KMS's dates on the catalog's clock, as a server has them: a key whose deletion date has
        # passed is shredded when named, and that is the catalog's call, never this machine's clock.
        clock = Clock()
        clock.measure(catalog.now)
        kms = build_key_service(config, account_id(catalog), executor, clock=clock.now)

        def progress(objects: int, size: int) -> Progress:
            return Progress(f"verify ({objects} objects)", size)

        async def main() -> Verification:
            try:
                verifier = Verifier(catalog, BlobStore(config.blob_dir), RootKeyring(config.root_keys), kms,
                                    executor, workers)
                return await verifier.run(scope, progress)
            finally:
                await kms.close()

        result = asyncio.run(main())
        if scope == walk.Scope():
            total = result.total()
            try:
                record_verify_run(catalog, objects=total.objects, verified=total.verified + total.structure,
                                  failed=total.failed)
            except Exception as e:  # noqa: BLE001 - the report below is the run's result; say what is missing
                print(f"strongroom: this run's summary could not be stored for the metrics "
                      f"({type(e).__name__}: {e})", file=sys.stderr)
    finally:
        executor.shutdown()
        catalog.close()
    print(json.dumps(result.document(), indent=2) if as_json else "\n".join(result.lines()), flush=True)
    return 0 if result.passed else 1
