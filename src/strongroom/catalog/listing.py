"""S3 listing semantics over any ordered key index: prefix, delimiter, start-after, page size.

Pure logic, shared by every catalog backend. A backend supplies `fetch(lo,
inclusive, hi, n)`: up to n rows in key order with lo <= key (or lo < key) and
key < hi, each row starting with its key. `walk` turns that into the entries of
one page, seeking past each common prefix instead of reading the keys under it.

The order is Python's str order, which for valid Unicode scalar values is the
UTF-8 byte order S3 uses (and SQLite's BINARY collation).

The listing is a sequence of entries, keys and common prefixes, each at the
position of its own string; `after` (StartAfter, Marker, a continuation token)
returns only entries that sort strictly after it. So a common prefix equal to
`after` is not returned again (the previous page ended with it), and neither
is a common prefix that `after` lies inside of (`a/` when after is `a/x`):
`a/` sorts before `a/x`, it is an entry the caller has already passed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

Fetch = Callable[[str, bool, "str | None", int], Iterable[Sequence[Any]]]
# One entry of a page: (key, row) for an object, (common prefix, None) for a common prefix.
Entry = tuple[str, Any]

_MAX_CHAR = 0x10FFFF


def key_successor(s: str) -> str | None:
    """The least string greater than every string that starts with `s`; None when there is none.

    Increment the last character; U+10FFFF cannot be incremented, so drop it and
    carry. Surrogates (U+D800..U+DFFF) are not valid in a key, so U+D7FF steps to U+E000.
    """
    while s:
        c = ord(s[-1])
        if c < _MAX_CHAR:
            c = 0xE000 if c == 0xD7FF else c + 1
            return s[:-1] + chr(c)
        s = s[:-1]
    return None


def common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    """The common prefix `key` rolls up into, or None when it is listed as itself."""
    if not delimiter:
        return None
    i = key.find(delimiter, len(prefix))
    return None if i < 0 else key[: i + len(delimiter)]


def start(prefix: str, after: str) -> tuple[str, bool, str | None] | None:
    """(lo, inclusive, hi) of the key range a listing reads; None when it is empty."""
    hi = key_successor(prefix) if prefix else None
    lo, inclusive = (after, False) if after >= prefix else (prefix, True)
    if hi is not None and lo >= hi:
        return None
    return lo, inclusive, hi


def walk(fetch: Fetch, prefix: str, delimiter: str, after: str, want: int) -> list[Entry]:
    """Up to `want` entries after `after`, in order (ask for one more than a page to learn truncation).

    Every fetched row yields an entry or ends the run with a seek past its common
    prefix, so no more than `want` rows plus one per common prefix are read.
    """
    entries: list[Entry] = []
    bounds = start(prefix, after)
    if bounds is None or want <= 0:
        return entries
    lo, inclusive, hi = bounds
    while len(entries) < want:
        seek: str | None = None
        exhausted = True
        for row in fetch(lo, inclusive, hi, want - len(entries)):
            key = row[0]
            cp = common_prefix(key, prefix, delimiter)
            if cp is None:
                entries.append((key, row))
                continue
            if cp > after:
                entries.append((cp, None))
            seek = key_successor(cp)
            exhausted = False
            break
        if exhausted or seek is None or (hi is not None and seek >= hi):
            break
        lo, inclusive = seek, True
    return entries
