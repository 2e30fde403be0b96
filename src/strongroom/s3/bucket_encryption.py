"""Bucket default encryption: PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption.

Owns the `ServerSideEncryptionConfiguration` document: reading and validating it as
S3 does, turning it into the stored `sse.BucketDefault` (catalog config kind
"encryption"), and rendering the stored form back. What a write then does with the
default is `sse.choose`'s business.

AWS sources for the choices below (S3 API reference 2006-03-01, botocore's
service-2.json, responses recorded from AWS) are named where each choice is made.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import defusedxml.ElementTree as SafeET
from aiohttp import web
from defusedxml import DefusedXmlException

from strongroom.errors import S3Error, invalid_argument, invalid_request, malformed_xml
from strongroom.s3 import sse, xml
from strongroom.s3.body import Body
from strongroom.s3.context import Ctx
from strongroom.s3.documents import verify_document_digest, xml_response
from strongroom.s3.object_headers import checksum_request, content_md5

KIND = "encryption"  # the catalog's bucket config kind
ROOT = "ServerSideEncryptionConfiguration"
MAX_BODY = 1024 * 1024
BLOCK_SSE_C, BLOCK_NONE = "SSE-C", "NONE"  # BlockedEncryptionTypes/EncryptionType values (botocore enum)
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}  # xs:boolean's lexical space


def missing_content_md5() -> S3Error:
    # AWS's answer when a request that requires an integrity header has none (InvalidRequest, recorded
    # from AmazonS3 in aws/aws-cli#229, boto/botocore#1888 and #3415); botocore marks PutBucketEncryption
    # requestChecksumRequired, and an x-amz-checksum-* header or trailer satisfies it as well.
    return invalid_request("Missing required header for this request: Content-MD5")


def max_message_length_exceeded() -> S3Error:
    # S3's error list: MaxMessageLengthExceeded, "Your request was too big.", 400.
    return S3Error("MaxMessageLengthExceeded", 400, "Your request was too big.")


def kms_key_not_applicable() -> S3Error:
    # Recorded from AWS (LocalStack test_s3_default_bucket_encryption_exc, validated).
    return invalid_argument(
        "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
        "ApplyServerSideEncryptionByDefault",
    )


@dataclass(frozen=True, slots=True)
class RuleInput:
    """One `Rule` as the client sent it; None where an element was absent."""

    algorithm: str | None
    kms_key_id: str | None
    bucket_key: bool | None
    blocked: tuple[str, ...] | None


# --- reading the document -------------------------------------------------------------------------


def _parse(body: bytes) -> ET.Element:
    """Parse the document safely; every element in S3's namespace or in none, else MalformedXML."""
    if not body.strip():
        raise malformed_xml()
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ET.ParseError, DefusedXmlException, ValueError):
        raise malformed_xml() from None
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        if node.tag.startswith("{"):
            namespace, _, local = node.tag[1:].partition("}")
            if namespace != xml.S3_NS:
                raise malformed_xml()
            node.tag = local
    if root.tag != ROOT:
        raise malformed_xml()
    return root


def _leaf_text(node: ET.Element) -> str:
    """The text of an element that may hold no elements of its own."""
    if len(node):
        raise malformed_xml()
    return xml.text_of(node)


def parse_configuration(body: bytes) -> RuleInput:
    root = _parse(body)
    xml.check_known(root, ("Rule",))
    rules = xml.children(root, "Rule")
    if len(rules) != 1:  # zero or two Rules: MalformedXML (recorded from AWS, AWS-NOTES.md)
        raise malformed_xml()
    rule = rules[0]
    xml.check_known(
        rule, ("ApplyServerSideEncryptionByDefault", "BucketKeyEnabled", "BlockedEncryptionTypes")
    )
    apply_node = xml.only_child(rule, "ApplyServerSideEncryptionByDefault")
    bucket_key_node = xml.only_child(rule, "BucketKeyEnabled")
    blocked_node = xml.only_child(rule, "BlockedEncryptionTypes")
    # ApplyServerSideEncryptionByDefault is optional in the model, and AWS documents a Rule that carries
    # only BlockedEncryptionTypes (user guide, blocking-unblocking-s3-c-encryption-gpb). A Rule that says
    # neither what to encrypt with nor what to block configures nothing: refused as incomplete.
    if apply_node is None and blocked_node is None:
        raise malformed_xml()
    algorithm = kms_key_id = None
    if apply_node is not None:
        algorithm, kms_key_id = _parse_default(apply_node)
    bucket_key = None
    if bucket_key_node is not None:
        bucket_key = _BOOLEANS.get(_leaf_text(bucket_key_node))
        if bucket_key is None:
            raise malformed_xml()
    blocked = _parse_blocked(blocked_node) if blocked_node is not None else None
    return RuleInput(algorithm, kms_key_id, bucket_key, blocked)


