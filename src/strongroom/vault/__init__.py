"""The object layer: the key hierarchy of every object and every sequence that writes, reads, re-keys
or removes one, written once. The wire layer (`s3/`) turns HTTP into these typed values and back.

- `keyring`:  the root keys (SSE-S3 KEKs, sealed access-key secrets);
- `wrapping`: the typed form of a sealing's wrapping record (root / KMS / customer);
- `keys`:     object KEKs (SSE-S3, SSE-KMS, DSSE-KMS, SSE-C), sealing and re-sealing piece keys;
- `write`:    a body streamed through encryption into a piece (the two-stage pipeline);
- `read`:     the plaintext of a byte range of a version;
- `core`:     the vault's state and the one write sequence (new KEK, record pending, write, own, commit);
- `objects`:  put, copy, open, delete, reseal;
- `uploads`:  multipart uploads: create, put a part, complete, abort;
- `sweep`:    removes the blobs the catalog records as garbage or as pending too long, and orphans.

`Vault` is the whole lifecycle, built once per process by the composition root (`app.py`).
"""

from strongroom.vault.core import CatalogCalls, Conditions, NewObject, PartsChanged, new_version_id
from strongroom.vault.keyring import RootKeyring
from strongroom.vault.keys import (
    Encryption,
    KmsCheck,
    ObjectKek,
    piece_context,
    reseal_piece,
    root_rotation,
)
from strongroom.vault.objects import ObjectLifecycle, Opened
from strongroom.vault.sweep import BlobSweeper
from strongroom.vault.uploads import UploadLifecycle
from strongroom.vault.write import Written


class Vault(ObjectLifecycle, UploadLifecycle):
    """The object layer: `put`, `copy`, `open`, `delete`, `reseal`, `create_upload`, `put_part`,
    `complete`, `abort` (see `objects` and `uploads`)."""


__all__ = [
    "BlobSweeper",
    "CatalogCalls",
    "Conditions",
    "Encryption",
    "KmsCheck",
    "NewObject",
    "ObjectKek",
    "Opened",
    "PartsChanged",
    "RootKeyring",
    "Vault",
    "Written",
    "new_version_id",
    "piece_context",
    "reseal_piece",
    "root_rotation",
]
