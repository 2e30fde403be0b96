"""Cross-origin requests: preflight OPTIONS, and the CORS headers of actual requests from a browser.

S3 evaluates a bucket's CORS rules in order and uses the first that matches (S3 user guide, "How does
Amazon S3 evaluate the CORS configuration"): the request's Origin matches one of the rule's
AllowedOrigin (one `*` matching any run of characters), its method (for a preflight, the
Access-Control-Request-Method) is one of the AllowedMethod, and, for a preflight, every header named in
Access-Control-Request-Headers matches an AllowedHeader (case-insensitively, one `*` allowed).

A preflight is not authenticated: anyone can send one. It reads the bucket's existence and its CORS
rules, and answers only what the rules say; it never reads an object, a key's existence, or anything
else about the bucket. Answers as recorded from AWS (LocalStack's test_s3_cors snapshots):
- no Origin: 400 BadRequest "Insufficient information. Origin request header needed.";
- no such bucket: 403 AccessForbidden "CORSResponse: Bucket not found";
- a bucket without CORS: 403 AccessForbidden "CORSResponse: CORS is not enabled for this bucket.";
- no rule matches: 403 AccessForbidden "CORSResponse: This CORS request is not allowed. ...";
  each 403 with `Method` (the requested method, or OPTIONS) and `ResourceType` (BUCKET or OBJECT);
- a match: 200, empty body, Access-Control-Allow-Origin (the Origin, or `*` when the rule allows any,
  then without Access-Control-Allow-Credentials), -Allow-Methods (the rule's), -Allow-Headers (the
  requested ones, lowercased), -Expose-Headers, -Max-Age, and Vary naming the three request headers.
An actual request whose Origin and method match a rule gets the same headers (no Allow-Headers); one
that matches none is served without them, as S3 does.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from strongroom.errors import S3Error
from strongroom.s3.context import Services
from strongroom.s3.cors import KIND, CorsRule, from_stored

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
    "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not "
    "whitelisted by the resource's CORS spec."
)  # AWS's wording, its misspelling included


def bad_request() -> S3Error:
    return S3Error("BadRequest", 400, "Insufficient information. Origin request header needed.")


def access_forbidden(message: str, method: str, resource_type: str) -> S3Error:
    return S3Error("AccessForbidden", 403, message, Method=method, ResourceType=resource_type)


def _wildcard_match(pattern: str, value: str) -> bool:
    """`pattern` with at most one `*` standing for any run of characters (none included)."""
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def _requested_headers(value: str | None) -> list[str]:
    return [h.strip().lower() for h in (value or "").split(",") if h.strip()]


def match(rules: tuple[CorsRule, ...], origin: str, method: str,
          headers: list[str] | None) -> CorsRule | None:
    """The first rule that allows `origin` to send `method` (and, for a preflight, `headers`)."""
    for rule in rules:
        if method not in rule.allowed_methods:
            continue
        if not any(_wildcard_match(allowed, origin) for allowed in rule.allowed_origins):
            continue
        if headers:
            allowed_headers = [h.lower() for h in rule.allowed_headers]
            if not all(any(_wildcard_match(a, h) for a in allowed_headers) for h in headers):
                continue
        return rule
    return None


def response_headers(rule: CorsRule, origin: str, requested_headers: list[str] | None) -> dict[str, str]:
    any_origin = "*" in rule.allowed_origins
    headers = {"Access-Control-Allow-Origin": "*" if any_origin else origin}
    if not any_origin:
        headers["Access-Control-Allow-Credentials"] = "true"
    headers["Vary"] = VARY
    headers["Access-Control-Allow-Methods"] = ", ".join(rule.allowed_methods)
    if requested_headers:
        headers["Access-Control-Allow-Headers"] = ", ".join(requested_headers)
    if rule.expose_headers:
        headers["Access-Control-Expose-Headers"] = ", ".join(rule.expose_headers)
    if rule.max_age_seconds is not None:
        headers["Access-Control-Max-Age"] = str(rule.max_age_seconds)
    return headers


async def _rules(services: Services, bucket: str) -> tuple[CorsRule, ...] | None:
    """The bucket's CORS rules; None when there is no such bucket."""
    if await services.bucket(bucket) is None:
        return None
    return from_stored((await services.bucket_configs(bucket)).get(KIND))


async def preflight(services: Services, bucket: str | None, has_key: bool,
                    headers: Mapping[str, str]) -> web.Response:
    """The answer to OPTIONS on a bucket or an object."""
    origin = headers.get("origin")
    if origin is None:
        raise bad_request()
    method = headers.get("access-control-request-method", "OPTIONS")
    rules = await _rules(services, bucket) if bucket else None
    if rules is None:
        raise access_forbidden("CORSResponse: Bucket not found", method, "BUCKET")
    if not rules:
        raise access_forbidden("CORSResponse: CORS is not enabled for this bucket.", method, "BUCKET")
    requested = _requested_headers(headers.get("access-control-request-headers"))
    rule = match(rules, origin, method, requested)
    if rule is None:
        raise access_forbidden(NOT_ALLOWED, method, "OBJECT" if has_key else "BUCKET")
    return web.Response(status=200, headers=response_headers(rule, origin, requested))


async def actual_headers(services: Services, bucket: str, method: str, origin: str) -> dict[str, str]:
    """The CORS headers of an actual request from `origin` (none when no rule allows it)."""
    rules = await _rules(services, bucket)
    rule = match(rules, origin, method, None) if rules else None
    return response_headers(rule, origin, None) if rule is not None else {}
