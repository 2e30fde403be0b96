"""Schema step 3: the private fields of versions, uploads and parts are sealed (sealer.py).

Version 1 kept ETags, content types, headers, metadata, checksums and tags in clear (columns
`etag`, `content_type`, `extra`, and each piece's ETag and checksums inside `pieces`). This step
seals every row's private fields into `listed` and `private` with the sealer the catalog is opened
with, blanks the clear values, then drops their columns; all in the transaction that opens the
catalog. Before sealing anything, the root key must be one the catalog records (deployment.py):
sealing under another deployment's key would make the data unreadable once the right one is back.

On SQLite the step runs with `secure_delete` on, so the replaced cells are overwritten with zeros,
and the catalog checkpoints and truncates the WAL once the transaction commits (sqlite.py): the
file then holds no clear value. PostgreSQL keeps the dead row versions until VACUUM reuses their
space; `VACUUM FULL` after the upgrade removes them at once (the README says so).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from strongroom.catalog import codec
from strongroom.catalog.sealer import ROOT_KEYS_SETTING, MetadataSealer, WrongRootKey
from strongroom.progress import Progress

Connection = Any
_BATCH = 1000


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _check_root_key(conn: Connection, q: Callable[[str], str], sealer: MetadataSealer) -> None:
    """The root keys recorded (deployment.py) or, in a catalog written before that record, the ones
    its access keys' secrets are sealed under (`<key id>:<sealed>`, FORMAT.md): ours must be among them."""
    row = conn.execute(q("SELECT value FROM settings WHERE name = ?"), (ROOT_KEYS_SETTING,)).fetchone()
    if row is not None:
        known = set(json.loads(row[0]))
    else:
        secrets = conn.execute("SELECT sealed_secret FROM access_keys").fetchall()
        known = {bytes(s).split(b":", 1)[0].decode("ascii", "replace") for (s,) in secrets}
    if known and not known & set(sealer.root_key_ids):
        raise WrongRootKey(
            f"strongroom: the root key (id {sealer.root_key_ids[0]}) is not the one this catalog's data is "
            f"sealed under (id {', '.join(sorted(known))}): refusing to upgrade the catalog with it. Use the "
            "deployment's own root key file or STRONGROOM_ROOT_KEY.")


def _rows(conn: Connection, q: Callable[[str], str], select: str, order: str) -> Any:
    """Every row of `select` (whose first column is the unique `order`), a batch at a time."""
    after: Any = None
    while True:
        if after is None:
            rows = conn.execute(q(f"{select} ORDER BY {order} LIMIT {_BATCH}")).fetchall()
        else:
            rows = conn.execute(q(f"{select} WHERE {order} > ? ORDER BY {order} LIMIT {_BATCH}"),
                                (after,)).fetchall()
        yield from rows
        if len(rows) < _BATCH:
            return
        after = rows[-1][0]


def _clear_pieces(pieces: list[list[Any]]) -> str:
    return json.dumps([[pn, size, None, key, blob, ilen, None] for pn, size, _, key, blob, ilen, _ in pieces],
                      ensure_ascii=False, separators=(",", ":"))


def _seal_versions(conn: Connection, q: Callable[[str], str], sealer: MetadataSealer, progress: Progress
                   ) -> None:
    select = "SELECT id, bucket, key, version_id, etag, content_type, pieces, extra FROM versions"
    update = q("UPDATE versions SET listed = ?, private = ?, pieces = ?, etag = '', content_type = '', "
               "extra = NULL WHERE id = ?")
    for row in _rows(conn, q, select, "id"):
        row_id, bucket, key, version_id, etag, content_type, pieces_text, extra = row
        x = json.loads(extra) if extra else {}
        pieces = json.loads(pieces_text)
        doc: dict[str, Any] = {"ct": content_type, "p": [[p[2], p[6] or None] for p in pieces]}
        for name, field in (("h", "headers"), ("m", "metadata"), ("c", "checksums"), ("t", "tags")):
            if x.get(field):
                doc[name] = x[field]
        listed = sealer.seal(codec.encode_listed(etag, x.get("checksums") or {}),
                             codec.version_context(bucket, key, version_id, "listed"))
        private = sealer.seal(_dumps(doc), codec.version_context(bucket, key, version_id, "private"))
        conn.execute(update, (listed, private, _clear_pieces(pieces), row_id))
        progress.advance()


def _seal_uploads(conn: Connection, q: Callable[[str], str], sealer: MetadataSealer, progress: Progress
                  ) -> None:
    select = "SELECT upload_id, bucket, key, content_type, extra FROM uploads"
    update = q("UPDATE uploads SET private = ?, content_type = '', extra = NULL WHERE upload_id = ?")
    for upload_id, bucket, key, content_type, extra in _rows(conn, q, select, "upload_id"):
        x = json.loads(extra) if extra else {}
        doc: dict[str, Any] = {"ct": content_type}
        for name, field in (("h", "headers"), ("m", "metadata"), ("t", "tags")):
            if x.get(field):
                doc[name] = x[field]
        private = sealer.seal(_dumps(doc), codec.upload_context(bucket, key, upload_id))
        conn.execute(update, (private, upload_id))
        progress.advance()


def _seal_parts(conn: Connection, q: Callable[[str], str], sealer: MetadataSealer, progress: Progress
                ) -> None:
    rows = conn.execute("SELECT upload_id, part_number, piece FROM parts").fetchall()
    update = q("UPDATE parts SET private = ?, piece = ? WHERE upload_id = ? AND part_number = ?")
    for upload_id, part_number, piece_text in rows:
        pieces = json.loads(piece_text)
        private = sealer.seal(_dumps([pieces[0][2], pieces[0][6] or None]),
                              codec.part_context(upload_id, part_number))
        conn.execute(update, (private, _clear_pieces(pieces), upload_id, part_number))
        progress.advance()


def _step(conn: Connection, q: Callable[[str], str], blob: str, sealer: MetadataSealer | None) -> None:
    if sealer is None:
        raise RuntimeError("the catalog's schema must be upgraded by opening the catalog (strongroom serve) "
                           "first: sealing its metadata needs the root key")
    _check_root_key(conn, q, sealer)
    conn.execute(f"ALTER TABLE versions ADD COLUMN listed {blob}")
    conn.execute(f"ALTER TABLE versions ADD COLUMN private {blob}")
    conn.execute(f"ALTER TABLE uploads ADD COLUMN private {blob}")
    conn.execute(f"ALTER TABLE parts ADD COLUMN private {blob}")
    rows = sum(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
               for table in ("versions", "uploads", "parts"))
    # A catalog of millions of versions takes minutes here, at a server's start: say how far it is.
    with Progress("catalog upgrade: sealing metadata", rows, "rows") as progress:
        _seal_versions(conn, q, sealer, progress)
        _seal_uploads(conn, q, sealer, progress)
        _seal_parts(conn, q, sealer, progress)
    for table, column in (("versions", "etag"), ("versions", "content_type"), ("versions", "extra"),
                          ("uploads", "content_type"), ("uploads", "extra")):
        conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


def sqlite(conn: Connection, sealer: MetadataSealer | None) -> None:
    (secure,) = conn.execute("PRAGMA secure_delete").fetchone()
    conn.execute("PRAGMA secure_delete = ON")  # the clear values' old cells are zeroed, not left behind
    try:
        _step(conn, lambda sql: sql, "BLOB", sealer)
    finally:
        conn.execute(f"PRAGMA secure_delete = {int(secure)}")


def postgres(conn: Connection, sealer: MetadataSealer | None) -> None:
    _step(conn, lambda sql: sql.replace("?", "%s"), "bytea", sealer)
