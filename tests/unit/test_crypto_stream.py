"""The blob format: known-answer vectors, round trips, range maths and tampering."""

from __future__ import annotations

import hashlib
import json
import random
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.crypto import (
    FORMAT_VERSION,
    SEGMENT_SIZE,
    TAG_SIZE,
    Decryptor,
    Encryptor,
    IntegrityError,
    blob_header,
    ciphertext_size,
    header_size,
    segment_count,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "crypto" / "stream.json").read_text())
K1 = bytes(range(32))
K2 = bytes(range(32, 64))
K3 = bytes(range(64, 96))
HEADER = header_size()


def pattern(size: int) -> bytes:
    return bytes(i % 251 for i in range(size))


def encrypt(keys: list[bytes], part_number: int, plaintext: bytes, pieces: list[int] | None = None) -> bytes:
    encryptor = Encryptor(keys, part_number)
    out = [encryptor.header()]
    position = 0
    for size in pieces or []:
        out.append(encryptor.update(plaintext[position : position + size]))
        position += size
    out.append(encryptor.update(plaintext[position:]))
    out.append(encryptor.finalize())
    return b"".join(out)


def decrypt_range(decryptor: Decryptor, blob: bytes, start: int, end: int) -> bytes:
    """span + decrypt + slicing by hand, and decrypt_range, which must agree."""
    first, offset, length = decryptor.span(start, end)
    base = first * SEGMENT_SIZE
    by_hand = decryptor.decrypt(first, blob[offset : offset + length])[start - base : end - base]
    assert decryptor.decrypt_range(start, end, blob[offset : offset + length]) == by_hand
    return by_hand


def decrypt_all(keys: list[bytes], part_number: int, blob: bytes, plaintext_size: int) -> bytes:
    decryptor = Decryptor(keys, part_number, plaintext_size)
    decryptor.check_header(blob[:HEADER])
    _, offset, length = decryptor.span(0, plaintext_size)
    return decryptor.decrypt_range(0, plaintext_size, blob[offset : offset + length])


def reference_blob(keys: list[bytes], part_number: int, plaintext: bytes) -> bytes:
    """The format written straight from FORMAT.md, independently of stream.py."""
    layers = len(keys)
    segments = [plaintext[i : i + SEGMENT_SIZE] for i in range(0, len(plaintext), SEGMENT_SIZE)] or [b""]
    out = [b"SRBLOB" + bytes([1, layers])]
    for index, segment in enumerate(segments):
        final = index == len(segments) - 1
        for layer, key in enumerate(keys):
            nonce = (layer * 2**64 + index).to_bytes(12, "big")
            ad = struct.pack(">BBBIQB", 1, layers, layer, part_number, index, final)
            segment = AESGCM(key).encrypt(nonce, segment, ad)
        out.append(segment)
    return b"".join(out)


# Known answers


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: f"{len(c['keys'])}L-p{c['part_number']}")
def test_vector(case: dict) -> None:
    keys = [bytes.fromhex(k) for k in case["keys"]]
    part = case["part_number"]
    if "plaintext" in case:
        plaintext = bytes.fromhex(case["plaintext"])
        expected = bytes.fromhex(case["blob"])
        assert encrypt(keys, part, plaintext) == expected
    else:
        plaintext = pattern(case["plaintext_size"])
        blob = encrypt(keys, part, plaintext)
        assert len(blob) == case["blob_size"]
        assert blob[:64].hex() == case["blob_head"]
        assert blob[-64:].hex() == case["blob_tail"]
        assert hashlib.sha256(blob).hexdigest() == case["blob_sha256"]
        expected = blob
    assert decrypt_all(keys, part, expected, len(plaintext)) == plaintext
    assert reference_blob(keys, part, plaintext) == expected


