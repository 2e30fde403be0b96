"""POST / on the service endpoint: the STS and KMS protocols that share strongroom's port.

A request with `X-Amz-Target: TrentService.*` is a KMS call (JSON protocol);
one whose form body names `Action=GetCallerIdentity` is STS (query protocol).
Each is authenticated for its own SigV4 service name over the body it sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from urllib.parse import parse_qsl

from aiohttp import web

from strongroom import sigv4
from strongroom.errors import S3Error
from strongroom.identity import user_arn
from strongroom.s3 import xml
from strongroom.s3.auth import ANONYMOUS, auth_request, credentials, verify_sigv4
from strongroom.s3.body import Body
from strongroom.s3.context import Ctx
from strongroom.s3.kms_http import kms_call

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
MAX_FORM = 64 * 1024


def sts_error_response(ctx: Ctx, err: S3Error) -> web.Response:
    """STS renders errors as <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>."""
    kind = "Receiver" if err.status >= 500 else "Sender"
    body = (
        f'{xml.DECLARATION}<ErrorResponse xmlns="{STS_NS}"><Error>'
        f'{xml.el("Type", kind)}{xml.el("Code", err.code)}'
        f"{xml.el('Message', err.message)}</Error>{xml.el('RequestId', ctx.request_id)}</ErrorResponse>"
    )
    return web.Response(status=err.status, body=body.encode(), content_type="text/xml")


async def post_service(ctx: Ctx) -> web.StreamResponse:
    target = ctx.headers.get("x-amz-target", "")
    if target.startswith("TrentService."):
        return await kms_call(ctx, target[len("TrentService.") :])
    try:
        return await _sts(ctx)
    except S3Error as err:
        return sts_error_response(ctx, err)


async def _authenticate_sts(ctx: Ctx, body_sha256: str) -> None:
    """SigV4 for service "sts" over the body received: an x-amz-content-sha256 header (UNSIGNED-PAYLOAD,
    or a hash of another body) is S3's and is ignored, so the body is bound to the signature."""
    req = auth_request(ctx)
    parsed = sigv4.parse(req)
    if parsed is None:
        ctx.principal = ANONYMOUS
        return
    sigv4.check_scope(parsed, service="sts")
    if parsed.region != ctx.config.region:
        # STS's answer (Query protocol, 403), as AWS STS gives it for a scope naming another region.
        raise S3Error("SignatureDoesNotMatch", 403, "Credential should be scoped to a valid region. ")
    if parsed.kind == "header":
        parsed = replace(parsed, content_sha256=None)
    verify_sigv4(ctx, parsed, req, await credentials(ctx, parsed.access_key), body_sha256)
    ctx.signature_version = "AWS4-HMAC-SHA256"


async def _sts(ctx: Ctx) -> web.StreamResponse:
    too_large = S3Error("ValidationError", 400, "Request body too large")
    body = await Body(ctx).read_all(MAX_FORM, too_large)
    await _authenticate_sts(ctx, hashlib.sha256(body).hexdigest())
    if ctx.principal.user is None:
        raise S3Error("MissingAuthenticationToken", 403, "Request is missing Authentication Token")
    form = dict(parse_qsl(body.decode("utf-8", "replace")))
    form.update(ctx.query.items())
    action = form.get("Action")
    if action != "GetCallerIdentity":
        raise S3Error("InvalidAction", 400, f"Could not find operation {action} for version 2011-06-15")
    user = ctx.principal.user
    account = ctx.services.account_id
    result = (
        f"<GetCallerIdentityResult>{xml.el('Arn', user_arn(account, user))}"
        f"{xml.el('UserId', account if user.is_root else 'AIDA' + user.user_id[:17].upper())}"
        f"{xml.el('Account', account)}</GetCallerIdentityResult>"
        f"<ResponseMetadata>{xml.el('RequestId', ctx.request_id)}</ResponseMetadata>"
    )
    doc = f'{xml.DECLARATION}<GetCallerIdentityResponse xmlns="{STS_NS}">{result}</GetCallerIdentityResponse>'
    return web.Response(body=doc.encode(), content_type="text/xml")

