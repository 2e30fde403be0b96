"""The AWS KMS JSON protocol (`X-Amz-Target: TrentService.<Op>`) for the built-in KMS, without HTTP.

The HTTP side (strongroom.s3.kms_http) reads the capped body and authenticates the caller
(SigV4 for service "kms" over the body's hash); this module takes those plain
values and answers (status, body, headers): the JSON members, who may call what
(kms.access.decide, on the key ARNs the call names), the operation
(api_operations.py) and AWS KMS's rendering of results and errors
(`{"__type": ..., "message": ...}`, status 400 for client errors). Blocking (the
KMS store): the caller runs `call` off the event loop.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from strongroom import metrics
from strongroom.audit import AuditLog
from strongroom.db.database import DatabaseBusy
from strongroom.kms import errors, key_policy, shapes
from strongroom.kms.access import ConditionKeys, KmsCaller, KmsRequest, context_keys, decide, judge
from strongroom.kms.api_operations import OPERATIONS
from strongroom.kms.builtin import BuiltinKms
from strongroom.kms.ciphertext import BadCiphertext, read_header
from strongroom.kms.errors import KmsError
from strongroom.kms.model import RESERVED_ALIAS_PREFIX, alias_arn, key_arn, parse_ref
from strongroom.kms.shapes import Params
from strongroom.policy import Decision, Policy

log = logging.getLogger("strongroom.kms.api")

CONTENT_TYPE = "application/x-amz-json-1.1"
# Operations on the account rather than on one key: their resource is "*".
ACCOUNT_OPS = frozenset({"CreateKey", "ListKeys", "ListAliases"})
ALIAS_OPS = frozenset({"CreateAlias", "UpdateAlias", "DeleteAlias"})


@dataclass(frozen=True, slots=True)
class KmsCall:
    """One authenticated call: what the HTTP side read, and who sent it."""

    operation: str  # from X-Amz-Target, "Encrypt"
    body: bytes = field(repr=False)  # the JSON document (may hold a plaintext)
    caller: KmsCaller
    account: str
    region: str
    keys: ConditionKeys = field(default_factory=dict)  # the request's condition keys
    request_id: str = ""  # for the log
    audit: AuditLog | None = None  # where a change to a key's state is recorded


@dataclass(frozen=True, slots=True)
class KmsReply:
    status: int
    body: bytes = field(repr=False)  # may hold a plaintext or a data key
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": CONTENT_TYPE})


def call(kms: BuiltinKms | None, request: KmsCall) -> KmsReply:
    """Run one call; every failure becomes AWS KMS's error document. Counted in the KMS metrics."""
    start = time.perf_counter()
    answer = _call(kms, request)
    known = request.operation in OPERATIONS  # the label is never a name a client made up
    operation = request.operation if known else "Unknown"
    outcome = "ok" if answer.status < 300 else json.loads(answer.body).get("__type", "Error")
    metrics.KMS_REQUESTS.labels(operation, outcome).inc()
    metrics.KMS_DURATION.labels(operation).observe(time.perf_counter() - start)
    return answer


def _call(kms: BuiltinKms | None, request: KmsCall) -> KmsReply:
    op = request.operation
    try:
        handler = OPERATIONS.get(op)
        if handler is None:
            raise KmsError("UnknownOperationException")
        params = parse_params(request.body)
        authorize(kms, request, params)
        if kms is None:
            raise errors.unsupported("The built-in KMS is off: this server uses an external KMS.")
        if request.audit is not None and op in AUDITED:
            result = _audited(kms, request, request.audit, handler, params)
        else:
            result = handler(kms, params, request.caller.principal.arn)
        log.debug("request %s: kms:%s", request.request_id, op)
        return reply(200, result)
    except KmsError as err:
        if err.status >= 500:
            log.error("request %s: kms:%s failed: %s", request.request_id, op, err.code)
        return error_reply(err)
    except DatabaseBusy:
        log.warning("request %s: kms:%s refused: no catalog connection free", request.request_id, op)
        return error_reply(errors.throttling())
    except Exception:
        log.exception("request %s: kms:%s failed", request.request_id, op)
        return error_reply(errors.internal())


