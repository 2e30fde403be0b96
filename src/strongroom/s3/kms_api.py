"""The AWS KMS JSON protocol (`X-Amz-Target: TrentService.<Op>`) on strongroom's port, for the built-in KMS.

Owns the wire: reading the (capped) JSON body, SigV4 for service "kms" over the
body's hash (KMS clients send no x-amz-content-sha256), who may call what, and
rendering results and errors as AWS KMS does (`{"__type": ..., "message": ...}`,
status 400 for client errors). Until key policies exist: the root user may do
anything; other users may use keys but not manage them. The operations themselves
are strongroom.kms.builtin, run on the executor (they touch SQLite).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from strongroom.crypto import IntegrityError
from strongroom.errors import S3Error
from strongroom.identity import user_arn
from strongroom.kms import errors, shapes
from strongroom.kms.builtin import BuiltinKms
from strongroom.kms.errors import KmsError
from strongroom.kms.model import material_id, parse_ref
from strongroom.s3 import sigv4
from strongroom.s3.auth import auth_request
from strongroom.s3.context import Ctx, Principal

log = logging.getLogger("strongroom.kms.api")

CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_BODY = 1 << 20
IDLE_TIMEOUT = 20.0
ALGORITHM = {"EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}
# What a user other than root may do until key policies exist: use keys, never manage them.
USE_OPS = frozenset({"Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
                     "DescribeKey", "ListKeys", "ListAliases", "GetKeyRotationStatus"})
BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. "
                 "Check your AWS Secret Access Key and signing method. "
                 "Consult the service documentation for details.")
BAD_TOKEN = "The security token included in the request is invalid."

Handler = Callable[[BuiltinKms, shapes.Params, str], "dict[str, Any] | None"]


# --- the wire ---------------------------------------------------------------------------------------


async def kms_call(ctx: Ctx, op: str) -> web.StreamResponse:
    try:
        body = await _read_body(ctx)
        await _authenticate(ctx, body)
        handler = OPERATIONS.get(op)
        if handler is None:
            raise KmsError("UnknownOperationException")
        params = _params(body)
        principal = user_arn(ctx.services.account_id, ctx.principal.user)  # type: ignore[arg-type]
        _authorize(ctx, op, params, principal)
        kms = getattr(ctx.services.kms, "builtin", None)
        if kms is None:
            raise errors.unsupported("The built-in KMS is off: this server uses an external KMS.")
        result = await _call(ctx, op, handler, kms, params, principal)
        log.debug("request %s: kms:%s", ctx.request_id, op)
        return _respond(ctx, 200, result)
    except KmsError as err:
        if err.status >= 500:
            log.error("request %s: kms:%s failed: %s", ctx.request_id, op, err.code)
        return _respond(ctx, err.status, _error_document(err))
    except Exception:
        log.exception("request %s: kms:%s failed", ctx.request_id, op)
        failure = errors.internal()
        return _respond(ctx, failure.status, _error_document(failure))


# The KMS store's threads by kind of call, as for the catalog: listings on the lister thread, the one
# point read inline on SQLite, everything else (writes, crypto with a key lookup) on the executor.
_LISTINGS = frozenset({"ListKeys", "ListAliases"})
_POINT_READS = frozenset({"GetKeyRotationStatus"})


async def _call(ctx: Ctx, op: str, handler: Handler, kms: BuiltinKms, params: shapes.Params,
                principal: str) -> dict[str, Any] | None:
    services = ctx.services
    if op in _LISTINGS:
        return await services.listing(handler, kms, params, principal)
    if op in _POINT_READS:
        return await services.read(handler, kms, params, principal)
    return await services.run(handler, kms, params, principal)


def _error_document(err: KmsError) -> dict[str, Any]:
    # AWS leaves the message out when there is none (InvalidCiphertextException, NotAuthorizedException).
    return {"__type": err.code, "message": err.message} if err.message else {"__type": err.code}


def _respond(ctx: Ctx, status: int, result: dict[str, Any] | None) -> web.Response:
    body = b"" if result is None else json.dumps(result, separators=(",", ":")).encode()
    return web.Response(status=status, body=body, content_type=CONTENT_TYPE,
                        headers={"x-amzn-RequestId": ctx.request_id})


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


def _params(body: bytes) -> shapes.Params:
    if not body.strip():
        return {}
    try:
        params = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise errors.serialization("The request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise errors.serialization("The request body must be a JSON object.")
    return params


async def _authenticate(ctx: Ctx, body: bytes) -> None:
    req = auth_request(ctx)
    try:
        parsed = sigv4.parse(req)
    except S3Error as e:
        raise KmsError("IncompleteSignatureException", e.message) from None
    if parsed is None:
        raise KmsError("MissingAuthenticationTokenException", "Request is missing Authentication Token")
    if parsed.service != "kms":
        raise KmsError("InvalidSignatureException", "Credential should be scoped to correct service: 'kms'. ")
    found = await ctx.services.read(ctx.services.catalog.lookup_access_key, parsed.access_key)
    if found is None or not found[0].active:
        raise KmsError("UnrecognizedClientException", BAD_TOKEN)
    key, user = found
    try:
        secret = ctx.services.keyring.unseal_secret(key.sealed_secret, key.access_key)
    except IntegrityError:
        raise errors.internal() from None
    now = datetime.now(UTC)
    try:
        ctx.signing = sigv4.verify(parsed, req, secret, now, payload_sha256=hashlib.sha256(body).hexdigest())
    except S3Error as e:
        if e.code == "SignatureDoesNotMatch":
            raise KmsError("InvalidSignatureException", BAD_SIGNATURE) from None
        if e.code == "RequestTimeTooSkewed":
            fmt = "%Y%m%dT%H%M%SZ"
            raise KmsError("InvalidSignatureException",
                           f"Signature expired: {parsed.amz_date:{fmt}} is now earlier than "
                           f"{now - timedelta(minutes=5):{fmt}} ({now:{fmt}} - 5 min.)") from None
        raise KmsError("IncompleteSignatureException", e.message) from None
    ctx.auth = parsed
    ctx.principal = Principal(user, key.access_key)


def _authorize(ctx: Ctx, op: str, params: shapes.Params, principal: str) -> None:
    if ctx.principal.is_root or op in USE_OPS:
        return
    account, region = ctx.services.account_id, ctx.config.region
    resource = "*"
    if op != "CreateKey":
        raw = params.get("AliasName") if "Alias" in op else params.get("KeyId")
        ref = parse_ref(raw) if isinstance(raw, str) else None
        if ref is not None and ref.key_id is not None:
            resource = f"arn:aws:kms:{region}:{account}:key/{ref.key_id}"
        elif ref is not None and ref.alias is not None:
            resource = f"arn:aws:kms:{region}:{account}:{ref.alias}"
    raise errors.access_denied(principal, op, resource)


# --- the operations (blocking: run on the executor) ---------------------------------------------------


def _meta(kms: BuiltinKms, key: Any) -> dict[str, Any]:
    return shapes.key_metadata(key, kms.arn(key.key_id), kms.account_id)


def create_key(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    description, tags = shapes.create_key(p)
    return {"KeyMetadata": _meta(kms, kms.create_key(description, tags))}


def describe_key(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    return {"KeyMetadata": _meta(kms, kms.resolve(shapes.key_id(p) or ""))}


def list_keys(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    limit = shapes.integer(p, "Limit", 1, 1000) or 100
    keys, marker = kms.list_keys(limit, shapes.text(p, "Marker", max_len=1024))
    return shapes.page("Keys", [{"KeyId": k.key_id, "KeyArn": kms.arn(k.key_id)} for k in keys], marker)


def create_alias(kms: BuiltinKms, p: shapes.Params, principal: str) -> None:
    name = shapes.text(p, "AliasName", required=True, max_len=256) or ""
    kms.create_alias(name, shapes.key_id(p, "TargetKeyId") or "", principal)


def update_alias(kms: BuiltinKms, p: shapes.Params, principal: str) -> None:
    name = shapes.text(p, "AliasName", required=True, max_len=256) or ""
    kms.update_alias(name, shapes.key_id(p, "TargetKeyId") or "", principal)


def delete_alias(kms: BuiltinKms, p: shapes.Params, principal: str) -> None:
    kms.delete_alias(shapes.text(p, "AliasName", required=True, max_len=256) or "")


def list_aliases(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    limit = shapes.integer(p, "Limit", 1, 1000) or 100
    aliases, marker = kms.list_aliases(shapes.key_id(p, required=False), limit,
                                       shapes.text(p, "Marker", max_len=1024))
    return shapes.page("Aliases", [shapes.alias_entry(a, kms.alias_arn(a.name)) for a in aliases], marker)


def enable_key(kms: BuiltinKms, p: shapes.Params, principal: str) -> None:
    kms.enable(shapes.key_id(p) or "", principal)


def disable_key(kms: BuiltinKms, p: shapes.Params, principal: str) -> None:
    kms.disable(shapes.key_id(p) or "", principal)


def schedule_key_deletion(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    raw = shapes.key_id(p) or ""
    days = shapes.integer(p, "PendingWindowInDays", 7, 30) or 30
    key = kms.schedule_deletion(raw, days, principal)
    return {"KeyId": kms.arn(key.key_id), "DeletionDate": key.deletion_date, "KeyState": key.state,
            "PendingWindowInDays": days}


def cancel_key_deletion(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    return {"KeyId": kms.arn(kms.cancel_deletion(shapes.key_id(p) or "", principal).key_id)}


def encrypt(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    raw, plaintext, context = shapes.key_id(p) or "", shapes.plaintext(p), shapes.context(p)
    shapes.symmetric_algorithm(p, "EncryptionAlgorithm")
    blob, key = kms.encrypt(raw, plaintext, context, principal)
    return {"CiphertextBlob": shapes.b64(blob), "KeyId": kms.arn(key.key_id), **ALGORITHM}


def decrypt(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    blob = shapes.blob(p, "CiphertextBlob", shapes.MAX_CIPHERTEXT) or b""
    context, raw = shapes.context(p), shapes.key_id(p, required=False)
    shapes.symmetric_algorithm(p, "EncryptionAlgorithm")
    plaintext, key, version = kms.decrypt(blob, context, raw, principal)
    return {"KeyId": kms.arn(key.key_id), "Plaintext": shapes.b64(plaintext),
            "KeyMaterialId": material_id(key.key_id, version), **ALGORITHM}


def re_encrypt(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    blob = shapes.blob(p, "CiphertextBlob", shapes.MAX_CIPHERTEXT) or b""
    destination = shapes.key_id(p, "DestinationKeyId") or ""
    shapes.symmetric_algorithm(p, "SourceEncryptionAlgorithm")
    shapes.symmetric_algorithm(p, "DestinationEncryptionAlgorithm")
    new_blob, source, dest = kms.re_encrypt(blob, shapes.context(p, "SourceEncryptionContext"),
                                            shapes.key_id(p, "SourceKeyId", required=False), destination,
                                            shapes.context(p, "DestinationEncryptionContext"), principal)
    return {"CiphertextBlob": shapes.b64(new_blob), "SourceKeyId": kms.arn(source.key_id),
            "KeyId": kms.arn(dest.key_id), "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"}


def generate_data_key(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    raw, size, context = shapes.key_id(p) or "", shapes.data_key_size(p), shapes.context(p)
    plaintext, blob, key = kms.generate_data_key(raw, size, context, principal)
    return {"CiphertextBlob": shapes.b64(blob), "Plaintext": shapes.b64(plaintext),
            "KeyId": kms.arn(key.key_id), "KeyMaterialId": material_id(key.key_id, key.current_version)}


def generate_data_key_without_plaintext(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    result = generate_data_key(kms, p, principal)
    del result["Plaintext"]
    return result


def enable_key_rotation(kms: BuiltinKms, p: shapes.Params, principal: str) -> None:
    raw = shapes.key_id(p) or ""
    kms.set_rotation(raw, True, shapes.integer(p, "RotationPeriodInDays", 90, 2560), principal)


def disable_key_rotation(kms: BuiltinKms, p: shapes.Params, principal: str) -> None:
    kms.set_rotation(shapes.key_id(p) or "", False, principal=principal)


def get_key_rotation_status(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    key = kms.resolve(shapes.key_id(p) or "")
    result: dict[str, Any] = {"KeyRotationEnabled": key.rotation_enabled, "KeyId": key.key_id}
    if key.rotation_enabled:
        result["RotationPeriodInDays"] = key.rotation_period_days
        result["NextRotationDate"] = key.next_rotation
    return result


def rotate_key_on_demand(kms: BuiltinKms, p: shapes.Params, principal: str) -> dict[str, Any]:
    return {"KeyId": kms.rotate_on_demand(shapes.key_id(p) or "", principal).key_id}


OPERATIONS: dict[str, Handler] = {
    "CreateKey": create_key, "DescribeKey": describe_key, "ListKeys": list_keys,
    "CreateAlias": create_alias, "UpdateAlias": update_alias, "DeleteAlias": delete_alias,
    "ListAliases": list_aliases, "EnableKey": enable_key, "DisableKey": disable_key,
    "ScheduleKeyDeletion": schedule_key_deletion, "CancelKeyDeletion": cancel_key_deletion,
    "Encrypt": encrypt, "Decrypt": decrypt, "ReEncrypt": re_encrypt, "GenerateDataKey": generate_data_key,
    "GenerateDataKeyWithoutPlaintext": generate_data_key_without_plaintext,
    "EnableKeyRotation": enable_key_rotation, "DisableKeyRotation": disable_key_rotation,
    "GetKeyRotationStatus": get_key_rotation_status, "RotateKeyOnDemand": rotate_key_on_demand,
}
