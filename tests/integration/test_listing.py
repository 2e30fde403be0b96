"""ListObjectsV2, ListObjects (v1) and ListObjectVersions against a real server.

Driven by boto3 at its defaults (which always asks for encoding-type=url and decodes it),
its paginators and the aws cli; requests the SDKs will not send (a max-keys of "abc", a
listing without encoding-type) are sent with `RunningServer.raw`, so that the XML itself can be
checked.
"""

from __future__ import annotations

import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from xml.etree import ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from tests.integration.helpers import error_code, status_of
from tests.integration.server import RunningServer

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
FIFTY = [f"k{i:02d}" for i in range(50)]
# 5 "directories" of 5 keys and 25 keys at the top: 30 entries with a delimiter.
NESTED = [f"d{i % 5}/f{i:02d}" for i in range(25)] + [f"t{i:02d}" for i in range(25)]
FOLDER = ["folder/aSubfolder/subFile1", "folder/aSubfolder/subFile2", "folder/file1", "folder/file2"]
# Keys that need escaping or encoding, and what S3 writes for each under encoding-type=url.
SPECIAL = {
    "sp ace/a b.txt": "sp+ace/a+b.txt",
    "uni/é中😀": "uni/%C3%A9%E4%B8%AD%F0%9F%98%80",
    "plus/a+b": "plus/a%2Bb",
    "pct/100%": "pct/100%25",
    "amp/a&b": "amp/a%26b",
    "lt/a<b>c": "lt/a%3Cb%3Ec",
    "quote/\"it's\"": "quote/%22it%27s%22",
    "tilde/~x*": "tilde/%7Ex*",
    "ctl/a\x01b\tc": "ctl/a%01b%09c",
}


def new_bucket(s3, keys: list[str] | tuple[str, ...] = ()) -> str:
    name = "l-" + secrets.token_hex(6)
    s3.create_bucket(Bucket=name)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=name, Key=k, Body=k.encode()), keys))
    return name


@pytest.fixture(scope="module")
def s3m(server: RunningServer):
    return server.client("s3")


@pytest.fixture(scope="module")
def fifty(s3m) -> str:
    return new_bucket(s3m, FIFTY)


@pytest.fixture(scope="module")
def nested(s3m) -> str:
    return new_bucket(s3m, NESTED)


@pytest.fixture(scope="module")
def folder(s3m) -> str:
    return new_bucket(s3m, FOLDER)


@pytest.fixture(scope="module")
def special(s3m) -> str:
    return new_bucket(s3m, list(SPECIAL))


def signed_get(server: RunningServer, path: str) -> tuple[int, bytes]:
    """A signed GET sent as is; `path` carries a query percent-encoded as AWS canonicalizes it."""
    reply = server.raw("GET", path)
    return reply.status, reply.body


def xml_of(body: bytes) -> ET.Element:
    root = ET.fromstring(body)
    for node in root.iter():
        node.tag = node.tag.removeprefix(NS)
    return root


def error_of(server: RunningServer, path: str) -> dict[str, str | None]:
    status, body = signed_get(server, path)
    root = xml_of(body)
    assert root.tag == "Error", body
    return {"status": str(status), **{k: root.findtext(k) for k in ("Code", "Message", "ArgumentName",
                                                                     "ArgumentValue")}}


def keys_of(page: dict) -> list[str]:
    return [c["Key"] for c in page.get("Contents", [])]


def prefixes_of(page: dict) -> list[str]:
    return [p["Prefix"] for p in page.get("CommonPrefixes", [])]


# --- ListObjectsV2 ---------------------------------------------------------------------------------


