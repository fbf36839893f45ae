"""Argon2 hashing and verification off the event loop, in a bounded number of threads."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["DUMMY_HASH", "PasswordChecks", "PasswordHasher", "default_workers"]

# Verifying against this keeps the time of an unknown-user login equal to a wrong password.
DUMMY_HASH = PasswordHasher().hash("engage-timing-equaliser")


def default_workers() -> int:
    """Half the CPUs, at least one: argon2 is CPU-bound, and the event loop needs a core."""
    return max(1, (os.cpu_count() or 2) // 2)


class PasswordChecks:
    """Every argon2 call of the node: at most ``workers`` at a time, never on the loop.

    argon2-cffi releases the GIL while hashing, so a check in a worker thread leaves the
    event loop (every socket of the node) running; the semaphore keeps a storm of sign-ins
    from taking every core. ``on_check`` is told of each verification (a metric).
    """

    def __init__(self, hasher: PasswordHasher | None = None, workers: int = 0,
                 on_check: Callable[[], None] | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self.workers = workers or default_workers()
        self._slots: asyncio.Semaphore | None = None
        self._on_check = on_check

    def _semaphore(self) -> asyncio.Semaphore:
        # Created on first use, inside the running loop it will guard.
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        return self._slots

    async def hash(self, password: str) -> str:
        async with self._semaphore():
            return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, stored: str, password: str) -> bool:
        """True if ``password`` matches ``stored`` (a malformed hash never matches)."""
        if self._on_check is not None:
            self._on_check()
        async with self._semaphore():
            return await asyncio.to_thread(self._verify, stored, password)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)
