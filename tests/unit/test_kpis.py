"""KPIs from ACD events: hand-computed cases, partial lifecycles, transfers, and invariants."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.errors import ParameterError
from analytics.kpis import (
    AgentKpis,
    InteractionFacts,
    KpiReport,
    agent_intervals,
    compute_kpis,
    interaction_facts,
    seconds,
)
from engage.acd.lifecycle import MOVES, TERMINAL, State

T0 = 1_790_000_000.0  # all times below are seconds after T0
HOUR = 3600.0
Step = tuple[float, str, str] | tuple[float, str, str, dict[str, str]]
LEVELS = {"sales": 20, "support": 30}


class Log:
    """Event documents as the event-log writer stores them; stream ids in the order made."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def _id(self, at: float) -> str:
        return f"{round((T0 + at) * 1000)}-{len(self.events)}"

    def ix(self, ix: str, steps: list[Step], *, queue: str = "sales", channel: str = "chat",
           customer: str = "", agent: str = "", disposition: str = "") -> None:
        """``steps`` are (at, from, to[, fields of that event]); the agent is on the events
        from the offer on, the disposition on the move to closed."""
        for at, src, dst, *more in steps:
            extra: dict[str, str] = more[0] if more else {}
            self.events.append({
                "_id": self._id(at), "kind": "ix", "ix": ix, "at": T0 + at, "from": src,
                "to": dst, "reason": extra.get("reason", ""), "actor": "",
                "queue": extra.get("queue", queue), "channel": channel, "customer": customer,
                "agent": extra.get("agent", agent if dst not in ("queued", "new") else ""),
                "disposition": disposition if dst == "closed" else ""})

    def agent(self, agent: str, steps: list[tuple[float, str, str]]) -> None:
        for at, src, dst in steps:
            self.events.append({"_id": self._id(at), "kind": "agent", "agent": agent,
                                "at": T0 + at, "from": src, "to": dst, "reason": ""})


def answered_path(t: float, wait: float, talk: float, wrap: float) -> list[Step]:
    return [(t, "new", "queued"), (t + wait - 1, "queued", "offered"),
            (t + wait, "offered", "connected"), (t + wait + talk, "connected", "wrap_up"),
            (t + wait + talk + wrap, "wrap_up", "closed")]


def report(log: Log, start: float = 0.0, end: float = HOUR, **kw: Any) -> KpiReport:
    return compute_kpis(interaction_facts(log.events),
                        agent_intervals(log.events, T0 + start, T0 + end),
                        T0 + start, T0 + end, LEVELS, **kw)


@pytest.fixture
def day() -> Log:
    log = Log()
    log.ix("A", answered_path(100, 15, 300, 30), customer="alice", agent="a1",
           disposition="resolved")
    log.ix("B", answered_path(200, 40, 300, 20), channel="voice", customer="bob", agent="a2",
           disposition="follow_up")
    log.ix("C", [(300, "new", "queued"), (305, "queued", "offered"),
                 (320, "offered", "queued", {"reason": "declined"}),
                 (322, "queued", "offered"), (325, "offered", "connected"),
                 (625, "connected", "wrap_up"), (645, "wrap_up", "closed")],
           queue="support", customer="carol", agent="a2", disposition="resolved")
    log.ix("D", [(1000, "new", "queued"), (1060, "queued", "abandoned")], queue="support",
           customer="carol")
    log.ix("E", [(1200, "new", "queued"), (1203, "queued", "abandoned")])
    log.ix("F", [(3500, "new", "queued")], customer="dave")
    log.ix("G", [(1300, "new", "queued"), (1400, "queued", "timed_out")], channel="voice",
           customer="erin")
    log.agent("a1", [(-600, "offline", "available"), (110, "available", "busy"),
                     (415, "busy", "wrap_up"), (445, "wrap_up", "available"),
                     (2000, "available", "away"), (2600, "away", "available")])
    log.agent("a2", [(-1000, "offline", "available"), (3000, "available", "offline")])
    log.agent("a3", [(-5000, "offline", "away")])
    log.agent("a4", [(-100, "available", "offline")])
    return log


