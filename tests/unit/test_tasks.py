"""The app's task set: crashes logged in one place, loops survive them, close() ends all."""

from __future__ import annotations

import asyncio
import logging

import pytest

from engage.tasks import Backoff, TaskSet


async def test_a_crashing_task_is_logged_with_its_name(caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    tasks = TaskSet()

    async def crash() -> None:
        raise ValueError("boom")

    task = tasks.spawn(crash(), name="crasher")
    with pytest.raises(ValueError, match="boom"):
        await task  # whoever awaits it still gets the error (after the set logged it)
    crashes = [r for r in caplog.records if getattr(r, "task", None) == "crasher"]
    assert len(crashes) == 1
    assert crashes[0].levelno == logging.ERROR and crashes[0].exc_info is not None
    assert crashes[0].getMessage() == "background task crashed"
    assert len(tasks) == 0
    await tasks.close()


async def test_a_failing_periodic_step_is_logged_and_the_loop_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    tasks = TaskSet()
    passes = 0
    third = asyncio.Event()

    async def step() -> None:
        nonlocal passes
        passes += 1
        if passes == 3:
            third.set()
        if passes <= 2:
            raise RuntimeError(f"pass {passes} failed")

    loop = tasks.every(0, step, name="flaky")
    await third.wait()
    assert not loop.done()
    failures = [r for r in caplog.records if getattr(r, "task", None) == "flaky"]
    assert [r.getMessage() for r in failures] == ["periodic step failed; retrying"] * 2
    assert [getattr(r, "failures", None) for r in failures] == [1, 2]
    assert all(r.exc_info is not None for r in failures)
    await tasks.close()
    assert loop.cancelled() and len(tasks) == 0


async def test_wake_starts_the_next_pass_before_the_interval() -> None:
    tasks = TaskSet()
    wake = asyncio.Event()
    passes: list[int] = []
    first, second = asyncio.Event(), asyncio.Event()

    async def step() -> None:
        passes.append(len(passes) + 1)
        (first if len(passes) == 1 else second).set()

    tasks.every(3600, step, name="woken", wake=wake)
    await first.wait()
    wake.set()  # an hour's interval: only the wake can bring the second pass
    await second.wait()
    assert passes == [1, 2]
    await tasks.close()


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(0.1, 1.0)
    assert [backoff.after(n) for n in (1, 2, 3, 4, 5, 9)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]


async def test_close_stops_everything_and_refuses_new_tasks() -> None:
    tasks = TaskSet()
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    one = tasks.spawn(forever(), name="forever")
    two = tasks.every(3600, started.wait, name="hourly")
    three = tasks.later(3600, started.wait, name="timer")
    await started.wait()
    assert tasks.names() == ["forever", "hourly", "timer"]
    await tasks.close()
    assert one.cancelled() and two.cancelled() and three.cancelled()
    assert len(tasks) == 0
    coro = forever()
    with pytest.raises(RuntimeError, match="closed"):
        tasks.spawn(coro, name="late")
    assert coro.cr_frame is None  # closed, so no "never awaited" warning either


async def test_a_task_that_swallows_a_cancel_is_still_stopped() -> None:
    tasks = TaskSet()
    swallowed = asyncio.Event()
    waiting = asyncio.Event()

    async def stubborn() -> None:
        # What asyncio.wait_for can do on Python 3.11 when the cancel lands as the inner
        # call completes: the CancelledError never reaches the loop.
        try:
            waiting.set()
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            swallowed.set()
        await asyncio.Event().wait()  # carries on as if nothing happened

    task = tasks.spawn(stubborn(), name="stubborn")
    await waiting.wait()
    await tasks.close()
    assert swallowed.is_set() and task.cancelled()
    assert len(tasks) == 0


async def test_cancel_stops_only_the_given_tasks() -> None:
    tasks = TaskSet()
    mine = tasks.spawn(asyncio.Event().wait(), name="mine")
    other = tasks.spawn(asyncio.Event().wait(), name="other")
    await tasks.cancel(mine, None)
    assert mine.cancelled() and not other.done()
    assert tasks.names() == ["other"]
    await tasks.close()
    assert other.cancelled()
