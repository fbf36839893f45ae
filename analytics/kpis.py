"""Contact-centre KPIs (ASA, AHT, abandonment, service level, occupancy, FCR) from ACD events."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from analytics.arrays import BoolArray, FloatArray
from analytics.errors import require, require_length

StrArray = npt.NDArray[np.str_]

DAY_SECONDS = 86_400.0
AGENT_STATES = ("available", "busy", "wrap_up", "away")


def seconds(value: Any) -> float:
    """Epoch seconds of a datetime (naive means UTC, as PyMongo returns it) or of a number."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


def _order_key(event: Mapping[str, Any], at: float) -> tuple[int, int]:
    """The Redis stream id ("ms-seq") is the order the ACD applied its moves in, even when
    nodes' clocks disagree about ``at``; without one, ``at`` (ties keep the input order)."""
    try:
        ms, seq = str(event["_id"]).split("-")
        return int(ms), int(seq)
    except (KeyError, ValueError):
        return round(at * 1000), 0


def _strs(values: list[str]) -> StrArray:
    return np.array(values, dtype=np.str_)


def _floats(values: list[float]) -> FloatArray:
    return np.array(values, dtype=np.float64)


@dataclass(frozen=True)
class InteractionFacts:
    """One row per interaction, parallel arrays; times are epoch seconds, NaN if it never
    happened (in the events given). Transfers and re-offers stay one row: counted once."""

    ix: StrArray
    queue: StrArray  # the queue that first answered it, else the queue it was last in
    entry_queue: StrArray  # the queue it arrived in
    channel: StrArray
    customer: StrArray  # "" when anonymous
    answered_by: StrArray  # the agent who first accepted it, "" if none
    disposition: StrArray  # set when closed, else ""
    last_state: StrArray  # its state after the last event given
    first_seen_at: FloatArray  # its first event given
    enqueued_at: FloatArray  # arrival (the move out of "new"); NaN if the log lacks it
    answered_at: FloatArray  # first accepted; a transfer's second answer does not count
    ended_at: FloatArray  # talk ended (the last move into wrap_up)
    closed_at: FloatArray
    abandoned_at: FloatArray
    timed_out_at: FloatArray
    talk_seconds: FloatArray  # time connected, over all its agents; NaN if never answered
    wrap_seconds: FloatArray  # time in wrap-up; NaN if never answered
    transfers: npt.NDArray[np.int64]  # cold and warm transfers

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            require_length(name, len(value), len(self.ix))

    def __len__(self) -> int:
        return len(self.ix)


@dataclass
class _Lifecycle:
    """One interaction's events folded in stream-id order."""

    ix: str
    queue: str = ""
    entry_queue: str = ""
    answered_queue: str = ""
    channel: str = ""
    customer: str = ""
    answered_by: str = ""
    disposition: str = ""
    state: str = ""
    times: dict[str, float] = field(default_factory=dict)
    talk: float = 0.0
    wrap: float = 0.0
    transfers: int = 0

    def apply(self, at: float, event: Mapping[str, Any]) -> None:
        src, dst, queue = (str(event.get(key) or "") for key in ("from", "to", "queue"))
        last = self.times.get("last", at)
        self.talk += max(0.0, at - last) if src == "connected" else 0.0
        self.wrap += max(0.0, at - last) if src == "wrap_up" else 0.0
        self.times["last"] = max(at, last)  # two nodes' clocks may disagree: never run back
        self.times.setdefault("first_seen", at)
        self.entry_queue, self.queue = self.entry_queue or queue, queue or self.queue
        self.channel = self.channel or str(event.get("channel") or "")
        self.customer = self.customer or str(event.get("customer") or "")
        self.state = dst
        if src == "new" and "enqueued" not in self.times:
            self.times["enqueued"], self.entry_queue = at, queue or self.entry_queue
        if dst == "connected" and src != "connected" and "answered" not in self.times:
            self.times["answered"] = at
            self.answered_by, self.answered_queue = str(event.get("agent") or ""), self.queue
        if dst in ("wrap_up", "closed", "abandoned", "timed_out"):
            self.times["ended" if dst == "wrap_up" else dst] = at
        if dst == "closed":
            self.disposition = str(event.get("disposition") or "")
        if dst == "transferred" or str(event.get("reason") or "") == "warm_transfer":
            self.transfers += 1

    @property
    def reported_queue(self) -> str:
        return self.answered_queue if "answered" in self.times else self.queue