def test_hand_computed_window(day: Log) -> None:
    r = report(day)
    o = r.overall
    assert (o.arrived, o.answered, o.answered_within_sl) == (7, 3, 2)
    assert o.service_level == pytest.approx(2 / 3)
    assert o.asa_seconds == pytest.approx((15 + 40 + 25) / 3)
    assert (o.abandoned, o.short_abandoned, o.timed_out) == (1, 1, 1)
    assert o.abandonment_rate == pytest.approx(1 / 4)
    assert o.handled == 3
    assert o.aht_seconds == pytest.approx((330 + 320 + 320) / 3)
    assert o.talk_seconds == pytest.approx(300) and o.wrap_seconds == pytest.approx(70 / 3)
    # C's customer came back (D), B was not resolved: only A counts
    assert (o.fcr_contacts, o.fcr_resolved) == (3, 1) and o.fcr_rate == pytest.approx(1 / 3)
    assert o.fcr_provisional == 1  # A's seven days are not over at the window's end
    assert (o.waiting_at_end, o.longest_waiting_seconds) == (1, 100.0)
    assert o.unknown_arrival == 0 and o.service_level_seconds is None

    sales, support = r.queues["sales"], r.queues["support"]
    assert (sales.arrived, sales.answered, sales.answered_within_sl) == (5, 2, 1)
    assert (sales.service_level, sales.asa_seconds) == (0.5, 27.5)
    assert (sales.abandoned, sales.short_abandoned, sales.abandonment_rate) == (0, 1, 0.0)
    assert (sales.handled, sales.aht_seconds, sales.service_level_seconds) == (2, 325.0, 20)
    assert (support.answered, support.service_level, support.asa_seconds) == (1, 1.0, 25.0)
    assert (support.abandonment_rate, support.fcr_rate, support.service_level_seconds) == (
        0.5, 0.0, 30)
    assert sorted(r.channels) == ["chat", "voice"]
    assert r.channels["voice"].answered == 1 and r.channels["voice"].timed_out == 1

    assert sorted(r.agents) == ["a1", "a2", "a3"]  # a4 was signed out all along
    assert r.agents["a1"] == AgentKpis(available_seconds=2665, busy_seconds=305,
                                       wrap_up_seconds=30, away_seconds=600,
                                       logged_in_seconds=3000, handling_seconds=335,
                                       occupancy=335 / 3000)
    assert (r.agents["a2"].logged_in_seconds, r.agents["a2"].occupancy) == (3000, 0.0)
    assert (r.agents["a3"].away_seconds, r.agents["a3"].occupancy) == (HOUR, None)
    assert r.all_agents.occupancy == pytest.approx(335 / 6000)


def test_fcr_settles_once_the_days_are_observed(day: Log) -> None:
    r = report(day, fcr_observed_until=T0 + HOUR + 7 * 86_400)
    assert (r.overall.fcr_resolved, r.overall.fcr_provisional) == (1, 0)
    late = Log()
    late.ix("A2", [(8 * 86_400, "new", "queued")], customer="alice")  # after the 7 days
    soon = Log()
    soon.ix("A3", [(5 * 86_400, "new", "queued")], customer="alice")
    for extra, resolved in ((late, 1), (soon, 0)):
        events = day.events + extra.events
        r = compute_kpis(interaction_facts(events), agent_intervals(events, T0, T0 + HOUR),
                         T0, T0 + HOUR, LEVELS, fcr_observed_until=T0 + 9 * 86_400)
        assert r.overall.fcr_resolved == resolved
        assert r.overall.arrived == 7  # later arrivals are not this window's


def test_queue_filter_keeps_one_queue(day: Log) -> None:
    r = report(day, queue="support")
    assert list(r.queues) == ["support"] and r.overall == r.queues["support"]
    assert list(r.channels) == ["chat"] and r.overall.fcr_resolved == 0  # D still repeats C
    assert sorted(r.agents) == ["a1", "a2", "a3"]  # agent time is not split by queue


