"""The marketers' invite-rule API on a live node: CRUD with versions, roles, stats, try-out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from engage.visits.invite_rules import VisitContext
from tests.conftest import SITE_KEY, LiveNode
from tests.staff_http import as_role, call

Document = dict[str, Any]




def rule_body(**fields: Any) -> Document:
    return {"site_key": SITE_KEY, "name": "Rent help", "queue": "rent",
            "text": {"en": "Looking for a flat?", "zh": "在找房子吗"}, "url_glob": "/rent/*",
            "min_time_on_page_s": 30} | fields


async def test_marketer_edits_rules_with_versions(node: LiveNode,
                                                  http: aiohttp.ClientSession) -> None:
    await as_role(http, node, "marketer")
    created = (await call(http, node, "POST", "/api/invite-rules", 201, rule_body()))["rule"]
    rule_id = created["rule_id"]
    assert (created["version"], created["created_by"]) == (1, "marketer")
    listed = await call(http, node, "GET", "/api/invite-rules", 200)
    assert [r["rule_id"] for r in listed["rules"]] == [rule_id]
    assert (await call(http, node, "GET", f"/api/invite-rules?site={SITE_KEY}", 200))[
        "rules"][0]["name"] == "Rent help"
    assert (await call(http, node, "GET", "/api/invite-rules?site=site_other", 200))[
        "rules"] == []
    assert (await call(http, node, "GET", f"/api/invite-rules/{rule_id}", 200))[
        "rule"] == created

    edit = created | {"name": "Rent help (weekdays)", "priority": 3}
    saved = (await call(http, node, "PUT", f"/api/invite-rules/{rule_id}", 200, edit))["rule"]
    assert (saved["version"], saved["name"], saved["priority"]) == (
        2, "Rent help (weekdays)", 3)
    stale = await call(http, node, "PUT", f"/api/invite-rules/{rule_id}", 409,
                       edit | {"name": "lost"})
    assert (stale["ok"], stale["code"], stale["current_version"]) == (False, "conflict", 2)
    missing = await call(http, node, "PUT", f"/api/invite-rules/{rule_id}", 400,
                         {k: v for k, v in edit.items() if k != "version"})
    assert missing["field"] == "version"
    assert [r.name for r in await node.services.invites.rules_for(SITE_KEY)] == [
        "Rent help (weekdays)"]

    assert await call(http, node, "DELETE", f"/api/invite-rules/{rule_id}", 200) == {"ok": True}
    gone = await call(http, node, "GET", f"/api/invite-rules/{rule_id}", 404)
    assert gone["code"] == "not_found"
    await call(http, node, "DELETE", f"/api/invite-rules/{rule_id}", 404)
    await call(http, node, "GET", "/api/invite-rules/not-a-rule-id", 404)


@pytest.mark.parametrize(("fields", "field"), [
    ({"queue": "Rent Queue"}, "queue"), ({"url_regex": "(unclosed"}, "url_regex"),
    ({"text": {"en": "<script>x</script>"}}, "text.en"), ({"site_key": "site_none"}, "site_key"),
    ({"max_per_day": 99}, "max_per_day"), ({"typo_field": 1}, "typo_field")])
async def test_bad_rules_are_refused_with_the_field(node: LiveNode, http: aiohttp.ClientSession,
                                                   fields: Document, field: str) -> None:
    await as_role(http, node, "admin")
    answer = await call(http, node, "POST", "/api/invite-rules", 400, rule_body(**fields))
    assert (answer["code"], answer["field"]) == ("invalid_payload", field)
    assert (await call(http, node, "GET", "/api/invite-rules", 200))["rules"] == []


async def test_roles(node: LiveNode, http: aiohttp.ClientSession) -> None:
    await as_role(http, node, "admin")
    rule_id = (await call(http, node, "POST", "/api/invite-rules", 201, rule_body()))[
        "rule"]["rule_id"]
    path = f"/api/invite-rules/{rule_id}"

    await as_role(http, node, "supervisor")
    await call(http, node, "GET", "/api/invite-rules", 200)
    await call(http, node, "GET", "/api/invite-rules/stats", 200)
    await call(http, node, "GET", path, 200)
    await call(http, node, "POST", f"{path}/test", 200, {"url": "https://s.test/rent/a"})
    for method, target, body in (("POST", "/api/invite-rules", rule_body()),
                                 ("PUT", path, rule_body(version=1)), ("DELETE", path, None)):
        assert (await call(http, node, method, target, 403, body))["code"] == "forbidden"

    await as_role(http, node, "agent")
    for method, target in (("GET", "/api/invite-rules"), ("GET", path),
                           ("GET", "/api/invite-rules/stats")):
        await call(http, node, method, target, 403)

    http.cookie_jar.clear()
    assert (await call(http, node, "GET", "/api/invite-rules", 401))["code"] == "unauthenticated"
    await as_role(http, node, "marketer")
    response = await http.put(node.url + path, json=rule_body(version=1),
                              headers={"Origin": "http://evil.example.test"})
    assert response.status == 403
    assert (await response.json())["code"] == "origin_not_allowed"
    assert (await call(http, node, "GET", path, 200))["rule"]["version"] == 1


async def test_trying_a_rule_explains_what_fails(node: LiveNode,
                                                 http: aiohttp.ClientSession) -> None:
    await as_role(http, node, "marketer")
    rule_id = (await call(http, node, "POST", "/api/invite-rules", 201, rule_body(
        hours={"tz": "Asia/Shanghai", "days": [0, 1, 2, 3, 4], "open": "09:00",
               "close": "18:00"})))["rule"]["rule_id"]
    path = f"/api/invite-rules/{rule_id}/test"
    wednesday_10 = "2025-03-05T10:00:00+08:00"
    ok = {"url": "https://shop.test/rent/flat-1?utm=x", "time_on_page_s": 30,
          "now": wednesday_10}
    assert await call(http, node, "POST", path, 200, ok) == {"ok": True, "matches": True,
                                                             "failing": []}
    answer = await call(http, node, "POST", path, 200, ok | {
        "url": "https://shop.test/buy/house", "time_on_page_s": 29.5,
        "now": "2025-03-08T10:00:00+08:00", "agents_available": 0, "shown_today": 1})
    assert answer == {"ok": True, "matches": False,
                      "failing": ["url", "time_on_page", "hours", "no_agent", "cap"]}
    opted = await call(http, node, "POST", path, 200, ok | {"opted_out": True})
    assert opted["failing"] == ["opted_out"]
    for bad, field in (({"now": "2025-03-05T10:00:00"}, "now"), ({"affinity": 2}, "affinity"),
                       ({"agents_available": "many"}, "agents_available"),
                       ({"returning": "yes"}, "returning")):
        assert (await call(http, node, "POST", path, 400, ok | bad))["field"] == field
    await call(http, node, "POST", "/api/invite-rules/rule_nosuchrule/test", 404, ok)


async def test_stats_count_what_visitors_did(node: LiveNode, http: aiohttp.ClientSession
                                             ) -> None:
    await as_role(http, node, "marketer")
    rule_id = (await call(http, node, "POST", "/api/invite-rules", 201, rule_body(
        max_per_day=5)))["rule"]["rule_id"]
    invites = node.services.invites
    visit = VisitContext(url="https://shop.test/rent/a", time_on_page_s=60, pages_this_visit=1,
                         returning=False, now=datetime.now(UTC), agents_available={"rent": 1})
    for visitor, action in (("v1", "accept"), ("v2", "dismiss")):
        invite = await invites.consider(SITE_KEY, visitor, visit)
        assert invite is not None
        await invites.respond(invite.invite_id, visitor, action)
    assert await invites.record_conversion("v1", "vs_abcdefgh12")
    stats = (await call(http, node, "GET", f"/api/invite-rules/stats?site={SITE_KEY}", 200))[
        "stats"]
    assert stats == [{"rule_id": rule_id, "site_key": SITE_KEY, "name": "Rent help",
                      "enabled": True, "shown": 2, "accepted": 1, "converted": 1,
                      "acceptance_rate": 0.5, "conversion_rate": 1.0}]
