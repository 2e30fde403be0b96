"""Server access logs delivered into buckets (PutBucketLogging): each request to a bucket with logging on
becomes one record in AWS's format, kept in this process's buffer (logs.ServerAccessLogBuffer), and every
--access-log-delivery-interval seconds the waiting records of each source bucket are written as one new
object in its target bucket, through the vault like any object (so encrypted by the target bucket's
default encryption), under a key with a unique string (bucket_logging.LoggingConfig.key).

Several servers on one catalog each deliver their own records as their own objects: AWS names log objects
with a unique string for the same reason, and no lease or coordination is needed. Delivery is best effort,
as AWS says of its own: records of a process that dies before its next delivery are lost, a bucket whose
logging was turned off (or whose target no longer lets the logging service write) gets nothing, and a
failed write is logged and its records dropped.

The record (S3 user guide, "Amazon S3 server access log format"): space-separated fields in this order,
"-" for what is unknown or does not apply: Bucket Owner, Bucket, Time ([%d/%b/%Y:%H:%M:%S %z]), Remote
IP, Requester, Request ID, Operation (REST.<method>.<resource type>), Key (URL-encoded), "Request-URI",
HTTP status, Error Code, Bytes Sent, Object Size, Total Time, Turn-Around Time, "Referer", "User-Agent",
Version Id, Host Id, Signature Version, Cipher Suite, Authentication Type, Host Header, TLS version, Access
Point ARN, aclRequired, Source Region. Never a secret: the Request-URI of a presigned request is written
without its signature and security token (their values become "REDACTED"); no header value other than
Referer, User-Agent and Host is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from urllib.parse import quote

from aiohttp import web

from strongroom.identity import user_arn
from strongroom.logs import ServerAccessLogBuffer
from strongroom.periodic import Background
from strongroom.s3 import bucket_logging
from strongroom.s3.access.state import load_state
from strongroom.s3.context import Ctx, Services
from strongroom.s3.routing import Operation
from strongroom.s3.sse import BucketDefault, Choice
from strongroom.vault import NewObject

log = logging.getLogger("strongroom.log_delivery")

O = Operation  # noqa: E741 - short alias keeps the table readable

# Operation -> the record's resource type (REST.<method>.<type>). VERSIONING, LOGGING_STATUS,
# BUCKETPOLICY, OBJECT, COPY.OBJECT_GET are in the user guide's examples; the others are the names AWS
# writes in its logs for the same operations.
RESOURCE_TYPES: dict[Operation, str] = {
    O.ListBuckets: "SERVICE", O.CreateBucket: "BUCKET", O.DeleteBucket: "BUCKET", O.HeadBucket: "BUCKET",
    O.ListObjects: "BUCKET", O.ListObjectsV2: "BUCKET", O.ListObjectVersions: "BUCKETVERSIONS",
    O.GetBucketLocation: "LOCATION", O.GetBucketVersioning: "VERSIONING", O.PutBucketEncryption: "ENCRYPTION",
    O.GetBucketEncryption: "ENCRYPTION", O.DeleteBucketEncryption: "ENCRYPTION",
    O.PutBucketPolicy: "BUCKETPOLICY", O.GetBucketPolicy: "BUCKETPOLICY",
    O.DeleteBucketPolicy: "BUCKETPOLICY",
    O.GetBucketPolicyStatus: "BUCKETPOLICYSTATUS", O.GetBucketAcl: "ACL", O.PutBucketAcl: "ACL",
    O.GetBucketOwnershipControls: "OWNERSHIP_CONTROLS", O.PutBucketOwnershipControls: "OWNERSHIP_CONTROLS",
    O.DeleteBucketOwnershipControls: "OWNERSHIP_CONTROLS", O.GetPublicAccessBlock: "PUBLIC_ACCESS_BLOCK",
    O.PutPublicAccessBlock: "PUBLIC_ACCESS_BLOCK", O.DeletePublicAccessBlock: "PUBLIC_ACCESS_BLOCK",
    O.PutBucketLogging: "LOGGING_STATUS", O.GetBucketLogging: "LOGGING_STATUS",
    O.ListMultipartUploads: "UPLOADS", O.DeleteObjects: "MULTI_OBJECT_DELETE", O.PostObject: "OBJECT",
    O.PutObject: "OBJECT", O.CopyObject: "OBJECT", O.GetObject: "OBJECT", O.HeadObject: "OBJECT",
    O.DeleteObject: "OBJECT", O.GetObjectAcl: "ACL", O.PutObjectAcl: "ACL",
    O.GetObjectTagging: "OBJECT_TAGGING",
    O.PutObjectTagging: "OBJECT_TAGGING", O.DeleteObjectTagging: "OBJECT_TAGGING",
    O.GetObjectAttributes: "OBJECT_ATTRIBUTES", O.CreateMultipartUpload: "UPLOADS", O.UploadPart: "PART",
    O.UploadPartCopy: "PART", O.CompleteMultipartUpload: "UPLOAD", O.AbortMultipartUpload: "UPLOAD",
    O.ListParts: "UPLOAD",
}
_METHOD = {O.CopyObject: "COPY", O.UploadPartCopy: "COPY"}  # AWS writes REST.COPY.OBJECT, REST.COPY.PART
_SECRET_PARAMETERS = frozenset({"x-amz-signature", "signature", "x-amz-security-token"})


def _field(value: object) -> str:
    text = str(value) if value is not None and value != "" else "-"
    return text.replace(" ", "%20").replace("\n", "%0A")


def _quoted(value: str | None) -> str:
    if not value:
        return '"-"'
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def request_uri(request: web.Request) -> str:
    """The request line, with the values of signature and token parameters replaced."""
    path, question, query = request.raw_path.partition("?")
    if question:
        kept = []
        for part in query.split("&"):
            name, equals, _value = part.partition("=")
            kept.append(f"{name}=REDACTED" if equals and name.lower() in _SECRET_PARAMETERS else part)
        path = f"{path}?{'&'.join(kept)}"
    return f"{request.method} {path} HTTP/{request.version.major}.{request.version.minor}"


def _requester(ctx: Ctx) -> str:
    user = ctx.principal.user
    if user is None:
        return "-"
    # the root user's canonical id; an IAM user's ARN ("the requester's IAM user name along with the AWS
    # root account that the IAM user belongs to")
    return user.user_id if user.is_root else user_arn(ctx.services.account_id, user)


def record(ctx: Ctx, response: web.StreamResponse, line: Mapping[str, object], received: float,
           object_size: int | None) -> str:
    """One record in AWS's format, from the request's access-log line (s3/observe.py) and its context."""
    assert ctx.bucket is not None
    request = ctx.request
    headers = request.headers
    duration = float(line["duration_ms"])  # type: ignore[arg-type]
    method = _METHOD.get(ctx.op, request.method)
    auth_type = "-"
    if ctx.signature_version is not None:
        presigned = "X-Amz-Signature" in ctx.query or "Signature" in ctx.query
        auth_type = "QueryString" if presigned else "AuthHeader"
    signature = {"AWS": "SigV2", "AWS4-HMAC-SHA256": "SigV4"}.get(ctx.signature_version or "", "-")
    transport = request.transport
    ssl = transport.get_extra_info("ssl_object") if transport is not None else None
    fields = (
        _field(ctx.bucket.owner_id), _field(ctx.bucket.name),
        time.strftime("[%d/%b/%Y:%H:%M:%S +0000]", time.gmtime(received)), _field(line["remote"]),
        _field(_requester(ctx)), _field(line["request_id"]),
        f"REST.{method}.{RESOURCE_TYPES.get(ctx.op, 'UNKNOWN')}",
        _field(quote(ctx.key, safe="/") if ctx.key is not None else None),
        _quoted(request_uri(request)), str(line["status"]), _field(line["error_code"]),
        _field(line["bytes_out"] or None), _field(object_size),
        str(round(duration)), str(round(duration)),  # the body is read inside the handler: one figure
        _quoted(headers.get("referer")), _quoted(headers.get("user-agent")), _field(line["version_id"]),
        _field(response.headers.get("x-amz-id-2")), signature,
        _field(ssl.cipher()[0] if ssl is not None else None), auth_type, _field(headers.get("host")),
        _field(ssl.version() if ssl is not None else None), "-", "-", "-",
    )
    return " ".join(fields)


def object_size(ctx: Ctx, response: web.StreamResponse, line: Mapping[str, object]) -> int | None:
    """The object's size for reads (its Content-Length, or the full size of a range) and writes."""
    if ctx.key is None:
        return None
    content_range = response.headers.get("Content-Range")
    if content_range is not None and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        return int(total) if total.isdigit() else None
    if ctx.op in (O.GetObject, O.HeadObject):
        return response.content_length
    if ctx.op in (O.PutObject, O.UploadPart, O.PostObject):
        return int(line["bytes_in"]) or None  # type: ignore[call-overload]
    return None


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _no_kms_check(action: str, key_arn: str | None, context: Mapping[str, str]) -> None:
    return None  # the logging service writes under the target bucket's own default: nobody to authorize


