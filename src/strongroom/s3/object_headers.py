"""Object headers in and out: metadata, stored headers, Content-MD5, checksums, ranges, conditionals.

Pure functions over header mappings; handlers compose them.
"""

from __future__ import annotations

import base64
import binascii
import email.utils
from collections.abc import Mapping
from dataclasses import dataclass

from strongroom import checksums
from strongroom.catalog.model import ObjectVersion
from strongroom.errors import S3Error, bad_digest, invalid_argument, invalid_digest, invalid_request, precondition_failed
from strongroom.s3.xml import http_date

STORED_HEADERS = ("content-encoding", "content-disposition", "cache-control", "expires", "content-language")
MAX_METADATA = 2048  # bytes of user-defined metadata, as S3 limits it
MAX_KEY_BYTES = 1024
MAX_SINGLE_PUT = 5 * 1024**3


class NotModified(Exception):
    """GET/HEAD conditionals say 304: the handler answers with no body."""


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
            meta[short] = f"{meta[short]},{value}" if short in meta else value
    size = sum(len(k.encode()) + len(v.encode()) for k, v in meta.items())
    if size > MAX_METADATA:
        raise S3Error("MetadataTooLarge", 400, "Your metadata headers exceed the maximum allowed metadata size.",
                      Size=str(size), MaxSizeAllowed=str(MAX_METADATA))
    return meta


def stored_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in STORED_HEADERS if name in headers}


def content_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type") or "binary/octet-stream"


def content_md5(headers: Mapping[str, str]) -> str | None:
    """The Content-MD5 header as hex, or None; a malformed value is InvalidDigest."""
    value = headers.get("content-md5")
    if value is None:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise invalid_digest() from None
    if len(raw) != 16:
        raise invalid_digest()
    return raw.hex()


@dataclass(frozen=True, slots=True)
class ChecksumRequest:
    """Which checksums a request asks S3 to compute and, where the client gave one, the expected value."""

    algorithms: tuple[str, ...]
    expected: dict[str, str]  # algorithm -> base64, from headers
    trailer: str | None  # algorithm whose value comes in the aws-chunked trailer

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


def checksum_request(headers: Mapping[str, str]) -> ChecksumRequest:
    expected: dict[str, str] = {}
    for alg in checksums.ALGORITHMS:
        value = headers.get(checksums.header_name(alg))
        if value is not None:
            if not checksums.is_valid_b64(alg, value):
                raise invalid_request(f"Value for {checksums.header_name(alg)} header is invalid.")
            expected[alg] = value
    if len(expected) > 1:
        raise invalid_request("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
    trailer = None
    for name in headers.get("x-amz-trailer", "").split(","):
        alg = checksums.algorithm_for_header(name.strip().lower()) if name.strip() else None
        if alg:
            trailer = alg
    declared = headers.get("x-amz-sdk-checksum-algorithm")
    algs = list(expected) or ([trailer] if trailer else [])
    if not algs and declared:
        if declared.upper() not in checksums.ALGORITHMS:
            raise invalid_request("Checksum algorithm provided is unsupported. "
                                  "Please try again with any of the valid types: "
                                  "[CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
        algs = [declared.upper()]
    return ChecksumRequest(tuple(algs), expected, trailer)


def check_md5(expected_hex: str | None, computed_hex: str | None) -> None:
    if expected_hex is not None and expected_hex != computed_hex:
        raise bad_digest()


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
    found = {header: query[param] for param, header in RESPONSE_OVERRIDES.items() if param in query}
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
        raise invalid_argument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", value)
    return n
