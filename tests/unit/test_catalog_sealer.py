"""The sealed catalog fields (catalog/sealer.py, crypto/FORMAT.md "Sealed catalog fields"): the
known-answer vectors, checked against the functions production seals with, and the refusals."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from strongroom.catalog import codec
from strongroom.catalog.sealer import MetadataSealer, SealedFieldError
from strongroom.crypto import keys

VECTORS = json.loads((Path(__file__).parent / "vectors" / "crypto" / "keys.json").read_text(encoding="utf-8"))
CASES = VECTORS["catalog_field"]


def production_context(case: dict) -> bytes:  # type: ignore[type-arg]
    """The context codec.py builds for the row the case names."""
    parts = case["parts"]
    if parts[0] == "version":
        return codec.version_context(*parts[1:])
    if parts[0] == "upload":
        return codec.upload_context(*parts[1:4])
    return codec.part_context(parts[1], parts[2])


@pytest.mark.parametrize("case", CASES, ids=lambda case: case["use"])
def test_catalog_field_vector(case: dict) -> None:  # type: ignore[type-arg]
    context = bytes.fromhex(case["context"])
    assert keys.object_context(*case["parts"]) == context
    assert production_context(case) == context
    sealer = MetadataSealer.of([bytes.fromhex(case["root_key"])])
    sealed = sealer.seal(case["plaintext"].encode(), context, _nonce=bytes.fromhex(case["nonce"]))
    assert sealed.hex() == case["sealed"]
    assert sealer.unseal(sealed, context, "row").decode() == case["plaintext"]


def test_the_listing_decoder_opens_what_encode_version_sealed() -> None:
    case = CASES[0]
    sealer = MetadataSealer.of([bytes.fromhex(case["root_key"])])
    _, bucket, key, version_id, _ = case["parts"]
    row = (key, version_id, 1, 0.0, "o", "STANDARD", None, bytes.fromhex(case["sealed"]))
    summary = codec.summary_decoder(sealer, bucket, {})(row)
    assert (summary.etag, summary.checksum_algorithms) == ("9b2cf535f27731c974343645a3985328", ("CRC32",))


def test_seal_each_seals_every_field_under_its_own_nonce_and_context() -> None:
    rotating = MetadataSealer.of([bytes(range(32)), bytes(32)])  # the current key seals
    listed, private = rotating.seal_each(((b"etag", b"ctx listed"), (b"{}", b"ctx private")))
    assert rotating.unseal(listed, b"ctx listed", "row") == b"etag"
    assert rotating.unseal(private, b"ctx private", "row") == b"{}"
    assert rotating.sealed_under_current(listed, b"ctx listed")
    assert listed[1:13] != private[1:13]  # two nonces, not one used twice
    with pytest.raises(SealedFieldError):
        rotating.unseal(listed, b"ctx private", "row")  # bound to its own field
    again, _ = rotating.seal_each(((b"etag", b"ctx listed"), (b"{}", b"ctx private")))
    assert again[1:13] != listed[1:13]  # fresh nonces on every call


def test_an_old_key_still_unseals_and_the_current_one_seals() -> None:
    old, new = bytes(32), bytes(range(32))
    sealed = MetadataSealer.of([old]).seal(b"x", b"ctx")
    rotating = MetadataSealer.of([new, old])
    assert rotating.unseal(sealed, b"ctx", "row") == b"x"
    assert not rotating.sealed_under_current(sealed, b"ctx")
    assert rotating.sealed_under_current(rotating.seal(b"x", b"ctx"), b"ctx")
    with pytest.raises(SealedFieldError, match="catalog row row: its sealed metadata opens under none"):
        MetadataSealer.of([new]).unseal(sealed, b"ctx", "row")


@pytest.mark.parametrize("damage", [lambda s: s[:10], lambda s: b"\x02" + s[1:],
                                    lambda s: s[:-1] + bytes([s[-1] ^ 1])])
def test_damage_is_refused(damage) -> None:  # type: ignore[no-untyped-def]
    sealer = MetadataSealer.of([bytes(32)])
    with pytest.raises(SealedFieldError):
        sealer.unseal(damage(sealer.seal(b"secret", b"ctx")), b"ctx", "row")


def test_the_sealer_keeps_its_keys_out_of_repr_and_pickles() -> None:
    sealer = MetadataSealer.of([bytes(range(32))])
    assert bytes(range(32)).hex() not in repr(sealer) and "metadata_keys" not in repr(sealer)
    copy = pickle.loads(pickle.dumps(sealer))
    assert copy.unseal(sealer.seal(b"x", b"c"), b"c", "row") == b"x"
