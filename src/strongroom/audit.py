"""The audit log (--audit-log PATH): who changed what, when, from what to what (issue 13).

One JSON object per line, appended with one write() on a descriptor opened O_APPEND and fsynced before
the call returns, so a change that was acknowledged has its line on disk; several processes (workers,
the command line) append to one file without interleaving. A line holds documents (policies, ACLs,
configurations, key states) and names, never a secret: access keys' secrets, root keys and key material
are not passed here.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._lock = threading.Lock()

    def record(self, *, actor: str, source: str, action: str, target: str, before: Any = None,
               after: Any = None) -> None:
        """One change: `actor` (an ARN, or the local user of the command line), `source` ("s3", "kms" or
        "cli"), `action` (the AWS operation or command), `target` (what changed), and the state before
        and after (None: did not exist / does not any more)."""
        document = {
            "time": datetime.fromtimestamp(time.time(), UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "actor": actor,
            "source": source,
            "action": action,
            "target": target,
            "before": before,
            "after": after,
        }
        line = (json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode(
            "utf-8", "backslashreplace")
        with self._lock:
            os.write(self._fd, line)
            os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


def open_audit_log(path: Path | None) -> AuditLog | None:
    return None if path is None else AuditLog(path)
