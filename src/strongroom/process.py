"""What every strongroom process does first: keep what it creates, and its memory, to its own user.

- `umask 077`: the catalog, its WAL, lock files, blobs and directories are created for the server's
  user alone (with the default 022 they were readable by every local account, and any account could
  hold the commit lock and stall every write).
- No core dumps (`RLIMIT_CORE` 0) and not dumpable (`PR_SET_DUMPABLE` 0): a crash or a debugger
  attached by another account must not write the root key, data keys or secrets to a file.
  `PR_SET_DUMPABLE` is reset by exec, so every server process (the spawned workers too) calls this.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import sys

PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3


def _prctl(option: int, value: int = 0) -> int:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    result: int = libc.prctl(option, value, 0, 0, 0)
    return result


def harden() -> None:
    os.umask(0o077)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        _prctl(PR_SET_DUMPABLE, 0)


def dumpable() -> bool:
    """Whether this process may be dumped or traced by its user (Linux; True elsewhere)."""
    return not sys.platform.startswith("linux") or _prctl(PR_GET_DUMPABLE) != 0
