"""KpiService on a real nx-27017: the window, earlier events, look-back, FCR horizon, JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from engage.acd import kpis
from engage.acd.eventlog import ensure_indexes
from engage.acd.kpis import KpiService, report_to_json
from engage.errors import InvalidPayload

Document = dict[str, Any]
T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class EventLog:
    """Documents as the event-log writer stores the ACD's stream entries: strings, ``at``."""

    def __init__(self) -> None:
        self.docs: list[Document] = []

    def _doc(self, at: float, **fields: str) -> None:
        when = T + timedelta(seconds=at)
        ms = int(when.timestamp() * 1000)
        self.docs.append({"_id": f"{ms}-{len(self.docs)}", **fields, "at": when})

    def ix(self, ix: str, steps: list[tuple[float, str, str]], *, queue: str = "sales",
           channel: str = "chat", customer: str = "", agent: str = "",
           disposition: str = "") -> None:
        for at, src, dst in steps:
            self._doc(at, kind="ix", ix=ix, **{"from": src, "to": dst}, reason="", actor="",
                      queue=queue, agent="" if dst == "queued" else agent, channel=channel,
                      customer=customer, disposition=disposition if dst == "closed" else "")

    def agent(self, agent: str, steps: list[tuple[float, str, str]]) -> None:
        for at, src, dst in steps:
            self._doc(at, kind="agent", agent=agent, **{"from": src, "to": dst}, reason="")


def answered(t: float, wait: float, talk: float, wrap: float) -> list[tuple[float, str, str]]:
    return [(t, "new", "queued"), (t + wait - 5, "queued", "offered"),
            (t + wait, "offered", "connected"), (t + wait + talk, "connected", "wrap_up"),
            (t + wait + talk + wrap, "wrap_up", "closed")]


@pytest.fixture
async def events(db: AsyncDatabase[Document]) -> EventLog:
    await ensure_indexes(db)
    await ensure_indexes(db)  # idempotent: start-up calls it on every node
    await db.queues.insert_many([{"_id": "sales", "service_level_seconds": 20},
                                 {"_id": "support", "service_level_seconds": 30},
                                 {"_id": "empty"}])
    log = EventLog()
    day = 86_400
    log.ix("ix0", answered(-4000, 10, 900, 10), customer="dan", agent="a1",
           disposition="resolved")  # wholly before the window
    log.ix("ix1", answered(-120, 130, 300, 20), customer="alice", agent="a1",
           disposition="resolved")  # arrived before the window, answered in it
    log.ix("ix2", answered(100, 5, 300, 30), queue="support", channel="voice",
           customer="bob", agent="a2", disposition="resolved")
    log.ix("ix3", [(200, "new", "queued"), (202, "queued", "abandoned")])
    log.ix("ix4", [(3500, "new", "queued")], customer="carol")  # waiting at the end
    log.ix("ix9", [(2 * day, "new", "queued")], customer="alice")  # alice came back
    log.ix("ix10", [(8 * day, "new", "queued")], customer="bob")  # bob, after 7 days
    log.agent("a1", [(-7200, "offline", "available"), (-15, "available", "busy"),
                     (310, "busy", "wrap_up"), (330, "wrap_up", "available")])
    log.agent("a2", [(-10800, "offline", "available"), (100, "available", "busy"),
                     (405, "busy", "wrap_up"), (435, "wrap_up", "available"),
                     (1800, "available", "offline")])
    log.agent("a3", [(-30 * 3600, "offline", "available")])  # beyond the look-back
    log.agent("a4", [(-3600, "offline", "available")])  # idle all window
    await db.acd_events.insert_many(log.docs)
    return log


def service(db: AsyncDatabase[Document], now: datetime) -> KpiService:
    return KpiService(db, clock=lambda: now)


async def test_indexes_cover_the_query_paths(db: AsyncDatabase[Document],
                                             events: EventLog) -> None:
    keys = [spec["key"] for spec in (await db.acd_events.index_information()).values()]
    for key in ("at", "ix", "agent", "customer"):
        assert [(key, 1)] in keys


