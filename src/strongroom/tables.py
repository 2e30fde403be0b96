"""Plain-text tables for the reports of the command line (`verify`, `report encryption`, `kms list`):
columns padded to their widest cell, numbers aligned right, two spaces between columns."""

from __future__ import annotations

from collections.abc import Sequence


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [all(isinstance(row[i], int) for row in rows) and bool(rows) for i in range(len(header))]
    lines = []
    for row in cells:
        padded = [c.rjust(w) if numeric[i] else c.ljust(w)
                  for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(padded).rstrip())
    return lines
