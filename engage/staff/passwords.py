"""Argon2 hashing and verification off the event loop, in a bounded number of threads."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["DUMMY_HASH", "PasswordChecks", "PasswordHasher", "default_workers"]

T = TypeVar("T")
# Added to the nice value of the argon2 threads: the loop wins the CPU when both want it (a sign-in
# storm measured loop lag at about half of that at normal priority), yet sign-ins are not
# starved on a busy machine, as they would be at 19.
WORKER_NICENESS = 10


def new_hasher() -> PasswordHasher:
    """argon2id with one lane: a check occupies one core, never all of them (argon2-cffi's
    default of 4 lanes spreads every check over 4 threads and took both cores of a 2-core
    node from its event loop during a sign-in storm). 64 MiB and 3 passes stay above
    OWASP's argon2id minimums; older hashes are re-hashed at their next sign-in."""
    return PasswordHasher(parallelism=1)


# Verifying against this keeps the time of an unknown-user login equal to a wrong password.
DUMMY_HASH = new_hasher().hash("engage-timing-equaliser")


def default_workers() -> int:
    """Half the CPUs, at least one: argon2 is CPU-bound, and the event loop needs a core."""
    return max(1, (os.cpu_count() or 2) // 2)


def _lower_priority() -> None:
    """Runs in each worker thread as it starts: on Linux the nice value is per thread and
    inherited by the threads argon2 spawns for its lanes, so checks yield to the loop."""
    try:
        thread = threading.get_native_id()
        niceness = os.getpriority(os.PRIO_PROCESS, thread) + WORKER_NICENESS
        os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness))
    except (AttributeError, OSError):  # not Linux, or not permitted: run at normal priority
        pass


class PasswordChecks:
    """Every argon2 call of the node: in at most ``workers`` threads, never on the loop.

    argon2-cffi releases the GIL while hashing, so a check in a worker thread leaves the
    event loop (every socket of the node) running; few workers at a lower priority keep a
    storm of sign-ins from taking the cores the loop needs. ``on_check`` is told of each
    verification (a metric). The threads start at first use; ``stop`` ends them.
    """

    def __init__(self, hasher: PasswordHasher | None = None, workers: int = 0,
                 on_check: Callable[[], None] | None = None) -> None:
        self.hasher = hasher or new_hasher()
        self.workers = workers or default_workers()
        self._pool: ThreadPoolExecutor | None = None
        self._on_check = on_check

    async def _run(self, call: Callable[..., T], *args: object) -> T:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="argon2",
                                            initializer=_lower_priority)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call, *args)

    async def start(self) -> None:
        """Nothing to do: the threads start with the first check."""

    async def stop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    async def hash(self, password: str) -> str:
        return await self._run(self.hasher.hash, password)

    async def verify(self, stored: str, password: str) -> bool:
        """True if ``password`` matches ``stored`` (a malformed hash never matches)."""
        if self._on_check is not None:
            self._on_check()
        return await self._run(self._verify, stored, password)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)
