"""Segmented AES-256-GCM streams: the format of every object blob (see FORMAT.md).

This module owns the blob layout: an 8-byte header, then the plaintext cut into
64 KiB segments, each sealed with AES-256-GCM under the object's (or part's) own
key and, with a second key, sealed again under that one. `Encryptor` turns a
stream of plaintext pieces into blob bytes; `Decryptor` maps a plaintext range to
the whole segments that cover it and opens them. Files and HTTP are not its concern.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.crypto.errors import IntegrityError

SEGMENT_SIZE = 65536
TAG_SIZE = 16
FORMAT_VERSION = 1

_KEY_SIZE = 32
_MAX_LAYERS = 2
_MAX_PART_NUMBER = 2**32 - 1
_MAGIC = b"SRBLOB"
# magic, format version, number of layers
_HEADER = struct.Struct(">6sBB")
# format version, number of layers, layer index, part number, segment number, final flag
_AD = struct.Struct(">BBBIQB")
# Output buffers up to this size are kept and reused between calls: a fresh large
# buffer per call costs page faults (PERF-NOTES), a kept one costs nothing.
# Larger ones are one-offs, so memory does not stay at the size of one huge call.
_KEEP_BUFFER_LIMIT = 4 * 1024 * 1024


def header_size() -> int:
    """Size of the blob header in bytes."""
    return _HEADER.size


def segment_count(plaintext_size: int) -> int:
    """Number of segments in a blob; an empty plaintext is one empty final segment."""
    _check_plaintext_size(plaintext_size)
    return max(1, -(-plaintext_size // SEGMENT_SIZE))


_HEADERS = {layers: _HEADER.pack(_MAGIC, FORMAT_VERSION, layers) for layers in range(1, _MAX_LAYERS + 1)}


def blob_header(layers: int) -> bytes:
    """The 8 bytes every blob of this format with `layers` layers starts with (checkable without a key)."""
    try:
        return _HEADERS[layers]
    except KeyError:
        raise ValueError(f"layers must be 1 or 2, not {layers}") from None


def ciphertext_size(plaintext_size: int, layers: int = 1) -> int:
    """Size of the whole blob (header included) for a plaintext of `plaintext_size` bytes."""
    if not 1 <= layers <= _MAX_LAYERS:
        raise ValueError(f"layers must be 1 or 2, not {layers}")
    return _HEADER.size + plaintext_size + segment_count(plaintext_size) * TAG_SIZE * layers


class _Stream:
    """What Encryptor and Decryptor share: the layer ciphers, nonces and associated data."""

    def __init__(self, keys: Sequence[bytes], part_number: int) -> None:
        if not 1 <= len(keys) <= _MAX_LAYERS:
            raise ValueError(f"need 1 or 2 keys, got {len(keys)}")
        if any(len(key) != _KEY_SIZE for key in keys):
            raise ValueError(f"every key must be {_KEY_SIZE} bytes")
        if len(keys) == 2 and keys[0] == keys[1]:
            # Two layers under one key would be one layer of protection, not two.
            raise ValueError("the two layer keys must differ")
        if isinstance(part_number, bool) or not 0 <= part_number <= _MAX_PART_NUMBER:
            raise ValueError(f"part_number must be in 0..{_MAX_PART_NUMBER}")
        # Only the cipher objects are kept, never the raw keys.
        self._aeads = tuple(AESGCM(bytes(key)) for key in keys)
        self._layers = len(keys)
        self._part_number = part_number
        self._overhead = TAG_SIZE * self._layers
        self._sealed_segment_size = SEGMENT_SIZE + self._overhead
        # The inner layer's output when there are two layers.
        self._scratch = memoryview(bytearray(SEGMENT_SIZE + TAG_SIZE)) if self._layers == 2 else None
        self._out = bytearray()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(layers={self._layers}, part_number={self._part_number})"

    def _ad(self, layer: int, index: int, final: bool) -> bytes:
        return _AD.pack(FORMAT_VERSION, self._layers, layer, self._part_number, index, final)

    def _output(self, size: int) -> memoryview:
        """A buffer of `size` bytes to seal or open into, reused between calls when small enough."""
        if size > _KEEP_BUFFER_LIMIT:
            return memoryview(bytearray(size))
        if len(self._out) < size:
            self._out = bytearray(size)
        return memoryview(self._out)[:size]


def _nonce(layer: int, index: int) -> bytes:
    # A counter is safe because every key is random and seals one stream only; the
    # layer index in the top bits keeps the layers' nonces apart all the same.
    return ((layer << 64) | index).to_bytes(12, "big")


def _check_plaintext_size(plaintext_size: int) -> None:
    if plaintext_size < 0:
        raise ValueError(f"plaintext size must not be negative, got {plaintext_size}")


class Encryptor:
    """Seals a plaintext stream into one blob.

    `header()`, then every `update()` result, then `finalize()`, concatenated in
    that order, are the blob: exactly `ciphertext_size(total, layers)` bytes.
    An instance reuses its buffers, so use it from one thread at a time.
    """

    def __init__(self, keys: Sequence[bytes], part_number: int) -> None:
        self._stream = _Stream(keys, part_number)
        # Plaintext not sealed yet, at most one segment. A full segment stays here
        # until more data arrives, because only finalize() knows which one is final.
        self._pending = bytearray(SEGMENT_SIZE)
        self._pending_size = 0
        self._next_index = 0
        self._finalized = False

    def __repr__(self) -> str:
        return repr(self._stream)

    def header(self) -> bytes:
        return _HEADERS[self._stream._layers]

    def update(self, data: bytes | bytearray | memoryview) -> bytes:
        """Take more plaintext; return the sealed segments now known not to be final."""
        if self._finalized:
            raise RuntimeError("update() after finalize()")
        view = memoryview(data).cast("B")
        size = len(view)
        available = self._pending_size + size
        # Seal only full segments that more data follows; the last one may be final.
        count = (available - 1) // SEGMENT_SIZE if available else 0
        if count == 0:
            self._pending[self._pending_size : available] = view
            self._pending_size = available
            return b""
        step = self._stream._sealed_segment_size
        out = self._stream._output(count * step)
        position = 0
        written = 0
        if self._pending_size:
            position = SEGMENT_SIZE - self._pending_size
            self._pending[self._pending_size :] = view[:position]
            self._seal(memoryview(self._pending), False, out[:step])
            written = step
        while written < len(out):
            self._seal(view[position : position + SEGMENT_SIZE], False, out[written : written + step])
            position += SEGMENT_SIZE
            written += step
        tail = size - position
        self._pending[:tail] = view[position:]
        self._pending_size = tail
        # One copy into one new object per call, not one object per segment (PERF-NOTES).
        return bytes(out)

    def finalize(self) -> bytes:
        """Seal what is left as the final segment (an empty one for an empty stream)."""
        if self._finalized:
            raise RuntimeError("finalize() called twice")
        self._finalized = True
        out = bytearray(self._pending_size + self._stream._overhead)
        self._seal(memoryview(self._pending)[: self._pending_size], True, memoryview(out))
        self._pending = bytearray()
        return bytes(out)

    def _seal(self, plaintext: memoryview, final: bool, out: memoryview) -> None:
        stream = self._stream
        index = self._next_index
        self._next_index += 1
        if stream._scratch is None:
            stream._aeads[0].encrypt_into(_nonce(0, index), plaintext, stream._ad(0, index, final), out)
            return
        inner = stream._scratch[: len(plaintext) + TAG_SIZE]
        stream._aeads[0].encrypt_into(_nonce(0, index), plaintext, stream._ad(0, index, final), inner)
        stream._aeads[1].encrypt_into(_nonce(1, index), inner, stream._ad(1, index, final), out)


class Decryptor:
    """Opens the segments of one blob whose plaintext is `plaintext_size` bytes.

    A range read is `span()`, then reading that many bytes of the blob at that
    offset, then `decrypt_range()`; or, to stream a long range, `decrypt()` on
    successive whole segments of it. `decrypt()` accepts any run of whole segments,
    so a read that came back short by whole segments is the caller's to notice;
    `decrypt_range()` checks that for you. An instance reuses its buffers, so use
    it from one thread at a time (one per reader).
    """

    def __init__(self, keys: Sequence[bytes], part_number: int, plaintext_size: int) -> None:
        self._stream = _Stream(keys, part_number)
        self._plaintext_size = plaintext_size
        self._segments = segment_count(plaintext_size)
        last_plaintext = plaintext_size - (self._segments - 1) * SEGMENT_SIZE
        self._last_sealed_size = last_plaintext + self._stream._overhead

    def __repr__(self) -> str:
        return f"{self._stream!r}[plaintext_size={self._plaintext_size}]"

    def check_header(self, header: bytes | bytearray | memoryview) -> None:
        """Raise IntegrityError unless `header` is this format's header with our number of layers."""
        header = bytes(header)
        if len(header) != _HEADER.size:
            raise IntegrityError(f"blob header is {len(header)} bytes, expected {_HEADER.size}")
        magic, version, layers = _HEADER.unpack(header)
        if magic != _MAGIC:
            raise IntegrityError("blob header has a wrong magic number")
        if version != FORMAT_VERSION:
            raise IntegrityError(f"blob format version {version} is not supported")
        if layers != self._stream._layers:
            raise IntegrityError(f"blob has {layers} layer(s), expected {self._stream._layers}")

    def span(self, start: int, end: int) -> tuple[int, int, int]:
        """Whole segments covering plaintext [start, end): (first segment, blob offset, length).

        An empty range still names one segment, so that reading it (an empty
        object, say) still authenticates something.
        """
        if not 0 <= start <= end <= self._plaintext_size:
            raise ValueError(f"range [{start}, {end}) is outside a plaintext of {self._plaintext_size} bytes")
        first = min(start // SEGMENT_SIZE, self._segments - 1)
        last = max(first, (end - 1) // SEGMENT_SIZE)
        step = self._stream._sealed_segment_size
        offset = _HEADER.size + first * step
        return first, offset, (last - first) * step + self._sealed_size(last)

    def decrypt(self, first_segment: int, ciphertext: bytes | bytearray | memoryview) -> bytes:
        """Open one or more consecutive whole segments starting at `first_segment`."""
        return bytes(self._open_segments(first_segment, ciphertext))

    def decrypt_range(self, start: int, end: int, ciphertext: bytes | bytearray | memoryview) -> bytes:
        """Plaintext [start, end) from exactly the blob bytes that `span(start, end)` named."""
        first, _, length = self.span(start, end)
        size = memoryview(ciphertext).nbytes
        if size != length:
            # A short read that ends on a segment boundary would otherwise open cleanly.
            raise IntegrityError(f"expected {length} bytes of ciphertext for the range, got {size}")
        base = first * SEGMENT_SIZE
        return bytes(self._open_segments(first, ciphertext)[start - base : end - base])

    def _open_segments(self, first_segment: int, ciphertext: bytes | bytearray | memoryview) -> memoryview:
        """The plaintext of whole segments, in a buffer that the next call reuses."""
        if not 0 <= first_segment < self._segments:
            raise ValueError(f"segment {first_segment} is outside a blob of {self._segments} segment(s)")
        view = memoryview(ciphertext).cast("B")
        size = len(view)
        step = self._stream._sealed_segment_size
        # Segments before the last are all `step` bytes; the last one is shorter or equal.
        middle = self._segments - 1 - first_segment
        if 0 < size <= middle * step and size % step == 0:
            count = size // step
        elif size == middle * step + self._last_sealed_size:
            count = middle + 1
        else:
            raise IntegrityError(
                f"{size} bytes of ciphertext are not whole segments from segment {first_segment}"
            )
        out = self._stream._output(size - count * self._stream._overhead)
        read = 0
        written = 0
        for index in range(first_segment, first_segment + count):
            sealed = min(step, size - read)
            plain = sealed - self._stream._overhead
            self._open(index, view[read : read + sealed], out[written : written + plain])
            read += sealed
            written += plain
        return out

    def _sealed_size(self, index: int) -> int:
        return self._stream._sealed_segment_size if index < self._segments - 1 else self._last_sealed_size

    def _open(self, index: int, sealed: memoryview, out: memoryview) -> None:
        stream = self._stream
        final = index == self._segments - 1
        try:
            if stream._scratch is None:
                stream._aeads[0].decrypt_into(_nonce(0, index), sealed, stream._ad(0, index, final), out)
                return
            inner = stream._scratch[: len(sealed) - TAG_SIZE]
            stream._aeads[1].decrypt_into(_nonce(1, index), sealed, stream._ad(1, index, final), inner)
            stream._aeads[0].decrypt_into(_nonce(0, index), inner, stream._ad(0, index, final), out)
        except InvalidTag:
            raise IntegrityError(f"segment {index} failed authentication") from None
