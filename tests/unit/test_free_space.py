"""--min-free-space: its forms, its default, and the reserve check on a real filesystem."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from strongroom import blobs
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


class _CountedStatvfs:
    """os.statvfs itself (the real filesystem's figures), counting the calls."""

    def __init__(self) -> None:
        self.calls = 0
        self._real = os.statvfs

    def __call__(self, path: str | os.PathLike[str]) -> os.statvfs_result:
        self.calls += 1
        return self._real(path)


def _free(path: Path) -> tuple[int, int]:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize


def test_small_writes_reuse_a_fresh_reading_and_count_what_they_take(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    free, _ = _free(tmp_path)
    if free < 2 * blobs._REUSE_HEADROOM:
        pytest.skip("needs some free space beyond the reuse headroom")
    counted = _CountedStatvfs()
    monkeypatch.setattr(blobs.os, "statvfs", counted)
    reserve = Reserve.of([tmp_path], lambda total: 0)
    reserve.check(4096)
    reserve.check(4096)
    assert counted.calls == 1  # the second small write used the first one's reading
    # A reading admits _REUSE_BUDGET bytes at most, then the next write takes a fresh one.
    for _ in range(blobs._REUSE_BUDGET // 4096 - 2):
        reserve.check(4096)
    assert counted.calls == 1
    reserve.check(4096)
    assert counted.calls == 2
    # A large write always takes a fresh reading, and the next small one does too.
    reserve.check(blobs._REUSE_BUDGET + 1)
    reserve.check(4096)
    assert counted.calls == 4
    # A reading is reused for _REUSE_SECONDS at most.
    time.sleep(blobs._REUSE_SECONDS * 1.5)
    reserve.check(4096)
    assert counted.calls == 5


def test_near_the_reserve_every_write_takes_a_fresh_reading(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    free, _ = _free(tmp_path)
    counted = _CountedStatvfs()
    monkeypatch.setattr(blobs.os, "statvfs", counted)
    # Less than the reuse headroom beyond the reserve (allowing for others writing meanwhile).
    near = Reserve.of([tmp_path], lambda total: max(0, free - blobs._REUSE_HEADROOM // 2))
    for n in range(1, 6):
        near.check(4096)
        assert counted.calls == n
    full = Reserve.of([tmp_path], lambda total: total)  # the whole filesystem is the reserve
    with pytest.raises(StorageFull):
        full.check(4096)
    with pytest.raises(StorageFull):  # a refusal is never remembered as room
        full.check(4096)
