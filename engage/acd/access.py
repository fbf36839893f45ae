"""The one access policy (pure): may this actor do this action to this interaction now?

Every socket handler and HTTP route that touches an interaction asks here (through
``engage.acd.gate``, which loads the facts). An actor's *parts* in an interaction are
what it is there: the visitor who owns it (a signed-in customer's conversation is owned by
that customer, as the site proves them, on any device; an anonymous one by its visitor id),
the agent who holds it, an agent it is offered
to, a consultant (offered or accepted), a former agent (held it or wrote in it before a
transfer or its end), and the staff roles supervisor, admin and marketer, which apply to
every interaction. A part grants an action in a set of states; several parts add up.

States: ANY = every state, also after the live state expired (the stored conversation
remains); LIVE = new, queued, offered, connected, transferred (still going on for the
visitor); CONN = connected. "-" = never.

    action            visitor agent offered cons~ cons+ former superv admin market
    read              ANY     ANY   -       -     ANY   ANY    ANY    ANY   -
    send              LIVE    CONN  -       -     -     -      -      -     -
    signal            ANY     ANY   -       -     ANY   -      -      -     -
    attach            LIVE    CONN  -       -     -     -      -      -     -
    visitor_tools     ANY     -     -       -     -     -      -      -     -
    watch_trail       -       CONN  -       -     CONN  -      LIVE   -     -
    recordings        -       ANY   -       -     ANY   ANY    ANY    ANY   -
    call              CONN    CONN  -       -     -     -      -      -     -
    render_knowledge  -       ANY   -       -     ANY   -      ANY    ANY   -
    cobrowse_view     -       CONN  -       -     CONN  -      CONN   -     -
    cobrowse_control  -       CONN  -       -     -     -      -      -     -
    monitor           -       -     -       -     -     -      CONN   -     -
    whisper           -       -     -       -     -     -      CONN   -     -
    barge             -       -     -       -     -     -      CONN   -     -

(cons~ = consultant offered, cons+ = consultant accepted, superv = supervisor, market =
marketer; read = transcript, chat sync, attachment download; signal = typing and read
receipts; visitor_tools = queue status, cancel, rating, transcript by mail.)

Decided where the old per-handler checks disagreed: an agent only *offered* the
interaction, or a consultant only offered the consultation, reads nothing of it yet
(socket sync used to admit them, the HTTP attachment route did not); watching the
visitor's trail is for the agent and an accepted consultant while connected, and for
supervisors while the conversation goes on (it used to be open to anyone who ever held
it for 24 h); a former agent keeps reading what was said, and stops seeing the trail.
A refusal says whether the actor has no part that could ever do it (``NOT_YOURS``) or
only not in this state (``NOT_NOW``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from engage.acd.interaction import LIVE, Interaction
from engage.acd.lifecycle import State
from engage.models import Role


class Action(enum.StrEnum):
    READ = "read"
    SEND = "send"
    SIGNAL = "signal"
    ATTACH = "attach"
    VISITOR_TOOLS = "visitor_tools"
    WATCH_TRAIL = "watch_trail"
    RECORDINGS = "recordings"
    CALL = "call"
    RENDER_KNOWLEDGE = "render_knowledge"
    COBROWSE_VIEW = "cobrowse_view"
    COBROWSE_CONTROL = "cobrowse_control"
    MONITOR = "monitor"
    WHISPER = "whisper"
    BARGE = "barge"


class Part(enum.StrEnum):
    VISITOR = "visitor"
    AGENT = "agent"
    OFFERED = "offered"
    CONSULT_OFFERED = "cons~"
    CONSULT_ACCEPTED = "cons+"
    FORMER = "former"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    MARKETER = "marketer"


class Verdict(enum.Enum):
    ALLOWED = "allowed"
    NOT_YOURS = "not_yours"
    NOT_NOW = "not_now"


ANY = frozenset(State)
CONN = frozenset({State.CONNECTED})
NEVER: frozenset[State] = frozenset()
GROUPS = {"ANY": ANY, "LIVE": LIVE, "CONN": CONN, "-": NEVER}

# The table of the docstring, column by column (a unit test keeps the two equal).
_ROWS: dict[Action, tuple[str, ...]] = {
    #                   visitor agent offered cons~ cons+ former superv admin market
    Action.READ:              ("ANY", "ANY", "-", "-", "ANY", "ANY", "ANY", "ANY", "-"),
    Action.SEND:              ("LIVE", "CONN", "-", "-", "-", "-", "-", "-", "-"),
    Action.SIGNAL:            ("ANY", "ANY", "-", "-", "ANY", "-", "-", "-", "-"),
    Action.ATTACH:            ("LIVE", "CONN", "-", "-", "-", "-", "-", "-", "-"),
    Action.VISITOR_TOOLS:     ("ANY", "-", "-", "-", "-", "-", "-", "-", "-"),
    Action.WATCH_TRAIL:       ("-", "CONN", "-", "-", "CONN", "-", "LIVE", "-", "-"),
    Action.RECORDINGS:        ("-", "ANY", "-", "-", "ANY", "ANY", "ANY", "ANY", "-"),
    Action.CALL:              ("CONN", "CONN", "-", "-", "-", "-", "-", "-", "-"),
    Action.RENDER_KNOWLEDGE:  ("-", "ANY", "-", "-", "ANY", "-", "ANY", "ANY", "-"),
    Action.COBROWSE_VIEW:     ("-", "CONN", "-", "-", "CONN", "-", "CONN", "-", "-"),
    Action.COBROWSE_CONTROL:  ("-", "CONN", "-", "-", "-", "-", "-", "-", "-"),
    Action.MONITOR:           ("-", "-", "-", "-", "-", "-", "CONN", "-", "-"),
    Action.WHISPER:           ("-", "-", "-", "-", "-", "-", "CONN", "-", "-"),
    Action.BARGE:             ("-", "-", "-", "-", "-", "-", "CONN", "-", "-"),
}
COLUMNS = tuple(Part)
RULES: dict[tuple[Action, Part], frozenset[State]] = {
    (action, part): GROUPS[cell]
    for action, cells in _ROWS.items() for part, cell in zip(COLUMNS, cells, strict=True)}
_ROLE_PARTS = {Role.SUPERVISOR: Part.SUPERVISOR, Role.ADMIN: Part.ADMIN,
               Role.MARKETER: Part.MARKETER}


@dataclass(frozen=True)
class Actor:
    """Who is asking: a visitor (by visitor id) or a staff member (by username and role)."""

    visitor: str = ""
    username: str = ""
    role: Role | None = None
    customer: str = ""  # the customer a visitor's token proves, if any
    site: str = ""  # the site a visitor's token is for

    @classmethod
    def of_visitor(cls, visitor_id: str, customer_id: str = "", site: str = "") -> Actor:
        return cls(visitor=visitor_id, customer=customer_id, site=site)

    @classmethod
    def of_staff(cls, username: str, role: Role) -> Actor:
        return cls(username=username, role=role)


def parts(actor: Actor, ix: Interaction, former_agents: Iterable[str] = ()) -> frozenset[Part]:
    """Every part ``actor`` has in ``ix``; ``former_agents`` are those the stored
    conversation remembers (agents who wrote in it)."""
    found: set[Part] = set()
    if actor.visitor:
        # A signed-in customer's conversation belongs to the customer (on any device, as the
        # site proves them), not to a browser: a token of that browser that no longer proves
        # the customer reads none of it. An anonymous one belongs to its visitor.
        if ix.customer:
            owner = actor.customer == ix.customer and actor.site == ix.site
        else:
            owner = bool(ix.visitor) and actor.visitor == ix.visitor
        if owner:
            found.add(Part.VISITOR)
        return frozenset(found)
    me = actor.username
    if not me:
        return frozenset()
    if actor.role in _ROLE_PARTS:
        found.add(_ROLE_PARTS[actor.role])
    if ix.agent == me:
        found.add(Part.AGENT)
    if ix.offered_to(me):
        found.add(Part.OFFERED)
    if ix.consult is not None and ix.consult.agent == me:
        found.add(Part.CONSULT_ACCEPTED if ix.consult.accepted else Part.CONSULT_OFFERED)
    if Part.AGENT not in found and (me == ix.transferred_from or me in former_agents):
        found.add(Part.FORMER)
    return frozenset(found)


def decide(held: frozenset[Part], action: Action, state: State) -> Verdict:
    """ALLOWED when one of the parts grants ``action`` in ``state``; NOT_NOW when one would
    in another state; NOT_YOURS otherwise."""
    granted = [RULES[action, part] for part in held]
    if any(state in states for states in granted):
        return Verdict.ALLOWED
    return Verdict.NOT_NOW if any(granted) else Verdict.NOT_YOURS


def may(actor: Actor, action: Action, ix: Interaction, former_agents: Iterable[str] = ()
        ) -> Verdict:
    return decide(parts(actor, ix, former_agents), action, ix.state)


def former_matters(actor: Actor, action: Action, state: State) -> bool:
    """Whether being a former agent could change the answer (worth reading the stored
    conversation for)."""
    return bool(actor.username) and state in RULES[action, Part.FORMER]
