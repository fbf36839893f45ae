"""The ACD service: interactions through queues to agents, on any number of nodes."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from engage.acd.interaction import Interaction
from engage.acd.queues import QueueDirectory
from engage.acd.routing import ROUTABLE_STATES, Channel, can_take, eligible, estimated_wait
from engage.acd.store import AcdError, AcdStore, Outcome
from engage.customers.profiles import ProfileDirectory
from engage.infra.clock import now_ms
from engage.infra.metrics import Metrics
from engage.models import Role
from engage.staff.directory import StaffDirectory
from engage.tasks import TaskSet

log = logging.getLogger("engage.acd.service")

DEFAULT_AHT_SECONDS = 180.0
ROUTE_BATCH = 20
# Agent pushes that carry a deadline (``deadline_ms``) the console counts down.
TIMED_PUSHES = frozenset({"offer", "consult_offer", "wrap_up"})


# Offers ringing right now, all agents together: a console lists its own among them.
MAX_VIEW_OFFERS = 1000


class AcdNotifier(Protocol):
    """How the ACD's decisions reach people; the Socket.IO adapter implements it."""

    async def to_agent(self, username: str, event: str, data: dict[str, Any]) -> None: ...

    async def to_interaction(self, ix: str, event: str, data: dict[str, Any]) -> None: ...

    async def queue_changed(self, queue: str) -> None: ...


class SilentNotifier:
    """For processes without sockets (CLI, benchmarks): decisions are made, nobody is told."""

    async def to_agent(self, username: str, event: str, data: dict[str, Any]) -> None:
        return None

    async def to_interaction(self, ix: str, event: str, data: dict[str, Any]) -> None:
        return None

    async def queue_changed(self, queue: str) -> None:
        return None


