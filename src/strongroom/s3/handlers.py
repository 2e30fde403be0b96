"""The table of implemented operations: the one list of what strongroom serves, and the list of routed
operations it does not implement (answered 501 NotImplemented). A test keeps every `Operation` in
exactly one of the two."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from strongroom.s3 import (
    acl,
    bucket_encryption,
    bucket_logging,
    bucket_policy,
    buckets,
    cors,
    deletes,
    lifecycle,
    listing,
    multipart,
    multipart_list,
    object_attributes,
    object_lock,
    objects,
    ownership,
    post_object,
    public_access_block,
    service,
    tagging,
    unconfigured,
    update_encryption,
    versioning,
)
from strongroom.s3.context import Ctx
from strongroom.s3.routing import Operation

Handler = Callable[[Ctx], Awaitable[web.StreamResponse]]

O = Operation  # noqa: E741 - short alias keeps the table readable

HANDLERS: dict[Operation, Handler] = {
    # the service
    O.ListBuckets: buckets.list_buckets,
    O.PostService: service.post_service,  # KMS JSON API and STS, told apart by the handler
    # buckets
    O.CreateBucket: buckets.create_bucket,
    O.DeleteBucket: buckets.delete_bucket,
    O.HeadBucket: buckets.head_bucket,
    O.GetBucketLocation: buckets.get_bucket_location,
    O.GetBucketVersioning: versioning.get_bucket_versioning,
    O.PutBucketVersioning: versioning.put_bucket_versioning,
    # listings
    O.ListObjects: listing.list_objects,
    O.ListObjectsV2: listing.list_objects_v2,
    O.ListObjectVersions: listing.list_object_versions,
    O.ListMultipartUploads: multipart_list.list_multipart_uploads,
    O.ListParts: multipart_list.list_parts,
    # bucket default encryption
    O.PutBucketEncryption: bucket_encryption.put_bucket_encryption,
    O.GetBucketEncryption: bucket_encryption.get_bucket_encryption,
    O.DeleteBucketEncryption: bucket_encryption.delete_bucket_encryption,
    # bucket tags and CORS
    O.PutBucketTagging: tagging.put_bucket_tagging,
    O.GetBucketTagging: tagging.get_bucket_tagging,
    O.DeleteBucketTagging: tagging.delete_bucket_tagging,
    O.PutBucketCors: cors.put_bucket_cors,
    O.GetBucketCors: cors.get_bucket_cors,
    O.DeleteBucketCors: cors.delete_bucket_cors,
    # sub-resources strongroom does not configure: AWS's "not configured" answers (their writes are 501)
    O.GetBucketWebsite: unconfigured.get_bucket_website,
    O.GetBucketReplication: unconfigured.get_bucket_replication,
    O.GetBucketAccelerateConfiguration: unconfigured.get_bucket_accelerate_configuration,
    O.GetBucketRequestPayment: unconfigured.get_bucket_request_payment,
    O.GetBucketNotificationConfiguration: unconfigured.get_bucket_notification_configuration,
    O.ListBucketAnalyticsConfigurations: unconfigured.list_bucket_analytics_configurations,
    O.ListBucketMetricsConfigurations: unconfigured.list_bucket_metrics_configurations,
    O.ListBucketInventoryConfigurations: unconfigured.list_bucket_inventory_configurations,
    O.ListBucketIntelligentTieringConfigurations: unconfigured.list_bucket_intelligent_tiering_configurations,
    # access control
    O.PutBucketPolicy: bucket_policy.put_bucket_policy,
    O.GetBucketPolicy: bucket_policy.get_bucket_policy,
    O.DeleteBucketPolicy: bucket_policy.delete_bucket_policy,
    O.GetBucketPolicyStatus: bucket_policy.get_bucket_policy_status,
    O.GetBucketAcl: acl.get_bucket_acl,
    O.PutBucketAcl: acl.put_bucket_acl,
    O.GetObjectAcl: acl.get_object_acl,
    O.PutObjectAcl: acl.put_object_acl,
    O.PutBucketOwnershipControls: ownership.put_bucket_ownership_controls,
    O.GetBucketOwnershipControls: ownership.get_bucket_ownership_controls,
    O.DeleteBucketOwnershipControls: ownership.delete_bucket_ownership_controls,
    O.PutPublicAccessBlock: public_access_block.put_public_access_block,
    O.GetPublicAccessBlock: public_access_block.get_public_access_block,
    O.DeletePublicAccessBlock: public_access_block.delete_public_access_block,
    # server access logging
    O.PutBucketLogging: bucket_logging.put_bucket_logging,
    O.GetBucketLogging: bucket_logging.get_bucket_logging,
    # Object Lock
    O.PutObjectLockConfiguration: object_lock.put_object_lock_configuration,
    O.GetObjectLockConfiguration: object_lock.get_object_lock_configuration,
    # Lifecycle
    O.PutBucketLifecycleConfiguration: lifecycle.put_bucket_lifecycle_configuration,
    O.GetBucketLifecycleConfiguration: lifecycle.get_bucket_lifecycle_configuration,
    O.DeleteBucketLifecycle: lifecycle.delete_bucket_lifecycle,
    O.PutObjectRetention: object_lock.put_object_retention,
    O.GetObjectRetention: object_lock.get_object_retention,
    O.PutObjectLegalHold: object_lock.put_object_legal_hold,
    O.GetObjectLegalHold: object_lock.get_object_legal_hold,
    # objects
    O.PutObject: objects.put_object,
    O.PostObject: post_object.post_object,
    O.CopyObject: objects.copy_object,
    O.GetObject: objects.get_object,
    O.HeadObject: objects.get_object,
    O.GetObjectAttributes: object_attributes.get_object_attributes,
    O.DeleteObject: deletes.delete_object,
    O.DeleteObjects: deletes.delete_objects,
    O.UpdateObjectEncryption: update_encryption.update_object_encryption,
    O.GetObjectTagging: tagging.get_object_tagging,
    O.PutObjectTagging: tagging.put_object_tagging,
    O.DeleteObjectTagging: tagging.delete_object_tagging,
    # multipart uploads
    O.CreateMultipartUpload: multipart.create_multipart_upload,
    O.UploadPart: multipart.upload_part,
    O.UploadPartCopy: multipart.upload_part_copy,
    O.CompleteMultipartUpload: multipart.complete_multipart_upload,
    O.AbortMultipartUpload: multipart.abort_multipart_upload,
}

# Routed operations without a handler: the dispatcher answers them 501 NotImplemented, by name here so
# that a new routing rule cannot fall silently into 501.
NOT_IMPLEMENTED: frozenset[Operation] = frozenset()