def test_v2_paginator_over_fifty_keys(s3m, fifty: str) -> None:
    paginator = s3m.get_paginator("list_objects_v2")
    pages = list(paginator.paginate(Bucket=fifty, PaginationConfig={"PageSize": 7}))
    assert [len(p["Contents"]) for p in pages] == [7] * 7 + [1]
    assert [k for p in pages for k in keys_of(p)] == FIFTY
    for i, page in enumerate(pages):
        last = i == len(pages) - 1
        assert page["IsTruncated"] is not last
        assert ("NextContinuationToken" in page) is not last
        assert ("ContinuationToken" in page) is (i > 0)
        assert page["KeyCount"] == len(page["Contents"])
        assert page["MaxKeys"] == 7
        assert page["Name"] == fifty
        assert page["Prefix"] == ""
        assert "Owner" not in page["Contents"][0]  # only with fetch-owner
    assert pages[1]["ContinuationToken"] == pages[0]["NextContinuationToken"]
    # The token is opaque: not the key in clear.
    assert FIFTY[6] not in pages[0]["NextContinuationToken"]


def test_v2_paginator_with_delimiter(s3m, nested: str) -> None:
    pages = list(s3m.get_paginator("list_objects_v2").paginate(
        Bucket=nested, Delimiter="/", PaginationConfig={"PageSize": 7}))
    assert [p["KeyCount"] for p in pages] == [7, 7, 7, 7, 2]
    assert [len(keys_of(p)) + len(prefixes_of(p)) for p in pages] == [7, 7, 7, 7, 2]
    assert [x for p in pages for x in prefixes_of(p)] == [f"d{i}/" for i in range(5)]
    assert [k for p in pages for k in keys_of(p)] == [f"t{i:02d}" for i in range(25)]
    assert all(p["Delimiter"] == "/" for p in pages)


def test_v2_contents_fields(server: RunningServer, s3m) -> None:
    bucket = new_bucket(s3m)
    put = s3m.put_object(Bucket=bucket, Key="obj", Body=b"hello world")
    before = datetime.now(UTC).replace(microsecond=0)
    page = s3m.list_objects_v2(Bucket=bucket, FetchOwner=True)
    (entry,) = page["Contents"]
    assert entry["Key"] == "obj"
    assert entry["ETag"] == put["ETag"]
    assert entry["Size"] == 11
    assert entry["StorageClass"] == "STANDARD"
    assert abs(entry["LastModified"] - before) < timedelta(seconds=5)
    owner_id = s3m.list_buckets()["Owner"]["ID"]
    assert entry["Owner"]["ID"] == owner_id
    # boto3 sends a CRC32 checksum by default; the listing names the algorithm.
    assert entry.get("ChecksumAlgorithm") == ["CRC32"]
    assert entry.get("ChecksumType") == "FULL_OBJECT"
    # The raw document: AWS's element order, whole-second LastModified, quoted ETag, no DisplayName.
    status, body = signed_get(server, f"/{bucket}?list-type=2&fetch-owner=true")
    assert status == 200
    root = xml_of(body)
    assert root.tag == "ListBucketResult"
    assert [c.tag for c in root] == ["Name", "Prefix", "KeyCount", "MaxKeys", "IsTruncated", "Contents"]
    contents = root.find("Contents")
    assert [c.tag for c in contents] == ["Key", "LastModified", "ETag", "ChecksumAlgorithm", "ChecksumType",
                                         "Size", "Owner", "StorageClass"]
    assert contents.findtext("LastModified").endswith(".000Z")
    assert contents.findtext("ETag") == put["ETag"]
    assert [c.tag for c in contents.find("Owner")] == ["ID"]


