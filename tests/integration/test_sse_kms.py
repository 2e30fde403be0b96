"""SSE-KMS and DSSE-KMS on objects, through real requests against a real server and its built-in KMS.

Key ids in every form; the aws/s3 managed key; the encryption context; S3 Bucket Keys (and how few KMS
calls a burst of PUTs makes); the bucket default; the KMS errors S3 reports on PUT and on GET (disabled,
pending deletion, gone after the deletion window: crypto-shredding); SigV4 required; DSSE-KMS's two
layers; failing closed when the KMS cannot be reached; no key material in any file or in the log.

The server's KMS "day" is one second (STRONGROOM_KMS_DAY_SECONDS), so a 7-day deletion window is 7 s.
AWS's answers: AWS-NOTES.md (SSE-KMS table), botocore's service-2.json for which operation returns which
header, the S3 API reference for the SigV4 requirement.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import (
    KEY1,
    assert_absent,
    blob_files,
    distinctive,
    error_code,
    error_of,
    fails,
    files_under,
    free_port,
    ssec,
    status_of,
)
from tests.integration.server import RunningServer

ARGS = ("--behind-tls-proxy", "--allow-sse-c-new-buckets", "--log-level", "DEBUG")
DAY = {"STRONGROOM_KMS_DAY_SECONDS": "1"}
SEGMENT = 64 * 1024
MIB = 1024 * 1024
SSE_HEADERS = ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
               "x-amz-server-side-encryption-bucket-key-enabled", "x-amz-server-side-encryption-context")
NEEDS_SIGV4 = ("Requests specifying Server Side Encryption with AWS KMS managed keys require AWS Signature "
               "Version 4.")


@pytest.fixture(scope="module")
def server(start_module_server: ServerFactory) -> RunningServer:
    return start_module_server(*ARGS, env=DAY)


@pytest.fixture
def key(kms) -> dict:
    return kms.create_key(Description="sse-kms test key")["KeyMetadata"]


def sse_headers(response: dict) -> dict[str, str]:
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    return {name: headers[name] for name in SSE_HEADERS if name in headers}


def kms_headers(arn: str, *, bucket_key: bool = False, algorithm: str = "aws:kms") -> dict[str, str]:
    expected = {"x-amz-server-side-encryption": algorithm, "x-amz-server-side-encryption-aws-kms-key-id": arn}
    if bucket_key:
        expected["x-amz-server-side-encryption-bucket-key-enabled"] = "true"
    return expected


def put_kms(s3, bucket: str, name: str, body: bytes, key: dict, **extra: object) -> dict:
    return s3.put_object(Bucket=bucket, Key=name, Body=body, ServerSideEncryption="aws:kms",
                         SSEKMSKeyId=key["KeyId"], **extra)


def log_count(server: RunningServer, what: str) -> int:
    """KMS calls the server made, from its DEBUG log ("KMS GenerateDataKey #n", "KMS Decrypt #n")."""
    return len(re.findall(rf"KMS {what} #\d+", server.log()))


# --- keys, headers, ETags --------------------------------------------------------------------------


def test_every_key_id_form(s3, kms, bucket: str, key: dict) -> None:
    alias = "alias/sse-" + secrets.token_hex(4)
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    account, region = key["Arn"].split(":")[4], key["Arn"].split(":")[3]
    forms = [key["KeyId"], key["Arn"], alias, f"arn:aws:kms:{region}:{account}:{alias}"]
    for i, form in enumerate(forms):
        put = s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"kms data", ServerSideEncryption="aws:kms",
                            SSEKMSKeyId=form)
        assert sse_headers(put) == kms_headers(key["Arn"]), form
        got = s3.get_object(Bucket=bucket, Key=f"k{i}")
        assert got["Body"].read() == b"kms data"
        assert sse_headers(got) == kms_headers(key["Arn"])
        assert sse_headers(s3.head_object(Bucket=bucket, Key=f"k{i}")) == kms_headers(key["Arn"])


def test_etag_is_not_the_md5(s3, bucket: str, key: dict) -> None:
    import hashlib

    etags = {s3.put_object(Bucket=bucket, Key=f"e{i}", Body=b"same", ServerSideEncryption="aws:kms",
                           SSEKMSKeyId=key["KeyId"])["ETag"] for i in range(2)}
    assert len(etags) == 2 and f'"{hashlib.md5(b"same").hexdigest()}"' not in etags


def test_no_key_id_uses_the_aws_s3_managed_key(s3, kms, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="m", Body=b"managed", ServerSideEncryption="aws:kms")
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases.get("alias/aws/s3"), aliases
    assert put["SSEKMSKeyId"].endswith(":key/" + aliases["alias/aws/s3"])
    assert s3.get_object(Bucket=bucket, Key="m")["Body"].read() == b"managed"


def b64json(value: dict[str, object]) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def test_encryption_context(s3, bucket: str, key: dict) -> None:
    context = b64json({"project": "strongroom"})
    put = s3.put_object(Bucket=bucket, Key="c", Body=b"ctx", ServerSideEncryption="aws:kms",
                        SSEKMSKeyId=key["KeyId"], SSEKMSEncryptionContext=context)
    merged = {"project": "strongroom", "aws:s3:arn": f"arn:aws:s3:::{bucket}/c"}
    assert json.loads(base64.b64decode(put["SSEKMSEncryptionContext"])) == merged
    got = s3.get_object(Bucket=bucket, Key="c")  # GET and HEAD never return the context
    assert got["Body"].read() == b"ctx" and "SSEKMSEncryptionContext" not in got
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="aws:kms",
                                        SSEKMSKeyId=key["KeyId"], SSEKMSEncryptionContext=context)
    assert json.loads(base64.b64decode(upload["SSEKMSEncryptionContext"]))["project"] == "strongroom"
    # A copy takes the context of its own request, never the source's.
    copied = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "c"},
                            ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    assert "SSEKMSEncryptionContext" not in copied
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"ctx"


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"[1, 2]").decode(),
                                   b64json({"n": 1})])
def test_invalid_encryption_context(s3, bucket: str, key: dict, value: str) -> None:
    err = error_of(fails(s3.put_object, Bucket=bucket, Key="bad", Body=b"x", ServerSideEncryption="aws:kms",
                         SSEKMSKeyId=key["KeyId"], SSEKMSEncryptionContext=value))
    assert (err["status"], err["Code"], err["ArgumentName"]) == (400, "InvalidArgument",
                                                                 "x-amz-server-side-encryption-context")
    assert err["Message"] == ("The header 'x-amz-server-side-encryption-context' shall be Base64-encoded "
                              "UTF-8 string holding JSON which represents a string-string map")
    assert_absent(s3, bucket, "bad")


def test_bucket_key_headers_and_the_bucket_default(s3, bucket: str, key: dict) -> None:
    put = s3.put_object(Bucket=bucket, Key="bk", Body=b"bk", ServerSideEncryption="aws:kms",
                        SSEKMSKeyId=key["KeyId"], BucketKeyEnabled=True)
    assert sse_headers(put) == kms_headers(key["Arn"], bucket_key=True)
    assert sse_headers(s3.get_object(Bucket=bucket, Key="bk")) == kms_headers(key["Arn"], bucket_key=True)
    assert sse_headers(s3.head_object(Bucket=bucket, Key="bk")) == kms_headers(key["Arn"], bucket_key=True)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["KeyId"]},
        "BucketKeyEnabled": True}]})
    plain = s3.put_object(Bucket=bucket, Key="default", Body=b"by default")
    assert sse_headers(plain) == kms_headers(key["Arn"], bucket_key=True)
    # The request's Bucket Key setting wins over the bucket's.
    off = s3.put_object(Bucket=bucket, Key="off", Body=b"x", ServerSideEncryption="aws:kms",
                        BucketKeyEnabled=False)
    assert sse_headers(off) == kms_headers(key["Arn"])
    assert s3.get_object(Bucket=bucket, Key="default")["Body"].read() == b"by default"


def test_conflicting_headers(s3, bucket: str, key: dict) -> None:
    requires = ("Server Side Encryption with AWS KMS managed key requires HTTP header "
                "x-amz-server-side-encryption : aws:kms")
    err = error_of(fails(s3.put_object, Bucket=bucket, Key="x", Body=b"x", ServerSideEncryption="AES256",
                         SSEKMSKeyId=key["KeyId"]))
    assert (err["status"], err["Code"], err["Message"]) == (400, "InvalidArgument", requires)
    err = error_of(fails(s3.put_object, Bucket=bucket, Key="x", Body=b"x", SSEKMSKeyId=key["KeyId"]))
    assert (err["status"], err["Code"], err["Message"]) == (400, "InvalidArgument", requires)
    err = error_of(fails(s3.put_object, Bucket=bucket, Key="x", Body=b"x", ServerSideEncryption="aws:kms",
                         SSEKMSKeyId=key["KeyId"], **ssec()))
    assert (err["status"], err["Code"], err["ArgumentValue"]) == (400, "InvalidArgument", "aws:kms")
    assert_absent(s3, bucket, "x")


# --- KMS errors on PUT and GET ---------------------------------------------------------------------


def test_unknown_keys_on_every_write(s3, bucket: str, key: dict) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    missing = re.sub(r"key/.*", "key/" + "0" * 8 + "-0000-4000-8000-" + "0" * 12, key["Arn"])
    cases = {"fake-key-id": "Invalid keyId 'fake-key-id'", missing: f"Key '{missing}' does not exist"}
    for key_id, message in cases.items():
        expected = {"status": 400, "Code": "KMS.NotFoundException", "Message": message}
        calls = [
            (s3.put_object, {"Key": "new", "Body": b"x"}),
            (s3.create_multipart_upload, {"Key": "new"}),
            (s3.copy_object, {"Key": "new", "CopySource": {"Bucket": bucket, "Key": "src"}}),
        ]
        for call, params in calls:
            err = error_of(fails(call, Bucket=bucket, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id,
                                 **params))
            assert {k: err[k] for k in expected} == expected, (call, key_id)
    assert_absent(s3, bucket, "new")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_disabled_key_neither_encrypts_nor_decrypts(s3, kms, bucket: str, key: dict) -> None:
    put_kms(s3, bucket, "k", b"guarded", key)
    s3.put_object(Bucket=bucket, Key="bk", Body=b"bucket key", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=key["KeyId"], BucketKeyEnabled=True)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="aws:kms",
                                     SSEKMSKeyId=key["KeyId"])["UploadId"]
    kms.disable_key(KeyId=key["KeyId"])
    expected = {"status": 400, "Code": "KMS.DisabledException", "Message": f"{key['Arn']} is disabled.",
                "ArgumentName": None, "ArgumentValue": None}
    assert error_of(fails(s3.get_object, Bucket=bucket, Key="k")) == expected
    assert error_of(fails(s3.get_object, Bucket=bucket, Key="bk")) == expected
    # HEAD unwraps nothing (it needs no kms:Decrypt either): the metadata is still there to read.
    assert s3.head_object(Bucket=bucket, Key="k")["SSEKMSKeyId"] == key["Arn"]
    assert error_of(fails(s3.put_object, Bucket=bucket, Key="new", Body=b"x", ServerSideEncryption="aws:kms",
                          SSEKMSKeyId=key["KeyId"])) == expected
    # A cached S3 Bucket Key stops working at once too.
    assert error_of(fails(s3.put_object, Bucket=bucket, Key="new", Body=b"x", ServerSideEncryption="aws:kms",
                          SSEKMSKeyId=key["KeyId"], BucketKeyEnabled=True)) == expected
    assert error_of(fails(s3.upload_part, Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1,
                          Body=b"p")) == expected
    assert error_of(fails(s3.copy_object, Bucket=bucket, Key="new",
                          CopySource={"Bucket": bucket, "Key": "k"})) == expected
    assert_absent(s3, bucket, "new")
    kms.enable_key(KeyId=key["KeyId"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"guarded"
    assert s3.get_object(Bucket=bucket, Key="bk")["Body"].read() == b"bucket key"


def test_deleted_key_shreds_its_objects(s3, kms, bucket: str, key: dict) -> None:
    put_kms(s3, bucket, "k", b"doomed", key)
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    pending = {"status": 400, "Code": "KMS.KMSInvalidStateException",
               "Message": f"{key['Arn']} is pending deletion.", "ArgumentName": None, "ArgumentValue": None}
    assert error_of(fails(s3.get_object, Bucket=bucket, Key="k")) == pending
    assert error_of(fails(s3.put_object, Bucket=bucket, Key="new", Body=b"x", ServerSideEncryption="aws:kms",
                          SSEKMSKeyId=key["KeyId"])) == pending
    kms.cancel_key_deletion(KeyId=key["KeyId"])  # leaves the key disabled, as on AWS
    kms.enable_key(KeyId=key["KeyId"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"doomed"
    deletion = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)["DeletionDate"]
    time.sleep(max(0.0, deletion.timestamp() - time.time()) + 1.5)
    gone = error_of(fails(s3.get_object, Bucket=bucket, Key="k"))
    assert (gone["status"], gone["Code"]) == (400, "KMS.NotFoundException")
    assert s3.head_object(Bucket=bucket, Key="k")["ContentLength"] == len(b"doomed")  # metadata only
    assert "k" in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]  # stored, unreadable


# --- SigV4 only ------------------------------------------------------------------------------------


def raw_error(server: RunningServer, url: str) -> tuple[int, dict[str, str | None]]:
    reply = server.raw("GET", url, sign=False)
    if reply.status < 400:
        return reply.status, {}
    root = ET.fromstring(reply.body)
    names = ("Code", "Message", "ArgumentName", "ArgumentValue")
    return reply.status, {name: root.findtext(name) for name in names}


def test_sigv2_requests_for_kms_objects_are_refused(server: RunningServer, s3, bucket: str,
                                                    key: dict) -> None:
    put_kms(s3, bucket, "kms", b"k", key)
    s3.put_object(Bucket=bucket, Key="plain", Body=b"p")
    v2 = server.client("s3", signature_version="s3")
    plain_url = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "plain"})
    assert "Signature=" in plain_url and "X-Amz-Signature" not in plain_url
    assert raw_error(server, plain_url) == (200, {})
    refused = (400, {"Code": "InvalidArgument", "Message": NEEDS_SIGV4, "ArgumentName": "Authorization",
                     "ArgumentValue": "null"})
    v2_url = v2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "kms"})
    assert raw_error(server, v2_url) == refused
    err = error_of(fails(v2.put_object, Bucket=bucket, Key="v2", Body=b"x", ServerSideEncryption="aws:kms"))
    assert (err["status"], err["Code"], err["Message"]) == (400, "InvalidArgument", NEEDS_SIGV4)
    assert_absent(s3, bucket, "v2")
    # SigV4 presigned URLs are fine.
    v4 = server.client("s3", signature_version="s3v4")
    v4_url = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "kms"})
    assert "X-Amz-Signature=" in v4_url
    got = server.raw("GET", v4_url, sign=False)
    assert (got.status, got.body) == (200, b"k")


def test_anonymous_reads_of_kms_objects_are_refused_even_when_public(server: RunningServer, s3,
                                                                     key: dict) -> None:
    bucket = "public-" + secrets.token_hex(4)
    s3.create_bucket(Bucket=bucket)
    put_kms(s3, bucket, "kms", b"k", key)
    s3.put_object(Bucket=bucket, Key="plain", Body=b"p")
    s3.delete_public_access_block(Bucket=bucket)
    public = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
              "Resource": f"arn:aws:s3:::{bucket}/*"}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [public]}))
    assert raw_error(server, f"{server.endpoint}/{bucket}/plain") == (200, {})
    assert raw_error(server, f"{server.endpoint}/{bucket}/kms") == (400, {
        "Code": "InvalidArgument", "Message": NEEDS_SIGV4, "ArgumentName": "Authorization",
        "ArgumentValue": "null"})


def test_sse_headers_on_a_read_are_refused(server: RunningServer, s3, bucket: str, key: dict) -> None:
    put_kms(s3, bucket, "kms", b"k", key)
    reply = server.raw("GET", f"/{bucket}/kms", headers={"x-amz-server-side-encryption": "aws:kms"})
    status, body = reply.status, reply.body
    assert status == 400 and b"<Code>InvalidArgument</Code>" in body


# --- S3 Bucket Keys: few KMS calls ------------------------------------------------------------------


def test_a_burst_with_a_bucket_key_makes_few_kms_calls(server: RunningServer, s3, bucket: str,
                                                       key: dict) -> None:
    before = log_count(server, "GenerateDataKey")
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"own{i}", Body=b"x", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=key["KeyId"])
    assert log_count(server, "GenerateDataKey") - before == 5  # one data key per object without one
    before = log_count(server, "GenerateDataKey")
    for i in range(50):
        put = s3.put_object(Bucket=bucket, Key=f"burst{i}", Body=b"%d" % i, ServerSideEncryption="aws:kms",
                            SSEKMSKeyId=key["KeyId"], BucketKeyEnabled=True)
        assert put["BucketKeyEnabled"] is True
    assert log_count(server, "GenerateDataKey") - before <= 2
    for i in (0, 25, 49):
        assert s3.get_object(Bucket=bucket, Key=f"burst{i}")["Body"].read() == b"%d" % i


# --- DSSE-KMS ---------------------------------------------------------------------------------------


def test_dsse_two_layers_two_data_keys(server: RunningServer, s3, kms, bucket: str, key: dict) -> None:
    data, marker = distinctive(3 * SEGMENT + 11)
    blobs = blob_files(server)
    generated = log_count(server, "GenerateDataKey")
    put = s3.put_object(Bucket=bucket, Key="d", Body=data, ServerSideEncryption="aws:kms:dsse",
                        SSEKMSKeyId=key["KeyId"], BucketKeyEnabled=True)
    assert sse_headers(put) == kms_headers(key["Arn"], algorithm="aws:kms:dsse")  # no Bucket Key with DSSE
    assert log_count(server, "GenerateDataKey") - generated == 2, "one data key per layer"
    (blob,) = blob_files(server) - blobs
    raw = blob.read_bytes()
    segments = -(-len(data) // SEGMENT)
    assert raw[:8] == b"SRBLOB\x01\x02", "the blob says: two layers"
    assert len(raw) == 8 + len(data) + segments * 2 * 16 and marker not in raw
    decrypts = log_count(server, "Decrypt")
    got = s3.get_object(Bucket=bucket, Key="d")
    assert got["Body"].read() == data
    assert sse_headers(got) == kms_headers(key["Arn"], algorithm="aws:kms:dsse")
    assert log_count(server, "Decrypt") - decrypts == 2
    part = s3.get_object(Bucket=bucket, Key="d", Range=f"bytes={SEGMENT - 5}-{2 * SEGMENT + 5}")
    assert part["Body"].read() == data[SEGMENT - 5:2 * SEGMENT + 6]
    kms.disable_key(KeyId=key["KeyId"])
    assert error_code(fails(s3.get_object, Bucket=bucket, Key="d")) == "KMS.DisabledException"
    kms.enable_key(KeyId=key["KeyId"])


def test_dsse_and_kms_multipart(s3, bucket: str, key: dict) -> None:
    context = b64json({"team": "blue"})
    for algorithm, bucket_key in (("aws:kms", True), ("aws:kms:dsse", False)):
        upload = s3.create_multipart_upload(Bucket=bucket, Key=algorithm, ServerSideEncryption=algorithm,
                                            SSEKMSKeyId=key["KeyId"], BucketKeyEnabled=bucket_key,
                                            SSEKMSEncryptionContext=context)
        expected = kms_headers(key["Arn"], bucket_key=bucket_key, algorithm=algorithm)
        created = sse_headers(upload)
        context_back = base64.b64decode(created.pop("x-amz-server-side-encryption-context"))
        assert json.loads(context_back)["team"] == "blue"
        assert created == expected
        parts = [os.urandom(5 * MIB + 1), os.urandom(SEGMENT + 3)]
        listed = []
        for number, body in enumerate(parts, 1):
            got = s3.upload_part(Bucket=bucket, Key=algorithm, UploadId=upload["UploadId"], PartNumber=number,
                                 Body=body)
            assert sse_headers(got) == expected  # UploadPart: no context
            listed.append({"PartNumber": number, "ETag": got["ETag"]})
        done = s3.complete_multipart_upload(Bucket=bucket, Key=algorithm, UploadId=upload["UploadId"],
                                            MultipartUpload={"Parts": listed})
        assert sse_headers(done) == expected and done["ETag"].endswith('-2"')
        got = s3.get_object(Bucket=bucket, Key=algorithm)
        assert got["Body"].read() == b"".join(parts) and sse_headers(got) == expected


# --- the aws cli -----------------------------------------------------------------------------------


def test_aws_cli_sse_kms(server: RunningServer, s3, bucket: str, key: dict, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(70_000))
    server.aws("s3", "cp", str(source), f"s3://{bucket}/cli", "--sse", "aws:kms",
               "--sse-kms-key-id", key["KeyId"])
    got = s3.get_object(Bucket=bucket, Key="cli")
    assert (got["ServerSideEncryption"], got["SSEKMSKeyId"]) == ("aws:kms", key["Arn"])
    assert got["Body"].read() == source.read_bytes()


# --- failing closed, and no secrets at rest ---------------------------------------------------------


def test_unreachable_kms_fails_closed(start_server: ServerFactory) -> None:
    builtin = start_server(*ARGS)
    try:
        s3 = builtin.client("s3")
        s3.create_bucket(Bucket="closed")
        s3.put_object(Bucket="closed", Key="k", Body=b"needs the kms", ServerSideEncryption="aws:kms")
    finally:
        builtin.stop()
    dead = builtin.restart(*ARGS, "--kms-endpoint", f"http://127.0.0.1:{free_port()}",
                           "--kms-access-key", "AKIDEXAMPLE", "--kms-secret-key", "secret")
    dead.expect_log_errors(r"KMS \w+ at \S+ failed", r"did not answer \w+", r": InternalError$")
    try:
        s3 = dead.client("s3", retries={"total_max_attempts": 1})
        refused = fails(s3.put_object, Bucket="closed", Key="new", Body=b"x", ServerSideEncryption="aws:kms")
        assert (status_of(refused), error_code(refused)) == (500, "InternalError")
        assert status_of(fails(s3.get_object, Bucket="closed", Key="k")) == 500
        s3.put_bucket_encryption(Bucket="closed", ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
        assert status_of(fails(s3.put_object, Bucket="closed", Key="new", Body=b"x")) == 500  # no fallback
        assert status_of(fails(s3.head_object, Bucket="closed", Key="new")) == 404
        explicit = s3.put_object(Bucket="closed", Key="s3", Body=b"x", ServerSideEncryption="AES256")
        assert explicit["ServerSideEncryption"] == "AES256"
    finally:
        dead.stop()


def test_no_key_material_in_files_or_log(server: RunningServer, s3, kms, bucket: str, key: dict) -> None:
    s3.put_object(Bucket=bucket, Key="c", Body=b"customer", **ssec())
    put_kms(s3, bucket, "k", b"kms", key)
    s3.put_object(Bucket=bucket, Key="d", Body=b"dsse", ServerSideEncryption="aws:kms:dsse")
    data_key = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")["Plaintext"]
    assert kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"],
                       )["Plaintext"] == b"p"
    s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    root_key = base64.b64decode(server.key_file.read_text().split()[0])
    secrets_ = {"customer key": KEY1, "data key": data_key, "root key": root_key}
    texts = {name: [value, base64.b64encode(value), value.hex().encode()] for name, value in secrets_.items()}
    log = server.log().encode()
    for path in [*files_under(server.data_dir), None]:
        content = log if path is None else path.read_bytes()
        for name, forms in texts.items():
            assert not any(form in content for form in forms), f"{name} in {path or 'the server log'}"
