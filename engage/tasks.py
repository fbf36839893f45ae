"""Stopping background tasks reliably."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel until every task is done.

    On Python 3.11 ``asyncio.wait_for`` (redis-py wraps its socket calls in it) can swallow a
    cancellation that lands just as the inner call completes, and the task carries on; one
    ``cancel()`` is therefore not enough for a loop that talks to Redis.
    """
    tasks = list(tasks)
    while pending := [task for task in tasks if not task.done()]:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=1)
    await asyncio.gather(*tasks, return_exceptions=True)
