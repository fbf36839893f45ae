"""Contact-centre KPI reports read from the ACD event log (``acd_events``) and queue settings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from analytics.kpis import KpiReport, agent_intervals, compute_kpis, interaction_facts
from engage.errors import InvalidPayload
from engage.infra.dates import utc, whole_seconds, within

Document = dict[str, Any]

EVENTS = "acd_events"
BATCH = 5_000  # documents per cursor batch
KEYS_PER_QUERY = 1_000  # interaction ids or customers per ``$in`` query
# An agent with no state change in this long before the window, nor in it, counts as signed
# out: the window's query cannot look back forever.
STATE_LOOKBACK = timedelta(hours=24)
DEFAULT_SERVICE_LEVEL_SECONDS = 20
PROJECTION = dict.fromkeys(("kind", "at", "ix", "from", "to", "reason", "queue", "agent",
                            "channel", "customer", "disposition"), 1)


def _chunks(keys: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(keys)
    for i in range(0, len(ordered), KEYS_PER_QUERY):
        yield ordered[i:i + KEYS_PER_QUERY]


class KpiService:
    """Reads a window of the event log in projected batches and computes its KPIs."""

    def __init__(self, db: AsyncDatabase[Document], *, short_abandon_seconds: float = 5,
                 fcr_days: float = 7, state_lookback: timedelta = STATE_LOOKBACK,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._events = db[EVENTS]
        self._queues = db.queues
        self.short_abandon_seconds = short_abandon_seconds
        self.fcr_days = fcr_days
        self.state_lookback = state_lookback
        self._clock = clock

    async def report(self, start: datetime, end: datetime,
                     queue: str | None = None) -> KpiReport:
        """KPIs of [start, end), cut at now: an unfinished window is reported as of now.

        Events count in the window they happened in; interactions that began earlier bring
        their earlier events, and first-contact resolution looks for the customers' contacts
        up to ``fcr_days`` after the window (as far as now).
        """
        now = utc(self._clock())
        start, end = utc(start), min(utc(end), now)
        if end <= start:
            raise InvalidPayload("the report window must end after it starts, and start "
                                 "before now", start=start.isoformat(), end=end.isoformat())
        window = await self._between(start, end)
        earlier = await self._earlier_events(window, start)
        states = [e for e in await self._between(start - self.state_lookback, start)
                  if e.get("kind") == "agent"]
        observed = min(end + timedelta(days=self.fcr_days), now)
        later = await self._later_arrivals(window, end, observed)
        facts = interaction_facts([*earlier, *window, *later])
        intervals = agent_intervals([*states, *window], start, end)
        return compute_kpis(facts, intervals, start, end, await self.service_levels(),
                            self.short_abandon_seconds, self.fcr_days, queue=queue,
                            default_service_level_seconds=DEFAULT_SERVICE_LEVEL_SECONDS,
                            fcr_observed_until=observed)

    async def service_levels(self) -> dict[str, int]:
        """Each queue's service-level threshold in seconds, from the ``queues`` collection."""
        levels: dict[str, int] = {}
        async for doc in self._queues.find({}, {"service_level_seconds": 1}):
            raw = doc.get("service_level_seconds", DEFAULT_SERVICE_LEVEL_SECONDS)
            levels[str(doc["_id"])] = (raw if isinstance(raw, int) and raw >= 0
                                       else DEFAULT_SERVICE_LEVEL_SECONDS)
        return levels

    async def _between(self, start: datetime, end: datetime) -> list[Document]:
        """Events with ``start <= at < end`` (exact on nx-27017 too: see engage.infra.dates)."""
        return [e for e in await self._find({"at": whole_seconds(start, end)})
                if within(e["at"], start, end)]

    async def _find(self, query: Document) -> list[Document]:
        cursor = self._events.find(query, PROJECTION, sort=[("at", ASCENDING)],
                                   batch_size=BATCH)
        return [doc async for doc in cursor]

    async def _by_keys(self, field: str, keys: set[str], extra: Document) -> list[Document]:
        """Events whose ``field`` is one of ``keys``, in ``$in`` batches. No range on ``at``
        here: nx-27017 answers ``$in`` with a date range an order of magnitude slower."""
        found: list[Document] = []
        for chunk in _chunks(keys):
            cursor = self._events.find({field: {"$in": chunk}, **extra}, PROJECTION,
                                       batch_size=BATCH)
            found += [doc async for doc in cursor]
        return found

    async def _earlier_events(self, window: list[Document], start: datetime) -> list[Document]:
        """The events before the window of the interactions that arrived before it."""
        seen = {str(e["ix"]) for e in window if e.get("kind") == "ix"}
        arrived = {str(e["ix"]) for e in window if e.get("kind") == "ix" and e.get("from") == "new"}
        return [e for e in await self._by_keys("ix", seen - arrived, {})
                if utc(e["at"]) < start]

    async def _later_arrivals(self, window: list[Document], end: datetime,
                              observed: datetime) -> list[Document]:
        """Arrivals after the window of the customers whose contacts closed "resolved" in it:
        a repeat contact within the FCR days means the first one did not resolve."""
        if observed <= end:
            return []
        customers = {str(e["customer"]) for e in window
                     if e.get("kind") == "ix" and e.get("to") == "closed"
                     and e.get("disposition") == "resolved" and e.get("customer")}
        return [e for e in await self._by_keys("customer", customers, {"from": "new"})
                if end <= utc(e["at"]) < observed]


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat()


def report_to_json(report: KpiReport) -> dict[str, Any]:
    """The report as JSON-ready values: ISO-8601 UTC times, None where a figure is undefined."""
    def slices(items: Mapping[str, Any]) -> dict[str, Any]:
        return {name: asdict(value) for name, value in items.items()}

    return {
        "window": {"start": _iso(report.window_start), "end": _iso(report.window_end)},
        "queue": report.queue,
        "parameters": {"short_abandon_seconds": report.short_abandon_seconds,
                       "fcr_days": report.fcr_days,
                       "fcr_observed_until": _iso(report.fcr_observed_until)},
        "overall": asdict(report.overall),
        "queues": slices(report.queues),
        "channels": slices(report.channels),
        "occupancy": report.all_agents.occupancy,
        "all_agents": asdict(report.all_agents),
        "agents": slices(report.agents),
    }
