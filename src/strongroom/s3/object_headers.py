"""Object headers in and out: metadata, stored headers, Content-MD5, checksums, ranges, conditionals.

Pure functions over header mappings; handlers compose them.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote_plus

from strongroom import checksums
from strongroom.catalog.model import ObjectVersion
from strongroom.errors import S3Error, bad_digest, invalid_argument, invalid_request, precondition_failed
from strongroom.s3.xml import http_date

STORED_HEADERS = ("content-encoding", "content-disposition", "cache-control", "expires", "content-language")
MAX_METADATA = 2048  # bytes of user-defined metadata, as S3 limits it
MAX_KEY_BYTES = 1024
MAX_SINGLE_PUT = 5 * 1024**3


class NotModified(Exception):
    """GET/HEAD conditionals say 304: the handler answers with no body."""


def _single_line(name: str, value: str) -> str:
    """A header value stored with an object or sent back in a response may not break the line: stored,
    it could never be served again; in a response, it would split the header section (issue 14)."""
    if "\r" in value or "\n" in value:
        raise invalid_argument(f"The value of {name} may not contain a line break (CR or LF).", name)
    return value


def check_key(key: str) -> None:
    if len(key.encode()) > MAX_KEY_BYTES:
        raise S3Error("KeyTooLongError", 400, "Your key is too long", Size=str(len(key.encode())),
                      MaxSizeAllowed=str(MAX_KEY_BYTES))


def user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower.startswith("x-amz-meta-"):
            short = lower[len("x-amz-meta-"):]
            _single_line(lower, value)
            meta[short] = f"{meta[short]},{value}" if short in meta else value
    size = sum(len(k.encode()) + len(v.encode()) for k, v in meta.items())
    if size > MAX_METADATA:
        raise S3Error("MetadataTooLarge", 400,
                      "Your metadata headers exceed the maximum allowed metadata size.",
                      Size=str(size), MaxSizeAllowed=str(MAX_METADATA))
    return meta


def stored_headers(headers: Mapping[str, str], *, streaming: bool = False) -> dict[str, str]:
    """The representation headers S3 keeps with an object. An aws-chunked body's own coding is not the
    object's: S3 drops `aws-chunked` from Content-Encoding and keeps any other codings, in order."""
    stored = {name: _single_line(name, headers[name]) for name in STORED_HEADERS if name in headers}
    if streaming and "content-encoding" in stored:
        codings = [c.strip() for c in stored["content-encoding"].split(",")]
        kept = [c for c in codings if c and c.lower() != "aws-chunked"]
        if kept:
            stored["content-encoding"] = ", ".join(kept)
        else:
            del stored["content-encoding"]
    return stored


def content_type(headers: Mapping[str, str]) -> str:
    return _single_line("Content-Type", headers.get("content-type") or "binary/octet-stream")


def invalid_digest(value: str) -> S3Error:
    message = "The Content-MD5 you specified was invalid."
    return S3Error("InvalidDigest", 400, message, **{"Content-MD5": value})


def content_md5(headers: Mapping[str, str]) -> str | None:
    """The Content-MD5 header as hex, or None; a malformed value is InvalidDigest."""
    value = headers.get("content-md5")
    if value is None:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_digest(value) from None
    if len(raw) != 16:
        raise invalid_digest(value)
    return raw.hex()


@dataclass(frozen=True, slots=True)
class ChecksumRequest:
    """Which checksums a request asks S3 to compute and, where the client gave one, the expected value."""

    algorithms: tuple[str, ...]
    expected: dict[str, str]  # algorithm -> base64, from headers
    trailer: str | None  # algorithm whose value comes in the aws-chunked trailer
    announced_only: bool = False  # x-amz-sdk-checksum-algorithm alone, with no value in a header or trailer

    def verify(self, computed: dict[str, str], trailers: Mapping[str, str]) -> None:
        for alg in self.algorithms:
            want = self.expected.get(alg)
            if want is None and self.trailer == alg:
                want = trailers.get(checksums.header_name(alg))
                if want is None:
                    raise S3Error("MalformedTrailerError", 400,
                                  "The request contained trailing data that was not well-formed "
                                  "or did not conform to our published schema.")
            if want is not None and want != computed.get(alg):
                raise bad_digest(f"The {alg} you specified did not match the calculated checksum.")


# Headers that start like a checksum but name no algorithm: tolerated wherever they appear.
_CHECKSUM_SETTINGS = frozenset({"x-amz-checksum-mode", "x-amz-checksum-type", "x-amz-checksum-algorithm"})
_SINGLE = "Expecting a single x-amz-checksum- header"
_MULTIPLE = _SINGLE + ". Multiple checksum Types are not allowed."


