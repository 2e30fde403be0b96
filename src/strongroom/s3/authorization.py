"""Authorization: may this principal run this operation on this bucket or object? Decided once, here.

The dispatcher calls `authorize(ctx)` before every handler. It names the IAM actions the
request needs (the operation's action, plus those some headers add), builds the policy
engine's request context (`access.policy_context`) and decides each action against:
- the owner's own access: the root user (the deployment's administrator) everywhere, a
  bucket's owner on the bucket and everything in it;
- the requester's user policies (`strongroom policy attach`);
- the bucket policy, with Block Public Access's RestrictPublicBuckets applied;
- ACL grants, when the bucket's Object Ownership lets ACLs count (IgnorePublicAcls applied).
The models it decides with live in `strongroom.s3.access`; this module imports no handler. What a
handler needs from the decision reaches it typed on the request: `ctx.access` for further decisions
(DeleteObjects per key, GetObject's 403/404 for a missing key), `ctx.object_acl`,
and `ctx.new_bucket_access` for the ACL and ownership a write stores.
As AWS documents it ("Policy evaluation logic", single account): an explicit Deny anywhere wins;
otherwise any of the four grants; otherwise the request is denied. Anonymous requests get only
what a bucket policy gives "*" or an ACL gives AllUsers.

AWS facts used here besides: "the root user of the Amazon Web Services account that owns a bucket
can always use [Get|Put|Delete]BucketPolicy, even if the policy explicitly denies the root user"
(API PutBucketPolicy) -- strongroom extends that to the bucket's owner, its stand-in for the
owning account; a PUT with an ACL also needs s3:PutObjectAcl and one with x-amz-tagging also
s3:PutObjectTagging, CopyObject needs s3:GetObject on the source, a request naming a versionId
needs the ...Version action, UpdateObjectEncryption needs s3:UpdateObjectEncryption and
s3:PutObject, CreateBucket with an ACL also s3:PutBucketAcl and with x-amz-object-ownership also
s3:PutBucketOwnershipControls (Service Authorization Reference, "API operations defined by Amazon
S3"); GetObjectAttributes needs s3:GetObject and s3:GetObjectAttributes, or with a versionId
s3:GetObjectVersion and s3:GetObjectVersionAttributes (API GetObjectAttributes, "Permissions").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache

from strongroom import user_policies
from strongroom.catalog.model import Bucket
from strongroom.errors import access_denied
from strongroom.kms import access as kms_access
from strongroom.kms import key_policy
from strongroom.kms.model import parse_ref
from strongroom.policy import Decision, Policy, RequestContext, evaluate
from strongroom.s3 import object_lock_wire
from strongroom.s3.access import acl, write_acls
from strongroom.s3.access.policy_context import (
    EXISTING_TAG_ACTIONS,
    bucket_arn,
    object_arn,
    principal,
    request_keys,
    tag_keys,
)
from strongroom.s3.access.state import BucketState, ObjectFacts, load_object, load_state
from strongroom.s3.context import Ctx
from strongroom.s3.copy_source import parse_copy_source
from strongroom.s3.routing import Operation

__all__ = ["authorize", "authorize_kms", "authorize_post_object"]

POLICY_MANAGEMENT = frozenset({"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"})
VERSION_ACTIONS = {
    "s3:GetObject": "s3:GetObjectVersion", "s3:DeleteObject": "s3:DeleteObjectVersion",
    "s3:GetObjectAcl": "s3:GetObjectVersionAcl", "s3:PutObjectAcl": "s3:PutObjectVersionAcl",
    "s3:GetObjectTagging": "s3:GetObjectVersionTagging", "s3:PutObjectTagging": "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
    "s3:GetObjectAttributes": "s3:GetObjectVersionAttributes",
}
WRITES_WITH_ACL = frozenset({Operation.PutObject, Operation.CopyObject, Operation.CreateMultipartUpload})
COPIES = frozenset({Operation.CopyObject, Operation.UploadPartCopy})


@lru_cache(maxsize=4096)
def _mentions_tags(text: str) -> bool:
    return "existingobjecttag" in text.lower()


async def bucket_state(ctx: Ctx, bucket: Bucket) -> BucketState:
    """The bucket's state, read once per request (one catalog read); the requester's policies with it."""
    state = ctx.bucket_states.get(bucket.name)
    if state is None:
        user = ctx.principal.user
        pending = user is not None and not user.is_root and ctx.identity_policies is None
        configs = await ctx.bucket_configs(bucket.name)
        state = ctx.bucket_states[bucket.name] = load_state(configs, ctx.services.account_id, bucket)
        if pending:
            ctx.identity_policies = await ctx.services.read(
                user_policies.policies_of, ctx.services.catalog, user, ctx.services.account_id)
    return state


async def identity_policies(ctx: Ctx) -> list[Policy]:
    if ctx.identity_policies is None:
        user = ctx.principal.user
        found: list[Policy] = []
        if user is not None and not user.is_root:
            found = await ctx.services.read(user_policies.policies_of, ctx.services.catalog, user,
                                            ctx.services.account_id)
        ctx.identity_policies = found
    return ctx.identity_policies


async def _object(ctx: Ctx, state: BucketState, key: str) -> ObjectFacts:
    if key not in state.objects:
        # A request naming a version acts on that version: its ACL and tags decide (s3:ExistingObjectTag).
        version_id = ctx.query.get("versionId") if key == ctx.key and state.bucket.name == ctx.bucket_name \
            else None
        state.objects[key] = await ctx.services.run(load_object, ctx.services.catalog, state.bucket.name, key,
                                                    state.acls_count, version_id)
    return state.objects[key]


def _is_owner(ctx: Ctx, bucket: Bucket) -> bool:
    return ctx.principal.is_root or (not ctx.principal.anonymous and ctx.principal.user_id == bucket.owner_id)


def _deny_only(policy: Policy) -> Policy:
    return replace(policy, statements=tuple(s for s in policy.statements if s.effect == "Deny"))


async def _acl_grants(ctx: Ctx, state: BucketState, action: str, key: str | None) -> bool:
    if not state.acls_count:
        return False
    user_id = None if ctx.principal.anonymous else ctx.principal.user_id
    ignore_public = state.pab.ignore_public_acls
    bucket_acl = state.acl
    if action in acl.BUCKET_ACTIONS and bucket_acl is not None and bucket_acl.grants_to(
            acl.BUCKET_ACTIONS[action], user_id, ignore_public):
        return True
    if action in acl.OBJECT_ACTIONS and key is not None:
        _version, object_acl = await _object(ctx, state, key)
        if object_acl is not None:
            return object_acl.grants_to(acl.OBJECT_ACTIONS[action], user_id, ignore_public)
    return False


async def decide(ctx: Ctx, state: BucketState, action: str, key: str | None,
                 headers: dict[str, str] | None = None) -> Decision:
    """The decision for one action on the bucket (key None) or on one of its objects."""
    owner = _is_owner(ctx, state.bucket)
    identity = await identity_policies(ctx)
    resource_policy = state.policy
    if action in POLICY_MANAGEMENT and owner:
        resource_policy = None  # the owner can always manage the policy, whatever it says
    elif (resource_policy is not None and ctx.principal.anonymous and state.pab.restrict_public_buckets
          and state.policy_public):
        resource_policy = _deny_only(resource_policy)
    # The request's condition keys are read only by policy statements: with no policy to evaluate (the
    # owner in a bucket without a policy), they are not built (the time, the source address, headers).
    keys = request_keys(ctx, headers) if identity or resource_policy is not None else {}
    texts = [p.text for p in identity] + ([state.policy.text] if state.policy else [])
    if key is not None and action in EXISTING_TAG_ACTIONS and any(_mentions_tags(t) for t in texts):
        version, _ = await _object(ctx, state, key)
        if version is not None:
            keys.update(tag_keys(version.tags))
    resource = object_arn(state.bucket.name, key) if key is not None else bucket_arn(state.bucket.name)
    rc = RequestContext(action, (resource,), principal(ctx), keys)
    decision = evaluate(rc, identity_policies=identity, resource_policy=resource_policy, owner_grants=owner)
    if decision is Decision.IMPLICIT_DENY and await _acl_grants(ctx, state, action, key):
        return Decision.ALLOW  # an ACL grant acts as an Allow; no Deny applied
    return decision


class BucketAccess:
    """`Ctx.access` for a request in a bucket: one more decision against the state already read."""

    __slots__ = ("_ctx", "_state")

    def __init__(self, ctx: Ctx, state: BucketState) -> None:
        self._ctx = ctx
        self._state = state

    async def may(self, action: str, key: str | None) -> bool:
        return await decide(self._ctx, self._state, action, key) is Decision.ALLOW


def _requirements(ctx: Ctx) -> list[tuple[str, str | None]]:
    """(action, key) pairs the request needs; key None for the bucket itself."""
    op, key = ctx.op, ctx.key if ctx.op.scope == "object" else None
    action = op.action
    if key is not None and ctx.query.get("versionId"):
        action = VERSION_ACTIONS.get(action, action)
    needed = [(action, key)]
    if op in WRITES_WITH_ACL and acl.has_acl_headers(ctx.headers):
        needed.append(("s3:PutObjectAcl", key))
    if op in WRITES_WITH_ACL and "x-amz-tagging" in ctx.headers:
        needed.append(("s3:PutObjectTagging", key))
    if op in WRITES_WITH_ACL:
        needed += [(action, key) for action in object_lock_wire.lock_actions(ctx.headers)]
    if op is Operation.UpdateObjectEncryption:
        needed.append(("s3:PutObject", key))
    if op is Operation.GetObjectAttributes:
        # GetObjectAttributes permissions: "you must have the s3:GetObjectVersion and
        # s3:GetObjectVersionAttributes permissions" (with a version id; else s3:GetObject and
        # s3:GetObjectAttributes).
        needed.append(("s3:GetObjectVersion" if key is not None and ctx.query.get("versionId")
                       else "s3:GetObject", key))
    if op is Operation.DeleteObject and ctx.headers.get("if-match", "*").strip() != "*":
        # "To perform a conditional delete with the If-Match header with an ETag value, you must have
        # s3:DeleteObject and s3:GetObject permissions" (user guide, "How to perform conditional deletes").
        needed.append(("s3:GetObject", key))
    if op is Operation.DeleteObjects:
        needed = []  # the handler decides each key with ctx.access, answering AccessDenied per key
    return needed


async def _require(ctx: Ctx, state: BucketState, action: str, key: str | None,
                   headers: dict[str, str] | None = None) -> None:
    if await decide(ctx, state, action, key, headers) is not Decision.ALLOW:
        raise access_denied()


async def _identity_only(ctx: Ctx, actions: list[str], resource: str | None) -> None:
    """Account-level operations (ListBuckets, CreateBucket): any user may, unless a user policy denies it."""
    if ctx.principal.anonymous:
        raise access_denied()
    identity = await identity_policies(ctx)
    keys = request_keys(ctx)
    for action in actions:
        rc = RequestContext(action, (resource,) if resource else (), principal(ctx), keys)
        if evaluate(rc, identity_policies=identity, owner_grants=True) is not Decision.ALLOW:
            raise access_denied()


async def _copy_source(ctx: Ctx) -> None:
    name, key, version_id = parse_copy_source(ctx.headers)
    source = await ctx.services.read(ctx.services.catalog.get_bucket, name)
    if source is None:
        return  # the handler answers NoSuchBucket
    action = "s3:GetObjectVersion" if version_id else "s3:GetObject"
    await _require(ctx, await bucket_state(ctx, source), action, key)


async def _known_users(ctx: Ctx) -> set[str]:
    users = await ctx.services.listing(ctx.services.catalog.list_users)
    return {u.user_id for u in users}


async def _write_acl(ctx: Ctx, state: BucketState, headers: Mapping[str, str]) -> str | None:
    """The ACL an object write stores (checked against Object Ownership and Block Public Access)."""
    if not acl.has_acl_headers(headers):
        return None
    users = await _known_users(ctx) if write_acls.names_users(headers) else set()
    return write_acls.object_write_acl(headers, state.mode, state.pab, state.bucket.owner_id,
                                       ctx.principal.user_id or state.bucket.owner_id, users)


async def authorize(ctx: Ctx) -> None:
    """Raise AccessDenied unless every action the request needs is allowed; leave on `ctx` what the
    handler needs of the decision."""
    op = ctx.op
    if op is Operation.PostService or op is Operation.PostObject:
        return  # KMS/STS decide for themselves; POST Object calls authorize_post_object once it has its form
    if op is Operation.ListBuckets:
        await _identity_only(ctx, [op.action], None)
        return
    if op is Operation.CreateBucket:
        actions = [op.action]
        if acl.has_acl_headers(ctx.headers):
            actions.append("s3:PutBucketAcl")
        if "x-amz-object-ownership" in ctx.headers:
            actions.append("s3:PutBucketOwnershipControls")
        if object_lock_wire.bucket_lock_requested(ctx.headers):
            actions += ["s3:PutBucketObjectLockConfiguration", "s3:PutBucketVersioning"]
        await _identity_only(ctx, actions, bucket_arn(ctx.bucket_name or ""))
        users = await _known_users(ctx) if write_acls.names_users(ctx.headers) else set()
        ctx.new_bucket_access = write_acls.new_bucket_access(
            ctx.headers, ctx.principal.user_id, users, default_mode=ctx.config.new_bucket_object_ownership,
            block_public=ctx.config.new_bucket_public_access_block)
        return
    assert ctx.bucket is not None
    state = await bucket_state(ctx, ctx.bucket)
    for action, key in _requirements(ctx):
        await _require(ctx, state, action, key)
    if op in COPIES:
        await _copy_source(ctx)
    ctx.access = BucketAccess(ctx, state)
    if op in WRITES_WITH_ACL and ctx.key is not None:
        ctx.object_acl = await _write_acl(ctx, state, ctx.headers)


async def authorize_post_object(ctx: Ctx, key: str, fields: dict[str, str]) -> None:
    """POST Object, once its form is read and its signer known (ctx.principal): s3:PutObject on the key,
    with the form's fields as the request's headers for conditions and the ACL (left in ctx.object_acl)."""
    assert ctx.bucket is not None
    state = await bucket_state(ctx, ctx.bucket)
    headers = {("x-amz-acl" if k == "acl" else k): v for k, v in fields.items()}
    await _require(ctx, state, "s3:PutObject", key, headers)
    if acl.has_acl_headers(headers):
        await _require(ctx, state, "s3:PutObjectAcl", key, headers)
    for action in object_lock_wire.lock_actions(headers):
        await _require(ctx, state, action, key, headers)
    ctx.object_acl = await _write_acl(ctx, state, headers)


async def authorize_kms(ctx: Ctx, action: str, key_arn: str | None,
                        context: Mapping[str, str] | None = None) -> bool:
    """May the requester have S3 run KMS `action` on the key `key_arn` on its behalf? Decided by
    kms.access, the one KMS authorization, under the key's policy (built-in KMS; with an external KMS
    strongroom does not know it, and IAM policies decide), with S3's condition keys (kms:ViaService,
    kms:CallerAccount) and the object's encryption context (kms:EncryptionContext:*) added to the
    request's own."""
    if ctx.principal.anonymous:
        return False
    account = ctx.services.account_id
    context_keys: dict[str, str | list[str]] = request_keys(ctx)
    context_keys.update(kms_access.via_s3_keys(ctx.config.region, account))
    context_keys.update(kms_access.context_keys(context or {}))
    caller = kms_access.KmsCaller(principal(ctx), tuple(await identity_policies(ctx)))
    policy = None
    builtin = getattr(ctx.services.kms, "builtin", None)
    ref = parse_ref(key_arn) if key_arn else None
    if builtin is not None and ref is not None and ref.key_id is not None:
        text = await ctx.services.read(builtin.key_policy, ref.key_id)
        policy = key_policy.parse(text, account) if text is not None else None
    request = kms_access.KmsRequest(action, (key_arn,) if key_arn else (), context_keys, policy)
    return kms_access.decide(caller, request) is Decision.ALLOW
