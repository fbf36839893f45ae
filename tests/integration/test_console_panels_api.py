"""What the console's side panels read beyond the plain APIs, on real Redis and nx-27017: the
ledger's field specs and masks, offer feedback already recorded, answers rendered for an
interaction (with its access check) and the visit snapshot's landing page and referrer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pymongo import DESCENDING

from engage.analysis.worker import AnalysisWorker
from engage.customers.ledger_policy import OPT_OUTS
from engage.demo.data import load_demo_data
from engage.demo.knowledge import load_demo_answers
from engage.errors import InvalidPayload
from engage.models import Role
from engage.staff.directory import StaffDirectory
from tests.conftest import SITE_KEY, SITE_ORIGIN, LiveNode
from tests.integration.test_ledger import LI, WANG, seed
from tests.socket_peers import Floor, Peer
from tests.staff_http import as_role, call

Document = dict[str, Any]
HELP = {"_id": "help", "name": "Home help", "required_skills": {}, "wrap_up_seconds": 30,
        "offer_timeout_seconds": 60, "max_wait_seconds": 600}
PAGE = {"url": f"{SITE_ORIGIN}/listings?coupon=SECRET", "title": "Listings",
        "referrer": "https://search.example/?q=flats"}




@pytest.fixture
async def floor(node: LiveNode) -> AsyncIterator[Floor]:
    await node.services.queues.save(HELP)
    await node.services.sites.save(SITE_KEY, "Test shop", [SITE_ORIGIN],
                                   {"queue": "help", "sensitive_params": ["coupon"]})
    floor = Floor(node.url, node.services)
    try:
        yield floor
    finally:
        await floor.close()


async def chat(floor: Floor, agent: Peer, name: str = "Li Wei") -> str:
    visitor = await floor.visitor()
    await visitor.ok("visit.hello", {"page": PAGE})
    ix = str((await visitor.ok("contact.request", {
        "channel": "chat", "context": {"name": name, "page": "Listings"}}))["interaction"])
    await agent.take(ix)
    return ix


# -- ledger ------------------------------------------------------------------------------------
async def test_the_ledger_says_how_to_edit_each_field_and_what_is_masked(
        node: LiveNode, http: aiohttp.ClientSession) -> None:
    await seed(node.services.backends.db)
    await as_role(http, node, "agent")
    book = (await call(http, node, "GET", f"/api/customers/{WANG}/ledger", 200))["ledger"]
    assert sorted(book["fields"]) == book["editable"]
    assert book["masked"] == []
    assert book["fields"]["phone"] == {"type": "tel", "max": 32}
    assert book["fields"]["preferred_language"] == {"type": "choice", "choices": ["zh", "en"]}
    assert all(book["fields"][f] == {"type": "bool"} for f in OPT_OUTS)
    assert book["fields"]["district"] == {"type": "text", "max": 60, "required": False}

    await as_role(http, node, "supervisor")
    book = (await call(http, node, "GET", f"/api/customers/{WANG}/ledger", 200))["ledger"]
    assert book["fields"]["membership"] == {"type": "choice",
                                            "choices": ["none", "silver", "gold", "platinum"]}
    assert book["fields"]["name"]["required"] is True

    await as_role(http, node, "marketer")
    book = (await call(http, node, "GET", f"/api/customers/{LI}/ledger", 200))["ledger"]
    assert book["masked"] == ["email", "phone"]
    assert sorted(book["fields"]) == sorted(OPT_OUTS)
    assert book["customer"]["phone"] == "+86137****1234"


# -- suggestions -------------------------------------------------------------------------------
@pytest.mark.timeout(300)  # loads the demo data and runs the analysis
async def test_suggestions_carry_the_outcomes_already_recorded(
        node: LiveNode, http: aiohttp.ClientSession) -> None:
    db = node.services.backends.db
    await load_demo_data(db, StaffDirectory(db), customers=2_000, transactions=10_000,
                         progress=False)
    await AnalysisWorker(db, node.services.backends.redis, worker_id="test").run_once()
    tx = await db.transactions.find_one({"sku": "BS-APT"}, {"customer_id": 1},
                                        sort=[("at", DESCENDING)])
    assert tx is not None
    customer = str(tx["customer_id"])
    path = f"/api/customers/{customer}/suggestions"
    await as_role(http, node, "agent")
    answer = await call(http, node, "GET", path, 200)
    assert answer["status"] == "ok" and answer["feedback"] == {}
    first, *_ = answer["suggestions"]
    product = first["product"]
    for outcome in ("offered", "declined"):
        await call(http, node, "POST", "/api/suggestions/feedback", 201,
                   {"customer": customer, "product": product, "outcome": outcome})
    # A campaign's outcome belongs to its list, not to what the console shows.
    await call(http, node, "POST", "/api/suggestions/feedback", 201,
               {"customer": customer, "product": product, "outcome": "converted",
                "campaign": "cmp_spring"})
    recorded = (await call(http, node, "GET", path, 200))["feedback"]
    assert list(recorded) == [product]
    assert recorded[product]["outcomes"] == ["declined", "offered"]
    assert (recorded[product]["last"], recorded[product]["by"]) == ("declined", "agent")
    assert recorded[product]["at"]

    # No suggestions, no feedback field (the answer stays as it was).
    await db.customers.insert_one({"_id": "C9000001", "name": "Joined later"})
    empty = await call(http, node, "GET", "/api/customers/C9000001/suggestions", 200)
    assert empty["status"] == "not_analysed" and "feedback" not in empty


async def test_recorded_feedback_refuses_a_bad_customer_id(node: LiveNode) -> None:
    with pytest.raises(InvalidPayload):
        await node.services.feedback.recorded("bad id!")
    assert await node.services.feedback.recorded("C0000001") == {}


# -- knowledge ---------------------------------------------------------------------------------
async def test_an_answer_renders_for_an_interaction_its_agent_holds(
        node: LiveNode, floor: Floor, http: aiohttp.ClientSession) -> None:
    await load_demo_answers(node.services.backends.db)
    await node.services.knowledge.refresh()
    answer = (await node.services.knowledge.search("/hi"))[0]
    path = f"/api/knowledge/{answer['answer_id']}/render"
    agent = await floor.agent("agent")
    ix = await chat(floor, agent)

    await as_role(http, node, "agent")
    rendered = await call(http, node, "POST", path, 200,
                          {"lang": "en", "interaction": ix, "values": {}})
    assert rendered["text"] == ("Hello Li Wei, this is agent from Test shop. "
                                "How can I help you today?")
    # What the console says wins over what the interaction knows, unless it is empty.
    told = await call(http, node, "POST", path, 200, {
        "lang": "en", "interaction": ix, "values": {"visitor_name": "Ms Li", "site_name": ""}})
    assert told["text"].startswith("Hello Ms Li, this is agent from Test shop.")
    wait = (await node.services.knowledge.search("/wait"))[0]
    held = await call(http, node, "POST", f"/api/knowledge/{wait['answer_id']}/render", 200,
                      {"lang": "en", "interaction": ix})
    assert "with the Home help team" in held["text"]

    await node.services.staff.add("other", "test-password-123", Role.AGENT)
    await as_role(http, node, "other")
    refused = await call(http, node, "POST", path, 403, {"lang": "en", "interaction": ix})
    assert refused["code"] == "forbidden"
    await as_role(http, node, "supervisor")
    assert (await call(http, node, "POST", path, 200, {"lang": "en", "interaction": ix}))[
        "text"].startswith("Hello Li Wei, this is supervisor from Test shop.")
    assert (await call(http, node, "POST", path, 400, {"lang": "en", "interaction": "x"}))[
        "field"] == "interaction"
    await call(http, node, "POST", path, 404, {"lang": "en", "interaction": "ix9999999999"})


# -- the visit snapshot ------------------------------------------------------------------------
async def test_the_watched_visit_says_where_the_visitor_came_from(floor: Floor) -> None:
    agent = await floor.agent("agent")
    ix = await chat(floor, agent)
    watched = await agent.ok("visit.watch", {"interaction": ix})
    assert watched["landing"] == f"{SITE_ORIGIN}/listings?coupon=[redacted]"
    assert watched["referrer"] == "https://search.example/?q=flats"
    assert watched["started_ms"] > 0 and watched["context"]["client"]["name"] == "Li Wei"
