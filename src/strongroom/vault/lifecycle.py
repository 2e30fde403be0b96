"""The lifecycle worker: buckets' lifecycle rules applied as S3 applies them, one server at a time.

Every server process runs a `LifecycleWorker`; a round runs in the one that holds the catalog lease
`lifecycle` (taken and renewed on the database's clock, like the blob sweep's). Every decision compares
a time the catalog recorded with the catalog's clock (`catalog_time`), never a server's, through the day
arithmetic of `strongroom.lifecycle` (Days rounded up to the next midnight UTC, or to the next multiple
of `--lifecycle-day-seconds`). A round, for each bucket with a lifecycle configuration, key by key
(ListObjectVersions order, newest first):

1. The current version, when an enabled Expiration (Days or Date) selects it and is due: on an
   unversioned bucket it is removed; on a versioned one a delete marker is put over it (the `null` marker
   on a Suspended bucket), as DeleteObject without a version id does.
2. Noncurrent versions and markers, when a NoncurrentVersionExpiration selects them: NoncurrentDays count
   from the creation of the version that made each one noncurrent (its successor), and the
   NewerNoncurrentVersions newest noncurrent versions are kept.
3. An expired object delete marker (a marker that is the key's only version) with ExpiredObjectDeleteMarker
   (or an Expiration in Days) is removed.
4. Multipart uploads initiated DaysAfterInitiation days before are aborted.

Every removal of a version goes through `Vault.delete_version`, whose catalog transaction refuses a version
under Object Lock retention or legal hold (catalog/sql_locks.py): such a version is skipped, and tried again
at the next round (its retention may have ended). Removals are idempotent: two rounds overlapping (a
lease that expired under a slow round) remove nothing twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence

from strongroom import lifecycle
from strongroom.catalog.api import VERSIONING
from strongroom.catalog.model import Bucket, VersionSummary
from strongroom.errors import S3Error
from strongroom.lifecycle import Rule, due
from strongroom.periodic import Background, lease_holder, repeat
from strongroom.vault import Vault

log = logging.getLogger("strongroom.lifecycle")

LEASE = "lifecycle"
PAGE = 1000


class LifecycleWorker:
    """Runs lifecycle rounds every `interval` seconds (with jitter) while the server runs."""

    def __init__(self, vault: Vault, *, interval: float, day: float) -> None:
        self.vault = vault
        self.catalog, self.calls = vault.catalog, vault.calls
        self.interval, self.day = interval, day
        self.lease_seconds = max(3 * interval, 1.0)
        self.holder = lease_holder()
        self._task = Background()

    # --- the server's life ---

    async def start(self, _app: object = None) -> None:
        self._task.start(self._forever)

    async def close(self, _app: object = None) -> None:
        if not await self._task.stop():
            return
        try:  # the next server need not wait for the lease to expire
            await self.calls.write(self.catalog.release_lease, LEASE, self.holder)
        except Exception as e:  # noqa: BLE001 - it expires anyway
            log.warning("could not release the lifecycle lease (%s); it expires by itself", e)

    async def _forever(self) -> None:
        await repeat(self.round, interval=self.interval, jitter=0.5, log=log, what="the lifecycle round")

    # --- one round ---

    async def round(self) -> int:
        """One round if this process holds (or takes) the lease; the number of actions taken."""
        if not await self.calls.write(self.catalog.take_lease, LEASE, self.holder, self.lease_seconds):
            return 0
        done = 0
        for bucket in await self.calls.read(self.catalog.list_buckets):
            configs = await self.calls.read(self.catalog.get_bucket_configs, bucket.name)
            rules = tuple(r for r in lifecycle.rules_of(configs.get(lifecycle.KIND)) if r.enabled)
            if not rules:
                continue
            # The versioning status as set_bucket_versioning stores it (None: never configured).
            versioning = configs.get(VERSIONING)
            status = None if versioning is None else str(json.loads(versioning)["Status"])
            done += await self._versions(bucket, rules, status) + await self._uploads(bucket, rules)
            if not await self.calls.write(self.catalog.renew_lease, LEASE, self.holder, self.lease_seconds):
                break  # another server leads now
        if done:
            log.info("the lifecycle round took %d action(s)", done)
        return done

    async def _now(self) -> float:
        return float(await self.calls.read(self.catalog.catalog_time))

    async def _keys(self, bucket: str) -> AsyncIterator[list[VersionSummary]]:
        """Each key's versions and markers, newest first."""
        key_marker, version_marker = "", None
        pending: list[VersionSummary] = []
        while True:
            page = await self.calls.read(self.catalog.list_versions, bucket, key_marker=key_marker,
                                         version_id_marker=version_marker, max_keys=PAGE)
            for entry in page.versions:
                if pending and pending[0].summary.key != entry.summary.key:
                    yield pending
                    pending = []
                pending.append(entry)
            if not page.is_truncated or page.next_key_marker is None:
                break
            key_marker, version_marker = page.next_key_marker, page.next_version_id_marker
        if pending:
            yield pending

    async def _versions(self, bucket: Bucket, rules: tuple[Rule, ...], status: str | None) -> int:
        done = 0
        # Read once: a clock read while the listing goes on could only be later, and an action later.
        now = await self._now()
        async for versions in self._keys(bucket.name):
            key = versions[0].summary.key
            if not any(key.startswith(r.prefix) for r in rules):
                continue
            if await self._expire_current(bucket, rules, status, versions, now):
                done += 1
                continue  # the key changed: its noncurrent versions wait for the next round
            left = list(versions)
            for entry in await self._noncurrent_due(bucket.name, rules, versions, now):
                if await self._remove(bucket.name, key, entry):
                    done += 1
                    left.remove(entry)
            if (len(left) == 1 and left[0].delete_marker
                    and any(r.removes_expired_markers and r.matches_marker(key) for r in rules)
                    and await self._remove(bucket.name, key, left[0])):
                done += 1
        return done

    async def _tags(self, bucket: str, entry: VersionSummary, rules: Sequence[Rule]) -> dict[str, str]:
        """A version's tags, read only when a rule filters on tags."""
        if not any(r.tags for r in rules):
            return {}
        read = self.catalog.version_read(bucket, entry.summary.key, entry.version_id)
        version = await self.calls.point(read)
        return dict(version.tags) if version is not None else {}

    async def _expire_current(self, bucket: Bucket, rules: tuple[Rule, ...], status: str | None,
                              versions: list[VersionSummary], now: float) -> bool:
        current = versions[0]
        if current.delete_marker or not current.is_latest:
            return False
        s = current.summary
        tags = await self._tags(bucket.name, current, rules)
        found = lifecycle.expiration(rules, s.key, s.size, tags, s.last_modified, self.day)
        if found is None or now < found[0]:
            return False
        if status is None:
            # Unversioned: the removal is for good, so it must be of the version the rule selected and
            # not of one written since the listing (the same write time and id, read again just before).
            latest = await self.calls.point(self.catalog.object_read(bucket.name, s.key))
            if latest is None or latest.last_modified != s.last_modified or latest.etag != s.etag:
                return False
        try:
            await self.vault.delete(bucket.name, s.key, versioning=status, owner_id=bucket.owner_id)
        except S3Error as e:  # a Suspended bucket's marker replaces the null version, which may be locked
            log.debug("lifecycle spared %s/%s: %s", bucket.name, s.key, e.message)
            return False
        log.info("lifecycle rule %s expired %s/%s", found[1], bucket.name, s.key)
        return True

    async def _noncurrent_due(self, bucket: str, rules: tuple[Rule, ...], versions: list[VersionSummary],
                              now: float) -> list[VersionSummary]:
        expiring = [r for r in rules if r.expires_noncurrent]
        if not expiring:
            return []
        out = []
        for index, entry in enumerate(versions[1:]):  # index 0: the newest noncurrent version
            successor = versions[index]  # the version whose creation made this one noncurrent
            since = successor.summary.last_modified
            s = entry.summary
            tags = {} if entry.delete_marker else await self._tags(bucket, entry, expiring)
            for rule in expiring:
                selected = (rule.matches_marker(s.key) if entry.delete_marker
                            else rule.matches(s.key, s.size, tags))
                if not selected:
                    continue
                if rule.newer_noncurrent_versions is not None and index < rule.newer_noncurrent_versions:
                    continue  # one of the newest noncurrent versions the rule keeps
                if now >= due(since, rule.noncurrent_days or 0, self.day):
                    out.append(entry)
                    break
        return out

    async def _remove(self, bucket: str, key: str, entry: VersionSummary) -> bool:
        """Remove a version for good through the vault's one removal path; False when Object Lock
        protects it (or it is gone already)."""
        try:
            removed = await self.vault.delete_version(bucket, key, entry.version_id)
        except S3Error as e:
            # At every round while the lock lasts: DEBUG, not to fill the log.
            log.debug("lifecycle spared %s/%s version %s: %s", bucket, key, entry.version_id, e.message)
            return False
        return removed is not None

    async def _uploads(self, bucket: Bucket, rules: tuple[Rule, ...]) -> int:
        aborting = [r for r in rules if r.abort_days is not None and not r.tags]
        if not aborting:
            return 0
        done = 0
        key_marker, upload_marker = "", ""
        while True:
            page = await self.calls.read(self.catalog.list_uploads, bucket.name, key_marker=key_marker,
                                         upload_id_marker=upload_marker, max_uploads=PAGE)
            now = await self._now()
            for upload in page.uploads:
                if any(upload.key.startswith(r.prefix) and now >= due(upload.initiated, r.abort_days or 0,
                                                                       self.day) for r in aborting):
                    try:
                        await self.vault.abort(upload)
                    except S3Error:  # aborted or completed meanwhile
                        continue
                    log.info("lifecycle aborted upload %s of %s/%s", upload.upload_id, bucket.name,
                             upload.key)
                    done += 1
            if not page.is_truncated or page.next_key_marker is None:
                return done
            key_marker, upload_marker = page.next_key_marker, page.next_upload_id_marker or ""
