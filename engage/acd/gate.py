"""Asks the access policy with the facts loaded: the live interaction, else its stored record."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from engage.acd.access import Action, Actor, Verdict, former_matters, may
from engage.acd.interaction import IX_RE, Interaction
from engage.acd.lifecycle import State
from engage.acd.store import AcdError
from engage.errors import EngageError, Forbidden, NotFound

NOT_YOURS = "No such conversation among yours."

# What "not in this state" means to the one who asked, per action.
_NOT_NOW: dict[Action, tuple[type[EngageError] | None, str]] = {
    Action.SEND: (Forbidden, "this conversation has ended"),
    Action.ATTACH: (Forbidden, "this conversation has ended"),
    Action.CALL: (None, "not_connected"),
    Action.WATCH_TRAIL: (Forbidden, "the conversation is not going on: its trail is closed"),
}


class Interactions(Protocol):
    async def interaction(self, ix: str) -> Interaction | None: ...


class Conversations(Protocol):
    async def conversation(self, ix: str) -> dict[str, object] | None: ...


class AccessGate:
    """``require`` answers with the interaction when the policy allows, else raises."""

    def __init__(self, interactions: Interactions, conversations: Conversations) -> None:
        self.interactions = interactions
        self._conversations = conversations

    async def verdict(self, actor: Actor, action: Action, ix: str, *,
                      former: Iterable[str] = ()) -> tuple[Verdict, Interaction | None]:
        """The policy's answer and the interaction it was given. ``former``: agents known to
        have handled it besides those the stored conversation names (a recorded call's)."""
        if not IX_RE.fullmatch(ix):
            return Verdict.NOT_YOURS, None
        known = list(former)
        live = await self.interactions.interaction(ix)
        if live is not None:
            verdict = may(actor, action, live, known)
            if verdict is Verdict.ALLOWED or not former_matters(actor, action, live.state):
                return verdict, live
        record = await self._conversations.conversation(ix)
        if record is None:
            if live is None:
                return Verdict.NOT_YOURS, None
            return verdict, live
        agents = record.get("agents")
        known += [str(a) for a in agents] if isinstance(agents, list) else []
        if live is None:
            # The live state expired (a day after the end): the stored record remains.
            live = Interaction(id=ix, state=State.CLOSED, visitor=str(record.get("visitor") or ""),
                               site=str(record.get("site") or ""),
                               customer=str(record.get("customer") or ""))
        return may(actor, action, live, known), live

    async def require(self, actor: Actor, action: Action, ix: str, *, hide: bool = False,
                      former: Iterable[str] = (), not_yours: str = "") -> Interaction:
        """The interaction, when ``actor`` may do ``action`` to it now. Refusals: Forbidden
        (or NotFound with ``hide``, so staff routes don't confirm ids that aren't theirs),
        saying ``not_yours`` when given; "not now" as the action's own error (a call:
        ``not_connected``)."""
        verdict, ix_value = await self.verdict(actor, action, ix, former=former)
        if verdict is Verdict.ALLOWED and ix_value is not None:
            return ix_value
        if verdict is Verdict.NOT_NOW and action in _NOT_NOW:
            error, message = _NOT_NOW[action]
            if error is None:
                raise AcdError(message)
            raise error(message)
        if hide:
            raise NotFound(not_yours or NOT_YOURS)
        raise Forbidden(not_yours or ("this interaction is not yours" if actor.username
                                      else "this interaction belongs to another visitor"))
