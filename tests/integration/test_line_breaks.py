"""A header value with CR or LF is refused, never stored or sent back (issue 14).

Stored (from a POST form's fields, where nothing in HTTP stops a line break), such a value made the
object unservable for good; echoed from a `response-*` parameter, it would split the response's
header section.
"""

from __future__ import annotations

import pytest
import requests
from botocore.exceptions import ClientError

from tests.integration.helpers import error_code, status_of
from tests.integration.server import RunningServer


@pytest.mark.parametrize("override", ["ResponseContentType", "ResponseContentDisposition",
                                      "ResponseCacheControl"])
def test_a_response_override_with_a_line_break_is_invalid_argument(s3, bucket: str, override: str) -> None:
    s3.put_object(Bucket=bucket, Key="served", Body=b"body")
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="served", **{override: "text/plain\r\nX-Injected: yes"})
    assert (status_of(info.value), error_code(info.value)) == (400, "InvalidArgument")
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=bucket, Key="served", **{override: "a\nb"})
    assert error_code(info.value) == "InvalidArgument"
    assert s3.get_object(Bucket=bucket, Key="served", ResponseContentType="text/plain")["ContentType"] \
        == "text/plain"


@pytest.mark.parametrize("field", ["Content-Type", "Cache-Control", "Content-Disposition"])
def test_a_post_form_field_with_a_line_break_is_refused_and_stores_nothing(
        server: RunningServer, s3, bucket: str, field: str) -> None:
    v4 = server.client("s3", signature_version="s3v4")
    value = "text/plain\r\nX-Injected: yes"
    presigned = v4.generate_presigned_post(bucket, "posted.txt", Fields={field: value},
                                           Conditions=[{field: value}])
    response = requests.post(presigned["url"], data=presigned["fields"], files={"file": ("f", b"data")},
                             allow_redirects=False, timeout=30)
    assert response.status_code == 400, response.text
    assert "<Code>InvalidArgument</Code>" in response.text
    with pytest.raises(ClientError) as info:
        s3.head_object(Bucket=bucket, Key="posted.txt")
    assert status_of(info.value) == 404
    assert "Traceback" not in server.log()
