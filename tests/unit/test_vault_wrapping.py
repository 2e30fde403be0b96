"""The typed wrapping records (vault/wrapping.py) and the KEKs that write them: the records stay
byte for byte what the catalog has always stored, and a root key rotation moves only what it should."""

from __future__ import annotations

import asyncio
import base64
import json
import os

import pytest

from strongroom.catalog.codec import decode_sealing, encode_sealing
from strongroom.catalog.model import Piece, Sealing
from strongroom.errors import S3Error
from strongroom.kms.service import KeyService
from strongroom.vault import Encryption, RootKeyring, piece_context, reseal_piece, root_rotation
from strongroom.vault.keys import existing_object_kek, kms_object_kek, seal_piece_key, sse_c_kek, sse_s3_kek
from strongroom.vault.wrapping import CustomerWrapped, KmsWrapped, RootWrapped, kms_context, parse

RECORDS = [
    {"kek": "root", "root": "0f44bfb425a1f23a"},
    {"kek": "kms", "blob": base64.b64encode(b"blob").decode(), "ctx": '{"aws:s3:arn": "arn:aws:s3:::b/k"}'},
    {"kek": "kms", "blob": "YQ==", "ctx": '{"a": "b", "aws:s3:arn": "arn:aws:s3:::b/k"}', "blob2": "Yg=="},
    {"kek": "ssec", "salt": "00" * 16, "check": "ab" * 32},
]


class FakeKms(KeyService):
    def __init__(self) -> None:
        self.calls: list[tuple[str | None, dict[str, str]]] = []

    async def generate_data_key(
        self, key_id: str | None, context: dict[str, str]
    ) -> tuple[bytes, bytes, str]:
        self.calls.append((key_id, dict(context)))
        n = len(self.calls)
        return bytes([n]) * 32, f"blob{n}".encode(), "arn:aws:kms:us-east-1:111122223333:key/k"

    async def decrypt(self, blob: bytes, context: dict[str, str], key_arn: str) -> bytes:
        return bytes([int(blob.decode()[4:])]) * 32


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: r["kek"] + ("2" if "blob2" in r else ""))
def test_a_record_reads_and_writes_back_byte_for_byte(record: dict[str, str]) -> None:
    sealing = Sealing("AES256", wrapping=record)
    assert list(parse(sealing).to_record().items()) == list(record.items())


def test_the_types() -> None:
    assert parse(Sealing("AES256", wrapping=RECORDS[0])) == RootWrapped("0f44bfb425a1f23a")
    kms = parse(Sealing("aws:kms:dsse", wrapping=RECORDS[2]))
    assert isinstance(kms, KmsWrapped) and (kms.blob, kms.blob2) == (b"a", b"b")
    assert kms.encryption_context == {"a": "b", "aws:s3:arn": "arn:aws:s3:::b/k"}
    assert parse(Sealing("SSE-C", wrapping=RECORDS[3])) == CustomerWrapped(bytes(16), b"\xab" * 32)
    assert kms_context(Sealing("AES256", wrapping=RECORDS[0])) is None


def test_an_unknown_record_is_an_internal_error() -> None:
    with pytest.raises(S3Error) as caught:
        parse(Sealing("AES256", wrapping={"kek": "hsm"}))
    assert caught.value.code == "InternalError"


def test_new_keks_write_the_records_the_catalog_has_always_stored() -> None:
    keyring = RootKeyring([os.urandom(32)])
    sse_s3 = sse_s3_kek(keyring).sealing
    assert encode_sealing(sse_s3) == encode_sealing(
        Sealing("AES256", wrapping={"kek": "root", "root": keyring.current_id}))
    sse_c = sse_c_kek(os.urandom(32)).sealing
    assert list(sse_c.wrapping) == ["kek", "salt", "check"] and sse_c.wrapping["kek"] == "ssec"
    kms = FakeKms()
    context = base64.b64encode(json.dumps({"z": "1"}).encode()).decode()
    dsse = asyncio.run(kms_object_kek(kms, Encryption("aws:kms:dsse", "alias/k", True, context), "b", "k"))
    expected = {"kek": "kms", "blob": base64.b64encode(b"blob1").decode(),
                "ctx": json.dumps({"z": "1", "aws:s3:arn": "arn:aws:s3:::b/k"}, sort_keys=True),
                "blob2": base64.b64encode(b"blob2").decode()}
    assert list(dsse.sealing.wrapping.items()) == list(expected.items())
    assert dsse.sealing.bucket_key is False and dsse.layers == 2
    assert kms.calls[1][0] == "arn:aws:kms:us-east-1:111122223333:key/k"  # the second key by the resolved ARN
    assert decode_sealing(encode_sealing(dsse.sealing)) == dsse.sealing
    again = asyncio.run(existing_object_kek(keyring, kms, dsse.sealing, None))
    assert (again.kek, again.kek2) == (dsse.kek, dsse.kek2)


def test_root_rotation_moves_only_what_an_old_root_key_sealed() -> None:
    old_root, new_root = os.urandom(32), os.urandom(32)
    old_ring, ring = RootKeyring([old_root]), RootKeyring([new_root, old_root])
    old = sse_s3_kek(old_ring)
    context = piece_context("b", "k", "v", 1)
    piece = Piece(1, 0, "e", seal_piece_key(old, b"K" * 32, context))
    rotation = root_rotation(ring, old.sealing)
    assert rotation is not None
    was, now = rotation
    assert now.sealing.wrapping == {"kek": "root", "root": ring.current_id}
    moved = reseal_piece(piece, was, now, context)
    assert asyncio.run(existing_object_kek(ring, None, now.sealing, None)).kek == ring.kek()
    assert root_rotation(ring, now.sealing) is None
    assert root_rotation(ring, Sealing("aws:kms", wrapping=RECORDS[1])) is None
    assert moved.sealed_key != piece.sealed_key
