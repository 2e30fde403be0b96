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
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """What the access log says of one request."""

    request_id: str
    remote: str
    principal: str  # the requester's ARN; "" when anonymous or not authenticated
    operation: str  # the AWS operation name; "Unknown" when the request was not routed
    bucket: str | None
    key: str | None
    version_id: str | None
    status: int
    error_code: str | None
    bytes_in: int
    bytes_out: int
    duration: float  # seconds
    sse: str | None  # AES256, aws:kms, aws:kms:dsse or SSE-C
    kms_key_arn: str | None


class AccessLog:
    """Appends AccessRecords as JSON lines to a file, or to stderr for "-"."""

    def __init__(self, target: str) -> None:
        if target == "-":
            self._fd, self._owned = sys.stderr.fileno(), False
        else:
            self._fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._owned = True

    def write(self, record: AccessRecord) -> None:
        document = {
            "time": _iso(time.time()),
            "request_id": record.request_id,
            "remote": record.remote,
            "principal": record.principal,
            "operation": record.operation,
            "bucket": record.bucket,
            "key": record.key,
            "version_id": record.version_id,
            "status": record.status,
            "error_code": record.error_code,
            "bytes_in": record.bytes_in,
            "bytes_out": record.bytes_out,
            "duration_ms": round(record.duration * 1000, 3),
            "sse": record.sse,
            "kms_key_arn": record.kms_key_arn,
        }
        line = json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"
        # A full disk or a closed stderr must not fail the request that was answered.
        with contextlib.suppress(OSError):
            os.write(self._fd, line.encode("utf-8", "backslashreplace"))

    def close(self) -> None:
        if self._owned:
            os.close(self._fd)
