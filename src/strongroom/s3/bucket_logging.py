"""Server access logging's configuration: PutBucketLogging and GetBucketLogging, the stored form of a
bucket's BucketLoggingStatus, where its log objects go (their keys), and whether the target bucket lets
the logging service write there. Delivery itself is `strongroom.s3.log_delivery`.

AWS facts (S3 API reference PutBucketLogging, GetBucketLogging, LoggingEnabled, TargetObjectKeyFormat,
PartitionedPrefix; user guide "Permissions for log delivery"):
- GET of a bucket without logging answers an empty <BucketLoggingStatus/>; PUT of an empty one turns
  logging off. TargetBucket and TargetPrefix are required inside LoggingEnabled.
- Simple keys: [TargetPrefix][YYYY]-[MM]-[DD]-[hh]-[mm]-[ss]-[UniqueString]. Partitioned keys:
  [TargetPrefix][SourceAccountId]/[SourceRegion]/[SourceBucket]/[YYYY]/[MM]/[DD]/[YYYY]-[MM]-[DD]-[hh]-
  [mm]-[ss]-[UniqueString]; PartitionDateSource EventTime (the default) or DeliveryTime; with EventTime
  the hour, minutes and seconds are 00.
- The target must exist ("InvalidTargetBucketForLogging: The target bucket for logging does not
  exist", as AWS answers it), be in the source's region (CrossLocationLoggingProhibited, 403, the error
  codes list), accept no TargetGrants when its Object Ownership is BucketOwnerEnforced
  ("AccessControlListNotSupported: Target grants not allowed for bucket owner enforced buckets", as AWS
  answers it), and let the logging service write: its bucket policy allows the service principal
  logging.s3.amazonaws.com s3:PutObject (conditions on aws:SourceArn / aws:SourceAccount are evaluated
  against the source bucket), or, where ACLs count, its ACL grants the LogDelivery group WRITE and
  READ_ACP. Otherwise InvalidTargetBucketForLogging with the message below.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from strongroom import policy
from strongroom.catalog.model import Bucket
from strongroom.errors import S3Error, malformed_xml
from strongroom.s3 import xml
from strongroom.s3.access import acl
from strongroom.s3.access.policy_context import bucket_arn, object_arn
from strongroom.s3.access.state import BucketState, load_state
from strongroom.s3.context import Ctx
from strongroom.s3.documents import read_document, xml_response

KIND = "logging"  # bucket_configs kind
SERVICE = "logging.s3.amazonaws.com"
MAX_BODY = 20 * 1024
PERMISSIONS = ("FULL_CONTROL", "READ", "WRITE")  # BucketLogsPermission
XSI = "http://www.w3.org/2001/XMLSchema-instance"

# "default": no TargetObjectKeyFormat was given (simple keys, and none is rendered back).
KeyFormat = Literal["default", "simple", "EventTime", "DeliveryTime"]


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    target_bucket: str
    target_prefix: str
    key_format: KeyFormat = "default"
    grants: tuple[acl.Grant, ...] = ()

    def to_json(self) -> str:
        return json.dumps({"target_bucket": self.target_bucket, "target_prefix": self.target_prefix,
                           "key_format": self.key_format, "grants": [list(g) for g in self.grants]})

    @staticmethod
    def from_stored(text: str | None) -> LoggingConfig | None:
        if not text:
            return None
        d = json.loads(text)
        return LoggingConfig(d["target_bucket"], d["target_prefix"], d["key_format"],
                             tuple((g[0], g[1], g[2]) for g in d.get("grants", ())))

    def key(self, account: str, source: Bucket, event_time: float, delivery_time: float,
            unique: str | None = None) -> str:
        """A log object's key for records of `event_time` delivered at `delivery_time`."""
        unique = unique or secrets.token_hex(8).upper()
        if self.key_format in ("default", "simple"):
            stamp = time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(delivery_time))
            return f"{self.target_prefix}{stamp}-{unique}"
        when = time.gmtime(event_time if self.key_format == "EventTime" else delivery_time)
        day = time.strftime("%Y/%m/%d", when)
        stamp = (time.strftime("%Y-%m-%d-00-00-00", when) if self.key_format == "EventTime"
                 else time.strftime("%Y-%m-%d-%H-%M-%S", when))
        return f"{self.target_prefix}{account}/{source.region}/{source.name}/{day}/{stamp}-{unique}"


def invalid_target(message: str) -> S3Error:
    return S3Error("InvalidTargetBucketForLogging", 400, message)


NO_TARGET = "The target bucket for logging does not exist"
NOT_PERMITTED = ("You must either provide the necessary permissions to the logging service using a bucket "
                 "policy or give the log-delivery group WRITE and READ_ACP permissions to the target bucket")


def cross_location() -> S3Error:
    return S3Error("CrossLocationLoggingProhibited", 403,
                   "Cross-location logging not allowed. Buckets in one geographic location cannot log "
                   "information to a bucket in another location.")


def target_grants_not_allowed() -> S3Error:
    return S3Error("AccessControlListNotSupported", 400,
                   "Target grants not allowed for bucket owner enforced buckets")


# --- the document ---

