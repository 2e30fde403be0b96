"""XML in and out of the S3 wire protocol.

Requests are parsed with defusedxml (no DTDs, no entities, no external
references) after the body was read with a size cap; any parse failure is
MalformedXML. Responses are built as strings with escaping, without a DOM:
ElementTree costs ~20x more on a 1000-key listing (PERF-NOTES).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from strongroom.errors import malformed_xml

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"})


def escape(text: str) -> str:
    escaped = text.translate(_ESCAPES)
    if not escaped.isascii():
        # A header byte that is not UTF-8 arrives as a lone surrogate; it must not break the document.
        escaped = escaped.encode("utf-8", "replace").decode("utf-8")
    return escaped


def el(name: str, value: object) -> str:
    """<name>value</name> with the value escaped; booleans as S3 writes them."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = escape(str(value))
    return f"<{name}>{text}</{name}>"


def document(root: str, body: str | Iterable[str], namespace: bool = True) -> bytes:
    inner = body if isinstance(body, str) else "".join(body)
    ns = f' xmlns="{S3_NS}"' if namespace else ""
    return f"{DECLARATION}<{root}{ns}>{inner}</{root}>".encode()


def timestamp(epoch: float) -> str:
    """ISO 8601 with milliseconds, as S3 writes LastModified in XML: 2009-10-12T17:50:30.000Z."""
    dt = datetime.fromtimestamp(epoch, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def http_date(epoch: float) -> str:
    """RFC 7231 date, as S3 writes Last-Modified headers."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def parse(body: bytes, root: str) -> ET.Element:
    """Parse a request document whose root element must be `root` (with or without the S3 namespace).

    Namespaces are stripped from tags so that callers compare plain names.
    """
    if not body.strip():
        raise malformed_xml()
    try:
        tree = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ET.ParseError, DefusedXmlException, ValueError):
        raise malformed_xml() from None
    for node in tree.iter():
        if isinstance(node.tag, str) and node.tag.startswith("{"):
            node.tag = node.tag.split("}", 1)[1]
    if tree.tag != root:
        raise malformed_xml()
    return tree


def text_of(node: ET.Element) -> str:
    return (node.text or "").strip()


def children(node: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in node if c.tag == name]


def only_child(node: ET.Element, name: str) -> ET.Element | None:
    """The one child called `name`, None if absent; two of them is MalformedXML."""
    found = children(node, name)
    if len(found) > 1:
        raise malformed_xml()
    return found[0] if found else None


def check_known(node: ET.Element, allowed: Iterable[str]) -> None:
    """S3 validates documents against its schema: an unknown element is MalformedXML."""
    names = set(allowed)
    for child in node:
        if child.tag not in names:
            raise malformed_xml()
