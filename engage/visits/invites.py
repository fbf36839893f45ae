"""Proactive invites: rule storage, per-visitor daily caps, opt-out, shown/accepted/converted."""

# MongoDB: `invite_rules` (the rules, optimistic `version`), `invite_stats` (durable counters,
# $inc upserts), `visitor_prefs` (opt-outs). Redis: the live side — invites (1 h), a visitor's
# pending invite, per-day caps, the opt-out flag, the accepted rule awaiting a conversion.
# nx-27017 stores a top-level boolean written by $set as 0/1, so rules are written whole with
# replace_one and flags read back through bool().

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
import redis.asyncio as aioredis
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from engage import bus, keys
from engage.errors import Conflict, Forbidden, InvalidPayload, NotFound
from engage.visits.invite_rules import InviteRule, VisitContext, choose

log = logging.getLogger("engage.visits.invites")

Document = dict[str, Any]
RULES, STATS, PREFS = "invite_rules", "invite_stats", "visitor_prefs"
INVITE_TTL_SECONDS = 3600
CAP_TTL_SECONDS = 2 * 86_400  # a day's counters outlive the day in every time zone
ACCEPTED_TTL_SECONDS = 86_400  # a conversion within a day of accepting counts for the rule
OPTED_IN_TTL_SECONDS = 86_400  # "not opted out" is cached; every visitor has that answer
CACHE_MAX_AGE_SECONDS = 60.0  # a node that missed a change event still catches up
ACTIONS = ("accept", "dismiss")
COUNTERS = ("shown", "accepted", "converted")

# Deletes the visitor's pending mark only if it is still this invite (a newer one may exist).
_CLEAR_PENDING = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
# Answers an invite once; -1 when it expired (HSETNX alone would recreate it without a TTL).
_ANSWER = """
if redis.call('exists', KEYS[1]) == 0 then return -1 end
return redis.call('hsetnx', KEYS[1], 'answer', ARGV[1])
"""


# Redis keys (the templates of this service; the prefix is shared with engage.keys).
@dataclass(frozen=True)
class Invite:
    """One invite shown to one visitor."""

    invite_id: str
    rule_id: str
    queue: str
    channel: str
    text: Mapping[str, str]
    name: str


