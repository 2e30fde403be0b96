"""POST Object: browser uploads (`POST /bucket`, multipart/form-data), what `generate_presigned_post` makes.

The dispatcher does not authenticate these requests: the form does. This module reads the fields up to
the `file` part (S3 ignores anything after it), authenticates the signer from the form's signature fields,
checks the POST policy (`post_policy`), then streams the file part through the vault into a new object,
exactly as PutObject stores one, and answers as the form asks (204, 200, 201 with a PostResponse, or a
303 to `success_action_redirect`). The file is never held in memory: its bytes are counted as they
stream, to enforce `content-length-range` as S3 does (the size in S3's error is the whole file's).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import re
from collections.abc import AsyncIterator, Awaitable, Mapping
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import quote, urlencode, urlsplit

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.multipart import content_disposition_filename, parse_content_disposition

from strongroom import sigv4
from strongroom.catalog.model import ObjectVersion
from strongroom.errors import S3Error, access_denied, incomplete_body
from strongroom.s3 import object_lock_requests, post_policy, sse, versioning, xml
from strongroom.s3.auth import credentials
from strongroom.s3.authorization import authorize_post_object
from strongroom.s3.body import IDLE_TIMEOUT, request_timeout
from strongroom.s3.context import Ctx, Principal
from strongroom.s3.kms_check import kms_check
from strongroom.s3.object_headers import (
    MAX_SINGLE_PUT,
    check_key,
    check_md5,
    checksum_request,
    content_md5,
    content_type,
    stored_headers,
    user_metadata,
)
from strongroom.s3.objects import require_sigv4_for
from strongroom.vault import NewObject, Written

MAX_PRE_DATA = 20480  # bytes of form fields before the file, as S3 limits them
READ_SIZE = 256 * 1024
CANNED_ACLS = frozenset(
    {
        "private",
        "public-read",
        "public-read-write",
        "aws-exec-read",
        "authenticated-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
    }
)
_PEER_GONE = {"ClientPayloadError", "ContentLengthError", "PayloadEncodingError"}
T = TypeVar("T")
# A Content-Disposition parameter as browsers write it (WHATWG HTML): in a quoted string a backslash is
# itself, not an escape: C:\dir\a.txt must keep its backslashes to lose its path.
_PARAM = re.compile(r';\s*([^=;\s]+)\s*=\s*("[^"]*"|[^;]*)')


def not_multipart() -> S3Error:
    return S3Error(
        "PreconditionFailed",
        412,
        "At least one of the pre-conditions you specified did not hold",
        Condition="Bucket POST must be of the enclosure-type multipart/form-data",
    )


def malformed_post() -> S3Error:
    return S3Error(
        "MalformedPOSTRequest", 400, "The body of your POST request is not well-formed multipart/form-data."
    )


def pre_data_too_large() -> S3Error:
    # sic: the code, the spelling and the grammar are S3's as it answers (not as its error table lists them)
    return S3Error(
        "MaxPostPreDataLengthExceeded",
        400,
        "Your POST request fields preceeding the upload file was too large.",
        MaxPostPreDataLengthBytes=str(MAX_PRE_DATA),
    )


def no_file() -> S3Error:
    return S3Error(
        "InvalidArgument",
        400,
        "POST requires exactly one file upload per request.",
        ArgumentName="file",
        ArgumentValue="0",
    )


class Form:
    """The fields that precede the file: lower-cased name -> value, repeated names joined with commas."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.sent: list[str] = []  # names as the form spelled them, first spelling of each, in order
        self.file: BodyPartReader | None = None
        self.filename: str | None = None  # None: the file part named none, and ${filename} stays as it is

    def add(self, name: str, value: str) -> None:
        lower = name.lower()
        if lower in self.fields:
            self.fields[lower] += "," + value
        else:
            self.fields[lower] = value
            self.sent.append(name)

    def expand(self) -> None:
        """${filename}: the last component of the file's name, in every field (expanded before the checks)."""
        if self.filename is None:
            return
        name = self.filename.replace("\\", "/").rsplit("/", 1)[-1]
        for lower, value in self.fields.items():
            if lower not in ("policy", "x-amz-signature") and "${filename}" in value:
                self.fields[lower] = value.replace("${filename}", name)


