"""Schema step 3 (catalog/sealing_step.py) on both engines: a version-1 catalog (release 1's schema,
tests/fixtures/release-1-schema/) holding rows in release 1's format is sealed in place when it is
opened, reads back whole, and keeps none of its private values in clear. (The SQLite data directory
written by release 1 itself is tests/integration/test_upgrade.py's.)"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from strongroom.catalog import PostgresCatalog, SqliteCatalog
from strongroom.catalog.api import Catalog
from strongroom.catalog.model import ObjectVersion, Piece, Sealing
from strongroom.catalog.sealer import MetadataSealer, WrongRootKey
from strongroom.kms.store_postgres import PostgresKmsStore
from tests.contract.conftest import SEALER
from tests.postgres import POSTGRES_URL, fresh_schema, with_search_path

SCRIPTS = Path(__file__).parent.parent / "fixtures" / "release-1-schema"
OWNER = "o" * 64
KEY = b"k" * 61
PRIVATE = [
    "text/x-v1secret",
    "v1blue",
    "v1gold",
    "q83vEg==",
    "0123456789abcdef0123456789abcdef",
    "fedcba9876543210fedcba9876543210",
    "inline; v1disp",
    "text/x-v1upload",
    "v1upmeta",
]


def release_1_rows(conn: Any, q: str) -> None:
    """What release 1 wrote for an object with everything, a plain one, an upload and its part."""

    def run(sql: str, *params: Any) -> None:
        conn.execute(sql.replace("?", q), params)

    run(
        "INSERT INTO buckets (name, owner_id, region, created) VALUES (?, ?, ?, ?)",
        "bkt",
        OWNER,
        "us-east-1",
        1.0,
    )
    key64 = base64.b64encode(KEY).decode()
    extra = {
        "headers": {"content-disposition": "inline; v1disp"},
        "metadata": {"colour": "v1blue"},
        "checksums": {"CRC32": "q83vEg=="},
        "tags": {"tier": "v1gold"},
    }
    rows = [
        (
            "va",
            "a",
            "0123456789abcdef0123456789abcdef",
            "text/x-v1secret",
            "FULL_OBJECT",
            [[1, 3, "0123456789abcdef0123456789abcdef", key64, None, 3, {"CRC32": "q83vEg=="}]],
            b"abc",
            extra,
        ),
        (
            "vb",
            "b",
            "fedcba9876543210fedcba9876543210-2",
            "binary/octet-stream",
            None,
            [
                [1, 5, "fedcba9876543210fedcba9876543210", key64, "blob-1", None, None],
                [2, 5, "00000000000000000000000000000002", key64, "blob-2", None, None],
            ],
            None,
            None,
        ),
    ]
    for vid, key, etag, ctype, ctt, pieces, inline, x in rows:
        run(
            "INSERT INTO versions (version_id, bucket, key, size, etag, last_modified, owner_id, "
            "content_type, storage_class, checksum_type, sealing, pieces, inline, extra) "
            "VALUES (?, 'bkt', ?, 3, ?, 2.0, ?, ?, 'STANDARD', ?, '{\"algorithm\":\"AES256\"}', ?, ?, ?)",
            vid,
            key,
            etag,
            OWNER,
            ctype,
            ctt,
            json.dumps(pieces),
            inline,
            x and json.dumps(x),
        )
        run(
            "INSERT INTO current (bucket, key, version) "
            "SELECT 'bkt', ?, id FROM versions WHERE version_id = ?",
            key,
            vid,
        )
    run(
        "INSERT INTO uploads (upload_id, bucket, key, initiated, owner_id, sealing, content_type, "
        "checksum_algorithm, checksum_type, storage_class, extra) VALUES ('up', 'bkt', 'c', 3.0, ?, "
        "'{\"algorithm\":\"AES256\"}', 'text/x-v1upload', 'CRC32', 'COMPOSITE', 'STANDARD', ?)",
        OWNER,
        json.dumps({"metadata": {"m": "v1upmeta"}}),
    )
    run(
        "INSERT INTO parts (upload_id, part_number, last_modified, piece, inline) "
        "VALUES ('up', 4, 4.0, ?, NULL)",
        json.dumps(
            [[4, 9, "00000000000000000000000000000004", key64, "blob-p", None, {"CRC32": "AAAAAA=="}]]
        ),
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def release_1(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """(engine, where): a version-1 catalog with release_1_rows in it."""
    if request.param == "sqlite":
        path = tmp_path / "catalog.sqlite3"
        with sqlite3.connect(path) as conn:
            conn.executescript((SCRIPTS / "sqlite.sql").read_text())
            release_1_rows(conn, "?")
        yield "sqlite", path
        return
    with fresh_schema("release1") as schema:
        url = with_search_path(POSTGRES_URL, schema)
        with psycopg.connect(url) as conn:
            conn.execute((SCRIPTS / "postgres.sql").read_text().encode())
            release_1_rows(conn, "%s")
        yield "postgres", url


def open_at(release: tuple[str, Any], sealer: MetadataSealer) -> Catalog:
    engine, where = release
    return SqliteCatalog.open(where, sealer) if engine == "sqlite" else PostgresCatalog.open(where, sealer)


def raw(release: tuple[str, Any]) -> bytes:
    engine, where = release
    if engine == "sqlite":
        return b"".join(p.read_bytes() for p in Path(where).parent.glob("catalog.sqlite3*"))
    out = bytearray()
    with psycopg.connect(where) as conn:
        for table in ("versions", "uploads", "parts"):
            for row in conn.execute(f"SELECT * FROM {table}"):
                out += b"".join(
                    bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode() for v in row
                )
    return bytes(out)


def test_a_release_1_catalog_is_sealed_in_place(release_1: tuple[str, Any]) -> None:
    assert [v for v in PRIVATE if v.encode() in raw(release_1)] == PRIVATE  # in clear before
    catalog = open_at(release_1, SEALER)
    try:
        a = catalog.get_object("bkt", "a")
        assert a == ObjectVersion(
            "bkt",
            "a",
            "va",
            3,
            "0123456789abcdef0123456789abcdef",
            2.0,
            OWNER,
            Sealing("AES256"),
            (Piece(1, 3, "0123456789abcdef0123456789abcdef", KEY, None, b"abc", {"CRC32": "q83vEg=="}),),
            "text/x-v1secret",
            {"content-disposition": "inline; v1disp"},
            {"colour": "v1blue"},
            {"CRC32": "q83vEg=="},
            "FULL_OBJECT",
            {"tier": "v1gold"},
            "STANDARD",
        )
        b = catalog.get_object("bkt", "b")
        assert (
            b is not None
            and b.etag.endswith("-2")
            and [p.etag for p in b.pieces]
            == ["fedcba9876543210fedcba9876543210", "00000000000000000000000000000002"]
        )
        assert [(o.key, o.etag, o.checksum_algorithms) for o in catalog.list_objects("bkt").objects] == [
            ("a", a.etag, ("CRC32",)),
            ("b", b.etag, ()),
        ]
        upload = catalog.get_upload("up")
        assert upload is not None and (upload.content_type, upload.metadata) == (
            "text/x-v1upload",
            {"m": "v1upmeta"},
        )
        (part,) = catalog.all_parts("up")
        assert (part.piece.etag, part.piece.checksums) == (
            "00000000000000000000000000000004",
            {"CRC32": "AAAAAA=="},
        )
        assert sorted(catalog.referenced_blob_ids()) == ["blob-1", "blob-2", "blob-p"]
    finally:
        catalog.close()
    assert [v for v in PRIVATE if v.encode() in raw(release_1)] == []
    again = open_at(release_1, SEALER)  # opened again: nothing more to do, and it reads the same
    try:
        assert again.get_object("bkt", "a") == a
    finally:
        again.close()


def test_the_kms_store_does_not_upgrade_without_the_sealer(release_1: tuple[str, Any]) -> None:
    if release_1[0] != "postgres":
        pytest.skip("the SQLite KMS store does not run the catalog's schema")
    with pytest.raises(RuntimeError, match="must be upgraded by opening the catalog"):
        PostgresKmsStore.open(release_1[1])


def test_another_root_key_is_refused_before_anything_is_sealed(release_1: tuple[str, Any]) -> None:
    engine, where = release_1
    q = "?" if engine == "sqlite" else "%s"
    connect: Any = sqlite3.connect if engine == "sqlite" else psycopg.connect
    with connect(where) as conn:
        conn.execute(
            f"INSERT INTO settings (name, value) VALUES ('root_key_ids', {q})",
            (json.dumps(["0000000000000000"]),),
        )
    with pytest.raises(WrongRootKey, match="is not the one this catalog's data is sealed under"):
        open_at(release_1, SEALER)
    assert [v for v in PRIVATE if v.encode() in raw(release_1)] == PRIVATE  # untouched