class Acd:
    def __init__(self, store: AcdStore, queues: QueueDirectory, staff: StaffDirectory,
                 notifier: AcdNotifier, *, node_id: str, tasks: TaskSet,
                 metrics: Metrics | None = None,
                 profiles: ProfileDirectory | None = None,
                 grace_seconds: float = 30.0, heartbeat_timeout_seconds: float = 20.0,
                 sweep_interval: float = 0.25) -> None:
        self.store = store
        self.queues = queues
        self.staff = staff
        self.notifier = notifier
        self.node_id = node_id
        self.metrics = metrics
        self.profiles = profiles
        self.grace_ms = int(grace_seconds * 1000)
        self.heartbeat_timeout_ms = int(heartbeat_timeout_seconds * 1000)
        self.sweep_interval = sweep_interval
        self._local_agents: Counter[str] = Counter()
        self._task_set = tasks
        self._tasks: list[asyncio.Task[None]] = []

    # -- life cycle ------------------------------------------------------------------------
    async def start(self) -> None:
        await self.queues.refresh()
        if not self._tasks:
            every = self._task_set.every
            self._tasks = [every(self.sweep_interval, self.sweep, name="acd-sweep"),
                           every(5.0, self.heartbeat, name="acd-heartbeat"),
                           every(2.0, self.update_gauges, name="acd-gauges")]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        await self._task_set.cancel(*tasks)

    # -- outcomes ----------------------------------------------------------------------------
    async def _apply(self, outcome: Outcome, routed: set[str] | None = None) -> None:
        """Tell people what was decided, then route the queues that may now match."""
        profiles: dict[str, Any] = {}
        for note in outcome.notify:
            data = dict(note.get("data") or {})
            if isinstance(data.get("context"), str):
                data["context"] = orjson.loads(data["context"] or "{}")
            target, event = str(note["id"]), str(note["event"])
            if event in ("offer", "consult_offer") and self.profiles is not None:
                customer = str(data.get("customer") or "")
                if customer and customer not in profiles:
                    profiles[customer] = await self.profiles.summary(customer)
                data["profile"] = profiles.get(customer)
            if event in TIMED_PUSHES:
                # The sender's clock, so a console counts down deadlines on the server's time.
                data["server_ms"] = now_ms()
            if note["to"] == "agent":
                await self.notifier.to_agent(target, event, data)
            elif note["to"] == "ix":
                await self.notifier.to_interaction(target, event, data)
            elif note["to"] == "queue":
                await self.notifier.queue_changed(target)
        routed = routed if routed is not None else set()
        for queue in outcome.route:
            if queue not in routed:
                routed.add(queue)
                await self.route(queue, routed)

    async def _run(self, op: str, *args: object) -> Outcome:
        outcome = await self.store.call(op, *args)
        await self._apply(outcome)
        return outcome

    async def route(self, queue: str, routed: set[str] | None = None) -> int:
        """Offer waiting interactions of ``queue`` until no agent matches."""
        offered = 0
        routed = routed if routed is not None else {queue}
        while True:
            outcome = await self.store.call("route", queue, ROUTE_BATCH)
            count = len(outcome.fields.get("offered") or [])
            offered += count
            await self._apply(Outcome(fields=outcome.fields, notify=outcome.notify,
                                      route=[q for q in outcome.route if q != queue]), routed)
            if count < ROUTE_BATCH:
                return offered

    # -- interactions ------------------------------------------------------------------------
    async def enqueue(self, queue_id: str, channel: str, *, customer: str = "",
                      visitor: str = "", site: str = "", context: Mapping[str, Any] | None = None,
                      priority: int | None = None, front: bool = False, ix: str = ""
                      ) -> dict[str, Any]:
        """Queue a new interaction (and route it at once); ``ix`` may be allocated first with
        ``store.next_interaction_id()`` so the caller can listen before anything happens."""
        queue = self.queues.get(queue_id)
        try:
            Channel(channel)
        except ValueError:
            raise AcdError("unknown_channel") from None
        if queue.hours is not None and not queue.hours.is_open(datetime.now(UTC)):
            raise AcdError("queue_closed", exit="message")
        outcome = await self._run(
            "enqueue", ix, queue_id, channel, "" if priority is None else priority, customer,
            visitor, site, orjson.dumps(dict(context or {})).decode(), "1" if front else "0")
        ix = str(outcome.fields["interaction"])
        status = await self.status(ix) if outcome.fields.get("state") == "queued" else {
            "state": outcome.fields.get("state"), "queue": queue_id}
        return {"interaction": ix, **status}

    async def interaction(self, ix: str) -> Interaction | None:
        """The live interaction (None once its state expired, a day after the end)."""
        return await self.store.interaction(ix)

    async def new_interaction_id(self) -> str:
        """An id to listen on before ``enqueue`` makes anything happen."""
        return await self.store.next_interaction_id()

    async def status(self, ix: str) -> dict[str, Any]:
        """State, position and estimated wait of one interaction, as its visitor sees it."""
        live = await self.store.interaction(ix)
        if live is None:
            raise AcdError("unknown_interaction", "No such interaction.")
        out: dict[str, Any] = {"state": live.state.value, "queue": live.queue,
                               "record_calls": self.queues.records_calls(live.queue)}
        if live.state == "queued":
            position = await self.store.position(live.queue, ix)
            aht, staffed = await self.store.wait_inputs(live.queue)
            out["position"] = position
            out["estimated_wait_seconds"] = round(estimated_wait(
                position or 0, aht or DEFAULT_AHT_SECONDS, staffed))
        return out

    async def accept(self, username: str, ix: str) -> dict[str, Any]:
        outcome = await self._run("accept", ix, username)
        fields = dict(outcome.fields)
        fields["context"] = orjson.loads(fields.get("context") or "{}")
        return fields

    async def decline(self, username: str, ix: str) -> None:
        await self._run("decline", ix, username)

    async def complete(self, ix: str, username: str, actor: str) -> None:
        await self._run("complete", ix, username, actor)

    async def wrap_up(self, username: str, ix: str, disposition: str, note: str = "") -> None:
        await self._run("wrap", ix, username, disposition)
        if note:
            # Beside the transition in the interaction's history (kind "note": KPIs skip it).
            await self.store.append_event(
                {"kind": "note", "ix": ix, "agent": username, "note": note,
                 "disposition": disposition, "at": str(now_ms())})

    async def abandon(self, ix: str, reason: str = "customer_left") -> None:
        await self._run("abandon", ix, reason)

    async def transfer(self, username: str, ix: str, *, to_queue: str | None = None,
                       to_agent: str | None = None, warm: bool = False) -> None:
        if (to_queue is None) == (to_agent is None):
            raise AcdError("bad_transfer", "Name exactly one of to_queue or to_agent.")
        if to_queue is not None:
            if warm:
                raise AcdError("bad_transfer", "A warm transfer goes to an agent.")
            self.queues.get(to_queue)
            await self._run("transfer_queue", ix, username, to_queue)
        elif warm:
            await self._run("consult", ix, username, to_agent)
        else:
            await self._run("transfer_agent", ix, username, to_agent)

    async def consult_accept(self, username: str, ix: str) -> None:
        await self._run("consult_accept", ix, username)

    async def consult_complete(self, username: str, ix: str) -> None:
        await self._run("consult_complete", ix, username)

    async def consult_cancel(self, username: str, ix: str) -> None:
        await self._run("consult_cancel", ix, username)

    # -- agents ------------------------------------------------------------------------------
    async def serving_queues(self, username: str) -> list[str]:
        user = await self.staff.get(username)
        if user is None:
            return []
        chosen = set(user.queues)
        return [q.queue_id for q in self.queues.all()
                if (not chosen or q.queue_id in chosen) and eligible(user.skills,
                                                                     q.required_skills)]

    async def agent_connected(self, username: str) -> dict[str, Any]:
        self._local_agents[username] += 1
        queues = await self.serving_queues(username)
        outcome = await self._run("agent_online", username, ",".join(queues), self.node_id)
        return {"state": outcome.fields.get("state"), "queues": queues}

    async def agent_disconnected(self, username: str) -> None:
        self._local_agents[username] -= 1
        if self._local_agents[username] <= 0:
            del self._local_agents[username]
            await self._run("agent_disconnected", username, self.grace_ms)

    async def set_state(self, username: str, state: str, reason: str = "") -> str:
        outcome = await self._run("agent_state", username, state, reason)
        return str(outcome.fields.get("state"))

    async def agent_view(self, username: str) -> dict[str, Any]:
        """Everything a console needs to rebuild itself after a reload: offers with their
        deadlines, conversations, consultations and wrap-ups (with theirs), on server time."""
        agent = await self.store.agent(username)
        items = []
        profiles: dict[str, Any] = {}
        held = await self.store.agent_interactions(username)
        for ix in held:
            live = await self.store.interaction(ix)
            if live is not None:
                items.append(await self._view_item(live, username, profiles))
        for ix in await self.store.ringing(username, MAX_VIEW_OFFERS):
            live = await self.store.interaction(ix)
            if ix not in held and live is not None and live.state == "offered":  # still
                items.append(await self._view_item(live, username, profiles))
        return {"state": agent.get("state", "offline"), "reason": agent.get("reason", ""),
                "queues": [q for q in agent.get("queues", "").split(",") if q],
                "interactions": items, "server_ms": now_ms()}

    async def _view_item(self, live: Interaction, username: str,
                         profiles: dict[str, Any]) -> dict[str, Any]:
        """One interaction as the console shows it; ``profiles`` caches customer summaries."""
        consult = live.consult
        consulting = consult is not None and consult.agent == username
        item: dict[str, Any] = {
            "interaction": live.id, "state": live.state.value, "queue": live.queue,
            "channel": live.channel, "customer": live.customer, "visitor": live.visitor,
            "context": dict(live.context),
            "consult": consult.agent if consult else "",
            "consult_state": ("accepted" if consult.accepted else "offered") if consult else "",
            "agent": live.named_agent,
            "answered_ms": live.answered_ms, "ended_ms": live.ended_ms}
        if live.offer is not None:
            item["deadline_ms"] = live.offer.deadline_ms
        elif consulting and consult is not None and not consult.accepted:
            item["deadline_ms"] = await self.store.consult_deadline(live.id)
        elif live.state == "wrap_up":
            item["deadline_ms"] = live.wrap_deadline_ms
        waiting = live.offer is not None or (
            consulting and consult is not None and not consult.accepted)
        if waiting:  # as the offer push carries it
            customer = live.customer
            if customer and self.profiles is not None and customer not in profiles:
                profiles[customer] = await self.profiles.summary(customer)
            item["profile"] = profiles.get(customer)
        return item

    async def roster(self) -> list[dict[str, Any]]:
        """Agents (and supervisors, who may take work) with their ACD state and the channels
        each could take one more of right now: the targets of a transfer."""
        users = [u for u in await self.staff.list()
                 if not u.disabled and u.role in (Role.AGENT, Role.SUPERVISOR)]
        hashes = await self.store.agents([u.username for u in users])
        out = []
        for user, h in zip(users, hashes, strict=True):
            state = h.get("state", "offline")
            routable = state in ROUTABLE_STATES and h.get("connected") == "1"
            # The default capacity rules: the ones engage.services gives the Lua scripts.
            load = {c.value: int(h.get(f"load:{c.value}") or 0) for c in Channel}
            out.append({"username": user.username, "display_name": user.display_name,
                        "state": state, "reason": h.get("reason", ""),
                        "connected": h.get("connected") == "1",
                        "takes": [c for c in load if routable and can_take(load, c)]})
        return out

    async def queue_snapshot(self, queue: str) -> tuple[int, int | None]:
        """Waiting count and the enqueue time (ms) of the longest waiting interaction."""
        return await self.store.queue_snapshot(queue)

    async def agents_by_state(self) -> dict[str, int]:
        return await self.store.agents_by_state()

    async def ready_count(self, queue: str, channel: str) -> int:
        """Agents ready to take one more ``channel`` contact from ``queue`` right now."""
        return await self.store.ready_count(queue, channel)

    # -- timers ------------------------------------------------------------------------------
    async def sweep(self) -> None:
        await self._run("sweep", self.heartbeat_timeout_ms)

    async def heartbeat(self) -> None:
        """This node still holds these agents' sockets (a dead node's agents go stale)."""
        await self.store.heartbeat(list(self._local_agents), now_ms())

    async def update_gauges(self) -> None:
        if self.metrics is None:
            return
        now = now_ms()
        for queue in await self.store.queue_ids():
            waiting, oldest = await self.store.queue_snapshot(queue)
            self.metrics.queue_waiting.labels(queue).set(waiting)
            self.metrics.queue_longest_wait.labels(queue).set(
                0 if oldest is None else (now - oldest) / 1000)
        for state, count in (await self.store.agents_by_state()).items():
            self.metrics.agents.labels(state).set(count)
