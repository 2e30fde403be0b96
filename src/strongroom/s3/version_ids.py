"""The versionId a request names, and the errors S3 answers about one.

A version id is what S3 shows: `null` for the null version (the one written while the bucket's versioning
was not Enabled, including every object of a bucket never versioned), or the id a versioned write handed
out (32 URL-safe characters, as S3's; a completed multipart upload's is its upload id, 64 of them).

- an id of another shape is 400 `InvalidArgument` "Invalid version id specified" (ArgumentName
  `versionId`, ArgumentValue the id), as S3 answers; a well-shaped id naming no version of the key is
  404 `NoSuchVersion` (S3 API reference, Error responses: NoSuchVersion, InvalidArgument; the split
  between a malformed and an unknown id as S3 answers HeadObject, recorded in Seagate/cortx-s3server#1724);
- on a bucket never versioned, DeleteObject of any id but `null` is 400 `InvalidArgument` "Invalid version
  id specified" (S3's answer to DELETE ?versionId=X there, as fog-aws's mock records it), and nothing is
  deleted; in DeleteObjects such an `<Object>` gets its own `<Error>` with `NoSuchVersion` "The specified
  version does not exist." and its `<VersionId>` (S3's DeleteResult for `<VersionId>abc</VersionId>`,
  recorded in versity/versitygw#2119).
"""

from __future__ import annotations

import re

from strongroom.errors import S3Error, invalid_argument

NULL = "null"
_S3_SHAPED = re.compile(r"[A-Za-z0-9._-]{32}|[A-Za-z0-9._-]{64}")
INVALID_MESSAGE = "Invalid version id specified"


def invalid_version_id(version_id: str) -> S3Error:
    if version_id == "":  # S3's own message for this case (as clients record it, noobaa/noobaa-core#7970)
        return invalid_argument("Version id cannot be the empty string", "versionId", version_id)
    return invalid_argument(INVALID_MESSAGE, "versionId", version_id)


def no_such_version(key: str, version_id: str) -> S3Error:
    return S3Error(
        "NoSuchVersion", 404, "The specified version does not exist.", Key=key, VersionId=version_id
    )


def well_formed(version_id: str) -> bool:
    return version_id == NULL or _S3_SHAPED.fullmatch(version_id) is not None


def check_shape(version_id: str) -> None:
    """400 InvalidArgument for an id no version can have."""
    if not well_formed(version_id):
        raise invalid_version_id(version_id)


def check_delete_entry(key: str, version_id: str | None) -> None:
    """An `<Object>` of DeleteObjects on a bucket never versioned: passes for the current object (no
    VersionId, or `null`)."""
    if version_id is not None and version_id != NULL:
        raise no_such_version(key, version_id)


def check_delete(version_id: str | None) -> None:
    """A delete of `version_id` on a bucket never versioned: passes for the current object (None or
    `null`); nothing else exists."""
    if version_id is not None and version_id != NULL:
        raise invalid_version_id(version_id)
