"""The server's logs: its own lines (text, or JSON with --log-format json) and the access log.

The access log is one JSON object per line per request (--access-log PATH, or - for stderr), written
with one write() on a descriptor opened O_APPEND, so the lines of several workers never interleave. Its
fields are facts about the request (who, what, outcome, sizes, time, encryption), never a header's
value: no signature, secret, customer key or body can reach it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and the traceback, when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)


def configure(level: str, log_format: str) -> None:
    """The root logger of this process (the server's parent and each worker): stderr, text or JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# The access log's fields, in the order of every line (README, Operating strongroom, Logs).
ACCESS_FIELDS = ("time", "request_id", "remote", "principal", "operation", "bucket", "key", "version_id",
                 "status", "error_code", "bytes_in", "bytes_out", "duration_ms", "sse", "kms_key_arn")
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class AccessLog:
    """Appends one JSON line per request to a file, or to stderr for "-"."""

    def __init__(self, target: str) -> None:
        if target == "-":
            self._fd, self._owned = sys.stderr.fileno(), False
        else:
            self._fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._owned = True
        self._second = -1
        self._second_text = ""

    def now(self) -> str:
        """The time in ISO 8601 (UTC, milliseconds); the date and second are formatted once a second."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second, self._second_text = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int((now - second) * 1000):03d}Z"

    def write(self, line: dict[str, object]) -> None:
        """`line`: ACCESS_FIELDS' values (the time from `now()`), built by the caller in that order."""
        data = (_encode(line) + "\n").encode("utf-8", "backslashreplace")
        # A full disk or a closed stderr must not fail the request that was answered.
        with contextlib.suppress(OSError):
            os.write(self._fd, data)

    def close(self) -> None:
        if self._owned:
            os.close(self._fd)


class ServerAccessLogBuffer:
    """Server access log records (AWS's format) waiting for delivery into their target buckets, by source
    bucket: filled by the requests of this process, emptied every delivery interval
    (strongroom.s3.log_delivery). Best effort, as AWS's delivery is: beyond `limit` records waiting, new
    ones are dropped and counted."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self.waiting = 0
        self.dropped = 0
        self._records: dict[str, list[tuple[float, str]]] = {}

    def add(self, bucket: str, event_time: float, record: str) -> None:
        if self.waiting >= self.limit:
            self.dropped += 1
            return
        self.waiting += 1
        self._records.setdefault(bucket, []).append((event_time, record))

    def take(self) -> dict[str, list[tuple[float, str]]]:
        """Every waiting record, by source bucket; the buffer starts again empty."""
        records, self._records, self.waiting = self._records, {}, 0
        return records
