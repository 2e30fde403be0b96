"""A real browser for tests: Debian's Chromium, headless, driven by chromedriver over the W3C WebDriver
protocol (a few JSON requests: no client library needed), and a page server on its own port, so that
the page's origin differs from strongroom's.

Tests that use it skip, saying why, where chromium or chromedriver is missing (dev.py installs both).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tests.integration.helpers import free_port

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-extensions"]


def missing() -> str | None:
    """Why no browser can run here, or None."""
    for command in ("chromium", "chromedriver"):
        if shutil.which(command) is None:
            return f"{command} is not installed (dev.py installs Debian's chromium and chromium-driver)"
    return None


class Browser:
    """One WebDriver session: open a page, run a script that calls back with its result."""

    def __init__(self, driver_url: str, session_id: str) -> None:
        self._url = f"{driver_url}/session/{session_id}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        reply = requests.request(method, self._url + path, json=body, timeout=120)
        value = reply.json()["value"]
        if reply.status_code != 200:
            raise AssertionError(f"WebDriver {path}: {value}")
        return value

    def open(self, url: str) -> None:
        self._call("POST", "/url", {"url": url})

    def run_async(self, script: str, timeout_s: float = 60) -> Any:
        """Run `script` in the page; it ends by calling `done(value)`, and `value` is returned."""
        self._call("POST", "/timeouts", {"script": int(timeout_s * 1000)})
        wrapped = f"const done = arguments[arguments.length - 1];\n{script}"
        return self._call("POST", "/execute/async", {"script": wrapped, "args": []})


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium session for the duration of the block (skips when there is none)."""
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    port = free_port()
    driver = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    driver_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{driver_url}/status", timeout=2).json()["value"]["ready"]:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "chromedriver did not start"
            time.sleep(0.1)
        options = {"args": CHROMIUM_ARGS, "binary": shutil.which("chromium")}
        created = requests.post(f"{driver_url}/session", timeout=120, json={
            "capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}}).json()["value"]
        session_id = created["sessionId"]
        try:
            yield Browser(driver_url, session_id)
        finally:
            requests.delete(f"{driver_url}/session/{session_id}", timeout=60)
    finally:
        driver.terminate()
        driver.wait(timeout=30)


@contextmanager
def page_server(pages: dict[str, str]) -> Iterator[str]:
    """Serve `pages` ({path: html}) on a free loopback port; yields the origin (http://127.0.0.1:port)."""

    class Pages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = pages.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write((body or "").encode())

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