def checksum_request(headers: Mapping[str, str]) -> ChecksumRequest:
    """The checksum a request names, in a header or a promised trailer, validated as S3 validates it."""
    expected: dict[str, str] = {}
    repeated = False
    for name, value in headers.items():
        lower = name.lower()
        if not lower.startswith("x-amz-checksum-") or lower in _CHECKSUM_SETTINGS:
            continue
        alg = checksums.algorithm_for_header(lower)
        if alg is None:
            raise invalid_request("The algorithm type you specified in x-amz-checksum- header is invalid.")
        repeated = repeated or alg in expected
        expected[alg] = value
    names = headers.get("x-amz-trailer", "").split(",")
    trailers = [checksums.algorithm_for_header(n.strip()) for n in names]
    trailer_algs = [alg for alg in trailers if alg]
    # More than one algorithm (or a header repeated) is the "Multiple" error; one in a header and one in
    # the trailer is the plain "single" one, even when they name the same algorithm.
    if repeated or len(expected) > 1 or len(trailer_algs) > 1:
        raise invalid_request(_MULTIPLE)
    if expected and trailer_algs:
        raise invalid_request(_SINGLE)
    named = list(expected) or trailer_algs
    declared = headers.get("x-amz-sdk-checksum-algorithm")
    if declared is not None:
        if declared.upper() not in checksums.ALGORITHMS:
            raise invalid_request("Checksum algorithm provided is unsupported. "
                                  "Please try again with any of the valid types: "
                                  "[CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
        if named and declared.upper() != named[0]:
            raise invalid_request("Value for x-amz-sdk-checksum-algorithm header is invalid.")
    for alg, value in expected.items():
        if not checksums.is_valid_b64(alg, value):
            raise invalid_request(f"Value for {checksums.header_name(alg)} header is invalid.")
    if declared is not None and not named:  # announced, not given: computed, nothing to verify against
        return ChecksumRequest((declared.upper(),), expected, None, announced_only=True)
    return ChecksumRequest(tuple(named), expected, trailer_algs[0] if trailer_algs else None)


def require_announced_checksum(wanted: ChecksumRequest) -> None:
    """PutObject: S3 refuses x-amz-sdk-checksum-algorithm without the checksum it announces."""
    if wanted.announced_only:
        raise invalid_request("x-amz-sdk-checksum-algorithm specified, but no corresponding "
                              "x-amz-checksum-* or x-amz-trailer headers were found.")


def require_integrity_header(headers: Mapping[str, str]) -> None:
    """Operations botocore marks requestChecksumRequired need Content-MD5 or an x-amz-checksum-*
    (header or aws-chunked trailer); AWS's message for neither (swift s3api, run against AWS)."""
    if "content-md5" in headers or "x-amz-trailer" in headers:
        return
    if any(name.lower().startswith("x-amz-checksum-") for name in headers):
        return
    raise invalid_request("Missing required header for this request: Content-MD5 OR x-amz-checksum-*")


def check_md5(expected_hex: str | None, computed_hex: str | None) -> None:
    if expected_hex is not None and expected_hex != computed_hex:
        err = bad_digest()
        err.details["ExpectedDigest"] = expected_hex  # S3 shows the expected digest in hex ...
        if computed_hex is not None:  # ... and the one it calculated in base64
            err.details["CalculatedDigest"] = base64.b64encode(bytes.fromhex(computed_hex)).decode()
        raise err


# --- ranges ---------------------------------------------------------------------------------------


def parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) for a single byte range; None for no range or one S3 ignores. Unsatisfiable -> 416."""
    if not value or not value.startswith("bytes="):
        return None
    spec = value[len("bytes="):].strip()
    if "," in spec:
        return None  # S3 serves the whole object for multiple ranges
    first, dash, last = spec.partition("-")
    if not dash:
        return None
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                raise _invalid_range(value, size)
            return (max(size - n, 0), size) if size else _raise(_invalid_range(value, size))
        start = int(first)
        end = int(last) + 1 if last else size
    except ValueError:
        return None
    if start < 0 or end <= start and last:
        return None
    if start >= size:
        raise _invalid_range(value, size)
    return start, min(end, size)


def _raise(err: S3Error) -> tuple[int, int]:
    raise err


def _invalid_range(requested: str, size: int) -> S3Error:
    err = S3Error("InvalidRange", 416, "The requested range is not satisfiable", RangeRequested=requested,
                  ActualObjectSize=str(size))
    err.headers["Content-Range"] = f"bytes */{size}"
    return err


# --- conditionals ---------------------------------------------------------------------------------


def _parse_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def unquoted_etag(value: str | None) -> str | None:
    """An If-Match value of a conditional write or delete as the catalog compares it: without the quotes
    and spaces around it (clients send it quoted, as S3 returns ETags, or bare); "*" stays "*"."""
    return None if value is None else value.strip().strip('"')


def _etag_matches(header: str, etag: str) -> bool:
    return any(t.strip() in ("*", f'"{etag}"', etag) for t in header.split(","))


def check_conditions(headers: Mapping[str, str], version: ObjectVersion, prefix: str = "if-",
                     copy_source: bool = False) -> None:
    """GET/HEAD and copy-source conditionals in RFC 7232 order: 412 PreconditionFailed or NotModified."""
    if_match = headers.get(prefix + "match")
    if_none_match = headers.get(prefix + "none-match")
    modified_since = _parse_date(headers.get(prefix + "modified-since"))
    unmodified_since = _parse_date(headers.get(prefix + "unmodified-since"))
    modified = int(version.last_modified)
    name = "x-amz-copy-source-If-" if copy_source else "If-"
    if if_match is not None:
        if not _etag_matches(if_match, version.etag):
            raise precondition_failed(name + "Match")
    elif unmodified_since is not None and modified > unmodified_since:
        raise precondition_failed(name + "Unmodified-Since")
    if if_none_match is not None:
        if _etag_matches(if_none_match, version.etag):
            if copy_source:
                raise precondition_failed(name + "None-Match")
            raise NotModified()
    elif modified_since is not None and modified <= modified_since:
        if copy_source:
            raise precondition_failed(name + "Modified-Since")
        raise NotModified()


# --- response headers -----------------------------------------------------------------------------


def object_headers(version: ObjectVersion, *, checksum_mode: bool = False) -> dict[str, str]:
    headers = {
        "ETag": f'"{version.etag}"',
        "Last-Modified": http_date(version.last_modified),
        "Content-Type": version.content_type,
        "Accept-Ranges": "bytes",
    }
    for name, value in version.headers.items():
        headers[name.title()] = value
    for name, value in version.metadata.items():
        headers["x-amz-meta-" + name] = value
    if version.storage_class != "STANDARD":
        headers["x-amz-storage-class"] = version.storage_class
    if version.tags:
        headers["x-amz-tagging-count"] = str(len(version.tags))
    if checksum_mode and version.checksums:
        for alg, value in version.checksums.items():
            headers[checksums.header_name(alg)] = value
        if version.checksum_type:
            headers["x-amz-checksum-type"] = version.checksum_type
    return headers


RESPONSE_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


def response_overrides(query: Mapping[str, str], anonymous: bool) -> dict[str, str]:
    found = {header: _single_line(param, query[param]) for param, header in RESPONSE_OVERRIDES.items()
             if param in query}
    if found and anonymous:
        raise invalid_request("Request specific response headers cannot be used for anonymous GET requests.")
    return found


def part_number(query: Mapping[str, str]) -> int | None:
    value = query.get("partNumber")
    if value is None:
        return None
    try:
        n = int(value)
    except ValueError:
        raise invalid_argument("Part number must be an integer between 1 and 10000, inclusive",
                               "partNumber", value) from None
    if not 1 <= n <= 10000:
        raise invalid_argument("Part number must be an integer between 1 and 10000, inclusive",
                               "partNumber", value)
    return n


# --- tags: at most 10, unique keys, keys up to 128 and values up to 256 characters of
# letters, digits, spaces and + - = . _ : / @ (S3's tag restrictions) ---------------------------------

MAX_TAGS = 10
_ALLOWED = re.compile(r"[\w\s+\-=._:/@]*", re.UNICODE)


def invalid_tag(message: str) -> S3Error:
    return S3Error("InvalidTag", 400, message)


def validate_tags(tags: list[tuple[str, str]]) -> dict[str, str]:
    """An object's tag set (at most 10 tags)."""
    if len(tags) > MAX_TAGS:
        raise invalid_tag("Object tags cannot be greater than 10")
    return check_tags(tags)


