"""UpdateObjectEncryption (`PUT /bucket/key?encryption`): an object's encryption changed in place.

Owns the request document (`<ObjectEncryption><SSE-KMS>...`) and its validation as the S3 API
reference words it; the vault re-seals (`Vault.reseal`): the object's piece keys are unsealed under
the old KEK (root key or KMS data key) and sealed under a new SSE-KMS KEK, bound to the same identity.
No blob is read or written; ETag, checksums, size and last-modified stay as they were, as AWS
documents ("preserves all object metadata properties, including the storage class, creation
date, last modified date, ETag, and checksum properties").

Sources: botocore's service-2.json (UpdateObjectEncryption, ObjectEncryption, SSEKMSEncryption;
requestChecksumRequired) and the operation's documentation, whose error messages are quoted.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET

from aiohttp import web

from strongroom.catalog.model import ObjectVersion
from strongroom.errors import S3Error, access_denied, invalid_request, malformed_xml, no_such_key
from strongroom.s3 import xml
from strongroom.s3.body import Body
from strongroom.s3.bucket_encryption import missing_content_md5
from strongroom.s3.context import Ctx
from strongroom.s3.documents import verify_document_digest
from strongroom.s3.kms_check import kms_check
from strongroom.s3.object_headers import checksum_request, content_md5
from strongroom.s3.objects import current_version

MAX_BODY = 64 * 1024
ROOT = "ObjectEncryption"
# SSEKMSEncryption.KMSKeyArn (botocore: NonEmptyKmsKeyArnString, 20..2048 characters).
KEY_ARN = re.compile(r"arn:aws[a-zA-Z0-9-]*:kms:[a-z0-9-]+:([0-9]{12}):key/[a-zA-Z0-9-]+")
_BOOLEANS = {"true": True, "false": False}
_RETRIES = 3  # the object replaced while we re-sealed it: start again on the new version

_SIGV4 = ("Requests that modify an object encryption configuration require AWS Signature Version 4. "
          "Modify the request to use AWS Signature Version 4, and then try again.")
_NEW_TYPE = ("Requests that modify an object encryption configuration require a valid new encryption "
             "type. Valid values are SSEKMS. Modify the request to specify SSE-KMS for the updated "
             "encryption type, and then try again.")
_TO_DSSE_OR_C = ("The UpdateObjectEncryption operation doesn't support updating the encryption type to "
                 "DSSE-KMS or SSE-C. Modify the request to specify SSE-KMS for the updated encryption "
                 "type, and then try again.")
_NO_ARN = ("Requests that modify an object's encryption type to SSE-KMS require an AWS KMS key Amazon "
           "Resource Name (ARN). Modify the request to specify a KMS key ARN, and then try again.")
_BAD_ARN = ("Requests that modify an object's encryption type to SSE-KMS require a valid AWS KMS key "
            "Amazon Resource Name (ARN). Confirm that you have a correctly formatted KMS key ARN in "
            "your request, and then try again.")
_BAD_BUCKET_KEY = ("The BucketKeyEnabled value isn't valid. Valid values are true or false. Modify the "
                   "request to specify a valid value, and then try again.")
_SOURCE = ("The UpdateObjectEncryption operation doesn't support source objects with the encryption "
           "type DSSE-KMS or SSE-C. Only source objects encrypted with SSE-S3 or SSE-KMS are supported.")
_OTHER_ACCOUNT = ("The AWS KMS key in the request must be owned by the same account as the bucket. "
                  "Modify the request to specify a KMS key from the same account, and then try again.")


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    key_arn: str
    bucket_key: bool


def _leaf(node: ET.Element) -> str:
    if len(node):
        raise malformed_xml()
    return xml.text_of(node)


def parse_target(body: bytes, account_id: str) -> Target:
    """The new encryption the document asks for; S3's InvalidRequest wording for each way it can be wrong."""
    root = xml.parse(body, ROOT)
    kinds = [child.tag for child in root]
    if any(kind in ("SSE-C", "DSSE-KMS", "SSEC", "DSSEKMS") for kind in kinds):
        raise invalid_request(_TO_DSSE_OR_C)
    if kinds != ["SSE-KMS"]:  # a union: exactly one member, and SSE-KMS is the only one
        raise invalid_request(_NEW_TYPE)
    node = root[0]
    xml.check_known(node, ("KMSKeyArn", "BucketKeyEnabled"))
    arn_node = xml.only_child(node, "KMSKeyArn")
    bucket_key_node = xml.only_child(node, "BucketKeyEnabled")
    if arn_node is None or not _leaf(arn_node):
        raise invalid_request(_NO_ARN)
    arn = _leaf(arn_node)
    match = KEY_ARN.fullmatch(arn)
    if match is None or not 20 <= len(arn) <= 2048:
        raise invalid_request(_BAD_ARN)
    bucket_key = False
    if bucket_key_node is not None:
        value = _BOOLEANS.get(_leaf(bucket_key_node).lower())
        if value is None:
            raise invalid_request(_BAD_BUCKET_KEY)
        bucket_key = value
    if match.group(1) != account_id:
        raise access_denied(_OTHER_ACCOUNT)
    return Target(arn, bucket_key)


def _check_integrity_header(ctx: Ctx) -> None:
    """botocore marks the operation requestChecksumRequired: Content-MD5 or an x-amz-checksum-*."""
    if content_md5(ctx.headers) is not None:
        return
    wanted = checksum_request(ctx.headers)
    if not wanted.expected and wanted.trailer is None:
        raise missing_content_md5()


def _check_source(version: ObjectVersion) -> None:
    if version.sealing.algorithm not in ("AES256", "aws:kms"):
        raise invalid_request(_SOURCE)


async def update_object_encryption(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None and ctx.key is not None
    if ctx.signature_version != "AWS4-HMAC-SHA256":
        raise invalid_request(_SIGV4)
    _check_integrity_header(ctx)
    body = Body(ctx)
    data = await body.read_all(MAX_BODY, malformed_xml())
    verify_document_digest(ctx, data, body.trailers)
    target = parse_target(data, ctx.services.account_id)
    if ctx.services.kms is None:
        raise S3Error("NotImplemented", 501, "SSE-KMS needs a KMS, and none is configured on this server.")
    for _ in range(_RETRIES):
        version = await current_version(ctx)
        _check_source(version)
        if await ctx.services.vault.reseal(version, target.key_arn, target.bucket_key,
                                                 kms_check=kms_check(ctx)):
            return web.Response(status=200)
        if "versionId" in ctx.query:  # that version is gone
            break
    raise no_such_key(ctx.key)

