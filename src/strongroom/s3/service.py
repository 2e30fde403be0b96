"""POST / on the service endpoint: the STS and KMS protocols that share strongroom's port.

A request with `X-Amz-Target: TrentService.*` is a KMS call (JSON protocol);
one whose form body names `Action=GetCallerIdentity` is STS (query protocol).
Each is authenticated for its own SigV4 service name.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web

from strongroom.errors import S3Error, access_denied
from strongroom.identity import user_arn
from strongroom.s3 import xml
from strongroom.s3.auth import authenticate
from strongroom.s3.body import Body
from strongroom.s3.context import Ctx
from strongroom.s3.routing import Operation

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
MAX_FORM = 64 * 1024


def sts_error(code: str, message: str, status: int = 400) -> S3Error:
    return S3Error(code, status, message)


async def post_service(ctx: Ctx) -> web.StreamResponse:
    target = ctx.headers.get("x-amz-target", "")
    if target.startswith("TrentService."):
        from strongroom.s3.kms_api import kms_call  # the KMS protocol, when the KMS is built in

        return await kms_call(ctx, target[len("TrentService."):])
    await authenticate(ctx, service="sts")
    if ctx.principal.anonymous or ctx.principal.user is None:
        raise access_denied()
    form = dict(parse_qsl((await Body(ctx).read_all(MAX_FORM, sts_error("ValidationError", "Request too large")))
                          .decode("utf-8", "replace")))
    form.update({k: v for k, v in ctx.query.items()})
    action = form.get("Action")
    if action != "GetCallerIdentity":
        raise sts_error("InvalidAction", f"Could not find operation {action} for version 2011-06-15")
    user = ctx.principal.user
    account = ctx.services.account_id
    result = (
        f"<GetCallerIdentityResult>{xml.el('Arn', user_arn(account, user))}"
        f"{xml.el('UserId', account if user.is_root else 'AIDA' + user.user_id[:17].upper())}"
        f"{xml.el('Account', account)}</GetCallerIdentityResult>"
        f"<ResponseMetadata>{xml.el('RequestId', ctx.request_id)}</ResponseMetadata>"
    )
    body = f'{xml.DECLARATION}<GetCallerIdentityResponse xmlns="{STS_NS}">{result}</GetCallerIdentityResponse>'
    return web.Response(body=body.encode(), content_type="text/xml")


HANDLERS = {Operation.PostService: post_service}
