"""The app-owned task set: every background task and periodic loop starts, fails and stops here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger("engage.tasks")

T = TypeVar("T")


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


@dataclass(frozen=True)
class Backoff:
    """After a failed step, wait ``first`` seconds, doubling per further failure up to ``cap``."""

    first: float
    cap: float

    def after(self, failures: int) -> float:
        return float(min(self.first * 2 ** max(failures - 1, 0), self.cap))


class TaskSet:
    """The node's background tasks. ``spawn`` starts one, ``every`` a periodic loop; a task
    that crashes is logged here (nowhere else), and ``close()`` cancels and waits for all.

    Services get the set at construction and cancel their own loops in ``stop()`` with
    ``cancel(...)``; whatever is still running when the app stops is ended by ``close()``.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._tasks)

    def names(self) -> list[str]:
        """The running tasks' names, sorted (for tests and diagnostics)."""
        return sorted(task.get_name() for task in self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str) -> asyncio.Task[T]:
        """Run ``coro`` as a task of this set; a strong reference is kept until it is done."""
        if self._closed:
            coro.close()  # never awaited: close it so Python does not warn about it
            raise RuntimeError(f"task set closed; {name!r} not started")
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def every(self, interval: float, step: Callable[[], Awaitable[object]], *, name: str,
              wake: asyncio.Event | None = None, backoff: Backoff | None = None
              ) -> asyncio.Task[None]:
        """Run ``step`` now and then ``interval`` seconds after each pass ends.

        ``wake`` set ends the pause early (work arrived). A failing step is logged and the
        loop goes on: after ``interval`` (or ``wake``), or after ``backoff`` when given, so a
        lost backend is not hammered.
        """
        return self.spawn(_repeat(interval, step, name, wake, backoff), name=name)

    def later(self, seconds: float, fn: Callable[[], Awaitable[object]], *, name: str
              ) -> asyncio.Task[None]:
        """Run ``fn`` once, ``seconds`` from now: a timer that ``close()`` cancels (a bare
        ``call_later`` would fire into a stopped app)."""
        return self.spawn(_after(seconds, fn), name=name)

    async def cancel(self, *tasks: asyncio.Task[Any] | None) -> None:
        """Cancel and wait for some of this set's tasks (a service stopping its loops)."""
        await cancel_and_wait(task for task in tasks if task is not None)

    async def close(self) -> None:
        """Cancel every task and wait until all are done, including tasks spawned while the
        others were being cancelled; nothing can be spawned afterwards."""
        while self._tasks:
            await cancel_and_wait(list(self._tasks))
        self._closed = True

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        try:
            task.result()
        except Exception:
            log.exception("background task crashed", extra={"task": task.get_name()})


async def _after(seconds: float, fn: Callable[[], Awaitable[object]]) -> None:
    await asyncio.sleep(seconds)
    await fn()


async def _repeat(interval: float, step: Callable[[], Awaitable[object]], name: str,
                  wake: asyncio.Event | None, backoff: Backoff | None) -> None:
    failures = 0
    while True:
        if wake is not None:
            wake.clear()  # before the step: work that arrives during it wakes the next pass
        try:
            await step()
            failures = 0
        except Exception:
            failures += 1
            pause = backoff.after(failures) if backoff is not None else interval
            log.exception("periodic step failed; retrying",
                          extra={"task": name, "retry_in": pause, "failures": failures})
            if backoff is not None:
                await asyncio.sleep(pause)
                continue
        await _pause(interval, wake)


async def _pause(seconds: float, wake: asyncio.Event | None) -> None:
    if wake is None:
        await asyncio.sleep(seconds)
        return
    try:
        await asyncio.wait_for(wake.wait(), seconds)
    except TimeoutError:
        pass