def _parse_default(node: ET.Element) -> tuple[str, str | None]:
    xml.check_known(node, ("SSEAlgorithm", "KMSMasterKeyID"))
    algorithm_node = xml.only_child(node, "SSEAlgorithm")
    if algorithm_node is None:  # required by the model
        raise malformed_xml()
    algorithm = _leaf_text(algorithm_node)
    # General purpose buckets take AES256, aws:kms and aws:kms:dsse; the schema check answers anything else.
    if algorithm not in sse.ALGORITHMS:
        raise malformed_xml()
    key_node = xml.only_child(node, "KMSMasterKeyID")
    if key_node is None:
        return algorithm, None  # aws:kms without a key id: the aws/s3 managed key
    key_id = _leaf_text(key_node)
    if algorithm == "AES256":
        raise kms_key_not_applicable()
    if not key_id:
        raise malformed_xml()
    # Kept as given: S3 does not check the key at put time and GetBucketEncryption echoes it.
    return algorithm, key_id


def _parse_blocked(node: ET.Element) -> tuple[str, ...]:
    xml.check_known(node, ("EncryptionType",))
    values = {_leaf_text(child) for child in xml.children(node, "EncryptionType")}
    # The enum is NONE | SSE-C; an empty list, another value, or both at once says nothing coherent.
    if len(values) != 1 or not values <= {BLOCK_SSE_C, BLOCK_NONE}:
        raise malformed_xml()
    return (values.pop(),)


def configure(current: sse.BucketDefault, rule: RuleInput) -> sse.BucketDefault:
    """The bucket's default after a PutBucketEncryption.

    The Rule replaces the configuration, except the SSE-C block when the Rule does not mention it: AWS keeps
    it (configurations put without BlockedEncryptionTypes read back with the block still set:
    hashicorp/terraform-provider-aws#47320 and PR #47359, cloudposse/terraform-aws-s3-bucket#287).
    """
    algorithm = rule.algorithm or "AES256"  # no ApplyServerSideEncryptionByDefault: the SSE-S3 base level
    return sse.BucketDefault(
        algorithm=algorithm,
        kms_key_id=rule.kms_key_id if algorithm != "AES256" else None,
        bucket_key=bool(rule.bucket_key),  # "By default, S3 Bucket Key is not enabled."
        blocked=rule.blocked if rule.blocked is not None else current.blocked,
        configured=True,
    )


def render(default: sse.BucketDefault) -> bytes:
    """GetBucketEncryption's document. Element order as S3 writes it (the API reference's examples and
    recorded responses): SSEAlgorithm before KMSMasterKeyID, then BucketKeyEnabled (always present),
    then BlockedEncryptionTypes, which S3 reports on every bucket since April 2026 (SSE-C or NONE)."""
    inner = xml.el("SSEAlgorithm", default.algorithm)
    if default.kms_key_id is not None and default.algorithm != "AES256":
        inner += xml.el("KMSMasterKeyID", default.kms_key_id)
    blocked = BLOCK_SSE_C if default.sse_c_blocked else BLOCK_NONE
    rule = (
        f"<ApplyServerSideEncryptionByDefault>{inner}</ApplyServerSideEncryptionByDefault>"
        + xml.el("BucketKeyEnabled", default.bucket_key)
        + f"<BlockedEncryptionTypes>{xml.el('EncryptionType', blocked)}</BlockedEncryptionTypes>"
    )
    return xml.document(ROOT, f"<Rule>{rule}</Rule>")


# --- handlers -------------------------------------------------------------------------------------


def _has_integrity_header(ctx: Ctx) -> bool:
    """Content-MD5, an x-amz-checksum-<algorithm> header, or one promised in the aws-chunked trailer."""
    if content_md5(ctx.headers) is not None:  # a malformed value is InvalidDigest here
        return True
    wanted = checksum_request(ctx.headers)  # a malformed checksum value is InvalidRequest here
    return bool(wanted.expected) or wanted.trailer is not None


async def put_bucket_encryption(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    if not _has_integrity_header(ctx):
        raise missing_content_md5()
    body = Body(ctx)
    data = await body.read_all(MAX_BODY, max_message_length_exceeded())
    verify_document_digest(ctx, data, body.trailers)
    rule = parse_configuration(data)
    current = await sse.bucket_default(ctx)
    default = configure(current, rule)
    await ctx.services.write(ctx.services.catalog.put_bucket_config, ctx.bucket.name, KIND, default.to_json())
    return web.Response(status=200)


async def get_bucket_encryption(ctx: Ctx) -> web.StreamResponse:
    # Every bucket has a configuration since 2023 (SSE-S3 at least): never
    # ServerSideEncryptionConfigurationNotFoundError (ceph/s3-tests#613, recorded 2025 on us-east-1).
    return xml_response(render(await sse.bucket_default(ctx)))


async def delete_bucket_encryption(ctx: Ctx) -> web.StreamResponse:
    """Back to SSE-S3, 204 every time. The SSE-C block survives: AWS documents Delete as resetting "the
    default encryption" to SSE-S3 (API DeleteBucketEncryption) and nowhere as re-allowing SSE-C, which since
    April 2026 is an explicit opt-in through PutBucketEncryption (default-s3-c-encryption-setting-faq); a
    Put that omits BlockedEncryptionTypes keeps the block too (see `configure`)."""
    assert ctx.bucket is not None
    current = await sse.bucket_default(ctx)
    default = sse.BucketDefault(blocked=current.blocked)
    await ctx.services.write(ctx.services.catalog.put_bucket_config, ctx.bucket.name, KIND, default.to_json())
    return web.Response(status=204)

