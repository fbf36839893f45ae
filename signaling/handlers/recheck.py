"""Passes the ACD's notifications on, then lets whoever holds something of an interaction
(a call, a trail watch) check whether the access policy still allows it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from engage.acd.service import AcdNotifier

# ACD notifications after which someone's part in an interaction may have changed: the
# conversation ended, the agent was lost, another agent took over, a consultation ended.
IX_CHANGES = frozenset({"ended", "agent_lost", "timed_out", "connected"})
AGENT_CHANGES = frozenset({"closed", "transferred", "consult_cancelled", "wrap_up"})

Recheck = Callable[[str], Awaitable[None]]


class RecheckingNotifier:
    """An ``AcdNotifier`` that delivers first, then re-checks the interaction."""

    def __init__(self, inner: AcdNotifier, recheck: Recheck) -> None:
        self._inner = inner
        self._recheck = recheck

    async def to_agent(self, username: str, event: str, data: dict[str, Any]) -> None:
        await self._inner.to_agent(username, event, data)
        if event in AGENT_CHANGES and isinstance(data.get("interaction"), str):
            await self._recheck(data["interaction"])

    async def to_interaction(self, ix: str, event: str, data: dict[str, Any]) -> None:
        await self._inner.to_interaction(ix, event, data)
        if event in IX_CHANGES:
            await self._recheck(ix)

    async def queue_changed(self, queue: str) -> None:
        await self._inner.queue_changed(queue)
