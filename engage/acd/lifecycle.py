"""The interaction lifecycle: states and the legal moves between them (pure)."""

from __future__ import annotations

import enum

from engage.errors import EngageError


class IllegalTransition(EngageError):
    """This interaction cannot make that move from its current state."""

    code = "illegal_transition"
    http_status = 409


class State(enum.StrEnum):
    NEW = "new"
    QUEUED = "queued"
    OFFERED = "offered"
    CONNECTED = "connected"
    WRAP_UP = "wrap_up"
    CLOSED = "closed"
    ABANDONED = "abandoned"
    TRANSFERRED = "transferred"
    TIMED_OUT = "timed_out"


TERMINAL = frozenset({State.CLOSED, State.ABANDONED, State.TIMED_OUT})

# Every legal move. Back-edges say why they exist:
#   offered -> queued       declined or not answered: the next agent gets it
#   connected -> queued     the agent vanished past the grace period: requeued at the front
#   queued -> queued        overflow to another queue after the max wait
#   transferred -> queued   cold transfer to a queue
#   transferred -> offered  cold transfer to a named agent
#   connected -> connected  warm transfer completed: same interaction, the new agent
MOVES: dict[State, frozenset[State]] = {
    State.NEW: frozenset({State.QUEUED, State.OFFERED, State.ABANDONED, State.TIMED_OUT}),
    State.QUEUED: frozenset({State.QUEUED, State.OFFERED, State.ABANDONED, State.TIMED_OUT}),
    State.OFFERED: frozenset({State.CONNECTED, State.QUEUED, State.ABANDONED}),
    State.CONNECTED: frozenset({State.CONNECTED, State.WRAP_UP, State.TRANSFERRED,
                                State.QUEUED}),
    State.TRANSFERRED: frozenset({State.QUEUED, State.OFFERED, State.ABANDONED}),
    State.WRAP_UP: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
    State.ABANDONED: frozenset(),
    State.TIMED_OUT: frozenset(),
}


def can_move(current: State, target: State) -> bool:
    return target in MOVES[current]


def move(current: State | str, target: State | str) -> State:
    """The new state, or IllegalTransition naming both ends."""
    try:
        source, dest = State(current), State(target)
    except ValueError:
        raise IllegalTransition(f"unknown state in {current!r} -> {target!r}") from None
    if dest not in MOVES[source]:
        raise IllegalTransition(f"an interaction cannot go from {source} to {dest}",
                                state=source.value)
    return dest


def lua_table() -> str:
    """The same moves as a Lua table literal, so the Redis scripts enforce this one truth."""
    rows = []
    for source, targets in MOVES.items():
        inner = ", ".join(f'["{t.value}"]=true' for t in sorted(targets))
        rows.append(f'["{source.value}"]={{{inner}}}')
    return "{" + ", ".join(rows) + "}"
