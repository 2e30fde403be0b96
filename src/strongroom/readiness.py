"""Whether this server process answers requests, and if not, why: the one state a health check reads.

A cause (a clock beyond --max-clock-skew, a registration the catalog lost) turns the process
not-ready with a sentence saying why, and is cleared when it is over; the process is ready when no
cause holds. `ready` is a plain attribute, read once per request (s3/limits.py): a not-ready process
answers 503 ServiceUnavailable and its time-based jobs (the KMS deletion sweep) wait.
"""

from __future__ import annotations


class Readiness:
    __slots__ = ("_causes", "ready")

    def __init__(self) -> None:
        self.ready = True
        self._causes: dict[str, str] = {}

    def fail(self, cause: str, why: str) -> bool:
        """Not ready because of `cause` (`why` says it to people); True if it did not hold before."""
        new = cause not in self._causes
        self._causes[cause] = why
        self.ready = False
        return new

    def recover(self, cause: str) -> bool:
        """`cause` is over; True if it held."""
        held = self._causes.pop(cause, None) is not None
        self.ready = not self._causes
        return held

    @property
    def why(self) -> str:
        return "; ".join(self._causes.values())