class LogDelivery:
    """The delivery task of one serving process."""

    def __init__(self, services: Services, buffer: ServerAccessLogBuffer, interval: float) -> None:
        self.services, self.buffer, self.interval = services, buffer, interval
        self._task = Background()

    async def start(self, _app: object = None) -> None:
        self._task.start(self._loop)

    async def close(self, _app: object = None) -> None:
        await self._task.stop()
        await self.deliver()  # what is waiting goes out before the process ends

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.deliver()

    async def deliver(self) -> None:
        if self.buffer.dropped:
            log.warning("server access logging: %d records dropped (more than %d waiting)",
                        self.buffer.dropped, self.buffer.limit)
            self.buffer.dropped = 0
        for source, records in self.buffer.take().items():
            try:
                await self._deliver(source, records)
            except Exception as e:  # noqa: BLE001 - best effort: one bucket's failure must not stop the rest
                log.warning("server access logs of bucket %s not delivered (%d records): %s: %s", source,
                            len(records), type(e).__name__, e)

    async def _deliver(self, source_name: str, records: list[tuple[float, str]]) -> None:
        services = self.services
        source = await services.bucket(source_name)
        if source is None:
            return
        config = bucket_logging.LoggingConfig.from_stored(
            (await services.bucket_configs(source_name)).get(bucket_logging.KIND))
        if config is None:
            return  # logging turned off since: AWS stops delivering too
        target = await services.bucket(config.target_bucket)
        if target is None:
            log.warning("server access logs of bucket %s not delivered: target bucket %s does not exist",
                        source_name, config.target_bucket)
            return
        target_configs = await services.bucket_configs(target.name)
        state = load_state(target_configs, services.account_id, target)
        if not bucket_logging.delivery_allowed(services.account_id, source, config, state):
            log.warning("server access logs of bucket %s not delivered: bucket %s does not let the logging "
                        "service write", source_name, target.name)
            return
        default = BucketDefault.from_json(target_configs.get("encryption"))
        encryption = Choice(default.algorithm, default.kms_key_id, default.bucket_key).encryption
        now = time.time()
        for event_day, lines in _by_key_date(config, records).items():
            data = ("\n".join(lines) + "\n").encode("utf-8", "backslashreplace")
            key = config.key(services.account_id, source, event_day, now)
            target_object = NewObject(target.name, key, target.owner_id, "text/plain")
            await services.vault.put(target_object, _body(data), encryption, kms_check=_no_kms_check,
                                     size_hint=len(data))


def _by_key_date(config: bucket_logging.LoggingConfig,
                 records: list[tuple[float, str]]) -> dict[float, list[str]]:
    """Records grouped into objects: by the day they happened for EventTime partitions (AWS: "the logs
    delivered are for a specific day only"), all together otherwise."""
    groups: dict[float, list[str]] = {}
    for when, line in records:
        day = when - when % 86400 if config.key_format == "EventTime" else 0.0
        groups.setdefault(day, []).append(line)
    return groups


def add(buffer: ServerAccessLogBuffer, ctx: Ctx, response: web.StreamResponse, line: Mapping[str, object],
        received: float) -> None:
    """The request's record into the buffer (called by observe for a bucket with logging on)."""
    assert ctx.bucket is not None
    with contextlib.suppress(Exception):  # a record that cannot be built must not fail an answered request
        buffer.add(ctx.bucket.name, received, record(ctx, response, line, received,
                                                     object_size(ctx, response, line)))
