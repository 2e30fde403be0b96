"""The KMS permission check S3 hands to the object layer: `kms_check(ctx)` is a `KmsCheck`.

SSE-KMS writes need kms:GenerateDataKey and reads kms:Decrypt on the object's key,
decided (as every KMS use is) by kms.access through `authorize_kms`; the object
layer calls the check once it has resolved the key's ARN, before anything is
stored or returned, and never imports s3/ to do so.
"""

from __future__ import annotations

from collections.abc import Mapping

from strongroom.errors import access_denied
from strongroom.s3.authorization import authorize_kms
from strongroom.s3.context import Ctx
from strongroom.vault import KmsCheck


def kms_check(ctx: Ctx) -> KmsCheck:
    """The requester's KMS check, bound to its request."""

    async def check(action: str, key_arn: str | None, context: Mapping[str, str]) -> None:
        if not await authorize_kms(ctx, action, key_arn, context):
            raise access_denied()

    return check
