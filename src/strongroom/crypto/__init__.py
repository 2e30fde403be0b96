"""Encryption at rest, pure: bytes and keys in, bytes and keys out.

The package owns the blob format and the key protocol written down in FORMAT.md:
`stream` seals and opens segmented AES-256-GCM blobs, `keys` derives, fingerprints
and seals keys, `errors` holds the one exception for data that cannot be trusted.
It imports nothing else of strongroom and nothing of HTTP or storage.
"""

from strongroom.crypto.errors import IntegrityError
from strongroom.crypto.keys import (
    KEY_SIZE,
    SEAL_VERSION,
    customer_kek,
    customer_key_check,
    customer_key_matches,
    derive,
    key_id,
    object_context,
    random_key,
    seal,
    unseal,
)
from strongroom.crypto.stream import (
    FORMAT_VERSION,
    SEGMENT_SIZE,
    TAG_SIZE,
    Decryptor,
    Encryptor,
    blob_header,
    ciphertext_size,
    header_size,
    segment_count,
)

__all__ = [
    "FORMAT_VERSION",
    "KEY_SIZE",
    "SEAL_VERSION",
    "SEGMENT_SIZE",
    "TAG_SIZE",
    "Decryptor",
    "Encryptor",
    "blob_header",
    "IntegrityError",
    "ciphertext_size",
    "customer_kek",
    "customer_key_check",
    "customer_key_matches",
    "derive",
    "header_size",
    "key_id",
    "object_context",
    "random_key",
    "seal",
    "segment_count",
    "unseal",
]
