"""--min-free-space: its forms, its default, and the reserve check on a real filesystem."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from strongroom.blobs import BlobStore, Reserve, StorageFull
from strongroom.config import FreeSpace, parse_free_space

GIB = 1 << 30


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5GiB", FreeSpace(size=5 * GIB)),
        ("500MB", FreeSpace(size=500 * 10**6)),
        ("1048576", FreeSpace(size=1 << 20)),
        ("1.5 MiB", FreeSpace(size=3 << 19)),
        ("2%", FreeSpace(percent=2.0)),
        ("0", FreeSpace(size=0)),
    ],
)
def test_forms(text: str, expected: FreeSpace) -> None:
    assert parse_free_space(text) == expected


@pytest.mark.parametrize("text", ["", "x", "5 parsecs", "-1", "101%", "1e9"])
def test_bad_forms(text: str) -> None:
    with pytest.raises(ValueError):
        parse_free_space(text)


def test_default_is_one_percent_between_16_mib_and_1_gib() -> None:
    default = FreeSpace()
    assert default.required(10 * GIB) == 100 * GIB // 1000  # 1%
    assert default.required(1000 * GIB) == GIB
    assert default.required(GIB) == 16 << 20
    assert default.required(32 << 20) == 8 << 20  # a quarter of a tiny filesystem
    assert FreeSpace(percent=50).required(GIB) == GIB // 2


def test_reserve_on_the_real_filesystem(tmp_path: Path) -> None:
    st = os.statvfs(tmp_path)
    free = st.f_bavail * st.f_frsize
    store = BlobStore(tmp_path / "blobs", Reserve.of([tmp_path / "blobs", tmp_path], lambda total: free // 2))
    assert store.reserve is not None and len(store.reserve.paths) == 1  # one filesystem, checked once
    store.check_space(0)
    with pytest.raises(StorageFull):
        store.check_space(free)
    BlobStore(tmp_path / "other").check_space(free * 2)  # no reserve: never refused
