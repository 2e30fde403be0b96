"""Bucket policies: PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy, GetBucketPolicyStatus.

Owns the stored policy (catalog bucket config kind "policy", the text verbatim, as
GetBucketPolicy returns what was put) and its parsed form for evaluation.

AWS facts used here:
- A policy the engine refuses is 400 MalformedPolicy with the engine's message (AWS's wording,
  see strongroom.policy.document); a named principal that does not exist is "Invalid principal
  in policy" (S3 user guide, "Bucket policy examples": S3 validates principals when the policy
  is put).
- "The maximum size of a policy is 20 KB" (S3 user guide, "Special information for Amazon S3
  policies"); a bigger one is refused as MalformedPolicy. AWS documents the limit but not the
  error's wording: "Policy exceeds the maximum allowed document size." is the wording other
  S3 implementations use for it.
- PutBucketPolicy answers 204; DeleteBucketPolicy 204 also when there is none.
- GetBucketPolicy and GetBucketPolicyStatus without a policy: 404 NoSuchBucketPolicy, "The bucket
  policy does not exist".
- BlockPublicPolicy: "Setting this element to TRUE causes Amazon S3 to reject calls to PUT Bucket
  policy if the specified bucket policy allows public access" (API PublicAccessBlockConfiguration),
  answered as 403 AccessDenied "User: <arn> is not authorized to perform: s3:PutBucketPolicy on
  resource: "<bucket arn>" because public policies are blocked by the BlockPublicPolicy block
  public access setting." (as AWS words it in responses users report).
- GetBucketPolicyStatus: `<PolicyStatus><IsPublic>` by "The meaning of 'public'" (policy.public).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from aiohttp import web

from strongroom.catalog.api import Catalog
from strongroom.errors import S3Error
from strongroom.policy import Policy, PolicyError, parse_policy, statement_allows_public
from strongroom.s3 import public_access_block, xml
from strongroom.s3.context import Ctx
from strongroom.s3.objects import xml_response
from strongroom.s3.routing import Operation

KIND = "policy"
MAX_POLICY_BYTES = 20 * 1024
_USER_ARN = re.compile(r"arn:aws:iam::([0-9]{12}):user/(?:.*/)?([^/]+)")


def malformed_policy(message: str) -> S3Error:
    return S3Error("MalformedPolicy", 400, message)


def policy_too_large() -> S3Error:
    return malformed_policy("Policy exceeds the maximum allowed document size.")


def no_such_bucket_policy(bucket: str) -> S3Error:
    return S3Error("NoSuchBucketPolicy", 404, "The bucket policy does not exist", BucketName=bucket)


def public_policy_blocked(principal_arn: str, bucket: str) -> S3Error:
    return S3Error(
        "AccessDenied", 403,
        f"User: {principal_arn} is not authorized to perform: s3:PutBucketPolicy on resource: "
        f'"arn:aws:s3:::{bucket}" because public policies are blocked by the BlockPublicPolicy block public '
        "access setting.")


def principal_exists(catalog: Catalog, account_id: str, name: str) -> bool:
    """Whether a principal a policy names exists: this account, its root, a user by ARN or canonical id."""
    if not name.startswith("arn:"):
        return catalog.get_user_by_id(name.lower()) is not None  # a canonical user id
    if name == f"arn:aws:iam::{account_id}:root":
        return True
    m = _USER_ARN.fullmatch(name)
    if m is None or m.group(1) != account_id:
        return False  # roles, sessions and other accounts: none exist in a strongroom deployment
    user = catalog.get_user(m.group(2))
    return user is not None and not user.is_root


def validate(catalog: Catalog, account_id: str, bucket: str, text: str) -> Policy:
    """Parse a policy being put, as S3 validates it (blocking: it asks the catalog about principals)."""
    return parse_policy(text, kind="bucket", account_id=account_id, bucket=bucket,
                        known_principals=lambda name: principal_exists(catalog, account_id, name))


@lru_cache(maxsize=1024)
def parsed(text: str, account_id: str, bucket: str) -> tuple[Policy, bool]:
    """A stored policy for evaluation, and whether it is public. It was validated when it was put;
    a principal removed since then simply matches nobody."""
    policy = parse_policy(text, kind="bucket", account_id=account_id, bucket=bucket,
                          known_principals=lambda _name: True)
    return policy, statement_allows_public(policy)


def deny_all(bucket: str) -> str:
    """The policy that stands in for a stored one that no longer parses."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]})


def _principal_arn(ctx: Ctx) -> str:
    user = ctx.principal.user
    account = ctx.services.account_id
    if user is None or user.is_root:
        return f"arn:aws:iam::{account}:root"
    return f"arn:aws:iam::{account}:user/{user.name}"


async def put_bucket_policy(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    bucket = ctx.bucket.name
    data = await public_access_block.read_document(ctx, MAX_POLICY_BYTES, policy_too_large())
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise malformed_policy("This policy contains invalid Json") from None
    catalog, account = ctx.services.catalog, ctx.services.account_id
    try:
        policy = await ctx.services.db(validate, catalog, account, bucket, text)
    except PolicyError as e:
        raise malformed_policy(e.message) from None
    if statement_allows_public(policy):
        pab = await public_access_block.load(ctx, bucket)
        if pab.block_public_policy:
            raise public_policy_blocked(_principal_arn(ctx), bucket)
    await ctx.services.db(catalog.put_bucket_config, bucket, KIND, text)
    return web.Response(status=204)


async def _stored(ctx: Ctx) -> str:
    assert ctx.bucket is not None
    text = await ctx.services.db(ctx.services.catalog.get_bucket_config, ctx.bucket.name, KIND)
    if text is None:
        raise no_such_bucket_policy(ctx.bucket.name)
    return text


async def get_bucket_policy(ctx: Ctx) -> web.StreamResponse:
    text = await _stored(ctx)
    return web.Response(status=200, body=text.encode("utf-8"), content_type="application/json")


async def delete_bucket_policy(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    await ctx.services.db(ctx.services.catalog.put_bucket_config, ctx.bucket.name, KIND, None)
    return web.Response(status=204)


async def get_bucket_policy_status(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    text = await _stored(ctx)
    _policy, public = parsed(text, ctx.services.account_id, ctx.bucket.name)
    return xml_response(xml.document("PolicyStatus", xml.el("IsPublic", public)))


HANDLERS = {
    Operation.PutBucketPolicy: put_bucket_policy,
    Operation.GetBucketPolicy: get_bucket_policy,
    Operation.DeleteBucketPolicy: delete_bucket_policy,
    Operation.GetBucketPolicyStatus: get_bucket_policy_status,
}
