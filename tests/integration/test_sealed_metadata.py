"""A copy of the catalog alone reveals no user metadata, tag, content type, stored header, ETag or
checksum (issue 14: "a copy of the data directory alone reveals nothing").

Objects, a completed multipart object and an upload in progress are written through boto3 on a real
server with distinctive values; then the catalog is read raw, below strongroom (the SQLite file and
its WAL byte for byte; every row of PostgreSQL's tables), and none of the values is found in it,
while every one reads back through S3.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import zlib
from pathlib import Path

import psycopg

from tests.integration.factory import ServerFactory
from tests.integration.server import RunningServer
from tests.postgres import POSTGRES_URL, catalog_env


def token(what: str) -> str:
    return f"{what}{secrets.token_hex(6)}"


def sqlite_raw(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("catalog.sqlite3*")))


def postgres_raw(schema: str) -> bytes:
    """Every value of every row of every table in `schema`: text as UTF-8, bytea as its bytes."""
    out = bytearray()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        tables = [t for (t,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{schema}"."{table}"'):
                for value in row:
                    if isinstance(value, (bytes, memoryview)):
                        out += bytes(value)
                    elif value is not None:
                        out += str(value).encode() + b"\0"
    return bytes(out)


def test_the_catalog_holds_no_metadata_tag_content_type_etag_or_checksum_in_clear(
        engine: str | None, start_server: ServerFactory) -> None:
    env = catalog_env(engine)
    server: RunningServer = start_server(env=env)
    s3 = server.client()
    bucket = "sealed-" + secrets.token_hex(4)
    s3.create_bucket(Bucket=bucket)
    secret: dict[str, str] = {
        "metadata": token("meta"), "content type": f"application/x-{token('ctype')}",
        "disposition": f'attachment; filename="{token("disp")}.txt"', "language": token("lang"),
        "cache control": f"max-age={secrets.randbelow(10**9)}", "tag": token("tagvalue"),
        "tag key": token("tagkey"), "new tag": token("retagged"),
        "upload metadata": token("upmeta"), "upload content type": f"text/x-{token('upct')}",
        "upload tag": token("uptag"),
    }
    body, part = secrets.token_bytes(3000), secrets.token_bytes(2000)
    put = s3.put_object(
        Bucket=bucket, Key="private.txt", Body=body, Metadata={"codename": secret["metadata"]},
        ContentType=secret["content type"], ContentDisposition=secret["disposition"],
        ContentLanguage=secret["language"], CacheControl=secret["cache control"],
        Tagging=f"{secret['tag key']}={secret['tag']}", ChecksumAlgorithm="SHA256")
    secret["etag"] = hashlib.md5(body).hexdigest()  # noqa: S324 - S3's ETag is an MD5
    secret["sha256"] = base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert put["ETag"] == f'"{secret["etag"]}"' and put["ChecksumSHA256"] == secret["sha256"]
    s3.put_object(Bucket=bucket, Key="retagged.txt", Body=b"r", Tagging="a=b")
    s3.put_object_tagging(Bucket=bucket, Key="retagged.txt",
                          Tagging={"TagSet": [{"Key": "k", "Value": secret["new tag"]}]})
    # A completed multipart object (its part's ETag is kept per piece) and an upload in progress.
    done = s3.create_multipart_upload(Bucket=bucket, Key="multi.bin")["UploadId"]
    part_etag = s3.upload_part(Bucket=bucket, Key="multi.bin", UploadId=done, PartNumber=1, Body=part)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="multi.bin", UploadId=done,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part_etag}]})
    secret["part etag"] = hashlib.md5(part).hexdigest()  # noqa: S324
    pending = s3.create_multipart_upload(
        Bucket=bucket, Key="pending.bin", Metadata={"plan": secret["upload metadata"]},
        ContentType=secret["upload content type"], Tagging=f"t={secret['upload tag']}",
        ChecksumAlgorithm="CRC32")["UploadId"]
    pending_part = secrets.token_bytes(1500)
    crc = base64.b64encode(zlib.crc32(pending_part).to_bytes(4, "big")).decode()
    uploaded = s3.upload_part(Bucket=bucket, Key="pending.bin", UploadId=pending, PartNumber=1,
                              Body=pending_part, ChecksumCRC32=crc)
    secret["pending part etag"] = hashlib.md5(pending_part).hexdigest()  # noqa: S324
    secret["pending part crc32"] = crc
    assert uploaded["ETag"] == f'"{secret["pending part etag"]}"'

    # Everything reads back through S3 ...
    head = s3.head_object(Bucket=bucket, Key="private.txt", ChecksumMode="ENABLED")
    assert head["Metadata"] == {"codename": secret["metadata"]}
    assert (head["ContentType"], head["ContentDisposition"], head["ContentLanguage"], head["CacheControl"]) \
        == (secret["content type"], secret["disposition"], secret["language"], secret["cache control"])
    assert head["ETag"] == put["ETag"] and head["ChecksumSHA256"] == secret["sha256"]
    assert s3.get_object_tagging(Bucket=bucket, Key="private.txt")["TagSet"] \
        == [{"Key": secret["tag key"], "Value": secret["tag"]}]
    assert s3.get_object_tagging(Bucket=bucket, Key="retagged.txt")["TagSet"] \
        == [{"Key": "k", "Value": secret["new tag"]}]
    listed = {o["Key"]: o for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed["private.txt"]["ETag"] == put["ETag"]
    assert listed["private.txt"]["ChecksumAlgorithm"] == ["SHA256"]
    parts = s3.list_parts(Bucket=bucket, Key="pending.bin", UploadId=pending)["Parts"]
    assert parts[0]["ETag"] == uploaded["ETag"] and parts[0]["ChecksumCRC32"] == crc
    assert s3.get_object(Bucket=bucket, Key="multi.bin")["Body"].read() == part

    # ... and nothing of it is in the catalog in clear (the key names are, by design).
    raw = sqlite_raw(server.data_dir) if engine is None else postgres_raw(engine)
    assert b"private.txt" in raw and b"pending.bin" in raw  # the raw read does see the catalog
    assert [what for what, value in secret.items() if value.encode() in raw] == []
