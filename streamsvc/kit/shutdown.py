"""Waiting for things to stop without letting one that will not stop hold us up."""

import asyncio
from collections.abc import Awaitable


async def settle(awaitable: Awaitable[object], seconds: float) -> bool:
    """Wait at most `seconds` for `awaitable`; True when it finished. Unlike
    `asyncio.wait_for` (Python 3.11), a timeout never waits for the cancelled work to
    acknowledge its cancellation: work that swallows it is left behind, not awaited.
    Errors of the work are dropped: this is for closing, where nothing can be done."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        return False
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved
    return True