def interaction_facts(events: Iterable[Mapping[str, Any]]) -> InteractionFacts:
    """Per-interaction facts from ``acd_events`` documents (``kind`` "ix"; others ignored).
    Give every event of an interaction you report on, including those before the window."""
    grouped: dict[str, list[tuple[tuple[int, int], float, Mapping[str, Any]]]] = defaultdict(list)
    for event in events:
        if event.get("kind") == "ix":
            at = seconds(event["at"])
            grouped[str(event["ix"])].append((_order_key(event, at), at, event))
    lives = [_Lifecycle(ix) for ix in sorted(grouped)]
    for life in lives:
        for _, at, event in sorted(grouped[life.ix], key=lambda row: row[0]):
            life.apply(at, event)

    def strs(name: str) -> StrArray:
        return _strs([getattr(life, name) for life in lives])

    def times(name: str) -> FloatArray:
        return _floats([life.times.get(name, math.nan) for life in lives])

    def handled(name: str) -> FloatArray:
        return _floats([getattr(life, name) if "answered" in life.times else math.nan
                        for life in lives])

    return InteractionFacts(
        ix=strs("ix"), queue=strs("reported_queue"), entry_queue=strs("entry_queue"),
        channel=strs("channel"), customer=strs("customer"), answered_by=strs("answered_by"),
        disposition=strs("disposition"), last_state=strs("state"),
        first_seen_at=times("first_seen"), enqueued_at=times("enqueued"),
        answered_at=times("answered"), ended_at=times("ended"), closed_at=times("closed"),
        abandoned_at=times("abandoned"), timed_out_at=times("timed_out"),
        talk_seconds=handled("talk"), wrap_seconds=handled("wrap"),
        transfers=np.array([life.transfers for life in lives], dtype=np.int64))


@dataclass(frozen=True)
class AgentIntervals:
    """Each agent's states as half-open intervals [start, end) in epoch seconds."""

    agent: StrArray
    state: StrArray
    start: FloatArray
    end: FloatArray

    def __post_init__(self) -> None:
        for name in ("state", "start", "end"):
            require_length(name, len(getattr(self, name)), len(self.agent))


def agent_intervals(events: Iterable[Mapping[str, Any]], window_start: float | datetime,
                    window_end: float | datetime) -> AgentIntervals:
    """Agent states clipped to the window, from ``kind`` "agent" events. Give the events before
    the window too: an agent's last state before it holds until its next event; before an
    agent's first event given it was in that event's ``from`` state."""
    start, end = seconds(window_start), seconds(window_end)
    require(end > start, "window_end", "after window_start", window_end)
    per_agent: dict[str, list[tuple[tuple[int, int], float, str, str]]] = defaultdict(list)
    for event in events:
        if event.get("kind") == "agent":
            at = seconds(event["at"])
            per_agent[str(event["agent"])].append((_order_key(event, at), at, str(
                event.get("from") or ""), str(event.get("to") or "")))
    rows: list[tuple[str, str, float, float]] = []
    for agent in sorted(per_agent):
        changes = sorted(per_agent[agent], key=lambda row: row[0])
        state, since = changes[0][2], -math.inf
        for _, at, _, dst in changes:
            at = max(at, since)  # clocks of two nodes may disagree: time never runs back
            rows.append((agent, state, since, at))
            state, since = dst, at
        rows.append((agent, state, since, math.inf))
    kept = [(a, s, max(b, start), min(e, end)) for a, s, b, e in rows
            if min(e, end) > max(b, start)]
    return AgentIntervals(agent=_strs([r[0] for r in kept]), state=_strs([r[1] for r in kept]),
                          start=_floats([r[2] for r in kept]), end=_floats([r[3] for r in kept]))


@dataclass(frozen=True)
class ContactKpis:
    """The contact figures of one slice (all, a queue, a channel) over the window. Rates are
    in [0, 1] and averages in seconds; None when their denominator is zero."""

    arrived: int  # first enqueued in the window
    answered: int  # first answered in the window (known arrival)
    answered_within_sl: int  # ... waiting at most its queue's service-level seconds
    service_level: float | None  # answered_within_sl / answered
    asa_seconds: float | None  # mean of answered - enqueued
    abandoned: int  # left unanswered in the window after waiting >= short_abandon_seconds
    short_abandoned: int  # left sooner: reported apart, not in the abandonment rate
    abandonment_rate: float | None  # abandoned / (answered + abandoned)
    timed_out: int  # max wait reached unanswered: sent to callback or message
    handled: int  # closed in the window (after being answered)
    aht_seconds: float | None  # mean talk + wrap-up of the handled ones
    talk_seconds: float | None
    wrap_seconds: float | None
    fcr_contacts: int  # handled, customer known
    fcr_resolved: int  # ... "resolved" and no other interaction of the customer within N days
    fcr_rate: float | None  # fcr_resolved / fcr_contacts
    fcr_provisional: int  # counted resolved, but their N days are not over yet
    waiting_at_end: int  # arrived, neither answered nor ended by the window's end
    longest_waiting_seconds: float | None  # the oldest of those, at the window's end
    unknown_arrival: int  # active in the window but arrival not in the log: left out above
    service_level_seconds: int | None = None  # the threshold, on a queue's slice


