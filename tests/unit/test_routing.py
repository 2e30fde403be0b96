"""The routing table, replayed with request lines as the S3 API reference writes them.

Each row: the request line (method, path, query) -> the operation AWS names, or None (501).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest
from multidict import MultiDict

from strongroom.s3.routing import Operation as O
from strongroom.s3.routing import route

ROWS = [
    ("GET /", None, O.ListBuckets),
    ("PUT /bucket", None, O.CreateBucket),
    ("HEAD /bucket", None, O.HeadBucket),
    ("DELETE /bucket", None, O.DeleteBucket),
    ("GET /bucket?list-type=2&prefix=a&delimiter=/", None, O.ListObjectsV2),
    ("GET /bucket?prefix=a&marker=b", None, O.ListObjects),
    ("GET /bucket?versions", None, O.ListObjectVersions),
    ("GET /bucket?location", None, O.GetBucketLocation),
    ("GET /bucket?versioning", None, O.GetBucketVersioning),
    ("PUT /bucket?encryption", None, O.PutBucketEncryption),
    ("GET /bucket?encryption", None, O.GetBucketEncryption),
    ("DELETE /bucket?encryption", None, O.DeleteBucketEncryption),
    ("PUT /bucket?policy", None, O.PutBucketPolicy),
    ("GET /bucket?policyStatus", None, O.GetBucketPolicyStatus),
    ("GET /bucket?uploads&prefix=x", None, O.ListMultipartUploads),
    ("POST /bucket?delete", None, O.DeleteObjects),
    ("POST /bucket", None, O.PostObject),
    ("PUT /bucket/key", None, O.PutObject),
    ("PUT /bucket/key", "x-amz-copy-source", O.CopyObject),
    ("GET /bucket/key?response-content-type=text/plain", None, O.GetObject),
    ("GET /bucket/key?partNumber=2", None, O.GetObject),
    ("HEAD /bucket/key", None, O.HeadObject),
    ("DELETE /bucket/key", None, O.DeleteObject),
    ("POST /bucket/key?uploads", None, O.CreateMultipartUpload),
    ("PUT /bucket/key?partNumber=1&uploadId=U", None, O.UploadPart),
    ("PUT /bucket/key?partNumber=1&uploadId=U", "x-amz-copy-source", O.UploadPartCopy),
    ("POST /bucket/key?uploadId=U", None, O.CompleteMultipartUpload),
    ("DELETE /bucket/key?uploadId=U", None, O.AbortMultipartUpload),
    ("GET /bucket/key?uploadId=U&max-parts=2", None, O.ListParts),
    ("PUT /bucket/key?encryption", None, O.UpdateObjectEncryption),
    ("GET /bucket/key?tagging", None, O.GetObjectTagging),
    ("GET /bucket/key?attributes", None, O.GetObjectAttributes),
    # Object Lock (API reference request syntax of each operation)
    ("PUT /bucket?object-lock", None, O.PutObjectLockConfiguration),
    ("GET /bucket?object-lock", None, O.GetObjectLockConfiguration),
    ("PUT /bucket/key?retention&versionId=V", None, O.PutObjectRetention),
    ("GET /bucket/key?retention&versionId=V", None, O.GetObjectRetention),
    ("PUT /bucket/key?legal-hold&versionId=V", None, O.PutObjectLegalHold),
    ("GET /bucket/key?legal-hold", None, O.GetObjectLegalHold),
    ("DELETE /bucket?object-lock", None, None),  # no such operation: never DeleteBucket
    ("DELETE /bucket/key?retention", None, None),  # never DeleteObject
    ("PUT /bucket?tagging", None, O.PutBucketTagging),
    ("GET /bucket?tagging", None, O.GetBucketTagging),  # not ListObjects
    ("DELETE /bucket?tagging", None, O.DeleteBucketTagging),  # not DeleteBucket
    ("PUT /bucket?cors", None, O.PutBucketCors),
    ("GET /bucket?cors", None, O.GetBucketCors),
    ("DELETE /bucket?cors", None, O.DeleteBucketCors),
    ("GET /bucket?lifecycle", None, O.GetBucketLifecycleConfiguration),
    ("GET /bucket?website", None, O.GetBucketWebsite),
    ("GET /bucket?replication", None, O.GetBucketReplication),
    ("GET /bucket?logging", None, O.GetBucketLogging),
    ("GET /bucket?accelerate", None, O.GetBucketAccelerateConfiguration),
    ("GET /bucket?requestPayment", None, O.GetBucketRequestPayment),
    ("GET /bucket?notification", None, O.GetBucketNotificationConfiguration),
    ("GET /bucket?analytics", None, O.ListBucketAnalyticsConfigurations),
    ("GET /bucket?analytics&id=a", None, O.ListBucketAnalyticsConfigurations),  # its handler: the Get
    ("GET /bucket?metrics&continuation-token=t", None, O.ListBucketMetricsConfigurations),
    ("GET /bucket?inventory", None, O.ListBucketInventoryConfigurations),
    ("GET /bucket?intelligent-tiering", None, O.ListBucketIntelligentTieringConfigurations),
    # Sub-resources with no rule for the method: 501, never the plain operation.
    ("PUT /bucket?versioning", None, O.PutBucketVersioning),  # not CreateBucket
    ("GET /bucket?lifecycle", None, O.GetBucketLifecycleConfiguration),
    ("PUT /bucket?lifecycle", None, O.PutBucketLifecycleConfiguration),
    ("DELETE /bucket?lifecycle", None, O.DeleteBucketLifecycle),
    ("DELETE /bucket?website", None, None),  # not DeleteBucket
    ("GET /bucket?session", None, None),  # not ListObjects
    ("PUT /bucket/key?renameObject", None, None),  # not PutObject
    ("GET /bucket/key?torrent", None, None),
    ("GET /bucket/key?cors", None, None),  # not GetObject
]


@pytest.mark.parametrize(
    ("line", "header", "expected"), ROWS, ids=[r[0] + (" +" + r[1] if r[1] else "") for r in ROWS]
)
def test_route(line: str, header: str | None, expected: O | None) -> None:
    method, target = line.split(" ", 1)
    path, _, query = target.partition("?")
    parts = path.strip("/").split("/", 1)
    bucket = bool(parts[0])
    key = len(parts) > 1 and bool(parts[1])
    headers = {header: "/src/k"} if header else {}
    assert (
        route(method, bucket, key, MultiDict(parse_qsl(query, keep_blank_values=True)), headers) is expected
    )


def test_operations_are_distinct_members() -> None:
    """Many operations share an IAM action; none may become an alias of another."""
    assert len({op.name for op in O}) == len(list(O)) == len(O.__members__)
