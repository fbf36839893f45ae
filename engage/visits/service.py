"""Visits: live visitor state, the sanitised browsing trail, struggle scoring and proactive
decisions (help offers and invites) — the server half of the widget's sensors."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from pymongo.asynchronous.database import AsyncDatabase

from engage import keys
from engage.acd.interaction import LIVE
from engage.acd.lifecycle import TERMINAL
from engage.acd.service import Acd
from engage.acd.store import AcdError
from engage.analysis.suggestions import SuggestionService
from engage.customers.ledger_policy import CHANNEL_OPT_OUTS, opted_out
from engage.errors import InteractionOpen
from engage.infra.clock import now_ms
from engage.infra.redis_text import as_text
from engage.models import Site, VisitorIdentity
from engage.sites.registry import SiteRegistry
from engage.sites.widget_settings import WidgetSettings, sanitize_url, without_query
from engage.visits import help_policy
from engage.visits.invite_rules import VisitContext
from engage.visits.invites import Invite, InviteService
from engage.visits.trail_store import TrailStore

Document = dict[str, Any]
VISIT_IDLE_SECONDS = 30 * 60  # a visit ends after this long without any event
ACTIVE_TTL_SECONDS = 24 * 3600
WATCH_SECONDS = 3600
URL_FIELDS = ("url", "referrer", "source")
NAVIGATION = ("page", "heartbeat")  # events after which invite rules are evaluated
CLAIM_PREFIX = "claim:"  # visitor_active while a contact is being queued
CLAIM_TTL_SECONDS = 30  # a node that dies mid-request frees the visitor this late
_DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Hello:
    visit: str
    returning: bool
    opted_out: bool
    settings: WidgetSettings
    active: Document | None
    invite: Invite | None


@dataclass
class Ingested:
    visit: str
    accepted: int
    score: float
    events: list[Document]  # sanitised, as stored and relayed
    watched: bool
    offer: Document | None = None
    invite: Invite | None = None
    counted: list[str] = field(default_factory=list)


class VisitService:
    def __init__(self, db: AsyncDatabase[Document], redis: aioredis.Redis, sites: SiteRegistry,
                 acd: Acd, invites: InviteService, suggestions: SuggestionService,
                 trail: TrailStore) -> None:
        self._db = db
        self._redis = redis
        self._sites = sites
        self._acd = acd
        self._invites = invites
        self._suggestions = suggestions
        self.trail = trail
        self._opening: dict[str, tuple[asyncio.Lock, int]] = {}  # visitor -> lock, users
        self._settings: dict[str, tuple[Site, WidgetSettings]] = {}  # parsed once per change
        self._delete_if_equal = redis.register_script(_DELETE_IF_EQUAL)

    async def settings(self, site_key: str) -> WidgetSettings:
        site = await self._sites.require(site_key)
        cached = self._settings.get(site_key)
        if cached is None or cached[0] is not site:  # the registry replaces changed sites
            cached = (site, WidgetSettings.from_document(site.widget))
            self._settings[site_key] = cached
        return cached[1]

    async def _state(self, visitor_id: str) -> dict[str, str]:
        raw = await self._redis.hgetall(keys.visitor_state(visitor_id))
        return {as_text(k): as_text(v) for k, v in raw.items()}

    async def _current(self, who: VisitorIdentity, settings: WidgetSettings,
                       page: Mapping[str, Any]) -> dict[str, str]:
        """The visit in progress, or a new one. A page's hello and its first trail batch
        arrive together: without the lock each would open a visit of its own."""
        lock, users = self._opening.get(who.visitor_id, (asyncio.Lock(), 0))
        self._opening[who.visitor_id] = (lock, users + 1)
        try:
            async with lock:
                state = await self._state(who.visitor_id)
                if not state.get("visit") or state.get("customer", "") != who.customer_id:
                    state = await self._open_visit(who, settings, page)
                return state
        finally:
            lock, users = self._opening[who.visitor_id]
            if users <= 1:
                del self._opening[who.visitor_id]
            else:
                self._opening[who.visitor_id] = (lock, users - 1)

    # -- a page opens the widget -------------------------------------------------------------
    async def hello(self, who: VisitorIdentity, page: Mapping[str, Any]) -> Hello:
        settings = await self.settings(who.site_key)
        state = await self._current(who, settings, page)
        active = await self.active(who.visitor_id)
        return Hello(visit=state["visit"], returning=state.get("returning") == "1",
                     opted_out=await self._invites.opted_out(who.visitor_id),
                     settings=settings, active=active,
                     invite=await self._invites.pending(who.visitor_id))

    async def _open_visit(self, who: VisitorIdentity, settings: WidgetSettings,
                          page: Mapping[str, Any]) -> dict[str, str]:
        now = datetime.now(UTC)
        visit_id = "vs_" + secrets.token_urlsafe(12)
        known = await self._db.visitors.find_one({"_id": who.visitor_id}, {"visits": 1})
        visits = int((known or {}).get("visits") or 0) + 1
        await self._db.visitors.update_one(
            {"_id": who.visitor_id},
            {"$set": {"site": who.site_key, "last_visit_at": now, "visits": visits,
                      **({"customer": who.customer_id} if who.customer_id else {})}},
            upsert=True)
        segment, affinity, no_contact = await self._profile(who.customer_id)
        landing = sanitize_url(str(page.get("url", "")), settings.sensitive_params)
        referrer = sanitize_url(str(page.get("referrer", "")), settings.sensitive_params)
        await self.trail.open_visit({
            "_id": visit_id, "visitor": who.visitor_id, "site": who.site_key,
            "customer": who.customer_id, "started_at": now, "last_seen_ms": now_ms(),
            "landing": landing, "referrer": referrer, "pages": 0, "returning": visits > 1})
        state = {"visit": visit_id, "site": who.site_key, "customer": who.customer_id,
                 "landing": landing, "referrer": referrer, "started_ms": str(now_ms()),
                 "returning": "1" if visits > 1 else "0", "segment": segment,
                 "affinity": "" if affinity is None else repr(affinity), "pages": "0",
                 "no_contact": "1" if no_contact else "",
                 "seq": "0", "page_url": landing, "page_since": str(now_ms()),
                 "struggle": ""}
        key = keys.visitor_state(who.visitor_id)
        fields: dict[Any, Any] = state  # redis-py's mapping type is invariant
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=fields)
            pipe.expire(key, VISIT_IDLE_SECONDS)
            await pipe.execute()
        return state

    async def _profile(self, customer_id: str) -> tuple[str, float | None, bool]:
        """Segment (membership), the best analysis offer score of a proven customer, and
        whether the ledger says not to approach them unasked (the one opt-out model)."""
        if not customer_id:
            return "", None, False
        flags = dict.fromkeys(CHANNEL_OPT_OUTS["proactive"], 1)
        doc = await self._db.customers.find_one({"_id": customer_id},
                                                {"membership": 1, **flags})
        found = await self._suggestions.offers(customer_id)
        offers = (found[1].get("offers") or []) if found else []
        best = max((float(o.get("score") or 0.0) for o in offers), default=None)
        return (str((doc or {}).get("membership") or ""), best,
                opted_out(doc or {}, "proactive"))

    # -- the interaction in progress ---------------------------------------------------------
    async def claim_active(self, visitor_id: str) -> str:
        """Reserve the visitor's one open interaction before queueing it; returns the claim
        for ``set_active``/``release_active``. Two tabs asking at once get one interaction:
        the other is told which one is open (``InteractionOpen``)."""
        open_now = await self.active(visitor_id)
        if open_now is not None and open_now["state"] not in LIVE:
            # Ended for the visitor (the agent is wrapping up): a new one may start. Only if
            # still that one: another tab's claim made meanwhile must survive.
            await self._delete_if(keys.visitor_active(visitor_id), open_now["interaction"])
            open_now = None
        claim = CLAIM_PREFIX + secrets.token_urlsafe(8)
        if open_now is None and await self._redis.set(
                keys.visitor_active(visitor_id), claim, nx=True, ex=CLAIM_TTL_SECONDS):
            return claim
        open_now = open_now or await self.active(visitor_id)
        raise InteractionOpen(**({"interaction": open_now["interaction"]} if open_now else {}))

    async def set_active(self, visitor_id: str, ix: str) -> None:
        await self._redis.set(keys.visitor_active(visitor_id), ix, ex=ACTIVE_TTL_SECONDS)

    async def release_active(self, visitor_id: str, claim: str) -> None:
        """Give up a claim whose request failed (only that claim, never a later one)."""
        await self._delete_if(keys.visitor_active(visitor_id), claim)

    async def active(self, visitor_id: str) -> Document | None:
        raw = await self._redis.get(keys.visitor_active(visitor_id))
        if raw is None:
            return None
        ix = as_text(raw)
        if ix.startswith(CLAIM_PREFIX):  # being queued right now: nothing to resume yet
            return None
        try:
            status = await self._acd.status(ix)
        except AcdError:
            status = {"state": "closed"}
        if status["state"] in TERMINAL:
            # Only if still that one: a new claim made meanwhile must survive.
            await self._delete_if(keys.visitor_active(visitor_id), ix)
            return None
        live = await self._acd.interaction(ix)
        return {"interaction": ix, **status, "channel": live.channel if live else "chat",
                "agent": live.named_agent if live else ""}

    async def _delete_if(self, key: str, value: str) -> None:
        await self._delete_if_equal(keys=[key], args=[value])

    # -- trail -------------------------------------------------------------------------------
    async def ingest(self, who: VisitorIdentity, events: list[Document]) -> Ingested:
        settings = await self.settings(who.site_key)
        state = await self._current(who, settings, next((e for e in events if e.get("url")), {}))
        now = now_ms()
        now_dt = datetime.now(UTC)
        key = keys.visitor_state(who.visitor_id)
        struggle = help_policy.StruggleState.from_json(state.get("struggle", ""))
        thresholds = settings.thresholds
        pages, counted, out = 0, [], []
        conversions = 0
        for raw in events:
            event = dict(raw)
            for name in URL_FIELDS:
                if event.get(name):
                    event[name] = sanitize_url(str(event[name]), settings.sensitive_params)
            struggle, kinds = help_policy.observe(struggle, event, thresholds, now)
            counted.extend(kinds)
            if event["type"] == "page":
                pages += 1
                state["page_url"] = event.get("url", "")
                state["page_title"] = event.get("title", "")
                state["page_since"] = str(now)
            elif event["type"] == "conversion":
                conversions += 1
            event.update(visit=state["visit"], visitor=who.visitor_id, site=who.site_key,
                         server_at=now_dt, counted=kinds)
            out.append(event)
        state["pages"] = str(int(state.get("pages") or 0) + pages)
        state["struggle"] = struggle.to_json()
        score = help_policy.score(struggle, now)
        result = Ingested(visit=state["visit"], accepted=len(out), score=score, events=out,
                          watched=int(state.get("watched_until") or 0) > now, counted=counted)
        if conversions:
            await self._invites.record_conversion(who.visitor_id, state["visit"])
        if counted:
            result.offer = await self._help_offer(who, settings, state, struggle, now)
        if result.offer is None and any(e["type"] in NAVIGATION for e in out):
            result.invite = await self._invite(who, state, score, now)
        updates: dict[Any, Any] = {k: v for k, v in state.items()
                                   if k not in ("seq", "watched_until")}
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, "seq", len(out))
            pipe.hset(key, mapping=updates)
            pipe.expire(key, VISIT_IDLE_SECONDS)
            last_seq, _, _ = await pipe.execute()
        # The visit's event numbers come from Redis: two tabs of one visitor never share one.
        for i, event in enumerate(out, start=int(last_seq) - len(out) + 1):
            event["seq"] = i
        # Epoch ms, not a datetime: nx-27017 stores a datetime $set on an existing document
        # as a string (pinned in tests/integration/test_chat_store.py).
        self.trail.add(state["visit"], out, {
            "last_seen_ms": now, "last_url": state.get("page_url", ""),
            "struggle_score": round(score, 2), "$pages": pages})
        return result

    async def _in_conversation(self, visitor_id: str) -> bool:
        return await self.active(visitor_id) is not None

    async def _help_offer(self, who: VisitorIdentity, settings: WidgetSettings,
                          state: dict[str, str], struggle: help_policy.StruggleState,
                          now: int) -> Document | None:
        queue = settings.queue
        available = await self._acd.ready_count(queue, "chat") if queue else 0
        decision = help_policy.decide(
            struggle, now, settings.thresholds, agents_available=available,
            opted_out=state.get("no_contact") == "1"
            or await self._invites.opted_out(who.visitor_id),
            in_conversation=await self._in_conversation(who.visitor_id))
        if not decision.offer:
            return None
        state["struggle"] = help_policy.record_offer(struggle, now).to_json()
        return {"offer": "help_" + secrets.token_urlsafe(8), "queue": queue,
                "score": round(decision.score, 2), "reasons": list(decision.signals)}

    async def _invite(self, who: VisitorIdentity, state: dict[str, str], score: float,
                      now: int) -> Invite | None:
        rules = await self._invites.rules_for(who.site_key)
        if not rules:
            return None
        if await self._in_conversation(who.visitor_id):
            return None
        queues = sorted({r.queue for r in rules})
        available = {q: await self._acd.ready_count(q, "chat") for q in queues}
        affinity = state.get("affinity") or ""
        ctx = VisitContext(
            url=without_query(state.get("page_url", "")),
            time_on_page_s=max(0.0, (now - int(state.get("page_since") or now)) / 1000),
            pages_this_visit=int(state.get("pages") or 0),
            returning=state.get("returning") == "1", segment=state.get("segment") or None,
            affinity=float(affinity) if affinity else None, struggle=score,
            agents_available=available, now=datetime.now(UTC), shown_today={},
            # consider() fills in the caps, the visitor's opt-out and a pending invite itself.
            opted_out=state.get("no_contact") == "1", in_conversation=False,
            invite_pending=False)
        return await self._invites.consider(who.site_key, who.visitor_id, ctx)

    # -- agents ------------------------------------------------------------------------------
    async def watch(self, visitor_id: str) -> Document:
        """Mark the visitor watched (trail pushed live) and return what is known so far."""
        key = keys.visitor_state(visitor_id)
        if await self._redis.exists(key):
            await self._redis.hset(key, "watched_until", str(now_ms() + WATCH_SECONDS * 1000))
        return await self.snapshot(visitor_id, with_trail=True)

    async def snapshot(self, visitor_id: str, with_trail: bool = False) -> Document:
        """The visit as an agent sees it: current page, score, signals (and the trail)."""
        state = await self._state(visitor_id)
        visit = state.get("visit", "")
        struggle = help_policy.StruggleState.from_json(state.get("struggle", ""))
        trail = await self.trail.recent(visit) if visit and with_trail else []
        return {"visitor": visitor_id, "visit": visit, "page": {
            "url": state.get("page_url", ""), "title": state.get("page_title", "")},
            "pages": int(state.get("pages") or 0), "returning": state.get("returning") == "1",
            "landing": state.get("landing", ""), "referrer": state.get("referrer", ""),
            "started_ms": int(state.get("started_ms") or 0),
            "score": round(help_policy.score(struggle, now_ms()), 2),
            "signals": list(struggle.reasons), "trail": trail}