@dataclass(frozen=True)
class AgentKpis:
    """Time per agent state within the window; occupancy = handling / logged in."""

    available_seconds: float
    busy_seconds: float
    wrap_up_seconds: float
    away_seconds: float
    logged_in_seconds: float  # available + busy + wrap-up
    handling_seconds: float  # busy + wrap-up
    occupancy: float | None


@dataclass(frozen=True)
class KpiReport:
    """Every KPI of one window; queues, channels and agents keyed by name."""

    window_start: float
    window_end: float
    queue: str | None  # the one queue reported on, or None for all
    short_abandon_seconds: float
    fcr_days: float
    fcr_observed_until: float  # repeat contacts are known up to here
    overall: ContactKpis
    queues: Mapping[str, ContactKpis]
    channels: Mapping[str, ContactKpis]
    agents: Mapping[str, AgentKpis]
    all_agents: AgentKpis  # totals: all_agents.occupancy is the overall occupancy


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def _mean(values: FloatArray) -> float | None:
    return float(values.mean()) if values.size else None


def _repeats(facts: InteractionFacts, within_seconds: float) -> BoolArray:
    """True where the same known customer has a later interaction starting no later than
    ``within_seconds`` after this one closed."""
    order = np.lexsort((facts.ix, facts.first_seen_at, facts.customer))
    following = np.full(len(facts), -1, dtype=np.int64)
    same = facts.customer[order][1:] == facts.customer[order][:-1]
    following[order[:-1][same]] = order[1:][same]
    has_next = following >= 0
    next_start = facts.first_seen_at[np.where(has_next, following, 0)]
    repeat: BoolArray = has_next & (facts.customer != "") & (
        next_start <= facts.closed_at + within_seconds)
    return repeat


def _marks(facts: InteractionFacts, start: float, end: float, threshold: FloatArray,
           short_s: float, fcr_s: float, observed_until: float) -> dict[str, Any]:
    """Per-interaction masks and measures of the window, computed once for every slice."""
    def inside(times: FloatArray) -> BoolArray:
        return (times >= start) & (times < end)

    known, never_answered = np.isfinite(facts.enqueued_at), np.isnan(facts.answered_at)
    wait = np.maximum(facts.answered_at - facts.enqueued_at, 0.0)
    answered = inside(facts.answered_at) & known
    left = inside(facts.abandoned_at) & never_answered & known
    short = left & (facts.abandoned_at - facts.enqueued_at < short_s)
    handled = inside(facts.closed_at)
    fcr_base = handled & (facts.customer != "")
    fcr_ok = fcr_base & (facts.disposition == "resolved") & ~_repeats(facts, fcr_s)
    waiting = known & (facts.enqueued_at < end)
    for done in (facts.answered_at, facts.abandoned_at, facts.timed_out_at, facts.closed_at):
        waiting &= ~(done < end)
    timed_out = inside(facts.timed_out_at) & never_answered & known
    unknown = (inside(facts.answered_at) | inside(facts.abandoned_at)
               | inside(facts.timed_out_at) | handled) & ~known
    return {"arrived": inside(facts.enqueued_at), "answered": answered,
            "within": answered & (wait <= threshold), "wait": wait, "abandoned": left & ~short,
            "short": short, "timed_out": timed_out, "handled": handled,
            "talk": np.nan_to_num(facts.talk_seconds), "wrap": np.nan_to_num(facts.wrap_seconds),
            "fcr_base": fcr_base, "fcr_ok": fcr_ok, "waiting": waiting, "unknown": unknown,
            "provisional": fcr_ok & (facts.closed_at + fcr_s > observed_until),
            "touched": (answered | left | timed_out | handled | waiting | unknown
                        | inside(facts.enqueued_at)), "enqueued": facts.enqueued_at}


def _contact_kpis(sel: BoolArray, m: Mapping[str, Any], end: float,
                  sl_seconds: int | None = None) -> ContactKpis:
    def n(key: str) -> int:
        return int((m[key] & sel).sum())

    answered, handled, waiting = m["answered"] & sel, m["handled"] & sel, m["waiting"] & sel
    talk, wrap = m["talk"][handled], m["wrap"][handled]
    return ContactKpis(
        arrived=n("arrived"), answered=n("answered"), answered_within_sl=n("within"),
        service_level=_ratio(n("within"), n("answered")), asa_seconds=_mean(m["wait"][answered]),
        abandoned=n("abandoned"), short_abandoned=n("short"),
        abandonment_rate=_ratio(n("abandoned"), n("answered") + n("abandoned")),
        timed_out=n("timed_out"), handled=n("handled"), aht_seconds=_mean(talk + wrap),
        talk_seconds=_mean(talk), wrap_seconds=_mean(wrap), fcr_contacts=n("fcr_base"),
        fcr_resolved=n("fcr_ok"), fcr_rate=_ratio(n("fcr_ok"), n("fcr_base")),
        fcr_provisional=n("provisional"), waiting_at_end=n("waiting"),
        longest_waiting_seconds=(float(end - m["enqueued"][waiting].min())
                                 if waiting.any() else None),
        unknown_arrival=n("unknown"), service_level_seconds=sl_seconds)