async def _read(awaitable: Awaitable[T]) -> T:
    """One read from the form, with S3's idle timeout and its errors for a body that is cut or malformed."""
    try:
        async with asyncio.timeout(IDLE_TIMEOUT):
            return await awaitable
    except TimeoutError:
        raise request_timeout() from None
    except (ConnectionError, asyncio.IncompleteReadError):
        raise incomplete_body() from None
    except (ValueError, AssertionError, RuntimeError, BadHttpMessage) as e:
        # aiohttp's payload errors for a peer gone mid-body are BadHttpMessages too: tell them apart
        if type(e).__name__ in _PEER_GONE:
            raise incomplete_body() from None
        raise malformed_post() from None


async def read_form(ctx: Ctx) -> Form:
    """Read parts up to the file part; the file is left unread, to be streamed."""
    if ctx.request.content_type != "multipart/form-data":
        raise not_multipart()
    try:
        reader = await ctx.request.multipart()
    except (ValueError, AssertionError, KeyError):
        raise malformed_post() from None
    form = Form()
    budget = MAX_PRE_DATA
    while True:
        part = await _read(reader.next())
        if part is None:
            return form
        if isinstance(part, MultipartReader):
            raise malformed_post()
        assert isinstance(part, BodyPartReader)
        kind, params = parse_content_disposition(part.headers.get("Content-Disposition"))
        name = content_disposition_filename(params, "name")
        if kind != "form-data" or not name or not _is_text(name):
            raise malformed_post()
        if name.lower() == "file":
            form.file = part
            form.filename = _filename(part.headers.get("Content-Disposition", ""), params)
            if form.filename is not None and not _is_text(form.filename):
                raise malformed_post()
            return form
        budget -= len(name.encode())
        value = await _read_value(part, budget)
        budget -= len(value)
        try:
            form.add(name, value.decode("utf-8"))
        except UnicodeDecodeError:
            raise malformed_post() from None


def _is_text(value: str) -> bool:
    """Whether a part header's value was UTF-8: aiohttp decodes header bytes that are not as lone
    surrogates, which no key, field name or log line may carry."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _filename(header: str, parsed: Mapping[str, str]) -> str | None:
    """The file part's `filename`, None when it names none (then `${filename}` stays as it is)."""
    raw = {m.group(1).lower(): m.group(2).strip() for m in _PARAM.finditer(header)}
    value = raw.get("filename")
    if value is None:
        return content_disposition_filename(dict(parsed), "filename")  # filename*= only, if anything
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


async def _read_value(part: BodyPartReader, budget: int) -> bytes:
    data = bytearray()
    while not part.at_eof():
        data += await _read(part.read_chunk(READ_SIZE))
        if len(data) > budget:
            raise pre_data_too_large()
    return bytes(data)


async def file_chunks(part: BodyPartReader, low: int, high: int | None) -> AsyncIterator[bytes]:
    """The file's bytes as they arrive, counted. Over the maximum, the rest is read to learn the size S3
    reports (up to the 5 GiB any single upload may have), then the upload fails; under the minimum, it
    fails at the end. Either failure reaches the vault mid-write, which then keeps nothing."""
    limit = MAX_SINGLE_PUT if high is None else min(high, MAX_SINGLE_PUT)
    size = 0
    while not part.at_eof():
        chunk = await _read(part.read_chunk(READ_SIZE))
        size += len(chunk)
        if size > limit:
            while not part.at_eof() and size <= MAX_SINGLE_PUT:
                size += len(await _read(part.read_chunk(READ_SIZE)))
            raise post_policy.entity_too_large(size, limit)
        if chunk:
            yield bytes(chunk)
    if size < low:
        raise post_policy.entity_too_small(size, low)


