"""The KMS permission check the vault calls (`vault.KmsCheck`), built from the request.

The one place the object handlers reach KMS authorization: the vault calls the check with
"kms:GenerateDataKey" once a new KMS KEK's key ARN is known, and "kms:Decrypt" before it opens an
SSE-KMS object; a refusal is AccessDenied.
"""

from __future__ import annotations

from strongroom.errors import access_denied
from strongroom.s3.context import Ctx
from strongroom.vault import KmsCheck


def kms_check(ctx: Ctx) -> KmsCheck:
    async def check(action: str, key_arn: str | None) -> None:
        # Imported here while s3/authorization.py still imports the handler modules (the s3 re-lay
        # breaks that cycle; this is the one function re-pointed at the one KMS authorization).
        from strongroom.s3.authorization import authorize_kms

        if not await authorize_kms(ctx, action, key_arn):
            raise access_denied()

    return check
