"""What the object layer needs of a KMS (built in or external): `KeyService`.

It lives here, beside its implementation (`adapter.KmsService`), so that the KMS package
imports nothing of the vault above it; the vault imports this protocol from below.
"""

from __future__ import annotations


class KeyService:
    """Data keys for SSE-KMS. Implementations raise S3Errors.

    A context whose aws:s3:arn names a bucket (no key) asks for an S3 Bucket Key, which the
    implementation may hand out again for a bounded time.
    """

    async def generate_data_key(
        self, key_id: str | None, context: dict[str, str]
    ) -> tuple[bytes, bytes, str]:
        """(plaintext data key, ciphertext blob, key ARN). key_id None means the aws/s3 managed key."""
        raise NotImplementedError

    async def decrypt(self, blob: bytes, context: dict[str, str], key_arn: str) -> bytes:
        raise NotImplementedError