async def authenticate(ctx: Ctx, form: Form) -> tuple[Principal, str, frozenset[str]]:
    """The signer of the form's policy, checked as S3 checks it: the principal, the policy text, and the
    fields the policy need not name."""
    fields = form.fields
    policy_text = fields.get("policy")
    v4 = any(name in fields for name in post_policy.SIGNATURE_FIELDS)
    v2 = "awsaccesskeyid" in fields or "signature" in fields
    if not policy_text or not (v4 or v2):
        # Anonymous: only a bucket policy could allow it, and strongroom has none yet.
        raise access_denied()
    if v4:
        for name in post_policy.SIGNATURE_FIELDS:
            if name not in fields:
                raise post_policy.missing_field("-".join(w.capitalize() for w in name.split("-")))
        if fields["x-amz-algorithm"] != post_policy.ALGORITHM:
            raise post_policy.unsupported_mechanism()
        credential = post_policy.parse_credential(fields["x-amz-credential"], ctx.config.region)
        post_policy.check_amz_date(fields["x-amz-date"])
        access_key = credential.access_key
    elif not ctx.config.sigv2:
        raise post_policy.unsupported_mechanism()  # --sigv2 off: as S3 refuses a SigV2 form where SigV4 only
    else:
        for name, spelled in (("awsaccesskeyid", "AWSAccessKeyId"), ("signature", "Signature")):
            if name not in fields:
                raise post_policy.missing_field(spelled)
        access_key = fields["awsaccesskeyid"]
    try:
        found = await credentials(ctx, access_key)
    except S3Error as err:
        if err.code == "InvalidAccessKeyId":
            err.details["AWSAccessKeyId"] = access_key  # the form's signer, named as S3 names it
        raise
    ctx.signature_version = "AWS4-HMAC-SHA256" if v4 else "AWS"  # SSE-KMS needs SigV4
    if v4:
        good = sigv4.signatures_equal(
            post_policy.signature(found.secret, credential, policy_text), fields["x-amz-signature"]
        )
    else:
        good = hmac.compare_digest(
            post_policy.signature_v2(found.secret, policy_text).encode(), fields["signature"].encode()
        )
    if not good:
        raise sigv4.mismatch(policy_text, None, found.key.access_key)
    exempt = post_policy.EXEMPT_V4 if v4 else post_policy.EXEMPT_V2
    return found.principal, policy_text, exempt


def mail_safe(value: str) -> str:
    """Metadata from a form may hold any UTF-8; S3 stores it RFC 2047-encoded so that headers stay ASCII."""
    if value.isascii() and value.isprintable():
        return value
    raw = value.encode("utf-8")
    if value.isprintable():
        safe = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!*+-/"
        text = "".join("_" if b == 0x20 else chr(b) if b in safe else f"={b:02X}" for b in raw)
        return f"=?UTF-8?Q?{text}?="
    return f"=?UTF-8?B?{base64.b64encode(raw).decode()}?="


def _object_url(ctx: Ctx, key: str) -> str:
    """The object's URL, in the addressing style of the request, the key encoded as S3 encodes it."""
    assert ctx.bucket is not None
    scheme = "https" if ctx.secure else "http"
    host = ctx.request.headers.get("host", "")
    path = quote(key, safe="")
    if ctx.request.path.strip("/"):
        return f"{scheme}://{host}/{quote(ctx.bucket.name, safe='')}/{path}"
    return f"{scheme}://{host}/{path}"


