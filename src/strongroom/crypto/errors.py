"""The one exception the crypto package raises for data it cannot trust.

`IntegrityError` means "these bytes are not what was sealed": a failed
authentication tag, a bad header, a wrong size or an unknown format version.
Callers map it to their own error (the object layer: an internal error, or 403
for a wrong SSE-C key). Misuse by the caller (a key of the wrong length, a range
outside the object) is a `ValueError` instead, because it is a bug, not bad data.
Messages carry sizes and segment numbers only, never key material.
"""

from __future__ import annotations


class IntegrityError(Exception):
    """Ciphertext, a header or a sealed key failed authentication or validation."""