async def test_report_of_a_past_hour(db: AsyncDatabase[Document], events: EventLog,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kpis, "KEYS_PER_QUERY", 1)  # every $in batch path, one key each
    r = await service(db, T + timedelta(days=30)).report(T, T + HOUR)
    o = r.overall
    assert (o.arrived, o.answered, o.answered_within_sl, o.service_level) == (3, 2, 1, 0.5)
    assert o.asa_seconds == pytest.approx((130 + 5) / 2)  # ix1 waited from before the window
    assert (o.abandoned, o.short_abandoned, o.abandonment_rate) == (0, 1, 0.0)
    assert (o.handled, o.aht_seconds) == (2, (320 + 330) / 2)
    assert (o.fcr_contacts, o.fcr_resolved, o.fcr_provisional) == (2, 1, 0)  # alice returned
    assert (o.waiting_at_end, o.longest_waiting_seconds) == (1, 100.0)
    assert sorted(r.queues) == ["empty", "sales", "support"]
    assert r.queues["support"].service_level_seconds == 30
    assert r.queues["empty"].service_level_seconds == 20 and r.queues["empty"].answered == 0
    assert (r.queues["support"].answered_within_sl, r.queues["sales"].asa_seconds) == (1, 130)
    assert sorted(r.channels) == ["chat", "voice"]
    assert sorted(r.agents) == ["a1", "a2", "a4"]  # a3's last change is past the look-back
    assert r.agents["a1"].handling_seconds == pytest.approx(330)
    assert r.agents["a2"].logged_in_seconds == pytest.approx(1800)
    assert r.agents["a4"].occupancy == 0.0
    assert r.all_agents.occupancy == pytest.approx((330 + 335) / (3600 + 1800 + 3600))
    assert r.fcr_observed_until == (T + HOUR + timedelta(days=7)).timestamp()


async def test_an_unfinished_window_is_reported_as_of_now(db: AsyncDatabase[Document],
                                                          events: EventLog) -> None:
    now = T + timedelta(seconds=1000)
    r = await service(db, now).report(T, T + HOUR)
    assert r.window_end == now.timestamp()
    assert (r.overall.arrived, r.overall.waiting_at_end) == (2, 0)  # ix4 is yet to come
    # alice's return is in the future: her contact counts as resolved, provisionally
    assert (r.overall.fcr_resolved, r.overall.fcr_provisional) == (2, 2)
    assert r.agents["a4"].logged_in_seconds == pytest.approx(1000)


async def test_one_queue_and_the_json(db: AsyncDatabase[Document], events: EventLog) -> None:
    r = await service(db, T + timedelta(days=30)).report(T, T + HOUR, queue="support")
    assert list(r.queues) == ["support"] and r.overall == r.queues["support"]
    assert (r.overall.answered, r.overall.service_level, r.overall.fcr_rate) == (1, 1.0, 1.0)
    body = report_to_json(r)
    assert orjson.loads(orjson.dumps(body)) == body
    assert body["window"] == {"start": "2026-03-02T09:00:00+00:00",
                              "end": "2026-03-02T10:00:00+00:00"}
    assert body["queue"] == "support" and body["overall"]["service_level_seconds"] == 30
    assert body["parameters"] == {"short_abandon_seconds": 5.0, "fcr_days": 7.0,
                                  "fcr_observed_until": "2026-03-09T10:00:00+00:00"}
    assert set(body) == {"window", "queue", "parameters", "overall", "queues", "channels",
                         "occupancy", "all_agents", "agents"}
    assert body["agents"]["a1"]["handling_seconds"] == pytest.approx(330)
    assert body["occupancy"] == r.all_agents.occupancy


async def test_an_empty_log_and_bad_windows(db: AsyncDatabase[Document]) -> None:
    await ensure_indexes(db)
    svc = service(db, T + timedelta(days=1))
    r = await svc.report(T, T + HOUR)
    assert r.overall.answered == 0 and r.overall.service_level is None and r.agents == {}
    naive = await svc.report(T.replace(tzinfo=None), (T + HOUR).replace(tzinfo=None))
    assert naive.window_start == T.timestamp()  # naive means UTC
    with pytest.raises(InvalidPayload, match="must end after it starts"):
        await svc.report(T + HOUR, T)
    with pytest.raises(InvalidPayload):
        await svc.report(T + timedelta(days=2), T + timedelta(days=3))  # all in the future
