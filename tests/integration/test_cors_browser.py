"""CORS in a real browser: headless Chromium on a page served from another port uploads with a presigned
PUT (after its preflight) and a POST form, reads the object back with fetch(), and is refused where the
bucket's CORS rules do not allow its origin. Skips where chromium or chromedriver is missing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import pytest

from tests.integration.browser import Browser, chromium, page_server
from tests.integration.helpers import assert_absent, new_bucket
from tests.integration.server import RunningServer

BODY = "written by a browser"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as session:
        yield session


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    with page_server({"/": "<!doctype html><title>app</title><p>app</p>"}) as served:
        yield served


def fetch_script(put_url: str, get_url: str) -> str:
    """PUT a text body (a non-simple request: the browser sends a preflight first), then GET it back."""
    return f"""
    (async () => {{
      const put = await fetch({json.dumps(put_url)}, {{method: "PUT", body: {json.dumps(BODY)},
                                                      headers: {{"Content-Type": "text/plain"}}}});
      const got = await fetch({json.dumps(get_url)});
      done({{put: put.status, etag: put.headers.get("ETag"), get: got.status, text: await got.text()}});
    }})().catch(e => done({{error: String(e)}}));
    """


def allow(s3, bucket: str, page_origin: str) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": [page_origin], "AllowedMethods": ["GET", "PUT", "POST"],
         "AllowedHeaders": ["content-type"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 60}]})


def presigned(server: RunningServer, bucket: str, key: str) -> tuple[str, str]:
    """A SigV4 presigned PUT and boto3's default presigned GET (SigV2 in us-east-1) of `key`."""
    v4 = server.client("s3", signature_version="s3v4")
    put = v4.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key})
    get = server.client("s3").generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
    return put, get


def test_presigned_put_then_fetch_back(server: RunningServer, s3, browser: Browser, origin: str) -> None:
    bucket = new_bucket(s3)
    allow(s3, bucket, origin)
    browser.open(origin + "/")
    result = browser.run_async(fetch_script(*presigned(server, bucket, "from-browser.txt")))
    md5 = hashlib.md5(BODY.encode()).hexdigest()
    assert result == {"put": 200, "etag": f'"{md5}"', "get": 200, "text": BODY}
    assert s3.get_object(Bucket=bucket, Key="from-browser.txt")["Body"].read() == BODY.encode()


def test_post_form_from_the_page(s3, browser: Browser, origin: str) -> None:
    bucket = new_bucket(s3)
    allow(s3, bucket, origin)
    form = s3.generate_presigned_post(bucket, "form.txt")
    browser.open(origin + "/")
    result = browser.run_async(f"""
    const form = new FormData();
    for (const [name, value] of Object.entries({json.dumps(form["fields"])})) form.append(name, value);
    form.append("file", new Blob(["posted by a browser"]), "form.txt");
    fetch({json.dumps(form["url"])}, {{method: "POST", body: form}})
      .then(r => done({{status: r.status, etag: r.headers.get("ETag")}}), e => done({{error: String(e)}}));
    """)
    assert result["status"] == 204 and result["etag"], result
    assert s3.get_object(Bucket=bucket, Key="form.txt")["Body"].read() == b"posted by a browser"


def test_without_a_rule_for_the_origin_the_browser_is_refused(server: RunningServer, s3, browser: Browser,
                                                               origin: str) -> None:
    plain = new_bucket(s3)  # no CORS configuration: the preflight is refused, the PUT never sent
    browser.open(origin + "/")
    result = browser.run_async(fetch_script(*presigned(server, plain, "never.txt")))
    assert "error" in result, result
    assert_absent(s3, plain, "never.txt")
    # The rules name 127.0.0.1's origin; the same page from localhost is another origin, and may not read.
    allowed = new_bucket(s3, keys=["readable.txt"])
    allow(s3, allowed, origin)
    _, get_url = presigned(server, allowed, "readable.txt")
    browser.open(origin.replace("127.0.0.1", "localhost") + "/")
    refused = browser.run_async(f"fetch({json.dumps(get_url)}).then(r => r.text()).then("
                                "t => done({text: t}), e => done({error: String(e)}));")
    assert "error" in refused, refused
