"""SSE-C (customer-provided keys) through real requests: every header error with AWS's code, status and
message; the key checked on every read and never needed to complete an upload; range reads and multipart
exactly as SSE-S3; copies in and out of SSE-C; the SSE-C block of a bucket; HTTPS required (TLS served by
strongroom itself, or a TLS proxy in front of it), plain HTTP refused.

AWS's answers are those recorded from AWS (LocalStack TestS3SSECEncryption, validated 2026-02-21) and the
S3 API reference; see AWS-NOTES.md.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

from tests.integration.factory import ServerFactory
from tests.integration.helpers import (
    KEY1,
    KEY2,
    assert_absent,
    blob_files,
    copy_ssec,
    distinctive,
    error_of,
    fails,
    files_under,
    md5_b64,
    new_bucket,
    ssec,
    status_of,
)
from tests.integration.server import RunningServer

SECURE = ("--behind-tls-proxy", "--allow-sse-c-new-buckets")
SEGMENT = 64 * 1024
MIB = 1024 * 1024
NOT_APPLICABLE = "The encryption parameters are not applicable to this object."
NEEDS_KEY = ("The object was stored using a form of Server Side Encryption. The correct parameters must be "
             "provided to retrieve the object.")
WRONG_KEY = ("Requests specifying Server Side Encryption with Customer provided keys must provide the "
             "correct secret key.")
PART_NEEDS_KEY = ("The multipart upload initiate requested encryption. Subsequent part requests must include "
                  "the appropriate encryption parameters.")
PART_OTHER_KEY = "The provided encryption parameters did not match the ones used originally."
INSECURE = ("Requests specifying Server Side Encryption with Customer provided keys must be made over a "
            "secure connection.")


@pytest.fixture(scope="module")
def server(start_module_server: ServerFactory) -> RunningServer:
    return start_module_server(*SECURE)


# --- the round trip --------------------------------------------------------------------------------


def test_put_get_head_round_trip(s3, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"customer data", **ssec())
    assert (put["SSECustomerAlgorithm"], put["SSECustomerKeyMD5"]) == ("AES256", md5_b64(KEY1))
    assert "ServerSideEncryption" not in put
    # The ETag of an SSE-C object is not the MD5 of its content, and differs between two uploads.
    assert put["ETag"].strip('"') != hashlib.md5(b"customer data").hexdigest()
    again = s3.put_object(Bucket=bucket, Key="k2", Body=b"customer data", **ssec())
    assert again["ETag"] != put["ETag"]
    got = s3.get_object(Bucket=bucket, Key="k", **ssec())
    assert got["Body"].read() == b"customer data"
    assert (got["SSECustomerAlgorithm"], got["SSECustomerKeyMD5"], got["ETag"]) == \
        ("AES256", md5_b64(KEY1), put["ETag"])
    assert "ServerSideEncryption" not in got
    head = s3.head_object(Bucket=bucket, Key="k", **ssec())
    assert (head["ContentLength"], head["SSECustomerKeyMD5"]) == (13, md5_b64(KEY1))
    # Listings show the plaintext size.
    sizes = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert sizes == {"k": 13, "k2": 13}


def test_read_without_the_key_or_with_another(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"secret", **ssec())
    assert error_of(fails(s3.get_object, Bucket=bucket, Key="k")) == {
        "status": 400, "Code": "InvalidRequest", "Message": NEEDS_KEY, "ArgumentName": None,
        "ArgumentValue": None}
    assert error_of(fails(s3.get_object, Bucket=bucket, Key="k", **ssec(KEY2))) == {
        "status": 403, "Code": "AccessDenied", "Message": WRONG_KEY, "ArgumentName": None,
        "ArgumentValue": None}
    # HEAD answers with the status alone.
    assert status_of(fails(s3.head_object, Bucket=bucket, Key="k")) == 400
    assert status_of(fails(s3.head_object, Bucket=bucket, Key="k", **ssec(KEY2))) == 403
    assert s3.get_object(Bucket=bucket, Key="k", **ssec())["Body"].read() == b"secret"


def test_sse_c_headers_on_an_sse_s3_object(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    err = error_of(fails(s3.get_object, Bucket=bucket, Key="plain", **ssec()))
    assert (err["status"], err["Code"], err["Message"]) == (400, "InvalidRequest", NOT_APPLICABLE)


def test_delete_needs_no_key(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", **ssec())
    s3.delete_object(Bucket=bucket, Key="k")
    assert_absent(s3, bucket, "k")


# --- header validation -----------------------------------------------------------------------------

ALGORITHM_MISSING = ("Requests specifying Server Side Encryption with Customer provided keys must provide a "
                     "valid encryption algorithm.")
KEY_MISSING = ("Requests specifying Server Side Encryption with Customer provided keys must provide an "
               "appropriate secret key.")
MD5_WRONG = "The calculated MD5 hash of the key did not match the hash that was provided."
KEY_INVALID = "The secret key was invalid for the specified algorithm."
SSE = "x-amz-server-side-encryption"

HEADER_CASES = {
    "with x-amz-server-side-encryption": (
        {**ssec(), "ServerSideEncryption": "AES256"},
        (400, "InvalidArgument", "Server Side Encryption with Customer provided key is incompatible with the "
                                 "encryption method specified", SSE, "AES256")),
    "with aws:kms": (
        {**ssec(), "ServerSideEncryption": "aws:kms"},
        (400, "InvalidArgument", "Server Side Encryption with Customer provided key is incompatible with the "
                                 "encryption method specified", SSE, "aws:kms")),
    "key without algorithm": ({"SSECustomerKey": KEY1},
                              (400, "InvalidArgument", ALGORITHM_MISSING, SSE, "null")),
    "algorithm without key": ({"SSECustomerAlgorithm": "AES256"},
                              (400, "InvalidArgument", KEY_MISSING, SSE, "null")),
    "another algorithm": ({**ssec(), "SSECustomerAlgorithm": "AES128"},
                          (400, "InvalidEncryptionAlgorithmError",
                           "The Encryption request you specified is not valid. Supported value: AES256.",
                           SSE, "AES128")),
    # With the MD5 given, botocore sends the key as given: base64 already.
    "wrong key MD5": ({"SSECustomerAlgorithm": "AES256", "SSECustomerKey": base64.b64encode(KEY1).decode(),
                       "SSECustomerKeyMD5": md5_b64(KEY2)},
                      (400, "InvalidArgument", MD5_WRONG, SSE, "null")),
    "16-byte key": ({**ssec(b"k" * 16)}, (400, "InvalidArgument", KEY_INVALID, SSE, "null")),
}


@pytest.mark.parametrize("case", list(HEADER_CASES))
def test_header_errors_on_put_store_nothing(s3, bucket: str, case: str) -> None:
    params, expected = HEADER_CASES[case]
    err = error_of(fails(s3.put_object, Bucket=bucket, Key="k", Body=b"data", **params))
    assert tuple(err.values()) == expected
    assert_absent(s3, bucket, "k")


def test_missing_key_md5_is_a_wrong_one(server: RunningServer, s3, bucket: str) -> None:
    """botocore always adds the MD5; sent raw without it, the request is refused as with a wrong one."""
    headers = {"x-amz-server-side-encryption-customer-algorithm": "AES256",
               "x-amz-server-side-encryption-customer-key": base64.b64encode(KEY1).decode()}
    reply = server.raw("PUT", f"/{bucket}/no-md5", b"data", headers)
    status, body = reply.status, reply.body
    assert status == 400 and b"<Code>InvalidArgument</Code>" in body
    assert f"<Message>{MD5_WRONG}</Message>".encode() in body
    assert_absent(s3, bucket, "no-md5")


@pytest.mark.parametrize("case", ["key without algorithm", "another algorithm", "wrong key MD5"])
def test_header_errors_on_get_copy_and_create(s3, bucket: str, case: str) -> None:
    params, expected = HEADER_CASES[case]
    s3.put_object(Bucket=bucket, Key="src", Body=b"data", **ssec())
    assert tuple(error_of(fails(s3.get_object, Bucket=bucket, Key="src", **params)).values()) == expected
    copy_params = {"CopySource" + name: value for name, value in params.items()}
    source = {"Bucket": bucket, "Key": "src"}
    err = error_of(fails(s3.copy_object, Bucket=bucket, Key="dst", CopySource=source, **copy_params))
    assert tuple(err.values()) == expected
    err = error_of(fails(s3.create_multipart_upload, Bucket=bucket, Key="mp", **params))
    assert tuple(err.values()) == expected
    assert_absent(s3, bucket, "dst")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_no_plaintext_and_no_key_on_disk(server: RunningServer, s3, bucket: str) -> None:
    data, marker = distinctive(3 * SEGMENT + 17)
    before = blob_files(server)
    s3.put_object(Bucket=bucket, Key="big", Body=data, **ssec())
    assert blob_files(server) - before, "an object this size gets a blob"
    for path in files_under(server.data_dir):
        content = path.read_bytes()
        assert marker not in content, f"plaintext in {path}"
        assert KEY1 not in content and base64.b64encode(KEY1) not in content, f"customer key in {path}"


# --- ranges and multipart, exactly as SSE-S3 -------------------------------------------------------


@pytest.mark.parametrize(("first", "last"), [(0, 0), (SEGMENT - 1, SEGMENT), (SEGMENT, 2 * SEGMENT - 1),
                                             (100, 3 * SEGMENT + 5), (3 * SEGMENT, 3 * SEGMENT + 16)])
def test_range_reads(s3, bucket: str, first: int, last: int) -> None:
    data = os.urandom(3 * SEGMENT + 17)
    s3.put_object(Bucket=bucket, Key="r", Body=data, **ssec())
    got = s3.get_object(Bucket=bucket, Key="r", Range=f"bytes={first}-{last}", **ssec())
    assert got["Body"].read() == data[first:last + 1]
    assert got["ContentRange"] == f"bytes {first}-{last}/{len(data)}"
    assert status_of(fails(s3.get_object, Bucket=bucket, Key="r", Range="bytes=0-1")) == 400


def upload_two_parts(s3, bucket: str, key: str, parts: list[bytes]) -> str:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, **ssec())
    assert (upload["SSECustomerAlgorithm"], upload["SSECustomerKeyMD5"]) == ("AES256", md5_b64(KEY1))
    uid = upload["UploadId"]
    etags = []
    for number, part in enumerate(parts, 1):
        got = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=number, Body=part, **ssec())
        assert (got["SSECustomerAlgorithm"], got["SSECustomerKeyMD5"]) == ("AES256", md5_b64(KEY1))
        etags.append({"PartNumber": number, "ETag": got["ETag"]})
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                        MultipartUpload={"Parts": etags})
    headers = done["ResponseMetadata"]["HTTPHeaders"]
    assert not any(h.startswith("x-amz-server-side-encryption") for h in headers), headers
    assert done["ETag"].strip('"').endswith(f"-{len(parts)}")
    return done["ETag"]


def test_multipart_completes_without_the_key(s3, bucket: str) -> None:
    parts = [os.urandom(5 * MIB + 3), os.urandom(SEGMENT + 9)]
    etag = upload_two_parts(s3, bucket, "mp", parts)
    whole = b"".join(parts)
    got = s3.get_object(Bucket=bucket, Key="mp", **ssec())
    assert (got["Body"].read(), got["ETag"], got["ContentLength"]) == (whole, etag, len(whole))
    boundary = len(parts[0])
    ranged = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={boundary - 10}-{boundary + 10}", **ssec())
    assert ranged["Body"].read() == whole[boundary - 10:boundary + 11]
    part2 = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2, **ssec())
    assert (part2["Body"].read(), part2["PartsCount"]) == (parts[1], 2)
    assert status_of(fails(s3.get_object, Bucket=bucket, Key="mp")) == 400
    assert status_of(fails(s3.get_object, Bucket=bucket, Key="mp", **ssec(KEY2))) == 403


def test_multipart_key_errors(s3, bucket: str) -> None:
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp", **ssec())["UploadId"]
    err = error_of(fails(s3.upload_part, Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"x"))
    assert (err["status"], err["Code"], err["Message"]) == (400, "InvalidRequest", PART_NEEDS_KEY)
    err = error_of(fails(s3.upload_part, Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"x",
                         **ssec(KEY2)))
    assert (err["status"], err["Code"], err["Message"]) == (400, "InvalidRequest", PART_OTHER_KEY)
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"one part", **ssec())
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    # A key sent with Complete must be the upload's.
    err = error_of(fails(s3.complete_multipart_upload, Bucket=bucket, Key="mp", UploadId=uid,
                         MultipartUpload=parts, **ssec(KEY2)))
    assert (err["status"], err["Code"], err["Message"]) == (400, "InvalidRequest", PART_OTHER_KEY)
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload=parts,
                                        **ssec())
    headers = done["ResponseMetadata"]["HTTPHeaders"]
    assert not any(h.startswith("x-amz-server-side-encryption") for h in headers)  # not in Complete's output
    assert s3.get_object(Bucket=bucket, Key="mp", **ssec())["Body"].read() == b"one part"
    # SSE-C headers on the parts of an SSE-S3 upload.
    plain = s3.create_multipart_upload(Bucket=bucket, Key="plain")["UploadId"]
    err = error_of(fails(s3.upload_part, Bucket=bucket, Key="plain", UploadId=plain, PartNumber=1, Body=b"x",
                         **ssec()))
    assert (err["status"], err["Code"], err["Message"]) == (400, "InvalidRequest", PART_NEEDS_KEY)


# --- copies ----------------------------------------------------------------------------------------


def test_copy_out_of_sse_c_needs_the_source_key(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"source bytes", **ssec())
    source = {"Bucket": bucket, "Key": "src"}
    err = error_of(fails(s3.copy_object, Bucket=bucket, Key="dst", CopySource=source))
    assert (err["status"], err["Code"], err["Message"]) == (400, "InvalidRequest", NEEDS_KEY)
    wrong = fails(s3.copy_object, Bucket=bucket, Key="dst", CopySource=source, **copy_ssec(KEY2))
    assert (status_of(wrong), error_of(wrong)["Message"]) == (403, WRONG_KEY)
    assert_absent(s3, bucket, "dst")
    # Without target encryption the copy is SSE-S3, with an MD5 ETag.
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, **copy_ssec())
    assert copied["ServerSideEncryption"] == "AES256" and "SSECustomerAlgorithm" not in copied
    assert copied["CopyObjectResult"]["ETag"].strip('"') == hashlib.md5(b"source bytes").hexdigest()
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert (got["ServerSideEncryption"], got["Body"].read()) == ("AES256", b"source bytes")
    # In place, to another customer key.
    rekeyed = s3.copy_object(Bucket=bucket, Key="src", CopySource=source, **copy_ssec(), **ssec(KEY2))
    assert rekeyed["SSECustomerKeyMD5"] == md5_b64(KEY2)
    assert s3.get_object(Bucket=bucket, Key="src", **ssec(KEY2))["Body"].read() == b"source bytes"
    assert status_of(fails(s3.get_object, Bucket=bucket, Key="src", **ssec())) == 403


def test_copy_into_sse_c_and_part_copy(s3, bucket: str) -> None:
    data = os.urandom(2 * SEGMENT + 5)
    s3.put_object(Bucket=bucket, Key="plain", Body=data)
    copied = s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "plain"}, **ssec())
    assert copied["SSECustomerKeyMD5"] == md5_b64(KEY1)
    assert copied["CopyObjectResult"]["ETag"].strip('"') != hashlib.md5(data).hexdigest()
    assert s3.get_object(Bucket=bucket, Key="c", **ssec())["Body"].read() == data
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp", **ssec(KEY2))["UploadId"]
    part = s3.upload_part_copy(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1,
                               CopySource={"Bucket": bucket, "Key": "c"},
                               CopySourceRange=f"bytes={SEGMENT - 3}-{2 * SEGMENT + 1}",
                               **copy_ssec(), **ssec(KEY2))
    assert part["SSECustomerKeyMD5"] == md5_b64(KEY2)
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
    got = s3.get_object(Bucket=bucket, Key="mp", **ssec(KEY2))
    assert got["Body"].read() == data[SEGMENT - 3:2 * SEGMENT + 2]


# --- a bucket that blocks SSE-C --------------------------------------------------------------------


def block_sse_c(s3, bucket: str) -> None:
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
         "BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]}}]})


def blocked_message(server: RunningServer, bucket: str, key: str, action: str = "s3:PutObject") -> str:
    account = server.client("sts").get_caller_identity()["Account"]
    return (f'User: arn:aws:iam::{account}:root is not authorized to perform: {action} on resource: '
            f'"arn:aws:s3:::{bucket}/{key}" because this bucket has blocked upload requests that specify '
            "Server Side Encryption with Customer provided keys (SSE-C). Please specify a different "
            "server-side encryption type")


def test_blocked_bucket_refuses_sse_c_writes_and_still_reads(server: RunningServer, s3) -> None:
    bucket = new_bucket(s3)
    s3.put_object(Bucket=bucket, Key="old", Body=b"before the block", **ssec())
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp", **ssec())["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"p", **ssec())
    block_sse_c(s3, bucket)
    expected = {"status": 403, "Code": "AccessDenied", "Message": blocked_message(server, bucket, "new"),
                "ArgumentName": None, "ArgumentValue": None}
    assert error_of(fails(s3.put_object, Bucket=bucket, Key="new", Body=b"x", **ssec())) == expected
    assert error_of(fails(s3.create_multipart_upload, Bucket=bucket, Key="new", **ssec())) == expected
    old = {"Bucket": bucket, "Key": "old"}
    err = error_of(fails(s3.copy_object, Bucket=bucket, Key="new", CopySource=old, **copy_ssec(), **ssec()))
    assert err == {**expected, "Message": blocked_message(server, bucket, "new", "s3:CopyObject")}
    assert_absent(s3, bucket, "new")
    # The upload begun before the block can neither grow nor complete; it can be aborted.
    assert status_of(fails(s3.upload_part, Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2, Body=b"q",
                           **ssec())) == 403
    assert status_of(fails(s3.complete_multipart_upload, Bucket=bucket, Key="mp", UploadId=uid,
                           MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})) == 403
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=uid)
    # Existing SSE-C objects stay readable, and copyable to an allowed encryption.
    assert s3.get_object(Bucket=bucket, Key="old", **ssec())["Body"].read() == b"before the block"
    s3.copy_object(Bucket=bucket, Key="s3copy", CopySource={"Bucket": bucket, "Key": "old"}, **copy_ssec())
    assert s3.get_object(Bucket=bucket, Key="s3copy")["Body"].read() == b"before the block"
    assert s3.put_object(Bucket=bucket, Key="plain", Body=b"ok")["ServerSideEncryption"] == "AES256"


# --- transport: HTTPS served by strongroom, and plain HTTP refused ------------------------------------


def test_sse_c_over_https(start_server: ServerFactory, tmp_path: Path) -> None:
    tls = start_server("--allow-sse-c-new-buckets", tls=True)
    cert = tls.cert
    assert cert is not None
    try:
        s3 = tls.client(verify=str(cert))
        bucket = new_bucket(s3)
        data = os.urandom(SEGMENT + 1)
        s3.put_object(Bucket=bucket, Key="k", Body=data, **ssec())
        assert s3.get_object(Bucket=bucket, Key="k", **ssec())["Body"].read() == data
        # The aws cli too: its --sse-customer-key takes the key's bytes as given.
        cli_key = "0123456789abcdef0123456789abcdef"
        source = tmp_path / "in.bin"
        source.write_bytes(data)
        tls.aws("--ca-bundle", str(cert), "s3api", "put-object", "--bucket", bucket, "--key", "cli",
                "--body", str(source), "--sse-customer-algorithm", "AES256", "--sse-customer-key", cli_key)
        target = tmp_path / "out.bin"
        tls.aws("--ca-bundle", str(cert), "s3api", "get-object", "--bucket", bucket, "--key", "cli",
                "--sse-customer-algorithm", "AES256", "--sse-customer-key", cli_key, str(target))
        assert target.read_bytes() == data
        got = s3.get_object(Bucket=bucket, Key="cli", **ssec(cli_key.encode()))
        assert got["Body"].read() == data
        refused = tls.aws("--ca-bundle", str(cert), "s3api", "get-object", "--bucket", bucket, "--key", "cli",
                          str(target), check=False)
        assert refused.returncode != 0 and "InvalidRequest" in refused.stderr
    finally:
        tls.stop()


def test_plain_http_refuses_sse_c(start_server: ServerFactory) -> None:
    proxied = start_server(*SECURE)
    try:
        s3 = proxied.client("s3")
        bucket = new_bucket(s3)
        s3.put_object(Bucket=bucket, Key="k", Body=b"stored behind a proxy", **ssec())
    finally:
        proxied.stop()
    plain = proxied.restart("--allow-sse-c-new-buckets")  # same data, no longer told TLS is in front
    try:
        s3 = plain.client("s3", retries={"total_max_attempts": 1})
        expected = (400, "InvalidRequest", INSECURE)
        for call, params in ((s3.put_object, {"Key": "new", "Body": b"x"}), (s3.get_object, {"Key": "k"}),
                             (s3.create_multipart_upload, {"Key": "mp"})):
            err = error_of(fails(call, Bucket=bucket, **params, **ssec()))
            assert (err["status"], err["Code"], err["Message"]) == expected
        source = {"Bucket": bucket, "Key": "k"}
        err = error_of(fails(s3.copy_object, Bucket=bucket, Key="new", CopySource=source, **copy_ssec()))
        assert (err["status"], err["Code"], err["Message"]) == expected
        assert_absent(s3, bucket, "new")
        assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
        assert s3.put_object(Bucket=bucket, Key="plain", Body=b"fine")["ServerSideEncryption"] == "AES256"
    finally:
        plain.stop()

