"""Reads of bucket sub-resources strongroom does not configure: AWS's answer for a bucket that has none.

Tools read every sub-resource they know (Terraform's `aws_s3_bucket` reads lifecycle, replication, website,
logging, accelerate, request payment... on each refresh: hashicorp/terraform-provider-aws#25660) and treat
the "not configured" answer as normal; a 501 breaks them. Each answer here is what S3 gives a bucket that
never had the configuration: a 404 with the operation's own error code and `BucketName`, or the empty (or
default) document. Writes of these sub-resources are not routed, and answer 501 NotImplemented.

Codes and messages: the S3 API reference's error list and the operations' "special errors", as SDKs and
peers (MinIO, Ceph, Garage) quote them; documents: the operations' Response Syntax in the API reference.
"""

from __future__ import annotations

from aiohttp import web

from strongroom.errors import S3Error
from strongroom.s3 import xml
from strongroom.s3.context import Ctx
from strongroom.s3.documents import xml_response


def _not_configured(ctx: Ctx, code: str, message: str) -> S3Error:
    assert ctx.bucket is not None
    return S3Error(code, 404, message, BucketName=ctx.bucket.name)


def no_such_configuration() -> S3Error:
    # GetBucket{Analytics,Metrics,Inventory,IntelligentTiering}Configuration of an id that does not exist.
    return S3Error("NoSuchConfiguration", 404, "The specified configuration does not exist.")


async def get_bucket_website(ctx: Ctx) -> web.StreamResponse:
    raise _not_configured(ctx, "NoSuchWebsiteConfiguration",
                          "The specified bucket does not have a website configuration")


async def get_bucket_replication(ctx: Ctx) -> web.StreamResponse:
    raise _not_configured(ctx, "ReplicationConfigurationNotFoundError",
                          "The replication configuration was not found")


async def get_bucket_accelerate_configuration(ctx: Ctx) -> web.StreamResponse:
    # A bucket that never had Transfer Acceleration: no Status ("Enabled" or "Suspended" only once set).
    return xml_response(xml.document("AccelerateConfiguration", ""))


async def get_bucket_request_payment(ctx: Ctx) -> web.StreamResponse:
    # Every bucket's payer is the owner unless Requester Pays was set: the API reference's example answer.
    return xml_response(xml.document("RequestPaymentConfiguration", xml.el("Payer", "BucketOwner")))


async def get_bucket_notification_configuration(ctx: Ctx) -> web.StreamResponse:
    # "If notifications are not enabled on the bucket, the action returns an empty NotificationConfiguration."
    return xml_response(xml.document("NotificationConfiguration", ""))


def _empty_list(ctx: Ctx, root: str) -> web.StreamResponse:
    """A list of configurations (at most 1,000 per bucket on S3) that is empty; with `id`, the Get of one."""
    if "id" in ctx.query:
        raise no_such_configuration()
    token = ctx.query.get("continuation-token")
    body = xml.el("IsTruncated", False) + (xml.el("ContinuationToken", token) if token else "")
    return xml_response(xml.document(root, body))


async def list_bucket_analytics_configurations(ctx: Ctx) -> web.StreamResponse:
    return _empty_list(ctx, "ListBucketAnalyticsConfigurationResult")


async def list_bucket_metrics_configurations(ctx: Ctx) -> web.StreamResponse:
    return _empty_list(ctx, "ListMetricsConfigurationsResult")


async def list_bucket_inventory_configurations(ctx: Ctx) -> web.StreamResponse:
    return _empty_list(ctx, "ListInventoryConfigurationsResult")


async def list_bucket_intelligent_tiering_configurations(ctx: Ctx) -> web.StreamResponse:
    return _empty_list(ctx, "ListBucketIntelligentTieringConfigurationsOutput")
