"""BlobStore: atomic commit, abort, ranged reads, sweep, and id validation."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from strongroom.blobs import BlobRemoved, BlobStore, new_blob_id, validate_id


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def put(store: BlobStore, data: bytes) -> str:
    with store.writer() as w:
        w.write(data)
        return w.commit()


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_commit_then_read(store: BlobStore) -> None:
    data = os.urandom(200_000)
    with store.writer() as w:
        w.write(data[:1000])
        w.write(memoryview(data)[1000:150_000])
        w.write(bytearray(data[150_000:]))
        assert list(store.all_blob_ids()) == []  # not visible before commit
        blob_id = w.commit()
    validate_id(blob_id)
    assert store.root / blob_id[:2] / blob_id[2:4] / blob_id in files_under(store.root)
    assert files_under(store.tmp_dir) == []
    assert store.size(blob_id) == len(data)
    with store.open(blob_id) as r:
        assert r.read_at(0, len(data)) == data
        assert r.read_at(65_536, 10) == data[65_536:65_546]
        assert r.read_at(len(data) - 5, 100) == data[-5:]  # short at the end: the caller detects it
        assert r.read_at(len(data) + 10, 100) == b""
        assert r.read_at(7, 0) == b""
        with pytest.raises(ValueError):
            r.read_at(-1, 10)
    assert list(store.all_blob_ids()) == [blob_id]


def test_empty_blob(store: BlobStore) -> None:
    blob_id = put(store, b"")
    assert store.size(blob_id) == 0
    r = store.open(blob_id)
    assert r.read_at(0, 10) == b""
    r.close()
    r.close()  # closing twice is fine
    with pytest.raises(ValueError):
        r.read_at(0, 1)


def test_ids_are_unique(store: BlobStore) -> None:
    ids = {put(store, b"x") for _ in range(50)}
    assert len(ids) == 50
    assert set(store.all_blob_ids()) == ids


def test_abort_and_leaving_without_commit(store: BlobStore) -> None:
    w = store.writer()
    w.write(b"partial")
    assert len(files_under(store.tmp_dir)) == 1
    w.abort()
    w.abort()
    assert files_under(store.root) == []
    with pytest.raises(ValueError):
        w.write(b"more")

    with pytest.raises(RuntimeError), store.writer() as w2:
        w2.write(b"data")
        raise RuntimeError("client went away")
    assert files_under(store.root) == []


def test_abort_after_commit_keeps_the_blob(store: BlobStore) -> None:
    w = store.writer()
    w.write(b"keep")
    blob_id = w.commit()
    w.abort()
    with pytest.raises(ValueError):
        w.commit()
    assert store.size(blob_id) == 4


def test_delete(store: BlobStore) -> None:
    blob_id = put(store, b"gone soon")
    store.delete(blob_id)
    store.delete(blob_id)  # missing is fine
    assert list(store.all_blob_ids()) == []
    with pytest.raises(FileNotFoundError):
        store.open(blob_id)
    with pytest.raises(FileNotFoundError):
        store.size(blob_id)


@pytest.mark.parametrize("bad", [
    "", "../../etc/passwd", "0" * 31, "0" * 33, "A" * 32, "g" * 32, "/" + "0" * 31, "00/00/" + "0" * 26,
    "0" * 31 + "\n", "٠" * 32,
])
def test_ids_are_validated_before_touching_paths(store: BlobStore, bad: str) -> None:
    with pytest.raises(ValueError):
        validate_id(bad)
    with pytest.raises(ValueError):
        store.open(bad)
    with pytest.raises(ValueError):
        store.size(bad)
    with pytest.raises(ValueError):
        store.delete(bad)


def test_all_blob_ids_ignores_strays(store: BlobStore) -> None:
    blob_id = put(store, b"real")
    (store.root / "notes.txt").write_text("x")
    (store.root / "zz").mkdir()
    (store.root / blob_id[:2] / blob_id[2:4] / "stray").write_text("x")
    misplaced = "f" * 32
    (store.root / blob_id[:2] / blob_id[2:4] / misplaced).write_text("x")  # not where its id says
    assert list(store.all_blob_ids()) == [blob_id]
    in_future = time.time() + 60
    assert [i for i, _ in store.files_older_than(in_future)] == [blob_id]  # strays are not ours to remove
    assert (store.root / "notes.txt").exists()


def test_files_older_than_spares_recent_files(store: BlobStore) -> None:
    old_blob, new_blob = put(store, b"old"), put(store, b"new")
    old_tmp, new_tmp = store.writer(), store.writer()
    old_tmp.write(b"stale")
    new_tmp.write(b"in flight")
    an_hour_ago = time.time() - 3600
    old_files = [store.root / old_blob[:2] / old_blob[2:4] / old_blob,
                 store.tmp_dir / f"{old_tmp.blob_id}.tmp"]
    for path in old_files:
        os.utime(path, (an_hour_ago, an_hour_ago))
    found = store.files_older_than(time.time() - 60)
    assert sorted(found) == sorted(zip([old_blob, old_tmp.blob_id], map(str, old_files), strict=True))
    assert sum(store.remove_file(path) for _, path in found) == 2
    assert list(store.all_blob_ids()) == [new_blob]
    assert new_tmp.commit() == new_tmp.blob_id  # the in-flight write survived
    old_tmp.abort()  # its file is gone already; abort does not mind
    assert set(store.all_blob_ids()) == {new_blob, new_tmp.blob_id}


def test_a_writer_takes_the_id_recorded_for_it(store: BlobStore) -> None:
    blob_id = new_blob_id()
    writer = store.writer(blob_id)
    writer.write(b"x")
    assert store.last_modified(blob_id) is not None  # the temporary file counts
    assert writer.commit() == blob_id
    assert store.last_modified(blob_id) == pytest.approx(time.time(), abs=60)
    store.delete(blob_id)
    assert store.last_modified(blob_id) is None
    with pytest.raises(ValueError):
        store.writer("../escape")


def test_delete_removes_a_dead_writer_s_temporary_file(store: BlobStore) -> None:
    writer = store.writer()
    writer.write(b"killed mid-write")
    store.delete(writer.blob_id)
    assert files_under(store.tmp_dir) == []


def test_reopened_store_sees_blobs(store: BlobStore) -> None:
    blob_id = put(store, b"persisted")
    again = BlobStore(store.root)
    with again.open(blob_id) as r:
        assert r.read_at(0, 100) == b"persisted"


def test_a_writer_whose_file_the_sweep_removed_fails_clearly(store: BlobStore) -> None:
    writer = store.writer()
    writer.write(b"a write that outlived the grace period")
    os.unlink(store.tmp_dir / f"{writer.blob_id}.tmp")  # what the sweep does to a dead write's file
    writer.write(b"more")
    with pytest.raises(BlobRemoved):
        writer.commit()
    assert writer.blob_id not in set(store.all_blob_ids())