def _day(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%d")


def _public(doc: Mapping[str, Any]) -> Document:
    out = {k: v for k, v in doc.items() if k != "_id"}
    out["rule_id"] = doc["_id"]
    for key in ("created_at", "updated_at"):
        if isinstance(out.get(key), datetime):
            out[key] = out[key].isoformat()
    return out


def _now() -> datetime:
    """Now at MongoDB's millisecond precision, so what we return is what we stored."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class InviteService:
    """Invite rules and the invites they produce, for every node."""

    def __init__(self, db: AsyncDatabase[Document], redis: aioredis.Redis) -> None:
        self._db = db
        self._redis = redis
        self._rules: dict[str, list[InviteRule]] = {}
        self._loaded_at: float | None = None
        self._clear_pending = redis.register_script(_CLEAR_PENDING)
        self._answer = redis.register_script(_ANSWER)

    async def start(self) -> None:
        await self._db[RULES].create_index([("site_key", ASCENDING)])
        await self._db[STATS].create_index([("site_key", ASCENDING)])

    async def stop(self) -> None:
        self._rules, self._loaded_at = {}, None

    # -- the per-node cache of enabled rules ------------------------------------------------
    async def refresh(self) -> None:
        rules: dict[str, list[InviteRule]] = {}
        async for doc in self._db[RULES].find({}):
            try:
                rule = InviteRule.from_document({**doc, "rule_id": doc["_id"]})
            except InvalidPayload as exc:  # edited by hand into something we cannot run
                log.warning("invite rule skipped", extra={"rule": doc.get("_id"),
                                                          "error": exc.message})
                continue
            if rule.enabled:
                rules.setdefault(rule.site_key, []).append(rule)
        self._rules, self._loaded_at = rules, time.monotonic()

    async def rules_for(self, site_key: str) -> list[InviteRule]:
        """The site's enabled rules, from this node's cache."""
        if self._loaded_at is None or time.monotonic() - self._loaded_at > CACHE_MAX_AGE_SECONDS:
            await self.refresh()
        return list(self._rules.get(site_key, ()))

    async def _changed(self, rule_id: str) -> None:
        await self.refresh()
        await bus.publish(self._redis, bus.INVITES_CHANGED, rule=rule_id)

    # -- CRUD --------------------------------------------------------------------------------
    async def list_rules(self, site_key: str | None = None) -> list[Document]:
        query = {} if site_key is None else {"site_key": site_key}
        docs = [_public(d) async for d in self._db[RULES].find(query)]
        docs.sort(key=lambda d: (str(d.get("site_key")), -int(d.get("priority") or 0),
                                 d["rule_id"]))
        return docs

    async def get(self, rule_id: str) -> Document:
        doc = await self._db[RULES].find_one({"_id": rule_id})
        if doc is None:
            raise NotFound("no such invite rule", rule=rule_id[:80])
        return _public(doc)

    async def rule(self, rule_id: str) -> InviteRule:
        doc = await self.get(rule_id)
        return InviteRule.from_document(doc)

    async def _validate(self, rule_id: str, doc: Mapping[str, Any]) -> InviteRule:
        if not isinstance(doc, Mapping):
            raise InvalidPayload("the rule must be an object")
        rule = InviteRule.from_document({**doc, "rule_id": rule_id})
        if await self._db.sites.find_one({"site_key": rule.site_key}, {"_id": 1}) is None:
            raise InvalidPayload(f"site_key: no site {rule.site_key!r}", field="site_key")
        return rule

    async def create(self, doc: Mapping[str, Any], by: str) -> Document:
        rule_id = "rule_" + secrets.token_hex(8)
        rule = await self._validate(rule_id, doc)
        now = _now()
        stored = {"_id": rule_id, **rule.to_document(), "version": 1, "created_by": by,
                  "created_at": now, "updated_by": by, "updated_at": now}
        del stored["rule_id"]
        await self._db[RULES].insert_one(stored)
        await self._changed(rule_id)
        return _public(stored)

    async def update(self, rule_id: str, doc: Mapping[str, Any], by: str,
                     version: int) -> Document:
        """Replace the rule if nobody changed it since ``version``; Conflict otherwise."""
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidPayload("version: the version you edited (a whole number)",
                                 field="version")
        current = await self._db[RULES].find_one({"_id": rule_id})
        if current is None:
            raise NotFound("no such invite rule", rule=rule_id[:80])
        rule = await self._validate(rule_id, doc)
        stored = {**rule.to_document(), "version": version + 1,
                  "created_by": current.get("created_by"), "created_at": current.get("created_at"),
                  "updated_by": by, "updated_at": _now()}
        del stored["rule_id"]
        result = await self._db[RULES].replace_one({"_id": rule_id, "version": version}, stored)
        if result.matched_count == 0:
            raise Conflict("the rule was changed by someone else; reload it and try again",
                           current_version=current.get("version"))
        if rule.site_key != current.get("site_key"):
            await self._db[STATS].update_one({"_id": rule_id},
                                             {"$set": {"site_key": rule.site_key}})
        await self._changed(rule_id)
        return _public({"_id": rule_id, **stored})

    async def delete(self, rule_id: str) -> None:
        result = await self._db[RULES].delete_one({"_id": rule_id})
        if result.deleted_count == 0:
            raise NotFound("no such invite rule", rule=rule_id[:80])
        await self._db[STATS].delete_one({"_id": rule_id})
        await self._changed(rule_id)

    # -- invites -----------------------------------------------------------------------------
    async def shown_today(self, visitor_id: str, rule_ids: Iterable[str],
                          when: datetime | None = None) -> dict[str, int]:
        """How many invites of each rule this visitor was shown on the (UTC) day of ``when``."""
        ids = list(rule_ids)
        if not ids:
            return {}
        day = _day(when or datetime.now(UTC))
        values = await self._redis.hmget(keys.invites_shown(day, visitor_id), ids)
        return {rid: int(v) for rid, v in zip(ids, values, strict=True) if v is not None}

    async def consider(self, site_key: str, visitor_id: str,
                       ctx: VisitContext) -> Invite | None:
        """Show the best matching rule's invite, if any; counts it and caps it per day."""
        rules = await self.rules_for(site_key)
        if not rules:
            return None
        ctx = replace(
            ctx, shown_today=await self.shown_today(visitor_id, [r.rule_id for r in rules],
                                                    ctx.now),
            opted_out=ctx.opted_out or await self.opted_out(visitor_id),
            invite_pending=ctx.invite_pending
            or await self._redis.exists(keys.invite_pending(visitor_id)) > 0)
        rule = choose(rules, ctx)
        if rule is None:
            return None
        invite_id = "inv_" + secrets.token_urlsafe(12)
        # The pending mark is taken first and atomically: two nodes considering the same
        # visitor at once show one invite.
        if not await self._redis.set(keys.invite_pending(visitor_id), invite_id, nx=True,
                                     ex=INVITE_TTL_SECONDS):
            return None
        shown_key = keys.invites_shown(_day(ctx.now), visitor_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(shown_key, rule.rule_id, 1)
            pipe.expire(shown_key, CAP_TTL_SECONDS)
            count, _ = await pipe.execute()
        if int(count) > rule.max_per_day:  # another node showed it meanwhile
            await self._redis.hincrby(shown_key, rule.rule_id, -1)
            await self._clear_pending(keys=[keys.invite_pending(visitor_id)], args=[invite_id])
            return None
        invite = Invite(invite_id=invite_id, rule_id=rule.rule_id, queue=rule.queue,
                        channel=rule.channel, text=dict(rule.text), name=rule.name)
        key = keys.invite(invite_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={
                "rule": rule.rule_id, "visitor": visitor_id, "site": site_key,
                "queue": rule.queue, "channel": rule.channel, "name": rule.name,
                "text": orjson.dumps(invite.text).decode(), "at": ctx.now.isoformat()})
            pipe.expire(key, INVITE_TTL_SECONDS)
            await pipe.execute()
        await self._count(rule.rule_id, rule.site_key, "shown")
        return invite

    async def _load(self, invite_id: str) -> dict[str, str] | None:
        raw = await self._redis.hgetall(keys.invite(invite_id))
        return {str(k): str(v) for k, v in raw.items()} if raw else None

    @staticmethod
    def _invite(invite_id: str, h: Mapping[str, str]) -> Invite:
        return Invite(invite_id=invite_id, rule_id=h["rule"], queue=h["queue"],
                      channel=h["channel"], text=orjson.loads(h["text"]), name=h["name"])

    async def pending(self, visitor_id: str) -> Invite | None:
        """The invite shown to this visitor and not yet answered, if any."""
        invite_id = await self._redis.get(keys.invite_pending(visitor_id))
        if invite_id is None:
            return None
        h = await self._load(str(invite_id))
        return None if h is None or "answer" in h else self._invite(str(invite_id), h)

    async def respond(self, invite_id: str, visitor_id: str, action: str) -> Invite:
        """The visitor accepts or dismisses an invite, once."""
        if action not in ACTIONS:
            raise InvalidPayload("action: accept or dismiss", field="action")
        h = await self._load(invite_id)
        if h is None:
            raise NotFound("no such invite, or it expired")
        if h["visitor"] != visitor_id:
            raise Forbidden("this invite was made to another visitor")
        answered = int(await self._answer(keys=[keys.invite(invite_id)], args=[action]))
        if answered < 0:
            raise NotFound("no such invite, or it expired")
        if answered == 0:
            raise Conflict("this invite was already answered")
        await self._clear_pending(keys=[keys.invite_pending(visitor_id)], args=[invite_id])
        invite = self._invite(invite_id, h)
        if action == "accept":
            await self._redis.set(keys.invite_accepted(visitor_id), f"{invite.rule_id} {h['site']}",
                                  ex=ACCEPTED_TTL_SECONDS)
            await self._count(invite.rule_id, h["site"], "accepted")
        return invite

    async def record_conversion(self, visitor_id: str, visit_id: str) -> bool:
        """Credit a conversion to the rule whose invite the visitor accepted (the latest one,
        within a day), at most once per visit and once per acceptance."""
        if await self._redis.get(keys.invite_accepted(visitor_id)) is None:
            return False
        if not await self._redis.set(keys.invite_converted(visit_id), visitor_id, nx=True,
                                     ex=ACCEPTED_TTL_SECONDS):
            return False
        taken = await self._redis.getdel(keys.invite_accepted(visitor_id))
        if taken is None:  # a concurrent conversion of another visit took it
            return False
        rule_id, _, site_key = str(taken).partition(" ")
        await self._count(rule_id, site_key, "converted")
        return True

    async def _count(self, rule_id: str, site_key: str, counter: str) -> None:
        await self._db[STATS].update_one(
            {"_id": rule_id}, {"$inc": {counter: 1}, "$setOnInsert": {"site_key": site_key}},
            upsert=True)

    async def stats(self, site_key: str | None = None) -> list[Document]:
        """Shown, accepted and converted per rule; acceptance = accepted / shown, conversion =
        converted / accepted (null while the divisor is 0)."""
        rules = await self.list_rules(site_key)
        query = {} if site_key is None else {"site_key": site_key}
        counts = {d["_id"]: d async for d in self._db[STATS].find(query)}
        out = []
        for rule in rules:
            c = counts.get(rule["rule_id"], {})
            shown, accepted, converted = (int(c.get(k, 0)) for k in COUNTERS)
            out.append({"rule_id": rule["rule_id"], "site_key": rule["site_key"],
                        "name": rule["name"], "enabled": bool(rule["enabled"]),
                        "shown": shown, "accepted": accepted, "converted": converted,
                        "acceptance_rate": _rate(accepted, shown),
                        "conversion_rate": _rate(converted, accepted)})
        return out

    # -- opt-out -----------------------------------------------------------------------------
    async def set_opt_out(self, site_key: str, visitor_id: str, opted_out: bool) -> None:
        await self._db[PREFS].update_one(
            {"_id": visitor_id},
            {"$set": {"site_key": site_key, "opted_out": opted_out,
                      "updated_at": datetime.now(UTC)}}, upsert=True)
        # An opt-out is kept without expiry; "0" expires, and no key means "ask MongoDB".
        await self._redis.set(keys.invite_opt_out(visitor_id), "1" if opted_out else "0",
                              ex=None if opted_out else OPTED_IN_TTL_SECONDS)
        if opted_out:
            await self._redis.delete(keys.invite_pending(visitor_id))

    async def opted_out(self, visitor_id: str) -> bool:
        flag = await self._redis.get(keys.invite_opt_out(visitor_id))
        if flag is None:  # Redis lost it (or never knew): MongoDB is the record
            doc = await self._db[PREFS].find_one({"_id": visitor_id}, {"opted_out": 1})
            flag = "1" if doc is not None and bool(doc.get("opted_out")) else "0"
            await self._redis.set(keys.invite_opt_out(visitor_id), flag,
                                  ex=None if flag == "1" else OPTED_IN_TTL_SECONDS)
        return str(flag) == "1"
