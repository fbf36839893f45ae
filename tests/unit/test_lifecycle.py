"""The interaction state machine: every pair of states, legal or not."""

from __future__ import annotations

import itertools

import pytest

from engage.acd.lifecycle import (
    MOVES,
    TERMINAL,
    IllegalTransition,
    State,
    can_move,
    lua_table,
    move,
)

LEGAL = {
    (State.NEW, State.QUEUED), (State.NEW, State.OFFERED), (State.NEW, State.ABANDONED),
    (State.NEW, State.TIMED_OUT),
    (State.QUEUED, State.QUEUED), (State.QUEUED, State.OFFERED),
    (State.QUEUED, State.ABANDONED), (State.QUEUED, State.TIMED_OUT),
    (State.OFFERED, State.CONNECTED), (State.OFFERED, State.QUEUED),
    (State.OFFERED, State.ABANDONED),
    (State.CONNECTED, State.CONNECTED), (State.CONNECTED, State.WRAP_UP),
    (State.CONNECTED, State.TRANSFERRED), (State.CONNECTED, State.QUEUED),
    (State.TRANSFERRED, State.QUEUED), (State.TRANSFERRED, State.OFFERED),
    (State.TRANSFERRED, State.ABANDONED),
    (State.WRAP_UP, State.CLOSED),
}


@pytest.mark.parametrize("source, target", list(itertools.product(State, State)))
def test_every_pair(source: State, target: State) -> None:
    if (source, target) in LEGAL:
        assert move(source, target) is target and can_move(source, target)
    else:
        with pytest.raises(IllegalTransition) as info:
            move(source, target)
        assert info.value.code == "illegal_transition"
        assert info.value.message == f"an interaction cannot go from {source} to {target}"


def test_terminal_states_have_no_way_out() -> None:
    assert TERMINAL == {s for s, targets in MOVES.items() if not targets}


def test_every_state_is_reachable_from_new_and_reaches_a_terminal() -> None:
    reach = {State.NEW}
    frontier = [State.NEW]
    while frontier:
        for nxt in MOVES[frontier.pop()]:
            if nxt not in reach:
                reach.add(nxt)
                frontier.append(nxt)
    assert reach == set(State)
    for state in State:
        seen, todo = {state}, [state]
        while todo:
            for nxt in MOVES[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert seen & TERMINAL, state


def test_unknown_state_names() -> None:
    with pytest.raises(IllegalTransition, match="unknown state"):
        move("limbo", "queued")


def test_lua_table_lists_the_same_moves() -> None:
    table = lua_table()
    for source, targets in MOVES.items():
        for target in targets:
            row = table.split(f'["{source}"]={{', 1)[1].split("}", 1)[0]
            assert f'["{target}"]=true' in row