def test_vectors_cover_the_edges() -> None:
    assert VECTORS["segment_size"] == SEGMENT_SIZE
    assert VECTORS["format_version"] == FORMAT_VERSION
    sizes = {
        (len(c["keys"]), c.get("plaintext_size", len(c.get("plaintext", "")) // 2)) for c in VECTORS["cases"]
    }
    assert {(1, 0), (1, 65535), (1, 65536), (1, 65537), (2, 0)} <= sizes


def test_constants_and_sizes() -> None:
    assert (SEGMENT_SIZE, TAG_SIZE, FORMAT_VERSION, HEADER) == (65536, 16, 1, 8)
    assert [segment_count(n) for n in (0, 1, 65535, 65536, 65537, 3 * 65536)] == [1, 1, 1, 1, 2, 3]
    assert ciphertext_size(0) == 8 + 16
    assert ciphertext_size(0, layers=2) == 8 + 32
    assert ciphertext_size(65537) == 8 + 65537 + 32
    assert ciphertext_size(65537, 2) == 8 + 65537 + 64
    with pytest.raises(ValueError):
        ciphertext_size(1, layers=3)
    with pytest.raises(ValueError):
        segment_count(-1)


# Round trips

SIZES = [0, 1, 65535, 65536, 65537, 3 * 65536, 3 * 65536 + 1, *random.Random(7).sample(range(2, 300_000), 4)]


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("size", SIZES)
def test_round_trip(size: int, layers: int) -> None:
    keys = [K1, K2][:layers]
    plaintext = random.Random(size).randbytes(size)
    blob = encrypt(keys, 5, plaintext)
    assert len(blob) == ciphertext_size(size, layers)
    assert blob == reference_blob(keys, 5, plaintext)
    assert decrypt_all(keys, 5, blob, size) == plaintext


@pytest.mark.parametrize("size", [0, 1, 1000, 65535, 65536, 65537, 3 * 65536, 200_001])
def test_any_feeding_pattern_gives_the_same_blob(size: int) -> None:
    plaintext = pattern(size)
    expected = encrypt([K1], 1, plaintext)
    rng = random.Random(size)
    patterns = [
        [],
        [0, 0],
        [65536] * (size // 65536),
        [65535, 1] * (size // 65536),
        [rng.randrange(0, 70_000) for _ in range(8)],
        [rng.randrange(0, 5) for _ in range(50)],
    ]
    for pieces in patterns:
        assert encrypt([K1], 1, plaintext, pieces) == expected


def test_byte_by_byte() -> None:
    plaintext = pattern(2 * 65536 + 3)
    encryptor = Encryptor([K1, K2], 9)
    out = [encryptor.header()]
    out += [encryptor.update(plaintext[i : i + 1]) for i in range(len(plaintext))]
    out.append(encryptor.finalize())
    assert b"".join(out) == encrypt([K1, K2], 9, plaintext)


def test_update_holds_back_the_latest_full_segment() -> None:
    encryptor = Encryptor([K1], 1)
    assert encryptor.update(bytes(65536)) == b""
    assert len(encryptor.update(b"x")) == 65536 + TAG_SIZE
    assert encryptor.update(bytes(65535)) == b""
    assert len(encryptor.update(bytes(2 * 65536))) == 2 * (65536 + TAG_SIZE)
    assert len(encryptor.finalize()) == 65536 + TAG_SIZE


def test_accepts_bytearray_and_memoryview() -> None:
    plaintext = pattern(70_000)
    encryptor = Encryptor([K1], 1)
    blob = encryptor.header() + encryptor.update(bytearray(plaintext[:100]))
    blob += encryptor.update(memoryview(plaintext)[100:]) + encryptor.finalize()
    assert blob == encrypt([K1], 1, plaintext)
    decryptor = Decryptor([K1], 1, len(plaintext))
    assert decryptor.decrypt(0, memoryview(blob)[HEADER:]) == plaintext
    assert decryptor.decrypt(0, bytearray(blob[HEADER:])) == plaintext


def test_results_are_independent_of_later_calls() -> None:
    # Output buffers are reused inside; what was returned must not change.
    encryptor = Encryptor([K1], 1)
    first = encryptor.update(pattern(3 * 65536))
    kept = bytes(first)
    encryptor.update(bytes(3 * 65536))
    assert first == kept
    decryptor = Decryptor([K1], 1, 4 * 65536)
    blob = encrypt([K1], 1, pattern(4 * 65536))
    opened = decryptor.decrypt(0, blob[HEADER : HEADER + 2 * (65536 + 16)])
    decryptor.decrypt(2, blob[HEADER + 2 * (65536 + 16) :])
    assert opened == pattern(4 * 65536)[: 2 * 65536]


def test_large_update_beyond_the_kept_buffer() -> None:
    plaintext = random.Random(1).randbytes(5 * 1024 * 1024 + 17)
    blob = encrypt([K1], 1, plaintext)
    assert decrypt_all([K1], 1, blob, len(plaintext)) == plaintext


def test_update_after_finalize_raises() -> None:
    encryptor = Encryptor([K1], 1)
    encryptor.finalize()
    with pytest.raises(RuntimeError):
        encryptor.update(b"more")
    with pytest.raises(RuntimeError):
        encryptor.finalize()


@pytest.mark.parametrize(
    "keys",
    [[], [K1, K2, K3], [K1[:31]], [K1 + b"x"], [K1, K1]],
    ids=["none", "three", "short", "long", "same-twice"],
)
def test_bad_keys_are_refused(keys: list[bytes]) -> None:
    with pytest.raises(ValueError) as info:
        Encryptor(keys, 1)
    assert K1.hex() not in str(info.value)
    with pytest.raises(ValueError):
        Decryptor(keys, 1, 10)


@pytest.mark.parametrize("part_number", [-1, 2**32, True])
def test_bad_part_numbers_are_refused(part_number: int) -> None:
    with pytest.raises(ValueError):
        Encryptor([K1], part_number)


def test_repr_shows_no_key() -> None:
    for obj in (Encryptor([K1, K2], 3), Decryptor([K1, K2], 3, 10)):
        text = repr(obj)
        assert "layers=2" in text and "part_number=3" in text
        for key in (K1, K2):
            assert key.hex() not in text and repr(key) not in text


# Range maths

RANGE_SIZE = 3 * 65536 + 123


def edge_points(size: int) -> list[int]:
    points = {0, 1, size - 1, size}
    for edge in range(SEGMENT_SIZE, size, SEGMENT_SIZE):
        points |= {edge - 1, edge, edge + 1}
    return sorted(p for p in points if 0 <= p <= size)


@pytest.mark.parametrize("layers", [1, 2])
def test_ranges_around_segment_edges(layers: int) -> None:
    keys = [K1, K2][:layers]
    plaintext = random.Random(3).randbytes(RANGE_SIZE)
    blob = encrypt(keys, 2, plaintext)
    decryptor = Decryptor(keys, 2, RANGE_SIZE)
    points = edge_points(RANGE_SIZE)
    for start in points:
        for end in points:
            if start <= end:
                assert decrypt_range(decryptor, blob, start, end) == plaintext[start:end], (start, end)


@pytest.mark.parametrize("size", [0, 1, 65536, 2 * 65536, 2 * 65536 + 1])
def test_ranges_of_awkward_sizes(size: int) -> None:
    plaintext = pattern(size)
    blob = encrypt([K1], 1, plaintext)
    decryptor = Decryptor([K1], 1, size)
    points = edge_points(size)
    for start in points:
        for end in points:
            if start <= end:
                assert decrypt_range(decryptor, blob, start, end) == plaintext[start:end], (start, end)


def test_random_ranges() -> None:
    rng = random.Random(11)
    plaintext = rng.randbytes(RANGE_SIZE)
    blob = encrypt([K1], 1, plaintext)
    decryptor = Decryptor([K1], 1, RANGE_SIZE)
    for _ in range(200):
        start, end = sorted(rng.randrange(RANGE_SIZE + 1) for _ in range(2))
        assert decrypt_range(decryptor, blob, start, end) == plaintext[start:end]


def test_span_covers_whole_segments_only() -> None:
    decryptor = Decryptor([K1], 1, RANGE_SIZE)
    step = SEGMENT_SIZE + TAG_SIZE
    assert decryptor.span(0, 1) == (0, HEADER, step)
    assert decryptor.span(65535, 65537) == (0, HEADER, 2 * step)
    assert decryptor.span(65536, 65536 * 2) == (1, HEADER + step, step)
    assert decryptor.span(3 * 65536, RANGE_SIZE) == (3, HEADER + 3 * step, 123 + TAG_SIZE)
    assert decryptor.span(0, RANGE_SIZE) == (0, HEADER, ciphertext_size(RANGE_SIZE) - HEADER)
    # An empty range names one segment, the last one at the very end.
    assert decryptor.span(RANGE_SIZE, RANGE_SIZE) == (3, HEADER + 3 * step, 123 + TAG_SIZE)
    assert Decryptor([K1], 1, 0).span(0, 0) == (0, HEADER, TAG_SIZE)
    assert Decryptor([K1], 1, 65536).span(65536, 65536) == (0, HEADER, step)


@pytest.mark.parametrize("start, end", [(-1, 5), (5, 4), (0, RANGE_SIZE + 1)])
def test_span_outside_the_object_is_refused(start: int, end: int) -> None:
    with pytest.raises(ValueError):
        Decryptor([K1], 1, RANGE_SIZE).span(start, end)


def test_decrypt_outside_the_object_is_refused() -> None:
    with pytest.raises(ValueError):
        Decryptor([K1], 1, 10).decrypt(1, bytes(26))


# Tampering

SIZE = 3 * 65536 + 500
STEP = SEGMENT_SIZE + TAG_SIZE


@pytest.fixture(scope="module")
def plaintext() -> bytes:
    return random.Random(5).randbytes(SIZE)


@pytest.fixture(scope="module")
def blob(plaintext: bytes) -> bytes:
    return encrypt([K1], 1, plaintext)


def segments_of(blob: bytes) -> list[bytes]:
    body = blob[HEADER:]
    return [body[i : i + STEP] for i in range(0, len(body), STEP)]


def assert_rejected(blob: bytes, size: int = SIZE, keys: list[bytes] | None = None, part: int = 1) -> None:
    with pytest.raises(IntegrityError) as info:
        decrypt_all(keys or [K1], part, blob, size)
    for key in (K1, K2, K3):
        assert key.hex() not in str(info.value) and repr(key) not in str(info.value)


def flip(data: bytes, position: int, bit: int = 0) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 1 << bit
    return bytes(changed)


def test_untouched_blob_opens(blob: bytes, plaintext: bytes) -> None:
    assert decrypt_all([K1], 1, blob, SIZE) == plaintext


@pytest.mark.parametrize("position", range(HEADER))
def test_flipped_bit_in_header(blob: bytes, position: int) -> None:
    for bit in range(8):
        with pytest.raises(IntegrityError):
            Decryptor([K1], 1, SIZE).check_header(flip(blob, position, bit)[:HEADER])


def test_short_or_long_header(blob: bytes) -> None:
    decryptor = Decryptor([K1], 1, SIZE)
    for header in (blob[: HEADER - 1], blob[: HEADER + 1], b""):
        with pytest.raises(IntegrityError):
            decryptor.check_header(header)


@pytest.mark.parametrize(
    "position",
    [
        HEADER,  # first byte of segment 0
        HEADER + 1000,
        HEADER + SEGMENT_SIZE - 1,  # last ciphertext byte of segment 0
        HEADER + SEGMENT_SIZE,  # first tag byte of segment 0
        HEADER + STEP - 1,  # last tag byte of segment 0
        HEADER + STEP,  # segment 1
        HEADER + 2 * STEP + 77,  # segment 2
        HEADER + 3 * STEP,  # final segment
        -TAG_SIZE,  # final tag
        -1,
    ],
)
def test_flipped_bit_in_a_segment(blob: bytes, position: int) -> None:
    position %= len(blob)
    assert_rejected(flip(blob, position, 7))
    # Reading only the damaged segment fails too.
    decryptor = Decryptor([K1], 1, SIZE)
    index = (position - HEADER) // STEP
    first, offset, length = decryptor.span(index * SEGMENT_SIZE, index * SEGMENT_SIZE + 1)
    with pytest.raises(IntegrityError):
        decryptor.decrypt(first, flip(blob, position, 7)[offset : offset + length])


def test_segments_reordered(blob: bytes) -> None:
    s = segments_of(blob)
    assert_rejected(blob[:HEADER] + s[1] + s[0] + s[2] + s[3])
    assert_rejected(blob[:HEADER] + s[0] + s[2] + s[1] + s[3])


def test_segment_read_at_the_wrong_position(blob: bytes) -> None:
    s = segments_of(blob)
    with pytest.raises(IntegrityError):
        Decryptor([K1], 1, SIZE).decrypt(1, s[0])


def test_segment_dropped(blob: bytes) -> None:
    s = segments_of(blob)
    dropped = blob[:HEADER] + s[0] + s[2] + s[3]
    assert_rejected(dropped)
    assert_rejected(dropped, size=SIZE - SEGMENT_SIZE)


def test_segment_duplicated(blob: bytes) -> None:
    s = segments_of(blob)
    assert_rejected(blob[:HEADER] + s[0] + s[0] + s[2] + s[3])


@pytest.mark.parametrize("segments", [0, 1, 2, 3])
def test_truncated_at_a_segment_boundary(blob: bytes, segments: int) -> None:
    cut = blob[: HEADER + segments * STEP]
    assert_rejected(cut)
    # Even if the reader were told the shorter size, the last segment lacks the final flag.
    assert_rejected(cut, size=segments * SEGMENT_SIZE)


def test_empty_blob_cut_to_its_header() -> None:
    blob = encrypt([K1], 1, b"")
    assert decrypt_all([K1], 1, blob, 0) == b""
    assert_rejected(blob[:HEADER], size=0)


def test_truncated_inside_a_segment(blob: bytes) -> None:
    for cut in (len(blob) - 1, HEADER + STEP + 100, HEADER + 1):
        assert_rejected(blob[:cut])


def test_data_appended(blob: bytes) -> None:
    decryptor = Decryptor([K1], 1, SIZE)
    for extra in (b"\x00", segments_of(blob)[-1], segments_of(blob)[0]):
        with pytest.raises(IntegrityError):
            decryptor.decrypt(0, blob[HEADER:] + extra)
        with pytest.raises(IntegrityError):
            decryptor.decrypt_range(0, SIZE, blob[HEADER:] + extra)


def test_decrypt_streams_whole_segments(blob: bytes, plaintext: bytes) -> None:
    decryptor = Decryptor([K1], 1, SIZE)
    s = segments_of(blob)
    assert b"".join(decryptor.decrypt(i, segment) for i, segment in enumerate(s)) == plaintext
    assert decryptor.decrypt(1, s[1] + s[2]) == plaintext[SEGMENT_SIZE : 3 * SEGMENT_SIZE]
    # decrypt_range insists on the whole span, so a read short by whole segments is caught.
    with pytest.raises(IntegrityError):
        decryptor.decrypt_range(0, SIZE, blob[HEADER : HEADER + 2 * STEP])
    with pytest.raises(IntegrityError):
        decryptor.decrypt_range(SEGMENT_SIZE, SEGMENT_SIZE + 1, b"")


@pytest.mark.parametrize("size", [0, 3, 2 * STEP - 1, STEP + 1])
def test_ciphertext_that_is_not_whole_segments(blob: bytes, size: int) -> None:
    with pytest.raises(IntegrityError):
        Decryptor([K1], 1, SIZE).decrypt(0, blob[HEADER : HEADER + size])


def test_segment_from_another_part(plaintext: bytes, blob: bytes) -> None:
    other = segments_of(encrypt([K1], 2, plaintext))
    s = segments_of(blob)
    assert_rejected(blob[:HEADER] + s[0] + other[1] + s[2] + s[3])
    assert_rejected(encrypt([K1], 2, plaintext), part=1)


def test_segment_from_another_key(plaintext: bytes, blob: bytes) -> None:
    other = segments_of(encrypt([K3], 1, plaintext))
    s = segments_of(blob)
    assert_rejected(blob[:HEADER] + s[0] + s[1] + other[2] + s[3])
    assert_rejected(blob, keys=[K3])


@pytest.mark.parametrize("size", [0, 1, SIZE - 1, SIZE + 1, SIZE - SEGMENT_SIZE, SIZE + SEGMENT_SIZE])
def test_wrong_plaintext_size(blob: bytes, size: int) -> None:
    assert_rejected(blob, size=size)


def test_one_and_two_layers_do_not_mix(plaintext: bytes) -> None:
    two = encrypt([K1, K2], 1, plaintext)
    one = encrypt([K1], 1, plaintext)
    for keys in ([K1], [K2], [K2, K1]):
        assert_rejected(two, keys=keys)
    assert_rejected(one, keys=[K1, K2])
    with pytest.raises(IntegrityError):
        Decryptor([K1], 1, SIZE).check_header(two[:HEADER])
    with pytest.raises(IntegrityError):
        Decryptor([K1, K2], 1, SIZE).check_header(one[:HEADER])
    # Peeling the outer layer off by hand leaves something the one-layer reader still refuses.
    outer = AESGCM(K2)
    peeled = [
        outer.decrypt((2**64 + i).to_bytes(12, "big"), seg, struct.pack(">BBBIQB", 1, 2, 1, 1, i, i == 3))
        for i, seg in enumerate(segments_of_size(two, STEP + TAG_SIZE))
    ]
    assert_rejected(b"SRBLOB\x01\x01" + b"".join(peeled))


def segments_of_size(blob: bytes, step: int) -> list[bytes]:
    body = blob[HEADER:]
    return [body[i : i + step] for i in range(0, len(body), step)]


def test_two_layer_tampering(plaintext: bytes) -> None:
    two = encrypt([K1, K2], 1, plaintext)
    assert decrypt_all([K1, K2], 1, two, SIZE) == plaintext
    for position in (HEADER, HEADER + STEP + TAG_SIZE - 1, len(two) - 1):
        assert_rejected(flip(two, position), keys=[K1, K2])


def test_the_blob_header_is_known_without_a_key() -> None:
    """`strongroom verify` checks an SSE-C blob's header without the customer's key."""
    assert blob_header(1) == b"SRBLOB\x01\x01" and blob_header(2) == b"SRBLOB\x01\x02"
    assert Encryptor([bytes(32)], 1).header() == blob_header(1)
    with pytest.raises(ValueError):
        blob_header(3)