def test_nested_prefixes(s3m) -> None:
    bucket = new_bucket(s3m, ["a/b/c/1", "a/b/c/2", "a/b/d", "a/e", "a/b/", "f", "a/bz"])
    page = s3m.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert (prefixes_of(page), keys_of(page)) == (["a/b/"], ["a/bz", "a/e"])
    page = s3m.list_objects_v2(Bucket=bucket, Prefix="a/b/", Delimiter="/")
    assert (prefixes_of(page), keys_of(page)) == (["a/b/c/"], ["a/b/", "a/b/d"])
    page = s3m.list_objects_v2(Bucket=bucket, Prefix="a/b", Delimiter="/")
    assert (prefixes_of(page), keys_of(page)) == (["a/b/"], ["a/bz"])
    page = s3m.list_objects_v2(Bucket=bucket, Prefix="a/b/c")
    assert (prefixes_of(page), keys_of(page)) == ([], ["a/b/c/1", "a/b/c/2"])
    page = s3m.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert (prefixes_of(page), keys_of(page), page["KeyCount"]) == (["a/"], ["f"], 2)
    page = s3m.list_objects_v2(Bucket=bucket, Delimiter="b/")  # a delimiter of more than one character
    assert (prefixes_of(page), keys_of(page)) == (["a/b/"], ["a/bz", "a/e", "f"])
    page = s3m.list_objects_v2(Bucket=bucket, Prefix="zzz", Delimiter="/")
    assert (prefixes_of(page), keys_of(page), page["KeyCount"], page["IsTruncated"]) == ([], [], 0, False)


def test_start_after_inside_a_common_prefix(s3m, folder: str) -> None:
    # The common prefix that start-after lies inside was passed already: it is not listed again.
    page = s3m.list_objects_v2(Bucket=folder, Prefix="folder/", Delimiter="/",
                               StartAfter="folder/aSubfolder/subFile1")
    assert (prefixes_of(page), keys_of(page)) == ([], ["folder/file1", "folder/file2"])
    assert page["StartAfter"] == "folder/aSubfolder/subFile1"
    page = s3m.list_objects_v2(Bucket=folder, StartAfter="folder/aSubfolder/subFile1")
    assert keys_of(page) == FOLDER[1:]
    page = s3m.list_objects_v2(Bucket=folder, Prefix="folder/", Delimiter="/",
                               StartAfter="folder/aSubfolder/")
    assert (prefixes_of(page), keys_of(page)) == ([], ["folder/file1", "folder/file2"])
    page = s3m.list_objects_v2(Bucket=folder, StartAfter="zzz")
    assert (keys_of(page), page["KeyCount"]) == ([], 0)


def test_common_prefix_pages_as_aws_does(s3m, folder: str) -> None:
    first = s3m.list_objects_v2(Bucket=folder, Prefix="folder/", Delimiter="/", MaxKeys=1)
    assert (prefixes_of(first), keys_of(first), first["IsTruncated"]) == (["folder/aSubfolder/"], [], True)
    second = s3m.list_objects_v2(Bucket=folder, Prefix="folder/", Delimiter="/", MaxKeys=1,
                                 ContinuationToken=first["NextContinuationToken"])
    assert (prefixes_of(second), keys_of(second), second["IsTruncated"]) == ([], ["folder/file1"], True)
    third = s3m.list_objects_v2(Bucket=folder, Prefix="folder/", Delimiter="/", MaxKeys=1,
                                ContinuationToken=second["NextContinuationToken"])
    assert (keys_of(third), third["IsTruncated"]) == (["folder/file2"], False)
    assert "NextContinuationToken" not in third


def test_token_wins_over_start_after(s3m, fifty: str) -> None:
    first = s3m.list_objects_v2(Bucket=fifty, MaxKeys=5)
    page = s3m.list_objects_v2(Bucket=fifty, StartAfter="k40",
                               ContinuationToken=first["NextContinuationToken"])
    assert keys_of(page) == FIFTY[5:]
    assert "StartAfter" not in page  # not echoed when a token is given, as on AWS
    assert page["ContinuationToken"] == first["NextContinuationToken"]


def test_max_keys_zero(s3m, fifty: str) -> None:
    page = s3m.list_objects_v2(Bucket=fifty, MaxKeys=0)
    assert (page["KeyCount"], page["MaxKeys"], page["IsTruncated"], keys_of(page)) == (0, 0, False, [])
    page = s3m.list_objects(Bucket=fifty, MaxKeys=0)
    assert (page["MaxKeys"], page["IsTruncated"], keys_of(page)) == (0, False, [])
    page = s3m.list_object_versions(Bucket=fifty, MaxKeys=0)
    assert (page["MaxKeys"], page["IsTruncated"], page.get("Versions", [])) == (0, False, [])


