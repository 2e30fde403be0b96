"""The pure parts of the listings: continuation tokens, encoding-type=url, escaping, parameters, rendering."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import unquote_plus

import pytest
from multidict import MultiDict

from strongroom.catalog.model import ObjectSummary, ObjectVersion, Sealing, VersionSummary
from strongroom.errors import S3Error
from strongroom.s3 import listing

# --- continuation tokens ---


@pytest.mark.parametrize("key", ["a", "folder/aSubfolder/", "é 中 🔑", "x" * 1024, "a+b=c/d?e&f", "\x01\t"])
def test_token_round_trip(key: str) -> None:
    token = listing.encode_token(key)
    assert listing.decode_token(token) == key
    # Safe in a query string as it is: nothing a client could mangle.
    assert token.replace("-", "").replace("_", "").isalnum()
    assert key not in token  # opaque: not the key in clear


@pytest.mark.parametrize("token", [
    "", "abc", "a", "!!!!", "not a token", "AQ==", "AQ", "YWJj",  # "abc" in base64: wrong version byte
    "AWEvYg=", "AWEv Yg", "AWEvYg==", "AWEv+g", "AWEv/g", "AP8",  # padding, bad alphabet, invalid UTF-8
])
def test_token_refuses_what_it_did_not_issue(token: str) -> None:
    assert listing.decode_token(token) is None


def test_token_known_answer() -> None:
    # Pinned so that tokens issued before an upgrade still decode after it.
    assert listing.encode_token("a/b") == "AWEvYg"
    assert listing.decode_token("AWEvYg") == "a/b"


# --- encoding-type=url, as AWS encodes (examples recorded from Amazon S3) ---


@pytest.mark.parametrize(("key", "encoded"), [
    ("enc/a b+c&d=e?f#g%h~é.txt", "enc/a+b%2Bc%26d%3De%3Ff%23g%25h%7E%C3%A9.txt"),
    ("enc/semi;colon,comma:@$!*'()[].txt", "enc/semi%3Bcolon%2Ccomma%3A%40%24%21*%27%28%29%5B%5D.txt"),
    ("enc/tab\tkey.txt", "enc/tab%09key.txt"),
    ("enc/sp ace/x.txt", "enc/sp+ace/x.txt"),
    ("a b.txt", "a+b.txt"),
    ("a+b.txt", "a%2Bb.txt"),
    ("100%.csv", "100%25.csv"),
    ("한글/x.txt", "%ED%95%9C%EA%B8%80/x.txt"),
    ("a/😀/", "a/%F0%9F%98%80/"),
    ("date=2026-03-01/", "date%3D2026-03-01/"),
    ("plain-key_1.2/*x", "plain-key_1.2/*x"),
    ("<&>\"'\x01\n", "%3C%26%3E%22%27%01%0A"),
    ("", ""),
])
def test_url_encode_matches_s3(key: str, encoded: str) -> None:
    assert listing.url_encode(key) == encoded
    assert unquote_plus(encoded) == key  # what botocore does with it


def test_url_encoded_text_needs_no_xml_escaping() -> None:
    every_byte = "".join(chr(c) for c in range(1, 0x80)) + "é€😀"
    encoded = listing.url_encode(every_byte)
    assert set(encoded) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.*/+%")
    assert listing.escape(encoded) == encoded


@pytest.mark.parametrize(("text", "escaped"), [
    ("plain", "plain"),
    ("a&b<c>d\"e'f", "a&amp;b&lt;c&gt;d&quot;e&apos;f"),
    ("ctl\x01\x1f", "ctl&#x1;&#x1f;"),
    ("cr\rlf\ntab\t", "cr&#xd;lf\ntab\t"),
    ("é 中", "é 中"),
])
def test_escape(text: str, escaped: str) -> None:
    assert listing.escape(text) == escaped


# --- parameters ---


@pytest.mark.parametrize(("raw", "value"), [
    (None, 1000), ("", 1000), ("0", 0), ("7", 7), ("1000", 1000), ("5000", 5000), ("+5", 5), ("-0", 0),
    ("2147483647", 2147483647),
])
def test_max_keys_valid(raw: str | None, value: int) -> None:
    assert listing.parse_max_keys(raw) == value
    assert listing.parse_max_keys(raw, versions=True) == value


@pytest.mark.parametrize("raw", ["abc", "1.5", "2147483648", "-2147483649", " 5", "5 ", "1e3", "٣", "0x10",
                                 "1_0"])
def test_max_keys_not_an_integer(raw: str) -> None:
    for versions in (False, True):
        with pytest.raises(S3Error) as e:
            listing.parse_max_keys(raw, versions=versions)
        assert (e.value.code, e.value.status) == ("InvalidArgument", 400)
        assert e.value.message == "Provided max-keys not an integer or within integer range"
        assert e.value.details == {"ArgumentName": "max-keys", "ArgumentValue": raw}


def test_max_keys_negative_is_worded_per_operation() -> None:
    with pytest.raises(S3Error) as e:
        listing.parse_max_keys("-1")
    assert e.value.message == "Argument maxKeys must be an integer between 0 and 2147483647"
    assert e.value.details == {"ArgumentName": "maxKeys", "ArgumentValue": "-1"}
    with pytest.raises(S3Error) as e:
        listing.parse_max_keys("-1", versions=True)
    assert e.value.message == "max-keys cannot be negative"
    assert e.value.details == {"ArgumentName": "max-keys"}


def test_encoding_type() -> None:
    assert listing.parse_encoding_type(None) is False
    assert listing.parse_encoding_type("url") is True
    for bad in ("", "URL", "base64", "url "):
        with pytest.raises(S3Error) as e:
            listing.parse_encoding_type(bad)
        assert e.value.code == "InvalidArgument"
        assert e.value.message == "Invalid Encoding Method specified in Request"
        assert e.value.details == {"ArgumentName": "encoding-type", "ArgumentValue": bad}


@pytest.mark.parametrize(("query", "after"), [
    ({}, ("", None)),
    ({"key-marker": "k"}, ("k", None)),
    ({"key-marker": "k", "version-id-marker": "null"}, ("k", "null")),
    ({"key-marker": "", "version-id-marker": "null"}, ("", "null")),
    ({"key-marker": "k", "version-id-marker": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH"},
     ("k", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH")),
])
def test_version_markers_accepted(query: dict[str, str], after: tuple[str, str | None]) -> None:
    assert listing._version_start(MultiDict(query)) == after


@pytest.mark.parametrize(("query", "message", "value"), [
    ({"version-id-marker": "v1"}, "A version-id marker cannot be specified without a key marker.", "v1"),
    ({"version-id-marker": ""}, "A version-id marker cannot be specified without a key marker.", ""),
    ({"key-marker": "k", "version-id-marker": ""}, "A version-id marker cannot be empty.", ""),
    ({"key-marker": "", "version-id-marker": ""}, "A version-id marker cannot be empty.", ""),
    ({"key-marker": "k", "version-id-marker": "bad-vid"}, "Invalid version id specified", "bad-vid"),
    ({"key-marker": "", "version-id-marker": "é"}, "Invalid version id specified", "é"),
])
def test_version_markers_refused(query: dict[str, str], message: str, value: str) -> None:
    with pytest.raises(S3Error) as e:
        listing._version_start(MultiDict(query))
    assert (e.value.code, e.value.status, e.value.message) == ("InvalidArgument", 400, message)
    assert e.value.details == {"ArgumentName": "version-id-marker", "ArgumentValue": value}


# --- rendering ---


def _version(key: str, i: int = 0, checksums: dict[str, str] | None = None) -> ObjectSummary:
    return ObjectSummary.of(ObjectVersion(
        bucket="b", key=key, version_id=f"v{i}", size=i, etag="9b2cf535f27731c974343645a3985328",
        last_modified=1700000000.789 + i, owner_id="f" * 64, sealing=Sealing("AES256"), pieces=(),
        checksums=checksums or {}, checksum_type="FULL_OBJECT" if checksums else None,
    ))


def _parse(fragment: str, root: str = "R") -> ET.Element:
    return ET.fromstring(f"<{root}>{fragment}</{root}>")


def test_contents_elements_in_aws_order() -> None:
    objects = (_version("a&b", 1, {"CRC32": "AAAAAA=="}), _version("c", 2))
    node = _parse(listing.render_contents(objects, listing.escape, owner=True))
    first, second = node.findall("Contents")
    assert [c.tag for c in first] == ["Key", "LastModified", "ETag", "ChecksumAlgorithm", "ChecksumType",
                                      "Size", "Owner", "StorageClass"]
    assert first.findtext("Key") == "a&b"
    assert first.findtext("LastModified") == "2023-11-14T22:13:21.000Z"  # whole seconds, as S3 lists
    assert first.findtext("ETag") == '"9b2cf535f27731c974343645a3985328"'
    assert first.findtext("ChecksumAlgorithm") == "CRC32"
    assert first.findtext("ChecksumType") == "FULL_OBJECT"
    assert first.findtext("Size") == "1"
    assert [c.tag for c in first.iterfind("Owner/*")] == ["ID"]  # no DisplayName since 2025-11-21
    assert first.findtext("StorageClass") == "STANDARD"
    assert "ChecksumAlgorithm" not in [c.tag for c in second]
    assert "Owner" not in [c.tag for c in _parse(listing.render_contents(objects, listing.escape, False))[0]]


def test_versions_and_delete_markers() -> None:
    entries = (VersionSummary(_version("k 1"), "null", True, False),
               VersionSummary(_version("k 1"), "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH", False, True))
    node = _parse(listing.render_versions(entries, listing.url_encode))
    version, marker = node.find("Version"), node.find("DeleteMarker")
    assert version is not None and marker is not None
    assert [c.tag for c in version] == ["Key", "VersionId", "IsLatest", "LastModified", "ETag", "Size",
                                        "Owner", "StorageClass"]
    assert (version.findtext("Key"), version.findtext("VersionId"), version.findtext("IsLatest")) == \
        ("k+1", "null", "true")
    assert [c.tag for c in marker] == ["Key", "VersionId", "IsLatest", "LastModified", "Owner"]
    assert (marker.findtext("VersionId"), marker.findtext("IsLatest")) == \
        ("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH", "false")


def test_common_prefixes() -> None:
    node = _parse(listing.render_common_prefixes(("a b/", "c<d/"), listing.escape))
    assert [p.findtext("Prefix") for p in node.findall("CommonPrefixes")] == ["a b/", "c<d/"]
    node = _parse(listing.render_common_prefixes(("a b/",), listing.url_encode))
    assert node.findtext("CommonPrefixes/Prefix") == "a+b/"


def test_a_full_page_renders_every_entry() -> None:
    # (Its speed, about 1 ms, is the benchmark's business: bench/, rows list-*.)
    crc = {"CRC64NVME": "AAAAAAAAAAA="}
    objects = tuple(_version(f"photos/2024/{i:05d}-é &.jpg", i, crc) for i in range(1000))
    prefixes = tuple(f"dir{i:04d}/" for i in range(100))
    for name, decode in ((listing.escape, str), (listing.url_encode, unquote_plus)):
        body = listing.render_contents(objects, name, False) + listing.render_common_prefixes(prefixes, name)
        node = _parse(body)
        contents = node.findall("Contents")
        assert [decode(c.findtext("Key") or "") for c in contents] == [o.key for o in objects]
        assert [c.findtext("ChecksumAlgorithm") for c in contents] == ["CRC64NVME"] * 1000
        assert [decode(p.findtext("Prefix") or "") for p in node.findall("CommonPrefixes")] == list(prefixes)
