"""The loop of a periodic background job (the blob sweep, the lifecycle worker, the metrics inventory):
a round, then a jittered pause, for as long as the server runs. A failed round is logged and the next
one tries again; cancelling the task (the server stopping) ends it. Which process does the work is each
job's own business (a lease in the catalog)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable


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