def parse(data: bytes) -> LoggingConfig | None:
    """The BucketLoggingStatus document; None: logging off."""
    root = xml.parse(data, "BucketLoggingStatus")
    xml.check_known(root, ("LoggingEnabled",))
    enabled = xml.only_child(root, "LoggingEnabled")
    if enabled is None:
        return None
    xml.check_known(enabled, ("TargetBucket", "TargetPrefix", "TargetGrants", "TargetObjectKeyFormat"))
    bucket, prefix = xml.only_child(enabled, "TargetBucket"), xml.only_child(enabled, "TargetPrefix")
    if bucket is None or prefix is None or not xml.text_of(bucket):
        raise malformed_xml()
    grants = _grants(xml.only_child(enabled, "TargetGrants"))
    return LoggingConfig(xml.text_of(bucket), prefix.text or "",
                         _key_format(xml.only_child(enabled, "TargetObjectKeyFormat")), grants)


def _grants(node: object) -> tuple[acl.Grant, ...]:
    if node is None:
        return ()
    found: list[acl.Grant] = []
    for grant in node:  # type: ignore[attr-defined]
        if grant.tag != "Grant":
            raise malformed_xml()
        grantee, permission = xml.only_child(grant, "Grantee"), xml.only_child(grant, "Permission")
        if grantee is None or permission is None or xml.text_of(permission) not in PERMISSIONS:
            raise malformed_xml()
        fields = {c.tag: xml.text_of(c) for c in grantee}
        if "ID" in fields:
            found.append(("CanonicalUser", fields["ID"], xml.text_of(permission)))
        elif "URI" in fields:
            found.append(("Group", fields["URI"], xml.text_of(permission)))
        else:
            raise malformed_xml()
    return tuple(found)


def _key_format(node: object) -> KeyFormat:
    if node is None:
        return "default"
    children = list(node)  # type: ignore[call-overload]
    if len(children) != 1 or children[0].tag not in ("SimplePrefix", "PartitionedPrefix"):
        raise malformed_xml()
    chosen = children[0]
    if chosen.tag == "SimplePrefix":
        return "simple"
    xml.check_known(chosen, ("PartitionDateSource",))
    source = xml.only_child(chosen, "PartitionDateSource")
    value = xml.text_of(source) if source is not None else "EventTime"
    if value not in ("EventTime", "DeliveryTime"):
        raise malformed_xml()
    return "EventTime" if value == "EventTime" else "DeliveryTime"


def render(config: LoggingConfig | None) -> bytes:
    if config is None:
        return xml.document("BucketLoggingStatus", "")
    grants = "".join(
        f'<Grant><Grantee xmlns:xsi="{XSI}" xsi:type="{kind}">'
        f"{xml.el('ID' if kind == 'CanonicalUser' else 'URI', who)}</Grantee>"
        f"{xml.el('Permission', perm)}</Grant>"
        for kind, who, perm in config.grants)
    key_format = ""
    if config.key_format == "simple":
        key_format = "<TargetObjectKeyFormat><SimplePrefix/></TargetObjectKeyFormat>"
    elif config.key_format != "default":
        source = xml.el("PartitionDateSource", config.key_format)
        key_format = (f"<TargetObjectKeyFormat><PartitionedPrefix>{source}</PartitionedPrefix>"
                      "</TargetObjectKeyFormat>")
    body = (f"<LoggingEnabled>{xml.el('TargetBucket', config.target_bucket)}"
            f"{f'<TargetGrants>{grants}</TargetGrants>' if grants else ''}"
            f"{xml.el('TargetPrefix', config.target_prefix)}{key_format}</LoggingEnabled>")
    return xml.document("BucketLoggingStatus", body)


# --- who may write the logs ---

def delivery_allowed(account: str, source: Bucket, config: LoggingConfig, target: BucketState) -> bool:
    """Whether the logging service may put `source`'s log objects into the target bucket."""
    key = config.key(account, source, time.time(), time.time(), "0" * 16)
    rc = policy.RequestContext("s3:PutObject", (object_arn(target.bucket.name, key),),
                               policy.Principal.service(SERVICE),
                               {"aws:SourceArn": bucket_arn(source.name), "aws:SourceAccount": account})
    decision = policy.evaluate(rc, resource_policy=target.policy)
    if decision is policy.Decision.ALLOW:
        return True
    if decision is policy.Decision.DENY or not target.acls_count or target.acl is None:
        return False
    granted = {perm for kind, who, perm in target.acl.grants if kind == "Group" and who == acl.LOG_DELIVERY}
    return "FULL_CONTROL" in granted or {"WRITE", "READ_ACP"} <= granted


async def target_state(ctx: Ctx, name: str) -> BucketState | None:
    bucket = await ctx.services.bucket(name)
    if bucket is None:
        return None
    return load_state(await ctx.bucket_configs(name), ctx.services.account_id, bucket)


# --- the handlers ---

async def put_bucket_logging(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    config = parse(await read_document(ctx, MAX_BODY, malformed_xml()))
    if config is not None:
        target = await target_state(ctx, config.target_bucket)
        if target is None:
            raise invalid_target(NO_TARGET)
        if config.grants and not target.acls_count:
            raise target_grants_not_allowed()
        if not delivery_allowed(ctx.services.account_id, ctx.bucket, config, target):
            raise invalid_target(NOT_PERMITTED)
        if target.bucket.region != ctx.bucket.region:
            raise cross_location()
    await ctx.services.write(ctx.services.catalog.put_bucket_config, ctx.bucket.name, KIND,
                             config.to_json() if config is not None else None)
    return web.Response(status=200)


async def get_bucket_logging(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    configs = await ctx.bucket_configs(ctx.bucket.name)
    return xml_response(render(LoggingConfig.from_stored(configs.get(KIND))))
