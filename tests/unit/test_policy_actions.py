"""The action catalogue: what it must contain, and how action patterns expand over it."""

from __future__ import annotations

import pytest

from strongroom.policy import ALL_ACTIONS, KMS_ACTIONS, S3_ACTIONS, STS_ACTIONS
from strongroom.policy.actions import S3_BUCKET_ACTIONS, S3_OBJECT_ACTIONS, S3_OTHER_ACTIONS, expand

_NEEDED = """
s3:GetObject s3:PutObject s3:ListBucket s3:ListBucketMultipartUploads s3:ListMultipartUploadParts
s3:AbortMultipartUpload s3:PutEncryptionConfiguration s3:GetEncryptionConfiguration s3:PutBucketPolicy
s3:GetBucketPolicy s3:DeleteBucketPolicy s3:GetBucketPolicyStatus s3:CreateBucket s3:DeleteBucket
s3:ListAllMyBuckets s3:GetBucketLocation s3:DeleteObject s3:GetObjectAcl s3:PutObjectAcl s3:GetBucketAcl
s3:PutBucketAcl s3:PutBucketPublicAccessBlock s3:GetBucketPublicAccessBlock s3:GetObjectTagging
s3:PutObjectTagging s3:DeleteObjectTagging s3:GetObjectAttributes s3:PutBucketOwnershipControls
s3:GetBucketOwnershipControls s3:ListBucketVersions s3:GetBucketVersioning s3:PutBucketVersioning
s3:GetObjectVersion s3:DeleteObjectVersion s3:UpdateObjectEncryption
kms:CreateKey kms:DescribeKey kms:ListKeys kms:CreateAlias kms:UpdateAlias kms:DeleteAlias kms:ListAliases
kms:EnableKey kms:DisableKey kms:ScheduleKeyDeletion kms:CancelKeyDeletion kms:Encrypt kms:Decrypt
kms:ReEncryptFrom kms:ReEncryptTo kms:GenerateDataKey kms:GenerateDataKeyWithoutPlaintext
kms:EnableKeyRotation kms:DisableKeyRotation kms:GetKeyRotationStatus kms:RotateKeyOnDemand kms:TagResource
kms:UntagResource kms:ListResourceTags kms:GetKeyPolicy kms:PutKeyPolicy kms:ListKeyRotations
sts:GetCallerIdentity
"""
NEEDED = _NEEDED.split()


@pytest.mark.parametrize("action", NEEDED)
def test_catalogue_has(action: str) -> None:
    assert action in ALL_ACTIONS


def test_s3_resource_types_partition_the_s3_actions() -> None:
    assert not S3_OBJECT_ACTIONS & S3_BUCKET_ACTIONS
    assert not (S3_OBJECT_ACTIONS | S3_BUCKET_ACTIONS) & S3_OTHER_ACTIONS
    assert S3_ACTIONS == S3_OBJECT_ACTIONS | S3_BUCKET_ACTIONS | S3_OTHER_ACTIONS
    assert ALL_ACTIONS == S3_ACTIONS | KMS_ACTIONS | STS_ACTIONS
    assert {"s3:GetObject", "s3:ListMultipartUploadParts"} <= S3_OBJECT_ACTIONS
    assert {"s3:ListBucket", "s3:PutEncryptionConfiguration"} <= S3_BUCKET_ACTIONS
    assert "s3:ListAllMyBuckets" in S3_OTHER_ACTIONS


def test_expand() -> None:
    assert expand("s3:getobject", ["s3"]) == {"s3:GetObject"}
    assert expand("s3:GetObject", ["kms"]) == frozenset()
    assert expand("s3:Get*Policy", ["s3"]) >= {"s3:GetBucketPolicy", "s3:GetAccessPointPolicy"}
    assert expand("s3:Get*Policy", ["s3"]) <= S3_ACTIONS
    assert expand("kms:ReEncrypt*", ["kms"]) == {"kms:ReEncryptFrom", "kms:ReEncryptTo"}
    assert expand("*", ["s3", "kms"]) == S3_ACTIONS | KMS_ACTIONS
    assert expand("s3:*", ["s3"]) == S3_ACTIONS
    assert expand("*:GetObject", ["s3"]) == frozenset()
    assert expand("s3:Nope*", ["s3"]) == frozenset()
    assert expand("nope", ["s3"]) == frozenset()
