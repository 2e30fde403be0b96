"""The KMS: a built-in, AWS-KMS-compatible key management service, or a client for an external one.

- `builtin`: symmetric keys, their states, rotation, aliases, Encrypt/Decrypt/GenerateDataKey;
  `store` keeps keys, aliases and key material (sealed under the root key by `sealing`)
  in the catalog's SQLite file; `ciphertext` is the blob format.
- `external`: the same operations from any AWS-KMS-compatible endpoint (`--kms-endpoint`).
- `service`: `KeyService`, what the vault needs of a KMS; `adapter`: its implementation, with the
  S3 Bucket Key cache.
- `api` (with `api_operations`, `shapes`, `errors`): the AWS KMS JSON protocol, without HTTP
  (its HTTP side is `s3/kms_http.py`).
- `access`: who may use or manage a key; the one decision for S3's SSE-KMS path and the KMS API.
- `cli`: `strongroom kms ...`.
"""
