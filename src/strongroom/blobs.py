"""The blob store: ciphertext files named by random id, written atomically, read by range.

Layout under the root: `tmp/<id>.tmp` while a blob is written, then `ab/cd/<id>`
(the first two pairs of hex digits of the id), so that directories stay small
(65,536 leaves: 15 files each at a million blobs). A blob becomes visible to readers only by the rename that
`BlobWriter.commit` makes after fsyncing the data, and it is durable once the
directory is fsynced too: the metadata that points to it is committed after that.

Everything here blocks; the server calls it from threads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType

from strongroom import metrics
from strongroom.errors import OutOfSpace

log = logging.getLogger("strongroom.blobs")

_ID_BYTES = 16
# A large blob is flushed to disk as it is written, not all at once by the fsync in commit():
# the write-back then overlaps the body still arriving, and the final fsync is short.
_SYNC_EVERY = 8 << 20
_ID = re.compile(r"[0-9a-f]{32}")  # _ID_BYTES as lowercase hex
_FANOUT = re.compile(r"[0-9a-f]{2}")
_TMP_SUFFIX = ".tmp"


def validate_id(blob_id: str) -> str:
    """Return `blob_id` if it is a well-formed id; raise ValueError otherwise.

    Every path built from an id goes through here, so an id read from a catalog or a
    request can never name a file outside the store ("../x", "/etc/passwd").
    """
    if not isinstance(blob_id, str) or not _ID.fullmatch(blob_id):
        raise ValueError(f"invalid blob id {blob_id!r}")
    return blob_id


def new_blob_id() -> str:
    """A fresh random id (the catalog records it pending before the file is created)."""
    return secrets.token_hex(_ID_BYTES)


class BlobRemoved(Exception):
    """A blob's temporary file was removed while it was written: the sweep gave the write up."""


class StorageFull(OutOfSpace):
    """Writing that many more bytes would leave less free space than the reserve."""


# A reading of the free space (statvfs: about 5 us, most of a small PUT's reserve check) is reused for
# small writes while it is fresh and far from the reserve. Every byte admitted on a reading is counted
# against it, so this process's concurrent writes together never take more than it showed (a fresh
# statvfs per write lets each of them see the same free space). What the reading cannot see is other
# processes' writes (--workers, anything else on the filesystem) in its lifetime: each strongroom
# process admits at most _REUSE_BUDGET bytes unseen, for at most _REUSE_SECONDS, and only on a reading
# that showed _REUSE_HEADROOM beyond the reserve, so a burst from every worker at once stays far from
# the reserve. Near it, every write takes a fresh reading, as before.
_REUSE_SECONDS = 0.1
_REUSE_BUDGET = 1 << 20
_REUSE_HEADROOM = 256 << 20


