"""Bucket CORS configuration: PutBucketCors, GetBucketCors, DeleteBucketCors, and the rules as values.

Owns the `CORSConfiguration` document: reading and validating it as S3 does, its stored form (catalog
config kind "cors", JSON), and rendering it back. How a request is matched against the rules is
`cors_requests`'s business.

AWS sources: the S3 user guide ("Elements of a CORS configuration": up to 100 rules; AllowedMethod one of
GET, PUT, POST, DELETE, HEAD; one `*` at most in each AllowedOrigin and AllowedHeader), botocore's model
(CORSRule: AllowedMethod and AllowedOrigin required, ID at most 255 characters; PutBucketCors
requestChecksumRequired), and responses recorded from AWS (LocalStack's test_s3_cors snapshots: an unknown
method is 400 InvalidRequest "Found unsupported HTTP method in CORS config. Unsupported method is X", a
configuration without rules is MalformedXML, an empty AllowedOrigin is kept, AllowedHeader keeps its case,
DeleteBucketCors is 204 whether or not there was a configuration, GetBucketCors without one is 404
NoSuchCORSConfiguration with BucketName).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from aiohttp import web

from strongroom.errors import S3Error, invalid_request, malformed_xml
from strongroom.s3 import xml
from strongroom.s3.body import Body
from strongroom.s3.context import Ctx
from strongroom.s3.documents import verify_document_digest, xml_response
from strongroom.s3.object_headers import require_integrity_header

KIND = "cors"  # the catalog's bucket config kind
MAX_BODY = 64 * 1024
MAX_RULES = 100
MAX_ID = 255
METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")


@dataclass(frozen=True, slots=True)
class CorsRule:
    """One CORSRule as given (values kept as written: GetBucketCors echoes them)."""

    allowed_methods: tuple[str, ...]
    allowed_origins: tuple[str, ...]
    allowed_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age_seconds: int | None = None
    id: str | None = None


def no_such_cors_configuration(bucket: str) -> S3Error:
    return S3Error("NoSuchCORSConfiguration", 404, "The CORS configuration does not exist", BucketName=bucket)


def unsupported_method(method: str) -> S3Error:
    return invalid_request(f"Found unsupported HTTP method in CORS config. Unsupported method is {method}")


def too_many_wildcards(element: str, value: str) -> S3Error:
    # Not in the recorded responses: the wording S3-compatible peers use for this documented limit.
    return invalid_request(f'{element} "{value}" can not have more than one wildcard.')


# --- the document ---------------------------------------------------------------------------------


def _leaf(node: ET.Element) -> str:
    if len(node):
        raise malformed_xml()
    return node.text or ""  # kept as written: an empty AllowedOrigin is a value AWS stores


def _values(rule: ET.Element, name: str) -> tuple[str, ...]:
    return tuple(_leaf(child).strip() for child in xml.children(rule, name))


def _parse_rule(node: ET.Element) -> CorsRule:
    xml.check_known(node, ("ID", "AllowedMethod", "AllowedOrigin", "AllowedHeader", "ExposeHeader",
                           "MaxAgeSeconds"))
    methods, origins = _values(node, "AllowedMethod"), _values(node, "AllowedOrigin")
    if not methods or not origins:  # both required by the schema
        raise malformed_xml()
    for method in methods:
        if method not in METHODS:
            raise unsupported_method(method)
    headers = _values(node, "AllowedHeader")
    for element, values in (("AllowedOrigin", origins), ("AllowedHeader", headers)):
        for value in values:
            if value.count("*") > 1:
                raise too_many_wildcards(element, value)
    id_node, age_node = xml.only_child(node, "ID"), xml.only_child(node, "MaxAgeSeconds")
    rule_id = _leaf(id_node) if id_node is not None else None
    if rule_id is not None and len(rule_id) > MAX_ID:
        raise malformed_xml()
    max_age = None
    if age_node is not None:
        text = _leaf(age_node).strip()
        if not text.lstrip("-").isdigit():  # an xs:int
            raise malformed_xml()
        max_age = int(text)
    return CorsRule(methods, origins, headers, _values(node, "ExposeHeader"), max_age, rule_id)


def parse_configuration(body: bytes) -> tuple[CorsRule, ...]:
    root = xml.parse(body, "CORSConfiguration")
    xml.check_known(root, ("CORSRule",))
    nodes = xml.children(root, "CORSRule")
    if not nodes or len(nodes) > MAX_RULES:
        raise malformed_xml()
    return tuple(_parse_rule(node) for node in nodes)


def to_json(rules: tuple[CorsRule, ...]) -> str:
    return json.dumps([[list(r.allowed_methods), list(r.allowed_origins), list(r.allowed_headers),
                        list(r.expose_headers), r.max_age_seconds, r.id] for r in rules])


def from_stored(document: str | None) -> tuple[CorsRule, ...]:
    """The stored rules; none when the bucket has no configuration."""
    if document is None:
        return ()
    return tuple(CorsRule(tuple(m), tuple(o), tuple(h), tuple(e), age, rule_id)
                 for m, o, h, e, age, rule_id in json.loads(document))


def render(rules: tuple[CorsRule, ...]) -> bytes:
    """GetBucketCors's document, each rule's elements in the API reference's order."""
    def rule_xml(rule: CorsRule) -> str:
        parts = [xml.el("AllowedHeader", h) for h in rule.allowed_headers]
        parts += [xml.el("AllowedMethod", m) for m in rule.allowed_methods]
        parts += [xml.el("AllowedOrigin", o) for o in rule.allowed_origins]
        parts += [xml.el("ExposeHeader", e) for e in rule.expose_headers]
        if rule.id is not None:
            parts.append(xml.el("ID", rule.id))
        if rule.max_age_seconds is not None:
            parts.append(xml.el("MaxAgeSeconds", rule.max_age_seconds))
        return "<CORSRule>" + "".join(parts) + "</CORSRule>"

    return xml.document("CORSConfiguration", "".join(rule_xml(r) for r in rules))


# --- handlers -------------------------------------------------------------------------------------


async def put_bucket_cors(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    require_integrity_header(ctx.headers)
    body = Body(ctx)
    data = await body.read_all(MAX_BODY, malformed_xml())
    verify_document_digest(ctx, data, body.trailers)
    rules = parse_configuration(data)
    await ctx.services.write(ctx.services.catalog.put_bucket_config, ctx.bucket.name, KIND, to_json(rules))
    return web.Response(status=200)


async def get_bucket_cors(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    rules = from_stored((await ctx.bucket_configs(ctx.bucket.name)).get(KIND))
    if not rules:
        raise no_such_cors_configuration(ctx.bucket.name)
    return xml_response(render(rules))


async def delete_bucket_cors(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    await ctx.services.write(ctx.services.catalog.put_bucket_config, ctx.bucket.name, KIND, None)
    return web.Response(status=204)