def test_empty_window_is_all_zero_or_none() -> None:
    r = report(Log())
    assert r.overall.arrived == r.overall.answered == r.overall.handled == 0
    assert r.overall.service_level is r.overall.asa_seconds is r.overall.aht_seconds is None
    assert r.overall.abandonment_rate is r.overall.fcr_rate is None
    assert sorted(r.queues) == ["sales", "support"] and r.queues["sales"].answered == 0
    assert r.channels == {} and r.agents == {} and r.all_agents.occupancy is None
    assert len(interaction_facts([])) == 0


def test_still_waiting_and_still_talking_at_the_end() -> None:
    log = Log()
    log.ix("W", [(3000, "new", "queued"), (3550, "queued", "offered")], agent="a1")
    log.ix("T", [(3400, "new", "queued"), (3410, "queued", "offered"),
                 (3415, "offered", "connected")], agent="a1")
    log.ix("L", [(3000, "new", "queued"), (3599, "queued", "offered"),  # after the end:
                 (3700, "offered", "connected")], agent="a2")  # not this window's answer
    o = report(log).overall
    assert (o.waiting_at_end, o.longest_waiting_seconds) == (2, 600.0)
    assert (o.answered, o.asa_seconds, o.handled, o.aht_seconds) == (1, 15.0, 0, None)


def test_short_abandon_threshold_is_a_parameter() -> None:
    log = Log()
    log.ix("S", [(10, "new", "queued"), (14.9, "queued", "abandoned")])
    log.ix("L", [(10, "new", "queued"), (15, "queued", "abandoned")])
    log.ix("N", [(10, "new", "queued"), (12, "queued", "offered"), (30, "offered", "abandoned")])
    o = report(log).overall
    assert (o.abandoned, o.short_abandoned, o.abandonment_rate) == (2, 1, 1.0)
    o = report(log, short_abandon_seconds=0).overall
    assert (o.abandoned, o.short_abandoned) == (3, 0)


def test_transfers_count_once() -> None:
    log = Log()
    support = {"queue": "support"}
    log.ix("X", [(0, "new", "queued"), (10, "queued", "offered"), (20, "offered", "connected"),
                 (120, "connected", "transferred", {"reason": "cold_to_queue:support"}),
                 (120, "transferred", "queued", {"queue": "support", "reason": "transfer"}),
                 (150, "queued", "offered", support), (160, "offered", "connected", support),
                 (200, "connected", "connected", {"queue": "support", "reason": "warm_transfer"}),
                 (260, "connected", "wrap_up", support), (280, "wrap_up", "closed", support)],
           agent="a1", customer="zoe", disposition="resolved")
    facts = interaction_facts(log.events)
    assert len(facts) == 1 and facts.transfers.tolist() == [2]  # one cold, one warm
    assert facts.queue.tolist() == ["sales"]  # first answered there
    assert (facts.talk_seconds[0], facts.wrap_seconds[0]) == (200.0, 20.0)  # not the requeue
    o = report(log).overall
    assert (o.answered, o.asa_seconds, o.handled, o.aht_seconds) == (1, 20.0, 1, 220.0)
    assert (o.fcr_contacts, o.fcr_resolved) == (1, 1)


def test_abandoned_after_an_answer_is_not_an_abandon() -> None:
    log = Log()
    log.ix("R", [(0, "new", "queued"), (5, "queued", "offered"), (6, "offered", "connected"),
                 (60, "connected", "queued", {"reason": "agent_gone"}),
                 (90, "queued", "abandoned")], agent="a1")
    o = report(log).overall
    assert (o.answered, o.abandoned, o.short_abandoned, o.abandonment_rate) == (1, 0, 0, 0.0)


def test_interaction_that_arrived_before_the_window() -> None:
    log = Log()
    log.ix("P", answered_path(-50, 70, 100, 10), agent="a1")
    o = report(log).overall
    assert (o.arrived, o.answered, o.asa_seconds, o.answered_within_sl) == (0, 1, 70.0, 0)
    in_window_only = [e for e in log.events if e["at"] >= T0]
    o = compute_kpis(interaction_facts(in_window_only), agent_intervals([], T0, T0 + HOUR),
                     T0, T0 + HOUR, LEVELS).overall
    assert (o.answered, o.handled, o.unknown_arrival) == (0, 1, 1)  # the wait is unknown