class Reserve:
    """Free space kept on the filesystems of `paths` (the blob directory, and the SQLite catalog's
    directory): `required(total bytes of the filesystem)` bytes stay free for what deletes need."""

    __slots__ = ("_lock", "_reading", "paths", "required")

    def __init__(self, paths: tuple[Path, ...], required: Callable[[int], int]) -> None:
        self.paths = paths
        self.required = required
        self._lock = threading.Lock()
        # The reading small writes may reuse: (monotonic time it expires, bytes it may still admit).
        self._reading: tuple[float, int] | None = None

    @classmethod
    def of(cls, paths: Iterable[Path], required: Callable[[int], int]) -> Reserve:
        """One path per filesystem: a path that does not exist yet counts as its nearest ancestor."""
        by_device: dict[int, Path] = {}
        for path in paths:
            existing = Path(path)
            while not existing.exists() and existing != existing.parent:
                existing = existing.parent
            by_device.setdefault(os.stat(existing).st_dev, existing)
        return cls(tuple(by_device.values()), required)

    def check(self, incoming: int) -> None:
        """StorageFull unless `incoming` more bytes still leave the reserve free on every path."""
        small = incoming <= _REUSE_BUDGET
        if small:
            with self._lock:
                reading = self._reading
                if reading is not None and incoming <= reading[1] and time.monotonic() < reading[0]:
                    self._reading = (reading[0], reading[1] - incoming)
                    return
        room = self._room_after(incoming)
        reading = None
        if small and room >= _REUSE_HEADROOM:
            reading = (time.monotonic() + _REUSE_SECONDS, _REUSE_BUDGET - incoming)
        with self._lock:
            self._reading = reading

    def room(self) -> int:
        """Bytes free beyond the reserve on the fullest filesystem, read now; StorageFull below it."""
        return self._room_after(0)

    def _room_after(self, incoming: int) -> int:
        """A fresh reading: the least room left beyond the reserve once `incoming` bytes are written;
        StorageFull where there is not enough."""
        least = None
        for path in self.paths:
            st = os.statvfs(path)
            free, total = st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize
            room = free - incoming - self.required(total)
            if room < 0:
                raise StorageFull(f"{free} bytes free on the filesystem of {path}")
            least = room if least is None else min(least, room)
        return 0 if least is None else least


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobWriter:
    """Writes one new blob. Nothing is visible until `commit()`; leaving a `with` block without
    committing removes the temporary file."""

    def __init__(self, store: BlobStore, blob_id: str | None = None) -> None:
        self._store = store
        self.blob_id = validate_id(blob_id) if blob_id is not None else new_blob_id()
        self._tmp = store._tmp_path(self.blob_id)
        self._fd: int | None = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        self._done = False
        self.size = 0
        self._synced = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._fd is None:
            raise ValueError("blob writer is closed")
        view = memoryview(data).cast("B")
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
            self.size += n
        if self.size - self._synced >= _SYNC_EVERY:
            os.fdatasync(self._fd)
            self._synced = self.size

    def commit(self) -> str:
        """Make the blob durable and visible under its id; return the id."""
        if self._fd is None:
            raise ValueError("blob writer is closed")
        start = time.perf_counter()
        try:
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None
        final = self._store._path(self.blob_id)
        try:
            self._store._make_parent(final)
            os.rename(self._tmp, final)
            _fsync_dir(final.parent)
            metrics.BLOB_FSYNC.observe(time.perf_counter() - start)
        except FileNotFoundError:
            self._discard()
            if not self._tmp.parent.exists():
                raise
            # The sweep removed the file of a write that outlived the grace period (its record first).
            raise BlobRemoved(self.blob_id) from None
        except BaseException:
            self._discard()
            raise
        self._done = True
        return self.blob_id

    def abort(self) -> None:
        """Remove the temporary file. Does nothing after commit or a previous abort."""
        if self._done:
            return
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._discard()

    def _discard(self) -> None:
        self._done = True
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.abort()