@pytest.mark.parametrize("token", ["garbage", "", "AAAA", "k10"])
def test_bad_continuation_token(s3m, fifty: str, token: str) -> None:
    with pytest.raises(ClientError) as e:
        s3m.list_objects_v2(Bucket=fifty, ContinuationToken=token)
    assert (error_code(e.value), status_of(e.value)) == ("InvalidArgument", 400)
    assert e.value.response["Error"]["Message"] == "The continuation token provided is incorrect"
    assert e.value.response["Error"]["ArgumentName"] == "continuation-token"


def test_missing_bucket(s3m) -> None:
    name = "missing-" + secrets.token_hex(6)
    for call in (s3m.list_objects_v2, s3m.list_objects, s3m.list_object_versions):
        with pytest.raises(ClientError) as e:
            call(Bucket=name)
        assert (error_code(e.value), status_of(e.value)) == ("NoSuchBucket", 404)
        assert e.value.response["Error"]["BucketName"] == name


NOT_AN_INTEGER = "Provided max-keys not an integer or within integer range"


@pytest.mark.parametrize(("query", "name", "value", "message"), [
    ("max-keys=abc", "max-keys", "abc", NOT_AN_INTEGER),
    ("max-keys=1.5", "max-keys", "1.5", NOT_AN_INTEGER),
    ("max-keys=2147483648", "max-keys", "2147483648", NOT_AN_INTEGER),
    ("max-keys=-1", "maxKeys", "-1", "Argument maxKeys must be an integer between 0 and 2147483647"),
    ("encoding-type=base64", "encoding-type", "base64", "Invalid Encoding Method specified in Request"),
    ("encoding-type=", "encoding-type", "", "Invalid Encoding Method specified in Request"),
])
@pytest.mark.parametrize("listing", ["?list-type=2&", "?"])
def test_invalid_parameters(server: RunningServer, fifty: str, listing: str, query: str, name: str,
                            value: str | None, message: str) -> None:
    error = error_of(server, f"/{fifty}{listing}{query}")
    assert error == {"status": "400", "Code": "InvalidArgument", "Message": message, "ArgumentName": name,
                     "ArgumentValue": value}


def test_a_page_holds_at_most_a_thousand_entries(server: RunningServer, s3m) -> None:
    keys = [f"x{i:04d}" for i in range(1001)]
    bucket = new_bucket(s3m, keys)
    page = s3m.list_objects_v2(Bucket=bucket, MaxKeys=5000)
    assert (page["KeyCount"], page["MaxKeys"], page["IsTruncated"]) == (1000, 5000, True)
    rest = s3m.list_objects_v2(Bucket=bucket, ContinuationToken=page["NextContinuationToken"])
    assert (keys_of(page) + keys_of(rest), rest["IsTruncated"]) == (keys, False)
    page = s3m.list_objects(Bucket=bucket)
    assert (len(keys_of(page)), page["MaxKeys"], page["IsTruncated"]) == (1000, 1000, True)
    page = s3m.list_object_versions(Bucket=bucket)
    assert (len(page["Versions"]), page["NextKeyMarker"], page["IsTruncated"]) == (1000, keys[999], True)
    # The cli pages through on its own.
    lines = server.aws("s3", "ls", "--recursive", f"s3://{bucket}/").stdout.splitlines()
    assert [line.split()[-1] for line in lines] == keys


def test_max_keys_above_a_thousand_is_echoed(server: RunningServer, fifty: str) -> None:
    status, body = signed_get(server, f"/{fifty}?list-type=2&max-keys=5000")
    root = xml_of(body)
    assert (status, root.findtext("MaxKeys"), root.findtext("KeyCount")) == (200, "5000", "50")
    status, body = signed_get(server, f"/{fifty}?list-type=2&max-keys=")  # empty is the default
    assert (status, xml_of(body).findtext("MaxKeys")) == (200, "1000")


