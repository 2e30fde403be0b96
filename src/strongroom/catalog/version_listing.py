"""ListObjectVersions' page, over any engine's versions table: pure logic, as listing.py is for keys.

An engine supplies a `VersionFetch`: rows of SUMMARY_COLUMNS plus (null_version, delete_marker, id), in
key order and newest first within a key. The page starts after (key-marker, version-id-marker): first
the versions of key-marker's key older than the one named, then the keys after it; a common prefix is
skipped with one seek, as `listing.walk` does. A row is the latest version of its key when it is the
first row of that key the walk reads, unless the walk started inside the key (a version-id-marker).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from strongroom.catalog.listing import common_prefix, key_successor, start
from strongroom.catalog.model import ObjectSummary, VersionPage, VersionSummary

NULL = "null"  # the id S3 shows for the null version
Row = Sequence[Any]


@dataclass(frozen=True, slots=True)
class VersionFetch:
    # The versions of `key` older than the one S3 names `version_id`, n at most; None when it is not there.
    older: Callable[[str, str, int], list[Row] | None]
    # listing.Fetch's contract over the versions: n rows at most of the keys in [lo or (lo, hi).
    keys: Callable[[str, bool, str | None, int], list[Row]]


def versions_page(fetch: VersionFetch, decode: Callable[[Any], ObjectSummary], prefix: str, delimiter: str,
                  key_marker: str, version_id_marker: str | None, max_keys: int) -> VersionPage:
    want = max_keys + 1
    entries: list[tuple[str, Row | None, bool]] = []  # (key or common prefix, row or None, is latest)
    if (version_id_marker is not None and key_marker.startswith(prefix)
            and common_prefix(key_marker, prefix, delimiter) is None):
        older = fetch.older(key_marker, version_id_marker, want) or []
        entries.extend((key_marker, row, False) for row in older)
    bounds = start(prefix, key_marker)
    previous = key_marker if version_id_marker is not None else None
    while bounds is not None and len(entries) < want:
        lo, inclusive, hi = bounds
        n = want - len(entries)
        rows = fetch.keys(lo, inclusive, hi, n)
        bounds = None
        for row in rows:
            key = row[0]
            cp = common_prefix(key, prefix, delimiter)
            if cp is not None:
                if cp > key_marker:  # not the prefix the previous page ended on, or inside
                    entries.append((cp, None, False))
                seek = key_successor(cp)
                if seek is not None and (hi is None or seek < hi):
                    bounds = (seek, True, hi)
                break
            entries.append((key, row, key != previous))
            previous = key
        # Without a seek every row made an entry: a short batch is the end, a full one fills the page.
    page, truncated = entries[:max_keys], len(entries) > max_keys
    versions = tuple(VersionSummary(decode(row[:8]), NULL if row[8] else row[1], latest, bool(row[9]))
                     for _, row, latest in page if row is not None)
    prefixes = tuple(name for name, row, _ in page if row is None)
    next_key = next_version = None
    if truncated and page:
        next_key, last, _ = page[-1]
        next_version = None if last is None else (NULL if last[8] else last[1])
    return VersionPage(versions, prefixes, truncated, next_key, next_version)
