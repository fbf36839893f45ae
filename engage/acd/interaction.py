"""The live interaction as a typed, frozen value, parsed once from its Redis hash (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from engage.acd.lifecycle import TERMINAL, State

# Interaction ids as the ACD allocates them (``AcdStore.next_interaction_id``).
IX_RE = re.compile(r"^ix[0-9]{10}$")
# The states in which the conversation is still going on for its visitor.
LIVE = frozenset({State.NEW, State.QUEUED, State.OFFERED, State.CONNECTED, State.TRANSFERRED})
# The states in which an agent holds it (assigned, not just offered).
HELD = frozenset({State.CONNECTED, State.TRANSFERRED, State.WRAP_UP, State.CLOSED})


@dataclass(frozen=True)
class Offer:
    """A reservation ringing one agent (or several, ring-all) until ``deadline_ms``."""

    agents: tuple[str, ...]
    deadline_ms: int


@dataclass(frozen=True)
class Consultation:
    """A colleague consulted during a warm transfer: offered, then accepted."""

    agent: str
    accepted: bool


@dataclass(frozen=True)
class Interaction:
    """One contact (chat, call …) as the ACD holds it in Redis, kept 24 h after it ended.

    ``agent`` is the agent who holds it; while it is offered, the agents it rings are in
    ``offer`` and ``agent`` is empty.
    """

    id: str
    state: State
    queue: str = ""
    channel: str = ""
    customer: str = ""
    visitor: str = ""
    site: str = ""
    agent: str = ""
    transferred_from: str = ""
    offer: Offer | None = None
    consult: Consultation | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    answered_ms: int = 0
    ended_ms: int = 0
    wrap_deadline_ms: int = 0

    @classmethod
    def from_hash(cls, ix: str, h: Mapping[str, str]) -> Interaction:
        state = State(h["state"])
        agent = h.get("agent", "")
        offer = None
        if state is State.OFFERED:
            ring = tuple(a for a in h.get("ring", "").split(",") if a)
            offer = Offer(agents=ring or ((agent,) if agent else ()),
                          deadline_ms=_int(h.get("offer_deadline")))
            agent = ""
        consult = None
        if h.get("consult"):
            consult = Consultation(agent=h["consult"],
                                   accepted=h.get("consult_state") == "accepted")
        return cls(id=ix, state=state, queue=h.get("queue", ""), channel=h.get("channel", ""),
                   customer=h.get("customer", ""), visitor=h.get("visitor", ""),
                   site=h.get("site", ""), agent=agent,
                   transferred_from=h.get("transferred_from", ""), offer=offer,
                   consult=consult, context=_context(h.get("context")),
                   answered_ms=_int(h.get("answered_ms")), ended_ms=_int(h.get("ended_ms")),
                   wrap_deadline_ms=_int(h.get("wrap_deadline")))

    @property
    def live(self) -> bool:
        """The conversation is still going on (not ended, not in wrap-up)."""
        return self.state in LIVE

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def staff(self) -> frozenset[str]:
        """The agents in the conversation now: its agent and an accepted consultant."""
        consultant = self.consult.agent if self.consult and self.consult.accepted else ""
        return frozenset(a for a in (self.agent, consultant) if a)

    @property
    def named_agent(self) -> str:
        """The agent it is with, or the one agent it rings (a ring-all names nobody)."""
        if self.offer is not None and len(self.offer.agents) == 1:
            return self.offer.agents[0]
        return self.agent

    def offered_to(self, username: str) -> bool:
        return self.offer is not None and username in self.offer.agents

    def visitor_name(self) -> str:
        """The name the visitor gave the widget (context.client.name), or ""."""
        client = self.context.get("client")
        name = client.get("name") if isinstance(client, dict) else None
        return name if isinstance(name, str) else ""


def _int(value: str | None) -> int:
    try:
        return int(float(value)) if value else 0
    except ValueError:
        return 0


def _context(raw: str | None) -> Mapping[str, Any]:
    try:
        value = orjson.loads(raw or "{}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
