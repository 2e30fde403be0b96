"""What a test server may log: no traceback, and no ERROR record the test did not declare.

The check runs when the fixture that started the server tears down (factory.py), on the whole log of
every server it started, so it cannot pass on a log the test never produced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

# The start of every record the server logs ("%(asctime)s %(levelname)s %(name)s: %(message)s").
RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ([A-Z]+) ")


@dataclass
class LogWatch:
    """One server log (shared by a server and its restarts) and the ERROR records a test expects in it."""

    path: Path
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Each logged record that is an ERROR (or worse) nobody expected, or that carries a traceback."""
        records: list[tuple[str | None, list[str]]] = [(None, [])]
        for line in self.path.read_text(errors="replace").splitlines():
            start = RECORD.match(line)
            if start:
                records.append((start.group(1), [line]))
            else:
                records[-1][1].append(line)
        found = []
        for level, lines in records:
            text = "\n".join(lines)
            bad = level in ("ERROR", "CRITICAL") or "Traceback" in text
            if bad and not (lines and any(pattern.search(lines[0]) for pattern in self.expected)):
                found.append(text)
        return found
