"""One interaction end to end: offer with the customer's profile, then the KPIs that count it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp
import socketio

from engage.models import Role
from tests.conftest import PASSWORD, LiveNode, login, socket_token


async def test_offer_carries_profile_and_kpis_count_the_contact(node: LiveNode) -> None:
    services = node.services
    await services.queues.save({"_id": "rent", "name": "Rent",
                                "required_skills": {"rent": 1}, "wrap_up_seconds": 30})
    await services.staff.add("renter", PASSWORD, Role.AGENT, skills={"rent": 3})
    db = services.backends.db
    await db.customers.insert_one({"_id": "C0000042", "name": "Li Wei", "membership": "gold",
                                   "district": "Xuhui"})
    await db.transactions.insert_many([
        {"_id": "T1", "customer_id": "C0000042", "business_line": "rent", "amount": 5000.0,
         "at": datetime(2026, 3, 1, tzinfo=UTC)},
        {"_id": "T2", "customer_id": "C0000042", "business_line": "decoration",
         "amount": 80000.0, "at": datetime(2026, 6, 1, tzinfo=UTC)}])

    agent = socketio.AsyncClient(reconnection=False)
    offers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    states: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    agent.on("offer", offers.put_nowait, namespace="/agent")
    agent.on("agent_state", states.put_nowait, namespace="/agent")
    await agent.connect(node.url, namespaces=["/agent"],
                        auth={"token": await socket_token(node.url, "renter")},
                        transports=["websocket"])
    try:
        assert (await asyncio.wait_for(states.get(), 5))["state"] == "away"
        reply = await agent.call("acd.state", {"state": "available"}, namespace="/agent")
        assert reply == {"ok": True, "state": "available"}

        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await login(http, node.url, "supervisor")
            created = await (await http.post(f"{node.url}/api/interactions", json={
                "queue": "rent", "channel": "chat", "customer": "C0000042",
                "context": {"page": "/rent/pudong"}})).json()
            assert created["ok"] is True

            offer = await asyncio.wait_for(offers.get(), 5)
            ix = offer["interaction"]
            assert ix == created["interaction"]
            assert offer["context"] == {"page": "/rent/pudong"}
            profile = offer["profile"]
            assert profile["name"] == "Li Wei" and profile["membership"] == "gold"
            assert profile["transactions_by_line"] == {"rent": 1, "decoration": 1}
            assert profile["lifetime_value"] == 85000.0

            for event, payload in (("acd.accept", {"interaction": ix}),
                                   ("acd.complete", {"interaction": ix}),
                                   ("acd.wrap_up", {"interaction": ix,
                                                    "disposition": "resolved"})):
                reply = await agent.call(event, payload, namespace="/agent")
                assert reply["ok"] is True, (event, reply)

            await services.eventlog.drain()
            report = await (await http.get(f"{node.url}/api/kpis")).json()
            assert report["ok"] is True
            rent = report["queues"]["rent"]
            assert (rent["arrived"], rent["answered"], rent["handled"]) == (1, 1, 1)
            assert rent["service_level"] == 1.0 and rent["abandonment_rate"] == 0.0
            assert report["overall"]["fcr_resolved"] == 1

            refused = await http.get(f"{node.url}/api/kpis?start=yesterday")
            assert refused.status == 400
            assert (await refused.json())["code"] == "invalid_payload"
    finally:
        await agent.disconnect()