def test_event_order_comes_from_stream_ids() -> None:
    log = Log()
    log.ix("Q", answered_path(0, 10, 100, 5), agent="a1", customer="c")
    shuffled = random.Random(7).sample(log.events, len(log.events))
    a, b = interaction_facts(log.events), interaction_facts(shuffled)
    for name in vars(a):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    skewed = [dict(e) for e in log.events]
    skewed[3]["at"] = T0 + 5  # wrap-up "before" the answer: another node's clock
    facts = interaction_facts(skewed)
    assert facts.last_state.tolist() == ["closed"]
    assert facts.talk_seconds[0] == 0.0 and facts.wrap_seconds[0] >= 0.0


def test_times_and_parameters() -> None:
    assert seconds(datetime(2026, 1, 1)) == seconds(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ParameterError, match=r"^window_end must be after window_start, got 5"):
        compute_kpis(interaction_facts([]), agent_intervals([], 0, 1), 10, 5, {})
    with pytest.raises(ParameterError, match="fcr_days must be >= 0"):
        compute_kpis(interaction_facts([]), agent_intervals([], 0, 1), 0, 1, {}, fcr_days=-1)
    facts = interaction_facts([])
    with pytest.raises(ValueError, match="queue has 1 entries, expected 0"):
        InteractionFacts(**{**vars(facts), "queue": np.array(["x"])})


@st.composite
def event_logs(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Random walks over the legal lifecycle moves, and random agent state changes."""
    log = Log()
    for n in range(draw(st.integers(0, 8))):
        t = float(draw(st.integers(-900, 4000)))
        state, steps = State.NEW, list[Step]()
        for _ in range(draw(st.integers(1, 9))):
            if state in TERMINAL:
                break
            target = draw(st.sampled_from(sorted(MOVES[state])))
            t += draw(st.integers(0, 700))
            steps.append((t, state.value, target.value))
            state = target
        log.ix(f"ix{n}", steps, queue=draw(st.sampled_from(["sales", "support", "other"])),
               channel=draw(st.sampled_from(["chat", "voice"])),
               customer=draw(st.sampled_from(["", "c1", "c2"])), agent="a1",
               disposition=draw(st.sampled_from(["resolved", "", "follow_up"])))
    for agent in ("a1", "a2"):
        t, now = float(draw(st.integers(-900, 0))), "offline"
        for _ in range(draw(st.integers(0, 6))):
            then = draw(st.sampled_from(["available", "busy", "wrap_up", "away", "offline"]))
            t += draw(st.integers(0, 1500))
            log.agent(agent, [(t, now, then)])
            now = then
    return log.events


def in_unit_range(value: float | None) -> bool:
    return value is None or 0.0 <= value <= 1.0


@settings(max_examples=200, deadline=None)
@given(event_logs(), st.integers(-600, 3000), st.integers(1, 5000))
def test_rates_stay_in_range_and_slices_partition(events: list[dict[str, Any]], start: int,
                                                  length: int) -> None:
    r = compute_kpis(interaction_facts(events), agent_intervals(events, T0 + start,
                                                                T0 + start + length),
                     T0 + start, T0 + start + length, LEVELS)
    for k in [r.overall, *r.queues.values(), *r.channels.values()]:
        assert in_unit_range(k.service_level) and in_unit_range(k.abandonment_rate)
        assert in_unit_range(k.fcr_rate) and k.answered_within_sl <= k.answered
        assert k.asa_seconds is None or k.asa_seconds >= 0
        assert k.aht_seconds is None or k.aht_seconds >= 0
    for a in [r.all_agents, *r.agents.values()]:
        assert in_unit_range(a.occupancy) and a.logged_in_seconds <= 2 * length
    for field in ("arrived", "answered", "abandoned", "handled", "waiting_at_end"):
        total = getattr(r.overall, field)
        assert sum(getattr(k, field) for k in r.queues.values()) == total
        assert sum(getattr(k, field) for k in r.channels.values()) == total
