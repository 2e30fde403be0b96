"""Every stored version and every upload in progress, for the jobs that go through them all (`verify`,
`report encryption`, `kms list`, `root-key rotate`): the one place that says what "every version" is.

A walk pages through the listing index (1,000 keys a read) and reads each whole record by itself, so no
read transaction stays open across the walk: on a live server's catalog, SQLite's WAL readers and
PostgreSQL's snapshots last one page or one record, and writers never wait for a walk. A key deleted
while the walk runs is skipped; one replaced is seen as its new version.

Every version is every version ListObjectVersions shows, noncurrent ones included; delete markers hold
no bytes and no key, so no job walks them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from strongroom.catalog.api import Catalog
from strongroom.catalog.model import ObjectSummary, ObjectVersion, Upload, VersionSummary

PAGE = 1000


@dataclass(frozen=True, slots=True)
class Scope:
    """Which objects a job covers: one bucket or all, and keys under a prefix."""

    bucket: str | None = None
    prefix: str = ""

    def unknown(self, catalog: Catalog) -> str | None:
        """What is wrong with the scope (a bucket that does not exist), or None: a job refuses it rather
        than report on nothing as if all were well."""
        if self.bucket is not None and catalog.get_bucket(self.bucket) is None:
            return f"strongroom: there is no bucket {self.bucket}"
        return None

    def buckets(self, catalog: Catalog) -> list[str]:
        names = [b.name for b in catalog.list_buckets()]
        return [n for n in names if n == self.bucket] if self.bucket is not None else names


EVERYTHING = Scope()


def _listed_versions(catalog: Catalog, scope: Scope) -> Iterator[tuple[str, VersionSummary]]:
    for bucket in scope.buckets(catalog):
        key_marker, version_marker = "", None
        while True:
            page = catalog.list_versions(bucket, prefix=scope.prefix, key_marker=key_marker,
                                         version_id_marker=version_marker, max_keys=PAGE)
            for listed_version in page.versions:
                if not listed_version.delete_marker:
                    yield bucket, listed_version
            if not page.is_truncated or page.next_key_marker is None:
                break
            key_marker, version_marker = page.next_key_marker, page.next_version_id_marker


def listed(catalog: Catalog, scope: Scope = EVERYTHING) -> Iterator[tuple[str, ObjectSummary]]:
    """(bucket, summary) of every version in scope, from the listing alone: cheap, for totals."""
    for bucket, listed_version in _listed_versions(catalog, scope):
        yield bucket, listed_version.summary


def totals(catalog: Catalog, scope: Scope = EVERYTHING) -> tuple[int, int]:
    """(versions, bytes) in scope, from the listing alone: the total of a job's progress."""
    count = size = 0
    for _, summary in listed(catalog, scope):
        count += 1
        size += summary.size
    return count, size


def versions(catalog: Catalog, scope: Scope = EVERYTHING) -> Iterator[ObjectVersion]:
    """Every stored version in scope, whole (sealing and pieces: a listing holds summaries)."""
    for bucket, listed_version in _listed_versions(catalog, scope):
        version = catalog.get_version(bucket, listed_version.summary.key, listed_version.version_id)
        if version is not None:  # deleted since it was listed
            yield version


def uploads(catalog: Catalog, scope: Scope = EVERYTHING) -> Iterator[Upload]:
    """Every multipart upload in progress in scope."""
    for bucket in scope.buckets(catalog):
        key_marker = upload_marker = ""
        while True:
            page = catalog.list_uploads(bucket, prefix=scope.prefix, key_marker=key_marker,
                                        upload_id_marker=upload_marker)
            yield from page.uploads
            if not page.is_truncated:
                break
            key_marker, upload_marker = page.next_key_marker or "", page.next_upload_id_marker or ""
