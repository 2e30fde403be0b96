"""Access control, the models: ACLs, Object Ownership, Block Public Access, bucket policies, the policy
engine's view of a request, the state that decides access to a bucket, and the ACL a write carries.

Pure of handlers: nothing here imports a handler module (`strongroom.s3.acl`, `.ownership`,
`.public_access_block`, `.bucket_policy`, `.objects`...), so that the handlers and `authorization`
both build on these modules and nothing imports back up.
"""