# The calls that change a key's state, rotation or policy (aliases and tags are names, not access).
AUDITED = frozenset({"CreateKey", "EnableKey", "DisableKey", "ScheduleKeyDeletion", "CancelKeyDeletion",
                     "RotateKeyOnDemand", "EnableKeyRotation", "DisableKeyRotation", "PutKeyPolicy"})


def _audited(kms: BuiltinKms, request: KmsCall, audit: AuditLog, handler: Any, params: Params
             ) -> dict[str, Any] | None:
    """Run `handler`, and record the key's state and policy before and after it in the audit log."""
    key_id = None
    if request.operation != "CreateKey":
        key_id = kms.resolve(str(params.get("KeyId", ""))).key_id
    before = None if key_id is None else _key_state(kms, key_id)
    result: dict[str, Any] | None = handler(kms, params, request.caller.principal.arn)
    if key_id is None and result is not None:
        key_id = str(result["KeyMetadata"]["KeyId"])
    assert key_id is not None
    try:
        audit.record(actor=request.caller.principal.arn, source="kms", action=request.operation,
                     target=kms.arn(key_id), before=before, after=_key_state(kms, key_id))
    except OSError as e:  # the change is made and stays: the call is answered as it went, loudly
        log.error("request %s: the audit log %s could not record kms:%s on %s: %s", request.request_id,
                  audit.path, request.operation, key_id, e)
    return result


def _key_state(kms: BuiltinKms, key_id: str) -> dict[str, Any] | None:
    key = kms.store.get_key(key_id)
    if key is None:
        return None
    policy = kms.store.get_key_policy(key_id)
    state = dataclasses.asdict(key)
    state["policy"] = json.loads(policy) if policy else "default"
    return state


def reply(status: int, result: dict[str, Any] | None) -> KmsReply:
    return KmsReply(status, b"" if result is None else json.dumps(result, separators=(",", ":")).encode())


def error_reply(err: KmsError) -> KmsReply:
    # AWS leaves the message out when there is none (InvalidCiphertextException, NotAuthorizedException).
    document = {"__type": err.code, "message": err.message} if err.message else {"__type": err.code}
    return reply(err.status, document)


