"""Property-based test of the ACD scripts on a real Redis: random operations from many
agents and customers, with the invariants checked after every step."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from engage.acd.routing import DEFAULT_CAPACITY, QueueConfig, Strategy
from engage.acd.store import AcdError, AcdStore
from engage.infra.backends import redis_client
from engage.infra.embedded import EmbeddedRedis

AGENTS = ["a1", "a2", "a3", "a4"]
QUEUES = {"sales": Strategy.LONGEST_IDLE, "care": Strategy.RING_ALL,
          "rent": Strategy.LEAST_OCCUPIED}
SERVES = {"a1": "sales,care", "a2": "sales,rent", "a3": "care,rent", "a4": "sales,care,rent"}
CHANNELS = ["chat", "chat", "voice", "video"]
LIVE = {"queued", "offered", "connected", "wrap_up", "transferred"}

REDIS_URL: str = ""


class AcdMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.redis = redis_client(REDIS_URL, 4)
        self.store = AcdStore(self.redis, prefix="prop:")
        self.now = 1_000_000_000
        self.created: list[str] = []
        self.run(self.redis.flushdb())

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def call(self, op: str, *args: object) -> dict[str, Any] | None:
        """One script call, then route what it says may match now (as the service does)."""
        try:
            outcome = self.run(self.store.call(op, *args, at_ms=self.now))
        except AcdError:
            return None  # refusals are fine; the invariants decide whether state stayed sound
        for queue in outcome.route:
            if op != "route":
                self.run(self.store.call("route", queue, 5, at_ms=self.now))
        return outcome.fields

    @initialize()
    def setup(self) -> None:
        for queue, strategy in QUEUES.items():
            self.run(self.store.save_queue(QueueConfig(
                queue, queue, strategy=strategy, offer_timeout_seconds=5, wrap_up_seconds=3,
                max_wait_seconds=60, exit="callback", max_misses=2, max_length=50)))
        for agent in AGENTS:
            self.call("agent_online", agent, SERVES[agent], "n1")
            self.call("agent_state", agent, "available", "")

    def teardown(self) -> None:
        self.run(self.redis.aclose())
        self.loop.close()

    # -- operations ------------------------------------------------------------------------
    @rule(queue=st.sampled_from(list(QUEUES)), channel=st.sampled_from(CHANNELS),
          priority=st.integers(0, 2), customer=st.sampled_from(["", "c1", "c2"]))
    def enqueue(self, queue: str, channel: str, priority: int, customer: str) -> None:
        ix = self.run(self.store.next_interaction_id())
        if self.call("enqueue", ix, queue, channel, priority, customer, "v", "s", "{}", "0"):
            self.created.append(ix)

    @rule(queue=st.sampled_from(list(QUEUES)))
    def route(self, queue: str) -> None:
        self.call("route", queue, 5)

    def pick(self, data: st.DataObject) -> str | None:
        return data.draw(st.sampled_from(self.created)) if self.created else None

    def in_state(self, *states: str) -> list[tuple[str, dict[str, str]]]:
        found = []
        for ix in self.created:
            h = self.run(self.store.fields(ix))
            if h.get("state") in states:
                found.append((ix, h))
        return found

    @rule(data=st.data(), agent=st.sampled_from(AGENTS),
          op=st.sampled_from(["accept", "decline"]))
    def answer_anything(self, data: st.DataObject, agent: str, op: str) -> None:
        """Any agent answering any interaction: mostly refusals, which must change nothing."""
        ix = self.pick(data)
        if ix:
            self.call(op, ix, agent)

    @rule(data=st.data(), op=st.sampled_from(["accept", "accept", "decline"]))
    def answer_an_offer(self, data: st.DataObject, op: str = "accept") -> None:
        """An agent the interaction was offered to answers it (ring-all: any of them)."""
        offered = self.in_state("offered")
        if offered:
            ix, h = data.draw(st.sampled_from(offered))
            candidates = [a for a in (h.get("ring") or h.get("agent", "")).split(",") if a]
            if candidates:
                self.call(op, ix, data.draw(st.sampled_from(candidates)))

    # Hypothesis picks rules evenly; these copies make answering and finishing work as
    # common as new work arriving, so interactions travel their whole lifecycle.
    @rule(data=st.data(), op=st.sampled_from(["accept", "accept", "decline"]))
    def answer_an_offer_again(self, data: st.DataObject, op: str) -> None:
        self.answer_an_offer(data, op)

    @rule(data=st.data())
    def complete_and_wrap_again(self, data: st.DataObject) -> None:
        self.complete_and_wrap(data)

    @rule(data=st.data())
    def complete_and_wrap(self, data: st.DataObject) -> None:
        busy = self.in_state("connected", "wrap_up")
        if busy:
            ix, h = data.draw(st.sampled_from(busy))
            agent = h["agent"] if data.draw(st.integers(0, 4)) else data.draw(
                st.sampled_from(AGENTS))
            self.call("complete", ix, agent, agent)
            if data.draw(st.booleans()):
                self.call("wrap", ix, agent, "resolved")

    @rule(data=st.data())
    def abandon(self, data: st.DataObject) -> None:
        ix = self.pick(data)
        if ix:
            self.call("abandon", ix, "customer_left")

    @rule(data=st.data(), to=st.sampled_from(list(QUEUES)))
    def transfer(self, data: st.DataObject, to: str) -> None:
        connected = self.in_state("connected")
        if connected:
            ix, h = data.draw(st.sampled_from(connected))
            self.call("transfer_queue", ix, h["agent"], to)

    @rule(agent=st.sampled_from(AGENTS), state=st.sampled_from(["available", "away"]))
    def set_state(self, agent: str, state: str) -> None:
        self.call("agent_state", agent, state, "")

    @rule(agent=st.sampled_from(AGENTS), back=st.booleans())
    def drop_connection(self, agent: str, back: bool) -> None:
        self.call("agent_disconnected", agent, 2000)
        if back:
            self.call("agent_online", agent, SERVES[agent], "n1")

    @rule(ms=st.sampled_from([100, 100, 1500, 1500, 4000, 70_000]))
    def time_passes(self, ms: int) -> None:
        self.now += ms
        self.call("sweep", 3_600_000)

    # -- invariants ------------------------------------------------------------------------
    def snapshot(self) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]],
                                dict[str, set[str]]]:
        ixs = {ix: self.run(self.store.fields(ix)) for ix in self.created}
        agents = {a: self.run(self.store.agent(a)) for a in AGENTS}
        held = {a: set(self.run(self.store.agent_interactions(a))) for a in AGENTS}
        return ixs, agents, held

    @invariant()
    def sound(self) -> None:
        ixs, agents, held = self.snapshot()
        offers = {m.decode() if isinstance(m, bytes) else m
                  for m in self.run(self.redis.zrange("prop:offers", 0, -1))}
        waiting: dict[str, list[str]] = {}
        for queue in QUEUES:
            members = self.run(self.redis.zrange(f"prop:q:{queue}:waiting", 0, -1))
            waiting[queue] = [m.decode() if isinstance(m, bytes) else m for m in members]
        in_waiting = [ix for members in waiting.values() for ix in members]
        for queue, members in waiting.items():
            by_channel: list[str] = []
            for channel in DEFAULT_CAPACITY.limits:
                part = self.run(self.redis.zrange(f"prop:q:{queue}:waiting:{channel}", 0, -1))
                part = [m.decode() if isinstance(m, bytes) else m for m in part]
                assert all(ixs[ix].get("channel") == channel for ix in part)
                by_channel += part
            assert sorted(by_channel) == sorted(members), "routing lists drifted"
        assert len(in_waiting) == len(set(in_waiting)), "an interaction waits in two places"

        load_expected: dict[str, dict[str, int]] = {a: {} for a in AGENTS}
        for ix, h in ixs.items():
            state = h.get("state")
            if state is None:  # closed long ago and expired: only terminal ones may go
                continue
            holders = [a for a in AGENTS if ix in held[a]]
            # Never with two agents (no consultations in this machine).
            assert len(holders) <= 1, (ix, state, holders)
            if state == "queued":
                assert ix in waiting[h["queue"]] and ix not in offers and not holders
            elif state == "offered":
                assert ix in offers and ix not in in_waiting
                if h.get("ring"):
                    assert not holders
                else:
                    assert holders == [h["agent"]]
            elif state in ("connected", "wrap_up"):
                assert holders == [h["agent"]] and ix not in in_waiting and ix not in offers
            else:
                assert state in ("closed", "abandoned", "timed_out"), state
                assert ix not in in_waiting and ix not in offers and not holders
            if state in ("offered", "connected") and holders:
                loads = load_expected[holders[0]]
                loads[h["channel"]] = loads.get(h["channel"], 0) + 1

        for agent, fields in agents.items():
            load = {ch: int(fields.get(f"load:{ch}", "0")) for ch in DEFAULT_CAPACITY.limits}
            # Load is exactly what the agent holds, and never above capacity.
            assert {k: v for k, v in load.items() if v} == load_expected[agent], agent
            for channel, n in load.items():
                assert n <= DEFAULT_CAPACITY.limits[channel]
            for members, limit in DEFAULT_CAPACITY.groups.values():
                assert sum(load[m] for m in members) <= limit

        order = {ix: i for i, ix in enumerate(self.created)}
        for queue, members in waiting.items():
            # FIFO within equal priority, for interactions not requeued at the front.
            for prio in ("0", "1", "2"):
                plain = [ix for ix in members if ixs[ix].get("priority") == prio
                         and float(ixs[ix]["order"]) > 0 and ixs[ix].get("queue") == queue
                         and not ixs[ix].get("transferred_from")]
                assert [order[ix] for ix in plain] == sorted(order[ix] for ix in plain)


@pytest.mark.timeout(300)  # 150 random runs of 50 steps
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_acd_invariants(redis_server: EmbeddedRedis) -> None:
    global REDIS_URL
    REDIS_URL = redis_server.url
    run = AcdMachine.TestCase
    run.settings = settings(max_examples=150, stateful_step_count=50, deadline=None,
                            suppress_health_check=list(HealthCheck))
    run().runTest()
