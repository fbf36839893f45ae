"""The access policy: every actor, action and interaction state, against rules stated anew."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from engage.acd import access
from engage.acd.access import Action, Actor, Part, Verdict, decide, may, parts
from engage.acd.interaction import Interaction
from engage.acd.lifecycle import State
from engage.models import Role

A = Action
LIVE = {State.NEW, State.QUEUED, State.OFFERED, State.CONNECTED, State.TRANSFERRED}
READING = {A.READ}


def interaction(state: State, **extra: str) -> Interaction:
    """As the ACD stores it: the agent field names the held-by agent (or the offered one)."""
    h = {"state": state.value, "queue": "q", "channel": "chat", "visitor": "v1",
         "site": "s", "customer": "c1", "context": '{"client": {"name": "Lin"}}', **extra}
    return Interaction.from_hash("ix0000000001", h)


# Each actor: how to build the interaction around them, and the rule stated in plain terms.
Rule = Callable[[Action, State], bool]


def visitor_rule(action: Action, state: State) -> bool:
    if action in (A.READ, A.SIGNAL, A.VISITOR_TOOLS):
        return True
    if action in (A.SEND, A.ATTACH):
        return state in LIVE
    return action is A.CALL and state is State.CONNECTED


def agent_rule(action: Action, state: State) -> bool:
    if action in (A.READ, A.SIGNAL, A.RECORDINGS, A.RENDER_KNOWLEDGE):
        return True
    connected_only = {A.SEND, A.ATTACH, A.WATCH_TRAIL, A.CALL, A.COBROWSE_VIEW,
                      A.COBROWSE_CONTROL}
    return action in connected_only and state is State.CONNECTED


def consultant_rule(action: Action, state: State) -> bool:
    if action in (A.READ, A.SIGNAL, A.RECORDINGS, A.RENDER_KNOWLEDGE):
        return True
    return action in (A.WATCH_TRAIL, A.COBROWSE_VIEW) and state is State.CONNECTED


def former_rule(action: Action, state: State) -> bool:
    return action in (A.READ, A.RECORDINGS)


def supervisor_rule(action: Action, state: State) -> bool:
    if action in (A.READ, A.RECORDINGS, A.RENDER_KNOWLEDGE):
        return True
    if action is A.WATCH_TRAIL:
        return state in LIVE
    return action in (A.COBROWSE_VIEW, A.MONITOR, A.WHISPER, A.BARGE) \
        and state is State.CONNECTED


def admin_rule(action: Action, state: State) -> bool:
    return action in (A.READ, A.RECORDINGS, A.RENDER_KNOWLEDGE)


def never(action: Action, state: State) -> bool:
    return False


AGENT = Actor.of_staff("ann", Role.AGENT)
CASES: list[tuple[str, Actor, dict[str, str], Rule]] = [
    ("owning visitor", Actor.of_visitor("v1", "c1", "s"), {"agent": "ann"}, visitor_rule),
    ("the customer on another device", Actor.of_visitor("v9", "c1", "s"), {"agent": "ann"},
     visitor_rule),
    ("the same customer id on another site", Actor.of_visitor("v1", "c1", "t"),
     {"agent": "ann"}, never),
    ("owning visitor, anonymous", Actor.of_visitor("v1", "", "s"),
     {"agent": "ann", "customer": ""}, visitor_rule),
    ("the visitor's token without the customer", Actor.of_visitor("v1", "", "s"),
     {"agent": "ann"}, never),
    ("another customer's token", Actor.of_visitor("v1", "c2", "s"), {"agent": "ann"}, never),
    ("another visitor", Actor.of_visitor("v2", "", "s"), {"agent": "ann", "customer": ""},
     never),
    ("its agent", AGENT, {"agent": "ann"}, agent_rule),
    ("a supervisor as its agent", Actor.of_staff("ann", Role.SUPERVISOR), {"agent": "ann"},
     lambda a, s: agent_rule(a, s) or supervisor_rule(a, s)),
    ("consultant offered", AGENT, {"agent": "bob", "consult": "ann",
                                   "consult_state": "offered"}, never),
    ("consultant accepted", AGENT, {"agent": "bob", "consult": "ann",
                                    "consult_state": "accepted"}, consultant_rule),
    ("former agent (transfer)", AGENT, {"agent": "bob", "transferred_from": "ann"},
     former_rule),
    ("another agent", AGENT, {"agent": "bob"}, never),
    ("a supervisor", Actor.of_staff("sue", Role.SUPERVISOR), {"agent": "bob"},
     supervisor_rule),
    ("an admin", Actor.of_staff("root", Role.ADMIN), {"agent": "bob"}, admin_rule),
    ("a marketer", Actor.of_staff("mia", Role.MARKETER), {"agent": "bob"}, never),
    ("nobody", Actor(), {"agent": "bob"}, never),
]


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize(("name", "actor", "fields", "rule"), CASES,
                         ids=[c[0] for c in CASES])
def test_every_actor_action_and_state(name: str, actor: Actor, fields: dict[str, str],
                                      rule: Rule, action: Action, state: State) -> None:
    live = interaction(state, **fields)
    expected = rule(action, state)
    if state is State.OFFERED and fields.get("agent") == actor.username:
        # Only offered, not yet accepted: the agent's part is not theirs yet.
        expected = actor.role is Role.SUPERVISOR and supervisor_rule(action, state)
    verdict = may(actor, action, live)
    assert (verdict is Verdict.ALLOWED) == expected, (name, action, state)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("ring", ["ann", "bob,ann"])
def test_offered_agent_has_no_access_until_accepting(action: Action, ring: str) -> None:
    fields = {"agent": "ann"} if "," not in ring else {"ring": ring}
    live = interaction(State.OFFERED, **fields)
    assert parts(AGENT, live) == {Part.OFFERED}
    assert may(AGENT, action, live) is Verdict.NOT_YOURS
    assert live.agent == "" and live.offer is not None and "ann" in live.offer.agents
    # The visitor meanwhile may write and read.
    assert may(Actor.of_visitor("v1", "c1", "s"), Action.SEND, live) is Verdict.ALLOWED


def test_former_agents_named_by_the_stored_conversation_read_but_do_not_watch() -> None:
    live = interaction(State.CONNECTED, agent="bob")
    assert may(AGENT, A.READ, live) is Verdict.NOT_YOURS
    assert may(AGENT, A.READ, live, former_agents=["ann"]) is Verdict.ALLOWED
    assert may(AGENT, A.WATCH_TRAIL, live, former_agents=["ann"]) is Verdict.NOT_YOURS


def test_watching_the_trail_ends_with_the_agents_part() -> None:
    for state in (State.WRAP_UP, State.CLOSED):
        assert may(AGENT, A.WATCH_TRAIL, interaction(state, agent="ann")) is Verdict.NOT_NOW
    assert may(AGENT, A.WATCH_TRAIL, interaction(State.CONNECTED, agent="ann")) \
        is Verdict.ALLOWED


def test_not_now_versus_not_yours() -> None:
    ended = interaction(State.WRAP_UP, agent="ann")
    assert may(Actor.of_visitor("v1", "c1", "s"), A.SEND, ended) is Verdict.NOT_NOW
    assert may(Actor.of_visitor("v2", "c2", "s"), A.SEND, ended) is Verdict.NOT_YOURS
    assert may(AGENT, A.CALL, ended) is Verdict.NOT_NOW
    assert decide(frozenset(), A.READ, State.CONNECTED) is Verdict.NOT_YOURS


def test_the_docstring_table_is_the_rule_table() -> None:
    doc = access.__doc__ or ""
    header = next(line for line in doc.splitlines() if line.strip().startswith("action "))
    columns = header.split()[1:]
    assert len(columns) == len(Part)
    seen = set()
    for line in doc.splitlines():
        cells = line.split()
        if not cells or cells[0] not in {a.value for a in Action}:
            continue
        action = Action(cells[0])
        seen.add(action)
        for part, cell in zip(access.COLUMNS, cells[1:], strict=True):
            assert access.RULES[action, part] == access.GROUPS[cell], (action, part)
    assert seen == set(Action)
    assert re.search(r"LIVE = new, queued, offered, connected, transferred", doc)


def test_interaction_parsed_once_from_its_hash() -> None:
    live = interaction(State.CONNECTED, agent="ann", consult="bob", consult_state="accepted",
                       answered_ms="1700000000000", wrap_deadline="x")
    assert live.state is State.CONNECTED and live.agent == "ann"
    assert live.consult is not None and live.consult.accepted and live.consult.agent == "bob"
    assert live.staff == {"ann", "bob"}
    assert live.visitor_name() == "Lin"
    assert live.answered_ms == 1_700_000_000_000 and live.wrap_deadline_ms == 0
    offered = Interaction.from_hash("ix0000000002", {"state": "offered", "ring": "a,b",
                                                     "offer_deadline": "5", "context": "["})
    assert offered.offer is not None and offered.offer.agents == ("a", "b")
    assert offered.offer.deadline_ms == 5 and offered.context == {}
    assert offered.named_agent == ""
    assert interaction(State.CONNECTED, agent="ann", consult="bob").staff == {"ann"}