def parse_params(body: bytes) -> Params:
    if not body.strip():
        return {}
    try:
        params = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # Malformed, not UTF-8, or nested deeper than the parser goes: the client's error, never a 500.
        raise errors.serialization("The request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise errors.serialization("The request body must be a JSON object.")
    return params


# --- who may call what ----------------------------------------------------------------------------


def authorize(kms: BuiltinKms | None, request: KmsCall, params: Params) -> None:
    """AccessDeniedException, in IAM's words, unless kms.access allows every action the call needs: each
    key it names under that key's policy, each alias (and the account) under the caller's IAM policies."""
    who = request.caller.principal
    keys = {**request.keys, **_context_keys(params)}
    for action, resources in _needs(kms, request, params):
        for resource in resources or ("*",):
            policy = _key_policy(kms, request, resource)
            named = () if resource == "*" else (resource,)
            verdict = judge(request.caller, KmsRequest(f"kms:{action}", named, keys, policy))
            if verdict.decision is Decision.ALLOW:
                continue
            if verdict.decision is Decision.DENY:
                raise errors.explicitly_denied(who.arn, action, resource, verdict.policy)
            raise errors.access_denied(who.arn, action, resource, verdict.policy)
    if request.operation in ("CreateKey", "PutKeyPolicy") and "Policy" in params:
        _lockout_check(kms, request, params)


def _context_keys(params: Params) -> dict[str, str | list[str]]:
    """kms:EncryptionContext:* of the call's EncryptionContext (ReEncrypt: the source's; the operation
    itself rejects a context of the wrong shape)."""
    context = params.get("EncryptionContext", params.get("SourceEncryptionContext"))
    if not isinstance(context, dict) or not all(isinstance(v, str) for v in context.values()):
        return {}
    return context_keys(context)


def _key_policy(kms: BuiltinKms | None, request: KmsCall, resource: str) -> Policy | None:
    """The policy of the key an ARN names (None for an alias, the account, or a key that does not exist:
    IAM policies decide, and the operation answers NotFoundException)."""
    ref = parse_ref(resource) if resource.startswith("arn:") else None
    if kms is None or ref is None or ref.kind != "key-arn" or ref.key_id is None:
        return None
    text = kms.key_policy(ref.key_id)
    return None if text is None else key_policy.parse(text, request.account)


def _lockout_check(kms: BuiltinKms | None, request: KmsCall, params: Params) -> None:
    """PutKeyPolicy and CreateKey: the new policy must let the caller PutKeyPolicy again, unless
    BypassPolicyLockoutSafetyCheck (PutKeyPolicy API reference). The policy is read here, so a
    malformed one is refused before anything changes."""
    policy = key_policy.parse(key_policy.check_text(params.get("Policy")), request.account)
    if shapes.boolean(params, "BypassPolicyLockoutSafetyCheck"):
        return
    target = params.get("KeyId") if request.operation == "PutKeyPolicy" else None
    resource = _key(kms, request, target) or (key_arn(request.region, request.account, "*"),)
    check = KmsRequest("kms:PutKeyPolicy", resource, request.keys, policy)
    if decide(request.caller, check) is not Decision.ALLOW:
        raise errors.malformed_policy(key_policy.LOCKOUT)


def _needs(kms: BuiltinKms | None, request: KmsCall, params: Params) -> list[tuple[str, tuple[str, ...]]]:
    """(action, resources) pairs: the key ARNs an operation acts on, found without changing anything.
    A member that names no key leaves the resources empty ("*"); the operation then rejects it."""
    op = request.operation
    if op in ACCOUNT_OPS:
        return [(op, ())]
    if op == "Decrypt":
        return [(op, _ciphertext_key(kms, request, params, "KeyId"))]
    if op == "ReEncrypt":
        return [("ReEncryptFrom", _ciphertext_key(kms, request, params, "SourceKeyId")),
                ("ReEncryptTo", _key(kms, request, params.get("DestinationKeyId")))]
    if op in ALIAS_OPS:  # the alias, and the key it points to (or is to point to)
        named = _named(request, params.get("AliasName"))
        if str(params.get("AliasName", "")).startswith(RESERVED_ALIAS_PREFIX):
            return [(op, named)]  # an AWS alias: the operation answers NotAuthorizedException
        target = params.get("TargetKeyId") if op != "DeleteAlias" else params.get("AliasName")
        return [(op, named + tuple(r for r in _key(kms, request, target) if r not in named))]
    return [(op, _key(kms, request, params.get("KeyId")))]


def _named(request: KmsCall, raw: object) -> tuple[str, ...]:
    """The ARN of what a member names, as named (an alias stays an alias)."""
    ref = parse_ref(raw) if isinstance(raw, str) else None
    if ref is not None and ref.key_id is not None:
        return (key_arn(request.region, request.account, ref.key_id),)
    if ref is not None and ref.alias is not None:
        return (alias_arn(request.region, request.account, ref.alias),)
    return ()


def _key(kms: BuiltinKms | None, request: KmsCall, raw: object) -> tuple[str, ...]:
    """The ARN of the key a member names, an alias followed to its key when it exists."""
    ref = parse_ref(raw) if isinstance(raw, str) else None
    if ref is not None and ref.alias is not None and kms is not None:
        alias = kms.store.get_alias(ref.alias)
        if alias is not None:
            return (key_arn(request.region, request.account, alias.key_id),)
    return _named(request, raw)


def _ciphertext_key(kms: BuiltinKms | None, request: KmsCall, params: Params, name: str) -> tuple[str, ...]:
    """The key a ciphertext blob was made under (the one that decrypts it), else the key `name` names."""
    raw = params.get("CiphertextBlob")
    if isinstance(raw, str):
        try:
            header = read_header(base64.b64decode(raw, validate=True))
        except (binascii.Error, ValueError, BadCiphertext):
            pass
        else:
            return (key_arn(request.region, request.account, header.key_id),)
    return _key(kms, request, params.get(name))
