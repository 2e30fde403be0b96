"""UpdateObjectEncryption (`PUT /bucket/key?encryption`) against a real server with its built-in KMS.

An object moves from SSE-S3 to SSE-KMS, to another KMS key, or gains an S3 Bucket Key, without its data
being rewritten: every blob keeps its bytes and its mtime; ETag, checksums, size and last-modified stay
(S3 API reference, UpdateObjectEncryption). Errors are those the operation's documentation lists, and
a failed update changes nothing.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import os
import re
import time
from pathlib import Path

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import error_of, fails, md5_b64, ssec
from tests.integration.server import RunningServer

ARGS = ("--behind-tls-proxy", "--allow-sse-c-new-buckets")
MIB = 1024 * 1024
SOURCE = ("The UpdateObjectEncryption operation doesn't support source objects with the encryption type "
          "DSSE-KMS or SSE-C. Only source objects encrypted with SSE-S3 or SSE-KMS are supported.")
BAD_ARN = ("Requests that modify an object's encryption type to SSE-KMS require a valid AWS KMS key "
           "Amazon Resource Name (ARN). Confirm that you have a correctly formatted KMS key ARN in your "
           "request, and then try again.")
NO_ARN = ("Requests that modify an object's encryption type to SSE-KMS require an AWS KMS key Amazon "
          "Resource Name (ARN). Modify the request to specify a KMS key ARN, and then try again.")
NEW_TYPE = ("Requests that modify an object encryption configuration require a valid new encryption type. "
            "Valid values are SSEKMS. Modify the request to specify SSE-KMS for the updated encryption type, "
            "and then try again.")
BAD_BUCKET_KEY = ("The BucketKeyEnabled value isn't valid. Valid values are true or false. Modify the "
                  "request to specify a valid value, and then try again.")
OTHER_ACCOUNT = ("The AWS KMS key in the request must be owned by the same account as the bucket. "
                 "Modify the request to specify a KMS key from the same account, and then try again.")
SIGV4 = ("Requests that modify an object encryption configuration require AWS Signature Version 4. Modify "
         "the request to use AWS Signature Version 4, and then try again.")


@pytest.fixture(scope="module")
def server(start_module_server: ServerFactory) -> RunningServer:
    return start_module_server(*ARGS)


@pytest.fixture
def key(kms) -> dict:
    return kms.create_key()["KeyMetadata"]


@pytest.fixture
def key2(kms) -> dict:
    return kms.create_key()["KeyMetadata"]


def blobs(server: RunningServer) -> dict[Path, tuple[bytes, int]]:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (server.data_dir / "blobs").rglob("*")
            if p.is_file()}


def update(s3, bucket: str, name: str, arn: str, **sse_kms: object) -> dict:
    return s3.update_object_encryption(Bucket=bucket, Key=name,
                                       ObjectEncryption={"SSEKMS": {"KMSKeyArn": arn, **sse_kms}})


def state(s3, bucket: str, name: str, **extra: object) -> dict:
    """What must not change, and the encryption that must."""
    head = s3.head_object(Bucket=bucket, Key=name, ChecksumMode="ENABLED", **extra)
    keep = ("ETag", "LastModified", "ContentLength", "ChecksumCRC32", "ChecksumType", "ContentType",
            "Metadata")
    return {k: head.get(k) for k in keep + ("ServerSideEncryption", "SSEKMSKeyId", "BucketKeyEnabled")}


def encryption(**values: object) -> dict[str, object]:
    return {"ServerSideEncryption": None, "SSEKMSKeyId": None, "BucketKeyEnabled": None, **values}


def test_sse_s3_to_kms_and_on_without_touching_data(server: RunningServer, s3, kms, bucket: str,
                                                    key: dict, key2: dict) -> None:
    data = os.urandom(200_000)
    s3.put_object(Bucket=bucket, Key="one", Body=data, ChecksumAlgorithm="CRC32", Metadata={"m": "v"})
    parts = [os.urandom(5 * MIB), os.urandom(70_000)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="multi")["UploadId"]
    listed = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="multi", UploadId=uid, PartNumber=n,
                                                       Body=body)["ETag"]} for n, body in enumerate(parts, 1)]
    s3.complete_multipart_upload(Bucket=bucket, Key="multi", UploadId=uid, MultipartUpload={"Parts": listed})
    before = {name: state(s3, bucket, name) for name in ("one", "multi")}
    assert before["one"]["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert before["one"]["ChecksumCRC32"] and before["multi"]["ETag"].endswith('-2"')
    on_disk = blobs(server)
    assert len(on_disk) >= 3
    time.sleep(1.1)  # a rewritten object would show a later Last-Modified
    for name in ("one", "multi"):
        response = update(s3, bucket, name, key["Arn"])
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert state(s3, bucket, name) == {**before[name], **encryption(ServerSideEncryption="aws:kms",
                                                                         SSEKMSKeyId=key["Arn"])}
    # Another key, with a Bucket Key; then the first key is no longer needed.
    for name in ("one", "multi"):
        update(s3, bucket, name, key2["Arn"], BucketKeyEnabled=True)
        assert state(s3, bucket, name) == {**before[name], **encryption(
            ServerSideEncryption="aws:kms", SSEKMSKeyId=key2["Arn"], BucketKeyEnabled=True)}
    assert blobs(server) == on_disk, "no blob was rewritten"
    kms.disable_key(KeyId=key["KeyId"])
    assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == data
    assert s3.get_object(Bucket=bucket, Key="multi")["Body"].read() == b"".join(parts)
    ranged = s3.get_object(Bucket=bucket, Key="multi", Range=f"bytes={5 * MIB - 3}-{5 * MIB + 3}")
    assert ranged["Body"].read() == b"".join(parts)[5 * MIB - 3:5 * MIB + 4]
    listed_back = {o["Key"]: (o["ETag"], o["Size"]) for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed_back == {n: (before[n]["ETag"], before[n]["ContentLength"]) for n in ("one", "multi")}
    # The object now depends on the new key alone.
    kms.disable_key(KeyId=key2["KeyId"])
    assert error_of(fails(s3.get_object, Bucket=bucket, Key="one"))["Code"] == "KMS.DisabledException"
    kms.enable_key(KeyId=key2["KeyId"])


def test_aws_cli(server: RunningServer, s3, bucket: str, key: dict) -> None:
    s3.put_object(Bucket=bucket, Key="cli", Body=b"via the cli")
    server.aws("s3api", "update-object-encryption", "--bucket", bucket, "--key", "cli",
               "--object-encryption", json.dumps({"SSEKMS": {"KMSKeyArn": key["Arn"]}}))
    head = json.loads(server.aws("s3api", "head-object", "--bucket", bucket, "--key", "cli").stdout)
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key["Arn"])


# --- errors leave the object as it was --------------------------------------------------------------


def assert_unchanged(s3, bucket: str, name: str, before: dict, **extra: object) -> None:
    assert state(s3, bucket, name, **extra) == before


def test_sources_it_cannot_update(s3, bucket: str, key: dict) -> None:
    s3.put_object(Bucket=bucket, Key="c", Body=b"customer", **ssec())
    s3.put_object(Bucket=bucket, Key="d", Body=b"dual", ServerSideEncryption="aws:kms:dsse")
    for name, extra in (("c", ssec()), ("d", {})):
        before = state(s3, bucket, name, **extra)
        err = error_of(fails(update, s3, bucket, name, key["Arn"]))
        assert (err["status"], err["Code"], err["Message"]) == (400, "InvalidRequest", SOURCE)
        assert_unchanged(s3, bucket, name, before, **extra)


def test_key_errors(s3, kms, bucket: str, key: dict) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    before = state(s3, bucket, "k")
    account, region = key["Arn"].split(":")[4], key["Arn"].split(":")[3]
    other_account = "111122223333" if account != "111122223333" else "444455556666"
    missing = f"arn:aws:kms:{region}:{account}:key/00000000-0000-4000-8000-000000000000"
    cases = [
        (key["KeyId"], (400, "InvalidRequest", BAD_ARN)),
        (f"arn:aws:kms:{region}:{account}:alias/something", (400, "InvalidRequest", BAD_ARN)),
        (key["Arn"].replace(account, other_account), (403, "AccessDenied", OTHER_ACCOUNT)),
        (missing, (400, "KMS.NotFoundException", f"Key '{missing}' does not exist")),
    ]
    for arn, expected in cases:
        err = error_of(fails(update, s3, bucket, "k", arn))
        assert (err["status"], err["Code"], err["Message"]) == expected, arn
    kms.disable_key(KeyId=key["KeyId"])
    err = error_of(fails(update, s3, bucket, "k", key["Arn"]))
    assert (err["status"], err["Code"]) == (400, "KMS.DisabledException")
    assert_unchanged(s3, bucket, "k", before)
    kms.enable_key(KeyId=key["KeyId"])


def test_missing_object_and_sigv2(server: RunningServer, s3, bucket: str, key: dict) -> None:
    err = error_of(fails(update, s3, bucket, "absent", key["Arn"]))
    assert (err["status"], err["Code"]) == (404, "NoSuchKey")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    body = document(f"<SSE-KMS><KMSKeyArn>{key['Arn']}</KMSKeyArn></SSE-KMS>")
    status, data = sigv2_put(server, f"/{bucket}/k?encryption", body)
    assert (status, re.search(rb"<Message>(.*?)</Message>", data).group(1).decode()) == (400, SIGV4)
    assert b"<Code>InvalidRequest</Code>" in data
    assert s3.head_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "AES256"


def sigv2_put(server: RunningServer, path: str, body: bytes) -> tuple[int, bytes]:
    """A SigV2-signed PUT whose signed resource keeps the ?encryption sub-resource (botocore's HmacV1Auth
    leaves it out, which strongroom answers with SignatureDoesNotMatch before any handler runs)."""
    headers = {**with_md5(body), "Date": email.utils.formatdate(usegmt=True),
               "Content-Type": "application/xml"}
    to_sign = f"PUT\n{headers['Content-MD5']}\n{headers['Content-Type']}\n{headers['Date']}\n{path}"
    digest = hmac.new(server.secret_key.encode(), to_sign.encode(), hashlib.sha1).digest()
    headers["Authorization"] = f"AWS {server.access_key}:{base64.b64encode(digest).decode()}"
    reply = server.raw("PUT", path, body, headers, sign=False)
    return reply.status, reply.body


def document(inner: str) -> bytes:
    return (f'<ObjectEncryption xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</ObjectEncryption>'
            ).encode()


def with_md5(body: bytes) -> dict[str, str]:
    return {"Content-MD5": md5_b64(body)}


def test_document_errors(server: RunningServer, s3, bucket: str, key: dict) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    before = state(s3, bucket, "k")
    arn = f"<KMSKeyArn>{key['Arn']}</KMSKeyArn>"
    cases = [
        (document(""), "InvalidRequest", NEW_TYPE),
        (document("<SSE-S3></SSE-S3>"), "InvalidRequest", NEW_TYPE),
        (document("<SSE-KMS></SSE-KMS>"), "InvalidRequest", NO_ARN),
        (document(f"<SSE-KMS>{arn}<BucketKeyEnabled>maybe</BucketKeyEnabled></SSE-KMS>"), "InvalidRequest",
         BAD_BUCKET_KEY),
        (document(f"<SSE-KMS>{arn}</SSE-KMS><SSE-KMS>{arn}</SSE-KMS>"), "InvalidRequest", NEW_TYPE),
        (document(f"<SSE-KMS>{arn}<Unknown/></SSE-KMS>"), "MalformedXML", None),
        (b"<ObjectEncryption><SSE-KMS>", "MalformedXML", None),
    ]
    for body, code, message in cases:
        reply = server.raw("PUT", f"/{bucket}/k?encryption", body, with_md5(body))
        status, data = reply.status, reply.body
        assert (status, re.search(rb"<Code>(.*?)</Code>", data).group(1).decode()) == (400, code), body
        if message is not None:
            assert f"<Message>{message}</Message>".replace("'", "&apos;").encode() in data, data
    good = document(f"<SSE-KMS>{arn}</SSE-KMS>")
    reply = server.raw("PUT", f"/{bucket}/k?encryption", good)  # no Content-MD5, no checksum
    status, data = reply.status, reply.body
    assert status == 400 and b"<Code>InvalidRequest</Code>" in data and b"Content-MD5" in data
    assert_unchanged(s3, bucket, "k", before)
    status = server.raw("PUT", f"/{bucket}/k?encryption", good, with_md5(good)).status
    assert status == 200
    assert s3.head_object(Bucket=bucket, Key="k")["SSEKMSKeyId"] == key["Arn"]
    # The bucket-level ?encryption is another operation.
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_a_noncurrent_version_by_its_id(s3, bucket: str, key: dict) -> None:
    """Each version has its own sealed key: UpdateObjectEncryption with a versionId re-seals that version
    alone, in place (no new version), and both still read back."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="v", Body=b"old")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v", Body=b"new")
    s3.update_object_encryption(Bucket=bucket, Key="v", VersionId=old,
                                ObjectEncryption={"SSEKMS": {"KMSKeyArn": key["Arn"]}})
    assert state(s3, bucket, "v", VersionId=old)["SSEKMSKeyId"] == key["Arn"]
    assert state(s3, bucket, "v")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="v", VersionId=old)["Body"].read() == b"old"
    assert s3.get_object(Bucket=bucket, Key="v")["Body"].read() == b"new"
    assert len(s3.list_object_versions(Bucket=bucket, Prefix="v")["Versions"]) == 2