# --- encoding-type=url and names that need escaping -------------------------------------------------------


def test_boto3_round_trips_every_special_key(s3m, special: str) -> None:
    # boto3 asks for encoding-type=url itself and decodes: keys come back exactly as stored.
    assert keys_of(s3m.list_objects_v2(Bucket=special)) == sorted(SPECIAL)
    assert keys_of(s3m.list_objects(Bucket=special)) == sorted(SPECIAL)
    assert [v["Key"] for v in s3m.list_object_versions(Bucket=special)["Versions"]] == sorted(SPECIAL)
    page = s3m.list_objects_v2(Bucket=special, Delimiter="/")
    assert prefixes_of(page) == sorted({k.split("/")[0] + "/" for k in SPECIAL})
    page = s3m.list_objects_v2(Bucket=special, Prefix="sp ace/", Delimiter=" ")
    assert (page["Prefix"], page["Delimiter"], prefixes_of(page)) == ("sp ace/", " ", ["sp ace/a "])
    page = s3m.list_objects_v2(Bucket=special, StartAfter="plus/a+b")
    assert page["StartAfter"] == "plus/a+b"
    assert keys_of(page) == [k for k in sorted(SPECIAL) if k > "plus/a+b"]


def test_cli_list_objects_v2_encoding_type_url(server: RunningServer, special: str) -> None:
    # Asked for by the user, the encoding is not undone by the client: this is S3's encoding on the wire.
    out = json.loads(server.aws("s3api", "list-objects-v2", "--bucket", special, "--encoding-type", "url",
                                "--no-paginate", "--output", "json").stdout)
    assert out["EncodingType"] == "url"
    assert [c["Key"] for c in out["Contents"]] == [SPECIAL[k] for k in sorted(SPECIAL)]
    out = json.loads(server.aws("s3api", "list-objects-v2", "--bucket", special, "--encoding-type", "url",
                                "--prefix", "sp ace/", "--delimiter", " ", "--start-after", "sp ace/",
                                "--no-paginate", "--output", "json").stdout)
    assert (out["Prefix"], out["Delimiter"], out["StartAfter"]) == ("sp+ace/", "+", "sp+ace/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["sp+ace/a+"]
    out = json.loads(server.aws("s3api", "list-objects", "--bucket", special, "--encoding-type", "url",
                                "--delimiter", "/", "--max-keys", "2", "--marker", "amp/a&b",
                                "--no-paginate", "--output", "json").stdout)
    assert out["Marker"] == "amp/a%26b"
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["ctl/", "lt/"]
    assert out["NextMarker"] == "lt/"


def test_names_are_escaped_without_encoding_type(server: RunningServer, special: str) -> None:
    status, body = signed_get(server, f"/{special}?list-type=2&prefix={quote('lt/', safe='')}")
    assert status == 200
    assert b"<Key>lt/a&lt;b&gt;c</Key>" in body
    assert xml_of(body).findtext("Contents/Key") == "lt/a<b>c"
    status, body = signed_get(server, f"/{special}?prefix={quote('quote/', safe='')}")
    assert xml_of(body).findtext("Contents/Key") == "quote/\"it's\""
    # A control character XML 1.0 cannot carry is written as a character reference, as S3 does.
    status, body = signed_get(server, f"/{special}?list-type=2&prefix={quote('ctl/', safe='')}")
    assert (status, b"<Key>ctl/a&#x1;b\tc</Key>" in body) == (200, True)


# --- ListObjects (v1) --------------------------------------------------------------------------------------


def test_v1_paginators(s3m, fifty: str, nested: str) -> None:
    pages = list(s3m.get_paginator("list_objects").paginate(Bucket=fifty, PaginationConfig={"PageSize": 7}))
    assert [k for p in pages for k in keys_of(p)] == FIFTY
    assert len(pages) == 8
    assert all("NextMarker" not in p for p in pages)  # only with a delimiter
    assert pages[1]["Marker"] == FIFTY[6]
    assert "Owner" in pages[0]["Contents"][0]  # always in v1
    pages = list(s3m.get_paginator("list_objects").paginate(
        Bucket=nested, Delimiter="/", PaginationConfig={"PageSize": 7}))
    assert [len(keys_of(p)) + len(prefixes_of(p)) for p in pages] == [7, 7, 7, 7, 2]
    assert [x for p in pages for x in prefixes_of(p)] == [f"d{i}/" for i in range(5)]
    assert [k for p in pages for k in keys_of(p)] == [f"t{i:02d}" for i in range(25)]
    assert [p.get("NextMarker") for p in pages[:2]] == ["t01", "t08"]
    assert "NextMarker" not in pages[-1]


def test_v1_marker_inside_a_common_prefix(s3m, folder: str) -> None:
    page = s3m.list_objects(Bucket=folder, Prefix="folder/", Delimiter="/", MaxKeys=1)
    assert (prefixes_of(page), page["NextMarker"], page["Marker"]) == (["folder/aSubfolder/"],
                                                                      "folder/aSubfolder/", "")
    page = s3m.list_objects(Bucket=folder, Prefix="folder/", Delimiter="/", MaxKeys=1,
                            Marker="folder/aSubfolder/subFile1")
    assert (prefixes_of(page), keys_of(page), page["NextMarker"]) == ([], ["folder/file1"], "folder/file1")


def test_v1_document_shape(server: RunningServer, folder: str) -> None:
    status, body = signed_get(server, f"/{folder}?max-keys=1")
    root = xml_of(body)
    assert [c.tag for c in root] == ["Name", "Prefix", "Marker", "MaxKeys", "IsTruncated", "Contents"]
    assert (root.findtext("Marker"), root.findtext("IsTruncated")) == ("", "true")
    assert [c.tag for c in root.find("Contents/Owner")] == ["ID"]


# --- ListObjectVersions on an unversioned bucket ----------------------------------------------------------


def test_versions_paginator(s3m, fifty: str) -> None:
    pages = list(s3m.get_paginator("list_object_versions").paginate(
        Bucket=fifty, PaginationConfig={"PageSize": 7}))
    versions = [v for p in pages for v in p["Versions"]]
    assert [v["Key"] for v in versions] == FIFTY
    assert {(v["VersionId"], v["IsLatest"]) for v in versions} == {("null", True)}
    assert all("DeleteMarkers" not in p for p in pages)
    assert [p.get("NextVersionIdMarker") for p in pages[:2]] == ["null", "null"]
    assert [p.get("NextKeyMarker") for p in pages[:2]] == [FIFTY[6], FIFTY[13]]
    assert pages[1]["KeyMarker"] == FIFTY[6] and pages[1]["VersionIdMarker"] == "null"
    head = s3m.head_object(Bucket=fifty, Key=FIFTY[0])
    assert versions[0]["ETag"] == head["ETag"] and versions[0]["Size"] == 3
    assert versions[0]["Owner"]["ID"] == s3m.list_buckets()["Owner"]["ID"]


def test_versions_with_delimiter(s3m, folder: str) -> None:
    first = s3m.list_object_versions(Bucket=folder, Prefix="folder/", Delimiter="/", MaxKeys=1)
    assert (prefixes_of(first), first["NextKeyMarker"], first["IsTruncated"]) == (["folder/aSubfolder/"],
                                                                                 "folder/aSubfolder/", True)
    assert "NextVersionIdMarker" not in first  # a page ending on a common prefix
    second = s3m.list_object_versions(Bucket=folder, Prefix="folder/", Delimiter="/", MaxKeys=1,
                                      KeyMarker=first["NextKeyMarker"])
    assert [v["Key"] for v in second["Versions"]] == ["folder/file1"]
    assert (second["NextKeyMarker"], second["NextVersionIdMarker"]) == ("folder/file1", "null")
    third = s3m.list_object_versions(Bucket=folder, Prefix="folder/", Delimiter="/", MaxKeys=1,
                                     KeyMarker="folder/file1", VersionIdMarker="null")
    assert ([v["Key"] for v in third["Versions"]], third["IsTruncated"]) == (["folder/file2"], False)


@pytest.mark.parametrize(("query", "message", "value"), [
    ("version-id-marker=bad-vid", "A version-id marker cannot be specified without a key marker.", "bad-vid"),
    ("key-marker=k&version-id-marker=", "A version-id marker cannot be empty.", ""),
    ("key-marker=k&version-id-marker=bad-vid", "Invalid version id specified", "bad-vid"),
    ("key-marker=&version-id-marker=bad-vid&encoding-type=nope", "Invalid version id specified", "bad-vid"),
])
def test_version_marker_errors(server: RunningServer, fifty: str, query: str, message: str,
                               value: str | None) -> None:
    error = error_of(server, f"/{fifty}?versions&{query}")
    assert error == {"status": "400", "Code": "InvalidArgument", "Message": message,
                     "ArgumentName": "version-id-marker", "ArgumentValue": value}


def test_versions_max_keys_errors(server: RunningServer, fifty: str) -> None:
    assert error_of(server, f"/{fifty}?versions&max-keys=-1") == {
        "status": "400", "Code": "InvalidArgument", "Message": "max-keys cannot be negative",
        "ArgumentName": "max-keys", "ArgumentValue": None}
    # max-keys is checked before the markers, as on AWS.
    error = error_of(server, f"/{fifty}?versions&max-keys=abc&version-id-marker=x")
    assert (error["ArgumentName"], error["Message"]) == ("max-keys", NOT_AN_INTEGER)


def test_versions_document_shape(server: RunningServer, folder: str) -> None:
    status, body = signed_get(server, f"/{folder}?versions&max-keys=1&encoding-type=url")
    root = xml_of(body)
    assert root.tag == "ListVersionsResult"
    assert [c.tag for c in root] == ["Name", "Prefix", "KeyMarker", "VersionIdMarker", "NextKeyMarker",
                                     "NextVersionIdMarker", "MaxKeys", "EncodingType", "IsTruncated",
                                     "Version"]
    assert [c.tag for c in root.find("Version")] == ["Key", "VersionId", "IsLatest", "LastModified", "ETag",
                                                      "ChecksumAlgorithm", "ChecksumType", "Size", "Owner",
                                                      "StorageClass"]


# --- the aws cli's high-level commands -----------------------------------------------------------------


def test_aws_s3_ls(server: RunningServer, s3m) -> None:
    bucket = new_bucket(s3m, ["top.txt", "dir one/a.txt", "dir one/sub/b.txt", "dir2/c+d.txt"])
    lines = server.aws("s3", "ls", f"s3://{bucket}/").stdout.splitlines()
    dirs = sorted(line.split(None, 1)[1] for line in lines if line.split()[0] == "PRE")
    assert dirs == ["dir one/", "dir2/"]
    files = [line for line in lines if line.split()[0] != "PRE"]
    assert len(files) == 1 and files[0].endswith(" 7 top.txt")
    lines = server.aws("s3", "ls", f"s3://{bucket}/dir one/").stdout.splitlines()
    assert [line.split()[-1] for line in lines] == ["sub/", "a.txt"]
    lines = server.aws("s3", "ls", "--recursive", f"s3://{bucket}/").stdout.splitlines()
    listed = [line.split(None, 3)[3] for line in lines]
    assert listed == ["dir one/a.txt", "dir one/sub/b.txt", "dir2/c+d.txt", "top.txt"]
    assert [int(line.split()[2]) for line in lines] == [len(k) for k in listed]


def test_aws_s3_rm_recursive_removes_what_it_lists(server: RunningServer, s3m) -> None:
    bucket = new_bucket(s3m, [f"p/{i:02d} x+y" for i in range(12)] + ["q/keep"])
    server.aws("s3", "rm", "--recursive", f"s3://{bucket}/p/")
    assert keys_of(s3m.list_objects_v2(Bucket=bucket)) == ["q/keep"]
