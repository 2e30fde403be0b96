"""The x-amz-copy-source header of CopyObject and UploadPartCopy, parsed once for both the copy
handlers and authorization (which checks s3:GetObject on the source)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote

from strongroom.errors import invalid_argument


def parse_copy_source(headers: Mapping[str, str]) -> tuple[str, str, str | None]:
    """(bucket, key, version id or None) of the copy source."""
    raw = headers["x-amz-copy-source"]
    path, _, query = raw.partition("?")
    path = unquote(path).lstrip("/")
    bucket, slash, key = path.partition("/")
    if not bucket or not slash or not key:
        raise invalid_argument("Invalid copy source object key", "x-amz-copy-source", raw)
    version_id = None
    if query.startswith("versionId="):
        version_id = query[len("versionId="):]
    return bucket, key, version_id