def _redirect(target: str | None, bucket: str, key: str, etag: str) -> str | None:
    """The 303 Location, or None when S3 cannot use the URL (it then acts as if there were none)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    query = urlencode([("bucket", bucket), ("key", key), ("etag", f'"{etag}"')])
    if not parts.query:
        return f"{target.rstrip('?')}?{query}"
    return f"{target}{'' if target.endswith('&') else '&'}{query}"


def _store_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """The fields as the headers PutObject would read; x-amz-checksum-algorithm names the checksum to keep."""
    out = dict(fields)
    algorithm = fields.get("x-amz-checksum-algorithm")
    if algorithm is not None and "x-amz-sdk-checksum-algorithm" not in fields:
        out["x-amz-sdk-checksum-algorithm"] = algorithm
    out.pop("x-amz-trailer", None)
    return out


async def post_object(ctx: Ctx) -> web.StreamResponse:
    assert ctx.bucket is not None
    form = await read_form(ctx)
    if not form.fields.get("key"):
        raise post_policy.missing_field("key")
    if form.file is None:
        raise no_file()
    form.expand()
    key = form.fields["key"]
    if not key:
        raise post_policy.missing_field("key")
    principal, policy_text, exempt = await authenticate(ctx, form)
    policy = post_policy.decode(policy_text)
    now = datetime.fromtimestamp(ctx.services.clock.now(), UTC)  # the catalog's time (clock.py)
    low, high = post_policy.check(policy, form.fields, form.sent, ctx.bucket.name, now, exempt)
    ctx.principal = principal
    check_key(key)
    acl = form.fields.get("acl")
    if acl is not None and acl not in CANNED_ACLS:
        raise S3Error("InvalidArgument", 400, "", ArgumentName="acl", ArgumentValue=acl)
    await authorize_post_object(ctx, key, dict(form.fields))
    fields = _store_fields(form.fields)
    lock = await object_lock_requests.lock_for_write(ctx, form.fields, has_body=True)
    metadata = user_metadata({n: mail_safe(v) for n, v in fields.items() if n.startswith("x-amz-meta-")})
    choice = sse.choose(ctx, await sse.bucket_default(ctx), headers=fields)
    md5_expected = content_md5(fields)
    wanted = checksum_request(fields)
    require_sigv4_for(ctx, choice)
    status = await versioning.status(ctx)
    target = NewObject(ctx.bucket.name, key, principal.user_id, content_type(fields), stored_headers(fields),
                       metadata, versioned=status == versioning.ENABLED,
                       lock=lock)

    def verify(written: Written) -> None:
        check_md5(md5_expected, written.md5_hex)
        wanted.verify(written.checksums, {})

    version = await ctx.services.vault.put(
        target, file_chunks(form.file, low, high), choice.encryption, kms_check=kms_check(ctx),
        size_hint=ctx.request.content_length,  # the whole form bounds the file: small forms stay inline
        md5=md5_expected is not None, checksums=wanted.algorithms, verify=verify, acl=ctx.object_acl)
    return _success(ctx, form.fields, version, {**sse.response_headers(version.sealing, choice.customer),
                                                **versioning.version_headers(version, status)})


def _success(
    ctx: Ctx, fields: Mapping[str, str], version: ObjectVersion, encryption: dict[str, str]
) -> web.StreamResponse:
    location = _object_url(ctx, version.key)
    headers = {"ETag": f'"{version.etag}"', "Location": location, **encryption}
    for alg, value in version.checksums.items():
        headers[f"x-amz-checksum-{alg.lower()}"] = value
    if version.checksums:
        headers["x-amz-checksum-type"] = "FULL_OBJECT"
    target = fields.get("success_action_redirect") or fields.get("redirect")
    redirect = _redirect(target, version.bucket, version.key, version.etag)
    if redirect is not None:
        headers["Location"] = redirect
        return web.Response(status=303, headers=headers)
    status = fields.get("success_action_status")
    if status == "201":
        body = xml.document(
            "PostResponse",
            [
                xml.el("Location", location),
                xml.el("Bucket", version.bucket),
                xml.el("Key", version.key),
                xml.el("ETag", f'"{version.etag}"'),
            ],
            namespace=False,
        )
        return web.Response(status=201, body=body, headers=headers, content_type="application/xml")
    return web.Response(status=200 if status == "200" else 204, headers=headers)

