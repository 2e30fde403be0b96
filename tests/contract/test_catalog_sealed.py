"""The catalog's sealed fields (catalog/sealer.py), on every engine: records go in and come back whole,
a row's sealed fields moved onto another row are refused, and a root key that sealed nothing opens
nothing (a clean SealedFieldError naming the row, never garbage)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from strongroom.catalog.api import Catalog
from strongroom.catalog.model import Bucket, ObjectVersion, Part, Piece, Sealing, Upload
from strongroom.catalog.sealer import MetadataSealer, SealedFieldError
from tests.contract.conftest import ROOT_KEY, Opener

OTHER_KEY = bytes(range(100, 132))


def version(key: str, vid: str, **kw: Any) -> ObjectVersion:
    pieces = (Piece(1, 5, "piece-etag-1", b"k" * 61, blob_id=None, inline=b"ciphertext-1",
                    checksums={"CRC32": "AAAAAA=="}),
              Piece(2, 7, "piece-etag-2", b"j" * 61, blob_id="blob-2"))
    fields: dict[str, Any] = dict(
        content_type="text/x-secret", headers={"content-disposition": "attachment"},
        metadata={"colour": "blue"}, checksums={"SHA256": "c2hhMjU2"}, checksum_type="COMPOSITE",
        tags={"tier": "gold"})
    fields.update(kw)
    return ObjectVersion("bkt", key, vid, 12, "etag-of-" + key + "-2", 1.5, "o" * 64, Sealing("AES256"),
                         pieces, **fields)


def raw(catalog: Catalog, sql: str, *params: Any) -> list[Any]:
    db: Any = catalog
    cursor = db._conn().execute(db.dialect.sql(sql), params)
    return cursor.fetchall() if cursor.description else []


def reopen(catalog_opener: Opener, root_keys: list[bytes]) -> Catalog:
    """The same store opened with a sealer of other root keys (the opener's partial carries its own)."""
    opener: Any = catalog_opener.args[0]  # type: ignore[attr-defined]  # conftest: partial(_writer, partial(open))
    return opener.func(*opener.args[:-1], MetadataSealer.of(root_keys))  # type: ignore[no-any-return]


@pytest.fixture
def filled(catalog: Catalog) -> Catalog:
    catalog.create_bucket(Bucket("bkt", "o" * 64, "us-east-1", 0.0))
    catalog.put_object(version("a", "va"))
    catalog.put_object(version("b", "vb", metadata={"colour": "red"}, tags={}, checksums={},
                               checksum_type=None))
    catalog.create_upload(Upload("up-1", "bkt", "c", 2.0, "o" * 64, Sealing("AES256"),
                                 content_type="text/x-upload", metadata={"m": "v"}, tags={"t": "u"},
                                 checksum_algorithm="CRC32", checksum_type="COMPOSITE"))
    catalog.put_part(Part("up-1", Piece(3, 9, "part-etag", b"p" * 61, blob_id="blob-p",
                                        checksums={"CRC32": "BBBBBB=="}), 3.0))
    return catalog


def test_sealed_records_round_trip(filled: Catalog) -> None:
    assert filled.get_object("bkt", "a") == version("a", "va")
    listed = {o.key: o for o in filled.list_objects("bkt").objects}
    assert (listed["a"].etag, listed["a"].checksum_algorithms) == ("etag-of-a-2", ("SHA256",))
    assert (listed["b"].etag, listed["b"].checksum_algorithms) == ("etag-of-b-2", ())
    assert filled.set_object_tags(version("a", "va"), {"tier": "platinum"})
    assert filled.get_object("bkt", "a") == version("a", "va", tags={"tier": "platinum"})
    upload = filled.get_upload("up-1")
    assert upload is not None and (upload.content_type, upload.metadata, upload.tags) \
        == ("text/x-upload", {"m": "v"}, {"t": "u"})
    assert [u.upload_id for u in filled.list_uploads("bkt").uploads] == ["up-1"]
    (part,) = filled.all_parts("up-1")
    assert (part.piece.etag, part.piece.checksums, part.piece.blob_id) == ("part-etag", {"CRC32": "BBBBBB=="},
                                                                          "blob-p")


def test_no_private_value_is_in_a_row(filled: Catalog) -> None:
    rows = [r for table in ("versions", "uploads", "parts") for r in raw(filled, f"SELECT * FROM {table}")]
    stored = b"".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode() for r in rows
                      for v in r)
    for value in ("text/x-secret", "attachment", "blue", "red", "gold", "c2hhMjU2", "AAAAAA==",
                  "piece-etag", "etag-of-a", "text/x-upload", "part-etag", "BBBBBB=="):
        assert value.encode() not in stored, value


