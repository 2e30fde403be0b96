"""Bucket versioning: PutBucketVersioning, GetBucketVersioning, and the status every object write and
delete follows (S3 user guide, "Using versioning in S3 buckets"; API PutBucketVersioning).

A bucket never configured has no status (unversioned: one `null` version per key); `Enabled` gives every
write a new version and every delete a marker; `Suspended` writes and deletes the `null` version (a
marker, for a delete) and keeps the others. A bucket never goes back to unversioned. The status is a
bucket config (kind "versioning"), read with the others once per request (ctx.bucket_configs).
"""

from __future__ import annotations

import json

from aiohttp import web

from strongroom import object_lock
from strongroom.catalog.api import VERSIONING, NoSuchBucketError
from strongroom.catalog.model import ObjectVersion
from strongroom.errors import S3Error, access_denied, malformed_xml, no_such_bucket
from strongroom.s3 import xml
from strongroom.s3.context import Ctx
from strongroom.s3.documents import read_document, xml_response
from strongroom.s3.object_headers import require_integrity_header

KIND = VERSIONING
ENABLED, SUSPENDED = "Enabled", "Suspended"
MAX_BODY = 64 * 1024


def status_of(document: str | None) -> str | None:
    """The stored status: None (never configured), "Enabled" or "Suspended"."""
    return None if document is None else str(json.loads(document)["Status"])


async def status(ctx: Ctx) -> str | None:
    assert ctx.bucket is not None
    return status_of((await ctx.bucket_configs(ctx.bucket.name)).get(KIND))


def version_headers(version: ObjectVersion, status: str | None) -> dict[str, str]:
    """x-amz-version-id of a version a response names: S3 sends it once the bucket has a versioning
    status (`null` for the null version); a bucket never versioned has only `null` versions and no header."""
    if status is None and version.null_version:
        return {}
    return {"x-amz-version-id": version.s3_version_id}


def marker_headers(marker: ObjectVersion) -> dict[str, str]:
    """What S3 answers about a delete marker (DeleteObject, and a GET or HEAD that meets one)."""
    return {"x-amz-delete-marker": "true", "x-amz-version-id": marker.s3_version_id}


def mfa_required() -> S3Error:
    """MfaDelete Enabled: strongroom has no MFA devices, so no request can carry a valid x-amz-mfa."""
    return access_denied("Mfa Authentication must be used for this request")


def parse(data: bytes) -> tuple[str, str | None]:
    """(Status, MfaDelete) of a VersioningConfiguration document."""
    root = xml.parse(data, "VersioningConfiguration")
    xml.check_known(root, ("Status", "MfaDelete"))
    node, mfa = xml.only_child(root, "Status"), xml.only_child(root, "MfaDelete")
    if node is None or xml.text_of(node) not in (ENABLED, SUSPENDED):
        raise malformed_xml()
    if mfa is not None and xml.text_of(mfa) not in ("Enabled", "Disabled"):
        raise malformed_xml()
    return xml.text_of(node), None if mfa is None else xml.text_of(mfa)


def document(status: str, mfa_delete: str | None = None) -> str:
    """The stored form of a bucket's versioning (config kind "versioning"); GetBucketVersioning shows
    MfaDelete once a request has configured it."""
    stored = {"Status": status}
    if mfa_delete is not None:
        stored["MfaDelete"] = mfa_delete
    return json.dumps(stored)


def lock_keeps_versioning() -> S3Error:
    # A lock-enabled bucket's versioning cannot be suspended (S3 user guide, "Configuring S3 Object Lock");
    # AWS's answer as the AWS Terraform provider matches it (hashicorp/terraform-provider-aws, versioning
    # resource's delete).
    return S3Error("InvalidBucketState", 409,
                   "An Object Lock configuration is present on this bucket, so the versioning state "
                   "cannot be changed.")


async def put_bucket_versioning(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    require_integrity_header(ctx.headers)  # PutBucketVersioning: Content-MD5 (or a checksum) is required
    data = await read_document(ctx, MAX_BODY, malformed_xml())
    wanted, mfa_delete = parse(data)
    if mfa_delete == "Enabled":
        raise mfa_required()
    if wanted == SUSPENDED and object_lock.KIND in await ctx.bucket_configs(ctx.bucket.name):
        raise lock_keeps_versioning()
    try:
        await ctx.services.write(ctx.services.catalog.set_bucket_versioning, ctx.bucket.name,
                                 document(wanted, mfa_delete))
    except NoSuchBucketError:  # deleted since the dispatcher loaded it
        raise no_such_bucket(ctx.bucket.name) from None
    return web.Response(status=200)


async def get_bucket_versioning(ctx: Ctx) -> web.StreamResponse:
    """An empty document for a bucket never configured, as S3 answers."""
    assert ctx.bucket is not None
    stored = (await ctx.bucket_configs(ctx.bucket.name)).get(KIND)
    body = ""
    if stored is not None:
        doc = json.loads(stored)
        body = xml.el("Status", doc["Status"]) + (xml.el("MfaDelete", doc["MfaDelete"]) if "MfaDelete" in doc
                                                   else "")
    return xml_response(xml.document("VersioningConfiguration", body))