def check_tags(tags: list[tuple[str, str]]) -> dict[str, str]:
    """The rules every tag set follows, objects' and buckets' alike (the count is the caller's)."""
    if len({k for k, _ in tags}) != len(tags):
        raise invalid_tag("Cannot provide multiple Tags with the same key")
    for key, value in tags:
        if not key or len(key) > 128:
            raise invalid_tag("The TagKey you have provided is too long, max 128" if key else
                              "The TagKey you have provided is invalid")
        if len(value) > 256:
            raise invalid_tag("The TagValue you have provided is too long, max 256")
        if key.lower().startswith("aws:"):
            raise invalid_tag("Your TagKey cannot be prefixed with aws:")
        if not _ALLOWED.fullmatch(key):
            raise invalid_tag("The TagKey you have provided is invalid")
        if not _ALLOWED.fullmatch(value):
            raise invalid_tag("The TagValue you have provided is invalid")
    return dict(tags)


def _tag_field(field: str) -> tuple[str, str]:
    """One `name=value` field of x-amz-tagging; a name with no "=" is a tag with an empty value, as on S3
    (`foo=bar&bar` tags bar with ""). An empty field is malformed (ValueError)."""
    if not field:
        raise ValueError("an empty field")
    name, _, value = field.partition("=")
    return unquote_plus(name, errors="strict"), unquote_plus(value, errors="strict")


def header_tags(headers: Mapping[str, str]) -> dict[str, str]:
    """The x-amz-tagging header (URL-encoded query form) of PutObject, CreateMultipartUpload, CopyObject."""
    value = headers.get("x-amz-tagging")
    if not value:
        return {}
    try:
        pairs = [_tag_field(field) for field in value.split("&")]
    except ValueError:  # UnicodeDecodeError included
        pairs = None
    if pairs is None or len({k for k, _ in pairs}) != len(pairs):
        raise invalid_argument(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
            "parameters without tag name duplicates.", "x-amz-tagging", value)
    return validate_tags(pairs)