@pytest.mark.parametrize("column", ["listed", "private"])
def test_sealed_fields_swapped_between_rows_are_refused(filled: Catalog, column: str) -> None:
    [(a,)], [(b,)] = (raw(filled, f"SELECT {column} FROM versions WHERE key = ?", k) for k in ("a", "b"))
    raw(filled, f"UPDATE versions SET {column} = ? WHERE key = ?", bytes(b), "a")
    with pytest.raises(SealedFieldError, match=r"catalog row bkt/a \(version va\)") as refused:
        if column == "listed":
            filled.list_objects("bkt")
        filled.get_object("bkt", "a")
    assert "colour" not in str(refused.value) and "blue" not in str(refused.value)  # no plaintext in it
    raw(filled, f"UPDATE versions SET {column} = ? WHERE key = ?", bytes(a), "a")
    assert filled.get_object("bkt", "a") == version("a", "va")  # back in its own row, it opens again


def test_a_renamed_row_is_refused(filled: Catalog) -> None:
    raw(filled, "UPDATE current SET key = ? WHERE key = ?", "renamed", "a")
    raw(filled, "UPDATE versions SET key = ? WHERE key = ?", "renamed", "a")
    with pytest.raises(SealedFieldError):
        filled.get_object("bkt", "renamed")


def test_parts_and_uploads_swapped_are_refused(filled: Catalog) -> None:
    filled.put_part(Part("up-1", Piece(4, 9, "other", b"q" * 61, blob_id="blob-q"), 3.0))
    (four,) = raw(filled, "SELECT private FROM parts WHERE part_number = 4")
    raw(filled, "UPDATE parts SET private = ? WHERE part_number = 3", bytes(four[0]))
    with pytest.raises(SealedFieldError, match="upload up-1 part 3"):
        filled.all_parts("up-1")
    filled.create_upload(Upload("up-2", "bkt", "c", 2.0, "o" * 64, Sealing("AES256")))
    (two,) = raw(filled, "SELECT private FROM uploads WHERE upload_id = ?", "up-2")
    raw(filled, "UPDATE uploads SET private = ? WHERE upload_id = ?", bytes(two[0]), "up-1")
    with pytest.raises(SealedFieldError, match="upload up-1"):
        filled.get_upload("up-1")


def test_a_root_key_that_sealed_nothing_opens_nothing(filled: Catalog, catalog_opener: Opener) -> None:
    other = reopen(catalog_opener, [OTHER_KEY])
    try:
        calls: list[Callable[[], object]] = [
            lambda: other.get_object("bkt", "a"), lambda: other.list_objects("bkt"),
            lambda: other.get_upload("up-1"), lambda: other.all_parts("up-1")]
        for call in calls:
            with pytest.raises(SealedFieldError, match="opens under none of the configured root keys"):
                call()
        assert [b.name for b in other.list_buckets()] == ["bkt"]  # what is in clear still reads
    finally:
        other.close()


def test_reseal_metadata_moves_every_row_to_the_current_key(filled: Catalog, catalog_opener: Opener) -> None:
    rotating = reopen(catalog_opener, [OTHER_KEY, ROOT_KEY])  # new key first, the old one still opens
    try:
        assert rotating.get_object("bkt", "a") == version("a", "va")
        assert rotating.reseal_metadata() == 4  # two versions, one upload, one part
    finally:
        rotating.close()
    rotated = reopen(catalog_opener, [OTHER_KEY])
    try:
        assert rotated.get_object("bkt", "a") == version("a", "va")
        assert rotated.get_upload("up-1") is not None and len(rotated.all_parts("up-1")) == 1
        assert {o.key for o in rotated.list_objects("bkt").objects} == {"a", "b"}
        assert rotated.reseal_metadata() == 0
    finally:
        rotated.close()
    with pytest.raises(SealedFieldError):
        filled.get_object("bkt", "a")  # the old key alone opens it no more
