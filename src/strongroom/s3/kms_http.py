"""The KMS JSON protocol's HTTP side: POST / with `X-Amz-Target: TrentService.<Op>` on strongroom's port.

Reads the body (capped, with an idle timeout), authenticates it as AWS KMS does
(SigV4 for service "kms" over the body's SHA-256, as KMS clients send no
x-amz-content-sha256, with KMS's own error codes), gathers the caller's policies
and the request's condition keys, and hands the rest to strongroom.kms.api, which
answers without HTTP.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aiohttp import web

from strongroom import sigv4, user_policies
from strongroom.db.database import DatabaseBusy
from strongroom.errors import S3Error
from strongroom.kms import api, errors
from strongroom.kms.access import KmsCaller
from strongroom.kms.errors import KmsError
from strongroom.s3.access.policy_context import principal, request_keys
from strongroom.s3.auth import auth_request, credentials, verify_sigv4
from strongroom.s3.context import Ctx

log = logging.getLogger("strongroom.kms.api")

MAX_BODY = 1 << 20
IDLE_TIMEOUT = 20.0
BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. "
                 "Check your AWS Secret Access Key and signing method. "
                 "Consult the service documentation for details.")
BAD_TOKEN = "The security token included in the request is invalid."


async def kms_call(ctx: Ctx, op: str) -> web.StreamResponse:
    try:
        body = await _read_body(ctx)
        await _authenticate(ctx, body)
        answer = await ctx.services.run(api.call, getattr(ctx.services.kms, "builtin", None),
                                        await _call(ctx, op, body))
    except KmsError as err:
        # A server fault is an ERROR; a refusal anyone can provoke (4xx, 501) is INFO, never a flood.
        log.log(logging.ERROR if err.status >= 500 and err.status != 501 else logging.INFO,
                "request %s: kms:%s failed: %s", ctx.request_id, op, err.code)
        answer = api.error_reply(err)
    except DatabaseBusy:  # the policies' read found no catalog connection free in time
        log.warning("request %s: kms:%s refused: no catalog connection free", ctx.request_id, op)
        answer = api.error_reply(errors.throttling())
    except Exception:
        log.exception("request %s: kms:%s failed", ctx.request_id, op)
        answer = api.error_reply(errors.internal())
    return web.Response(status=answer.status, body=answer.body,
                        headers={**answer.headers, "x-amzn-RequestId": ctx.request_id})


async def _call(ctx: Ctx, op: str, body: bytes) -> api.KmsCall:
    user, account = ctx.principal.user, ctx.services.account_id
    assert user is not None  # authenticated
    policies = await ctx.services.read(user_policies.policies_of, ctx.services.catalog, user, account)
    # The request's global condition keys (S3's own are not for a KMS call), and the caller's account.
    keys = {k: v for k, v in request_keys(ctx).items() if not k.startswith("s3:")}
    keys["kms:CallerAccount"] = account
    return api.KmsCall(op, body, KmsCaller(principal(ctx), tuple(policies)), account, ctx.config.region,
                       keys, ctx.request_id, audit=ctx.services.audit)


async def _read_body(ctx: Ctx) -> bytes:
    too_large = errors.validation(f"The request body is larger than {MAX_BODY} bytes.")
    if (ctx.request.content_length or 0) > MAX_BODY:
        raise too_large
    data = bytearray()
    while True:
        try:
            chunk = await asyncio.wait_for(ctx.request.content.readany(), IDLE_TIMEOUT)
        except TimeoutError:
            raise errors.validation("The request body was not received in time.") from None
        if not chunk:
            return bytes(data)
        data += chunk
        if len(data) > MAX_BODY:
            raise too_large


async def _authenticate(ctx: Ctx, body: bytes) -> None:
    """The one credential lookup and SigV4 check of s3/auth.py, S3's errors put in KMS's words."""
    req = auth_request(ctx)
    try:
        parsed = sigv4.parse(req)
    except S3Error as e:
        raise KmsError("IncompleteSignatureException", e.message) from None
    if parsed is None or parsed.kind == "presigned":
        # AWS KMS takes its credentials from the Authorization header only: query-string (presigned)
        # authentication is no authentication token to it.
        raise KmsError("MissingAuthenticationTokenException", "Request is missing Authentication Token")
    if parsed.service != "kms":
        raise KmsError("InvalidSignatureException", "Credential should be scoped to correct service: 'kms'. ")
    if parsed.region != ctx.config.region:  # AWS KMS's answer to a scope naming another region
        raise KmsError("InvalidSignatureException", "Credential should be scoped to a valid region. ")
    try:
        found = await credentials(ctx, parsed.access_key)
    except S3Error as e:
        if e.code == "InvalidAccessKeyId":
            raise KmsError("UnrecognizedClientException", BAD_TOKEN) from None
        raise errors.internal() from None
    try:
        # The signature covers the body received: an x-amz-content-sha256 header (UNSIGNED-PAYLOAD or
        # any other value) is S3's, and is ignored here, so a body cannot be swapped under a signature.
        verify_sigv4(ctx, replace(parsed, content_sha256=None), req, found, hashlib.sha256(body).hexdigest())
    except S3Error as e:
        if e.code == "SignatureDoesNotMatch":
            raise KmsError("InvalidSignatureException", BAD_SIGNATURE) from None
        if e.code == "RequestTimeTooSkewed":
            now, fmt = datetime.fromtimestamp(ctx.services.clock.now(), UTC), sigv4.AMZ_DATE_FORMAT
            raise KmsError("InvalidSignatureException",
                           f"Signature expired: {parsed.amz_date:{fmt}} is now earlier than "
                           f"{now - timedelta(minutes=5):{fmt}} ({now:{fmt}} - 5 min.)") from None
        raise KmsError("IncompleteSignatureException", e.message) from None
