"""What every background job of a serving process shares (the blob sweep, the lifecycle worker, the
metrics inventory, log delivery, the heartbeat): its task, started with the app and cancelled at its
end (`Background`); its loop, a round then a jittered pause (`repeat`: a failed round is logged and
the next one tries again); and, for a job one server at a time leads, the name this process holds its
lease in the catalog under (`lease_holder`)."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any


def lease_holder() -> str:
    """This process's name for a lease in the catalog: host, pid and a random part (a pid is reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Background:
    """The task of one background job: `start(run)` once the loop runs, `stop()` when the app ends."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(run())

    async def stop(self) -> bool:
        """Cancel the task and wait for it to end; whether it was running."""
        if self._task is None:
            return False
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        return True


async def repeat(round_: Callable[[], Awaitable[object]], *, interval: float, jitter: float,
                 log: logging.Logger, what: str, traceback: bool = True) -> None:
    """Run `round_` every `interval` seconds, each pause drawn from interval * (1 +- jitter)."""
    while True:
        try:
            await round_()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - the next round tries again
            if traceback:
                log.exception("%s failed; retrying at its next round", what)
            else:
                log.warning("%s failed (%s: %s); retrying at its next round", what, type(e).__name__, e)
        await asyncio.sleep(interval * random.uniform(1 - jitter, 1 + jitter))
