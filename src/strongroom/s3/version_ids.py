"""The versionId a request names, on strongroom's unversioned buckets.

Until versioning exists every bucket is unversioned, and on an unversioned bucket S3 calls the one
version of an object `null`: ListObjectVersions says so, and no response hands out another id (our
internal version ids never reach a client). So `null` (or no versionId) names the current object and
any other id names a version that does not exist:

- a read (GetObject, HeadObject, the tagging and ACL operations, GetObjectAttributes, a copy source)
  answers 404 `NoSuchVersion` for an id shaped like S3's (32 URL-safe characters) and 400
  `InvalidArgument` "Invalid version id specified" (ArgumentName `versionId`, ArgumentValue the id)
  for any other, as S3 does (S3 API reference, Error responses: NoSuchVersion, InvalidArgument; the
  split between a malformed and an unknown id as S3 answers HeadObject, recorded in
  Seagate/cortx-s3server#1724);
- DeleteObject of any id but `null` is 400 `InvalidArgument` "Invalid version id specified" on an
  unversioned bucket (S3's answer to DELETE ?versionId=X there, as fog-aws's mock records it), and
  nothing is deleted;
- in DeleteObjects, such an `<Object>` gets its own `<Error>` with `NoSuchVersion` "The specified
  version does not exist." and its `<VersionId>` (S3's DeleteResult for `<VersionId>abc</VersionId>`,
  recorded in versity/versitygw#2119), and nothing is deleted.
"""

from __future__ import annotations

import re

from strongroom.errors import S3Error, invalid_argument

NULL = "null"
_S3_SHAPED = re.compile(r"[A-Za-z0-9._-]{32}")
INVALID_MESSAGE = "Invalid version id specified"


def invalid_version_id(version_id: str) -> S3Error:
    if version_id == "":  # S3's own message for this case (as clients record it, noobaa/noobaa-core#7970)
        return invalid_argument("Version id cannot be the empty string", "versionId", version_id)
    return invalid_argument(INVALID_MESSAGE, "versionId", version_id)


def no_such_version(key: str, version_id: str) -> S3Error:
    return S3Error(
        "NoSuchVersion", 404, "The specified version does not exist.", Key=key, VersionId=version_id
    )


def check_read(key: str, version_id: str | None) -> None:
    """A read of `version_id` of `key` (None: no versionId given): passes for the current object."""
    if version_id is None or version_id == NULL:
        return
    if _S3_SHAPED.fullmatch(version_id):
        raise no_such_version(key, version_id)
    raise invalid_version_id(version_id)


def check_delete_entry(key: str, version_id: str | None) -> None:
    """An `<Object>` of DeleteObjects: passes for the current object (no VersionId, or `null`)."""
    if version_id is not None and version_id != NULL:
        raise no_such_version(key, version_id)


def check_delete(version_id: str | None) -> None:
    """A delete of `version_id`: passes for the current object (None or `null`); nothing else exists."""
    if version_id is not None and version_id != NULL:
        raise invalid_version_id(version_id)