def _agent_kpis(seconds_by_state: Mapping[str, float]) -> AgentKpis:
    busy, wrap = seconds_by_state["busy"], seconds_by_state["wrap_up"]
    logged_in = seconds_by_state["available"] + busy + wrap
    return AgentKpis(available_seconds=seconds_by_state["available"], busy_seconds=busy,
                     wrap_up_seconds=wrap, away_seconds=seconds_by_state["away"],
                     logged_in_seconds=logged_in, handling_seconds=busy + wrap,
                     occupancy=_ratio(busy + wrap, logged_in))


def _agents(intervals: AgentIntervals, start: float,
            end: float) -> tuple[dict[str, AgentKpis], AgentKpis]:
    clipped = np.minimum(intervals.end, end) - np.maximum(intervals.start, start)
    duration = np.maximum(clipped, 0.0)
    names, inverse = np.unique(intervals.agent, return_inverse=True)
    totals = {s: np.bincount(inverse, np.where(intervals.state == s, duration, 0.0), len(names))
              for s in AGENT_STATES}
    present = np.vstack([totals[s] for s in AGENT_STATES]).sum(axis=0) > 0
    agents = {str(name): _agent_kpis({s: float(totals[s][i]) for s in AGENT_STATES})
              for i, name in enumerate(names) if present[i]}
    return agents, _agent_kpis({s: float(totals[s].sum()) for s in AGENT_STATES})


def compute_kpis(facts: InteractionFacts, agent_intervals: AgentIntervals,
                 window_start: float | datetime, window_end: float | datetime,
                 service_level_seconds: Mapping[str, int], short_abandon_seconds: float = 5,
                 fcr_days: float = 7, *, queue: str | None = None,
                 default_service_level_seconds: int = 20,
                 fcr_observed_until: float | datetime | None = None) -> KpiReport:
    """KPIs of [window_start, window_end): each event counts in the window it happened in.

    ``facts`` may hold interactions outside the window (earlier ones, later arrivals that
    decide first-contact resolution); ``fcr_observed_until`` says up to when later arrivals
    are in them (default: the window's end). A queue's interactions are the ones it first
    answered, or the ones that left it unanswered; ``queue`` keeps only that queue's (repeat
    contacts still count from any queue). Agent time is never split by queue.
    """
    start, end = seconds(window_start), seconds(window_end)
    require(end > start, "window_end", "after window_start", window_end)
    require(short_abandon_seconds >= 0, "short_abandon_seconds", ">= 0", short_abandon_seconds)
    require(fcr_days >= 0, "fcr_days", ">= 0", fcr_days)
    observed = end if fcr_observed_until is None else seconds(fcr_observed_until)

    def threshold(name: str) -> int:
        return int(service_level_seconds.get(name, default_service_level_seconds))

    names, inverse = np.unique(facts.queue, return_inverse=True)
    per_ix = np.array([threshold(str(n)) for n in names], dtype=np.float64)[inverse]
    m = _marks(facts, start, end, per_ix, float(short_abandon_seconds),
               fcr_days * DAY_SECONDS, observed)
    scope = facts.queue == queue if queue is not None else np.ones(len(facts), dtype=np.bool_)
    touched = m["touched"] & scope
    queue_names = ({queue} if queue is not None
                   else set(service_level_seconds) | {str(q) for q in facts.queue[touched]})
    agents, all_agents = _agents(agent_intervals, start, end)
    return KpiReport(
        window_start=start, window_end=end, queue=queue,
        short_abandon_seconds=float(short_abandon_seconds), fcr_days=float(fcr_days),
        fcr_observed_until=observed,
        overall=_contact_kpis(scope, m, end, None if queue is None else threshold(queue)),
        queues={q: _contact_kpis(scope & (facts.queue == q), m, end, threshold(q))
                for q in sorted(queue_names)},
        channels={c: _contact_kpis(scope & (facts.channel == c), m, end)
                  for c in sorted({str(c) for c in facts.channel[touched]})},
        agents=agents, all_agents=all_agents)