class BlobReader:
    """An open blob, read at any offset; safe to share between threads (pread has no file position)."""

    def __init__(self, path: Path) -> None:
        self._fd: int | None = os.open(path, os.O_RDONLY | os.O_CLOEXEC)

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes from `offset`; fewer only at the end of the file (the caller
        knows the size it expects, so a short read is how it detects truncation)."""
        if self._fd is None:
            raise ValueError("blob reader is closed")
        if offset < 0 or length < 0:
            raise ValueError("offset and length must not be negative")
        data = os.pread(self._fd, length, offset)
        if len(data) in (0, length):
            return data
        # A regular file reads short only at its end, but the loop costs nothing to be sure.
        chunks = [data]
        got = len(data)
        while got < length:
            more = os.pread(self._fd, length - got, offset + got)
            if not more:
                break
            chunks.append(more)
            got += len(more)
        return b"".join(chunks)

    def size(self) -> int:
        if self._fd is None:
            raise ValueError("blob reader is closed")
        return os.fstat(self._fd).st_size

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class BlobStore:
    def __init__(self, root: Path, reserve: Reserve | None = None) -> None:
        self.root = Path(root)
        self.tmp_dir = self.root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.reserve = reserve

    def check_space(self, incoming: int) -> None:
        """Before new data is written: StorageFull if `incoming` bytes would eat into the reserve."""
        if self.reserve is not None:
            self.reserve.check(incoming)

    def writer(self, blob_id: str | None = None) -> BlobWriter:
        return BlobWriter(self, blob_id)

    def check_writable(self) -> None:
        """For the readiness probe: StorageFull below the reserve (a fresh reading), OSError when a small
        file cannot be written, fsynced and removed in the temporary directory."""
        if self.reserve is not None:
            self.reserve.room()
        path = self.tmp_dir / f".probe-{os.getpid()}-{threading.get_ident()}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"probe")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(path)

    def open(self, blob_id: str) -> BlobReader:
        """Raises FileNotFoundError when there is no such blob."""
        return BlobReader(self._path(blob_id))

    def size(self, blob_id: str) -> int:
        return self._path(blob_id).stat().st_size

    def delete(self, blob_id: str) -> None:
        """Remove a blob and its temporary file; missing ones are fine (deletes are retried, sweeps race
        with them). Any other OSError is raised: the caller keeps what it knows for the next try."""
        for path in (self._path(blob_id), self._tmp_path(blob_id)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def last_modified(self, blob_id: str) -> float | None:
        """When the blob's file or its temporary file (a write in progress) last changed; None if neither
        exists."""
        times = []
        for path in (self._path(blob_id), self._tmp_path(blob_id)):
            with contextlib.suppress(FileNotFoundError):
                times.append(path.stat().st_mtime)
        return max(times, default=None)

    def all_blob_ids(self) -> Iterator[str]:
        """Ids of the committed blobs; files that are not blobs are ignored."""
        for entry in self._scan_blobs():
            yield entry.name

    def files_older_than(self, before: float) -> list[tuple[str, str]]:
        """(blob id, path) of every blob file and temporary file last modified before `before` (epoch
        seconds): the orphan scan's candidates. Files that are not blobs are ignored."""
        def old(entry: os.DirEntry[str]) -> bool:
            try:
                return entry.stat().st_mtime < before
            except FileNotFoundError:
                return False

        with os.scandir(self.tmp_dir) as entries:
            found = [(e.name[:-len(_TMP_SUFFIX)], e.path) for e in entries
                     if e.name.endswith(_TMP_SUFFIX) and _ID.fullmatch(e.name[:-len(_TMP_SUFFIX)])
                     and e.is_file() and old(e)]
        found += [(e.name, e.path) for e in self._scan_blobs() if old(e)]
        return found

    @staticmethod
    def remove_file(path: str) -> int:
        """Best effort: a file that cannot be removed now (EPERM, EROFS, EIO) stays for the next sweep;
        1 if it was removed."""
        try:
            os.unlink(path)
        except FileNotFoundError:
            return 0
        except OSError as e:
            log.warning("could not remove the unreferenced blob file %s (%s); the next sweep will try again",
                        path, e.strerror)
            return 0
        return 1

    # --- paths ---

    def _path(self, blob_id: str) -> Path:
        validate_id(blob_id)
        return self.root / blob_id[:2] / blob_id[2:4] / blob_id

    def _tmp_path(self, blob_id: str) -> Path:
        return self.tmp_dir / f"{validate_id(blob_id)}{_TMP_SUFFIX}"

    def _make_parent(self, path: Path) -> None:
        # A directory made now must itself be durable before the blob in it is: fsync
        # the parent of each directory created.
        created = []
        d = path.parent
        while not d.exists():
            created.append(d)
            d = d.parent
        for d in reversed(created):
            try:
                d.mkdir()
            except FileExistsError:
                continue  # another writer made it; it fsyncs its parent
            _fsync_dir(d.parent)

    def _scan_blobs(self) -> Iterator[os.DirEntry[str]]:
        """The committed blob files, each in the directory its id names."""
        for top in _fanout_dirs(self.root):
            for sub in _fanout_dirs(top.path):
                with os.scandir(sub.path) as entries:
                    yield from [e for e in entries if _ID.fullmatch(e.name) and e.name[:2] == top.name
                                and e.name[2:4] == sub.name and e.is_file()]


def _fanout_dirs(path: str | Path) -> list[os.DirEntry[str]]:
    with os.scandir(path) as entries:
        return [e for e in entries if _FANOUT.fullmatch(e.name) and e.is_dir()]
