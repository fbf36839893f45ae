"""The customer ledger: who a customer is and what they bought, with versioned edits."""

# MongoDB. `customers` gains, from the ledger: `ledger_version` (absent = 0), `ledger_updated_ms`
# and `_by`, `ledger_last` (the last change set, written atomically with the version so a
# conflicting editor always sees it) and derived search keys (ledger_policy.search_keys).
# `customer_revisions` holds one document per changed field, `customer_notes` the append-only
# notes. Read-only: `transactions`, `products`, `interactions` (the contact history),
# `chat_conversations` and `acd_events` (live contacts). Times written to existing documents
# are epoch-ms ints: nx-27017 stores a datetime given to $set on an existing document as text.

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from engage.acd.eventlog import COLLECTION as EVENTS
from engage.acd.interaction import IX_RE
from engage.analysis.suggestions import check_customer_id
from engage.chat.store import CONVERSATIONS
from engage.customers.ledger_policy import (
    CHANNEL_OPT_OUTS,
    EDITABLE,
    PROFILE_FIELDS,
    View,
    check_changes,
    check_note,
    check_version,
    field_spec,
    iso,
    ledger_version,
    plain,
    plan_search,
    prefix_range,
    revision,
    search_keys,
    shown,
    stored,
    stored_time,
    unchanged,
    view_of,
    visible_change,
)
from engage.errors import Conflict, InvalidPayload, NotFound
from engage.infra.clock import now_ms
from engage.models import Role
from engage.tasks import TaskSet

log = logging.getLogger("engage.customers.ledger")
Document = dict[str, Any]

REVISIONS, NOTES = "customer_revisions", "customer_notes"
TX_MAX = 5_000  # purchases read per ledger; more are counted as truncated
RECENT_PER_LINE = 5
CONTACTS_SHOWN = 50
EVENTS_MAX = 2_000
NOTES_SHOWN = 50
REVISIONS_MAX = 500
SEARCH_LIMIT_MAX = 50
BACKFILL_BATCH = 1_000
# Customers loaded by other writers (the demo loader, imports) get their search keys on the
# next pass; the query is an indexed lookup of documents without keys, cheap when none.
BACKFILL_INTERVAL_SECONDS = 300.0
TERMINAL = ("closed", "abandoned", "timed_out")
CONFLICT_MESSAGE = ("Someone else changed this customer since you opened it; review their "
                    "changes and try again.")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SEARCH_PROJECTION = dict.fromkeys(("name", "name_zh", "phone", "email", "district",
                                    "membership"), 1)


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    """An index for every query path on what the ledger owns: search keys, contacts by
    phone and e-mail, the analysis' attributes, campaigns' opt-outs, history per customer.
    The other sources it reads by customer are indexed by their owners (history, chat
    store, event log)."""
    for key in ("search_name", "search_phone_rev", "search_email", "name_zh", "phone",
                "email", "name", "district", "opt_out", "contact_opt_out", "sms_opt_out",
                "email_opt_out"):
        await db.customers.create_index([(key, ASCENDING)])
    await db[REVISIONS].create_index([("customer", ASCENDING), ("version", DESCENDING)])
    await db[NOTES].create_index([("customer", ASCENDING), ("at_ms", DESCENDING)])


async def opted_out_ids(db: AsyncDatabase[Document], channel: str) -> set[str]:
    """Customers who opted out of ``channel`` (the ledger's flags, see CHANNEL_OPT_OUTS):
    one indexed read per flag. Every list, export and dialer asks here."""
    out: set[str] = set()
    for flag in CHANNEL_OPT_OUTS[channel]:
        out |= {str(doc["_id"]) async for doc in db.customers.find({flag: True}, {"_id": 1})}
    return out


class LedgerService:
    """Reads a customer's whole ledger and applies field-checked, versioned edits."""

    def __init__(self, db: AsyncDatabase[Document], redis: aioredis.Redis, *,
                 tasks: TaskSet) -> None:
        self._db = db
        self._redis = redis
        self._customers = db.customers
        self._revisions = db[REVISIONS]
        self._notes = db[NOTES]
        self._tasks = tasks
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.ensure_indexes()
        if self._task is None:
            self._task = self._tasks.every(BACKFILL_INTERVAL_SECONDS, self.backfill_search_keys,
                                           name="ledger-search")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await self._tasks.cancel(task)

    async def ensure_indexes(self) -> None:
        await ensure_indexes(self._db)

    async def backfill_search_keys(self) -> int:
        """Give every customer without search keys its keys; returns how many were given."""
        total = 0
        while True:
            batch = [d async for d in self._customers.find(
                {"search_name": None}, {"name": 1, "phone": 1, "email": 1}).limit(BACKFILL_BATCH)]
            if not batch:
                return total
            # The filter repeats "no keys yet": an edit in between wrote fresher keys.
            result = await self._customers.bulk_write([UpdateOne(
                {"_id": d["_id"], "search_name": None},
                {"$set": search_keys(d.get("name"), d.get("phone"), d.get("email"))})
                for d in batch], ordered=False)
            total += result.modified_count
            if result.matched_count == 0:
                return total

    # -- reading ------------------------------------------------------------------------------
    async def _customer(self, customer_id: str) -> Document:
        doc = await self._customers.find_one({"_id": customer_id})
        if doc is None:
            raise NotFound("No such customer.", customer_id=customer_id)
        return doc

    async def ledger(self, customer_id: str, role: Role) -> Document:
        """Everything the console shows about a customer, as ``role`` may see it."""
        cid = check_customer_id(customer_id)
        doc = await self._customer(cid)
        view = view_of(role)
        profile: Document = {}
        for field in PROFILE_FIELDS:
            visible, value = shown(field, doc.get(field), role)
            if visible:
                profile[field] = plain(value)
        answer: Document = {
            "customer_id": cid, "version": ledger_version(doc),
            "updated_ms": doc.get("ledger_updated_ms"),
            "updated_by": doc.get("ledger_updated_by"),
            "customer": profile, "editable": sorted(EDITABLE[role]),
            # How to edit each editable field, and which shown values are only partly shown
            # (a form must never offer a masked value for editing).
            "fields": {f: field_spec(f) for f in sorted(EDITABLE[role])},
            "masked": sorted(f for f in view.masked if f in profile),
            "transactions": await self._purchases(cid),
            "interactions": await self._contacts(cid, view)}
        if view.notes:
            answer["notes"] = await self.notes(cid)
        return answer

    async def _purchases(self, cid: str) -> Document:
        products = {str(p["_id"]): p async for p in self._db.products.find(
            {}, {"name": 1, "name_zh": 1})}
        lines: dict[str, list[Document]] = {}
        seen = 0
        async for tx in self._db.transactions.find(
                {"customer_id": cid},
                {"sku": 1, "business_line": 1, "amount": 1, "quantity": 1, "at": 1}
        ).limit(TX_MAX):
            seen += 1
            lines.setdefault(str(tx.get("business_line") or "other"), []).append(tx)

        def when(tx: Document) -> datetime:
            return stored_time(tx.get("at")) or _EPOCH

        def amount(txs: Iterable[Document]) -> float:
            return round(sum(float(t.get("amount") or 0) for t in txs), 2)

        by_line: list[Document] = []
        for line, txs in lines.items():
            txs.sort(key=when, reverse=True)
            by_line.append({
                "business_line": line, "count": len(txs), "total": amount(txs),
                "last": iso(txs[0].get("at")),
                "recent": [{"id": str(t["_id"]), "sku": str(t.get("sku", "")),
                            "product": products.get(str(t.get("sku")), {}).get("name", ""),
                            "product_zh": products.get(str(t.get("sku")), {}).get("name_zh", ""),
                            "amount": float(t.get("amount") or 0),
                            "quantity": int(t.get("quantity") or 1), "at": iso(t.get("at"))}
                           for t in txs[:RECENT_PER_LINE]]})
        by_line.sort(key=lambda g: g["last"] or "", reverse=True)
        return {"count": seen, "total": amount(t for txs in lines.values() for t in txs),
                "last": by_line[0]["last"] if by_line else None, "by_line": by_line,
                "truncated": seen >= TX_MAX}

    async def _contacts(self, cid: str, view: View) -> list[Document]:
        """Past contacts across channels, newest first: the contact history plus chats and
        queued contacts from the live side (conversations and the ACD event log)."""
        rows: list[tuple[datetime, Document]] = []
        async for d in self._db.interactions.find({"customer_id": cid}).sort(
                "started_at", DESCENDING).limit(CONTACTS_SHOWN):
            agent = d.get("agent")
            rows.append((stored_time(d.get("started_at")) or _EPOCH, {
                "id": str(d["_id"]), "source": "history", "channel": d.get("channel"),
                "queue": d.get("queue"), "agent": agent, "agents": [agent] if agent else [],
                "disposition": d.get("disposition"), "started_at": iso(d.get("started_at")),
                "ended_at": iso(d.get("ended_at")), "wait_seconds": d.get("wait_seconds"),
                "csat": d.get("csat"), "summary": d.get("summary"), "transcript": None}))
        rows.extend(await self._live(cid))
        rows.sort(key=lambda r: r[0], reverse=True)
        out = [row for _, row in rows[:CONTACTS_SHOWN]]
        if not view.interaction_detail:
            for row in out:
                row.pop("summary", None)
                row.pop("transcript", None)
        return out

    async def _live(self, cid: str) -> list[tuple[datetime, Document]]:
        live: dict[str, Document] = {}
        starts: dict[str, datetime] = {}

        def row(ix: str, channel: str) -> Document:
            return live.setdefault(ix, {
                "id": ix, "source": "live", "channel": channel, "queue": None, "agent": None,
                "agents": [], "disposition": None, "started_at": None, "ended_at": None,
                "summary": None, "transcript": None})

        async for c in self._db[CONVERSATIONS].find({"customer": cid}).sort(
                "last_ms", DESCENDING).limit(CONTACTS_SHOWN):
            r = row(str(c["_id"]), "chat")
            r["agents"] = [str(a) for a in c.get("agents") or []]
            r["agent"] = r["agents"][-1] if r["agents"] else None
            r["rating"] = c.get("rating")
            if moment := stored_time(c.get("started_at")):
                starts[r["id"]] = moment
        async for e in self._db[EVENTS].find(
                {"customer": cid, "kind": "ix"},
                {"ix": 1, "to": 1, "queue": 1, "agent": 1, "channel": 1, "disposition": 1,
                 "at": 1}).sort("at", ASCENDING).limit(EVENTS_MAX):
            r = row(str(e.get("ix", "")), str(e.get("channel") or "") or "unknown")
            at = stored_time(e.get("at")) or _EPOCH
            starts[r["id"]] = min(starts.get(r["id"], at), at)
            for key in ("queue", "channel", "disposition"):
                r[key] = e.get(key) or r[key]
            if agent := e.get("agent"):
                r["agent"] = agent
                r["agents"] += [] if agent in r["agents"] else [agent]
            if e.get("to") in TERMINAL:
                r["ended_at"] = at.isoformat()
                r["disposition"] = r["disposition"] or (None if e["to"] == "closed"
                                                        else e["to"])
        for ix, r in live.items():
            r["started_at"] = starts[ix].isoformat() if ix in starts else None
            if r["channel"] == "chat" and IX_RE.fullmatch(ix):
                r["transcript"] = f"/api/interactions/{ix}/transcript"
        return [(starts.get(ix, _EPOCH), r) for ix, r in live.items()]

    async def notes(self, customer_id: str, limit: int = NOTES_SHOWN) -> list[Document]:
        """The customer's notes, newest first."""
        cursor = self._notes.find({"customer": customer_id}).sort(
            [("at_ms", DESCENDING), ("_id", DESCENDING)]).limit(max(1, min(limit, 500)))
        return [{"id": str(n["_id"]), "text": n.get("text", ""), "by": n.get("by", ""),
                 "at_ms": int(n.get("at_ms") or 0)} async for n in cursor]

    async def revisions(self, customer_id: str, limit: int = 100) -> list[Document]:
        """Field changes, newest first."""
        cid = check_customer_id(customer_id)
        await self._customer(cid)
        cursor = self._revisions.find({"customer": cid}).sort(
            [("version", DESCENDING), ("field", ASCENDING)]).limit(
            max(1, min(limit, REVISIONS_MAX)))
        return [revision(d) async for d in cursor]

    # -- writing ------------------------------------------------------------------------------
    async def update(self, customer_id: str, changes: dict[str, Any], *, version: int,
                     by: str, role: Role) -> Document:
        """Apply ``changes`` made on ledger ``version``; Forbidden/InvalidPayload name the
        field, Conflict carries ``current_version`` and ``changes_since``."""
        cid = check_customer_id(customer_id)
        expected = check_version(version)
        wanted = check_changes(changes, role)
        doc = await self._customer(cid)
        if ledger_version(doc) != expected:
            raise await self._conflict(cid, expected, doc, role)
        diff = [{"field": f, "old": plain(stored(f, doc.get(f))), "new": v}
                for f, v in sorted(wanted.items()) if not unchanged(f, doc.get(f), v)]
        if not diff:
            return await self.ledger(cid, role)
        at, new_version = now_ms(), expected + 1
        merged = {k: wanted.get(k, doc.get(k)) for k in ("name", "phone", "email")}
        update: Document = {
            **{c["field"]: c["new"] for c in diff}, "ledger_version": new_version,
            "ledger_updated_ms": at, "ledger_updated_by": by,
            "ledger_last": {"version": new_version, "by": by, "at_ms": at, "changes": diff},
            **search_keys(merged["name"], merged["phone"], merged["email"])}
        # The version read is part of the filter, so of two edits made on the same version
        # exactly one matches; the other is told what the first one changed.
        result = await self._customers.update_one(
            {"_id": cid, "ledger_version": doc.get("ledger_version")}, {"$set": update})
        if result.matched_count == 0:
            raise await self._conflict(cid, expected, await self._customer(cid), role)
        try:
            await self._revisions.insert_many([
                {"_id": f"{cid}:{new_version}:{c['field']}", "customer": cid,
                 "version": new_version, **c, "by": by, "at_ms": at} for c in diff],
                ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise
        return await self.ledger(cid, role)

    async def _conflict(self, cid: str, expected: int, doc: Document, role: Role) -> Conflict:
        found: dict[tuple[int, str], Document] = {}
        async for d in self._revisions.find({"customer": cid, "version": {"$gt": expected}}):
            r = revision(d)
            found[r["version"], r["field"]] = r
        # The winner of a race may not have written its revisions yet; its change set is on
        # the customer document, written together with the version.
        last = doc.get("ledger_last")
        if isinstance(last, dict) and int(last.get("version") or 0) > expected:
            for change in last.get("changes") or []:
                r = revision({**change, "version": last["version"], "by": last.get("by"),
                               "at_ms": last.get("at_ms")})
                found.setdefault((r["version"], r["field"]), r)
        changes = [visible_change(found[k], role) for k in sorted(found)]
        return Conflict(CONFLICT_MESSAGE, current_version=ledger_version(doc),
                        changes_since=changes)

    async def add_note(self, customer_id: str, text: str, by: str) -> Document:
        """Append a note (notes are never edited or deleted)."""
        cid = check_customer_id(customer_id)
        note = check_note(text)
        if not isinstance(by, str) or not by:
            raise InvalidPayload("by: the staff member writing the note", field="by")
        await self._customer(cid)
        newest = await self._notes.find_one({"customer": cid}, {"at_ms": 1},
                                            sort=[("at_ms", DESCENDING)])
        # Strictly after the newest note, so two notes in one millisecond keep their order.
        at = max(now_ms(), int((newest or {}).get("at_ms") or 0) + 1)
        doc = {"_id": f"nt_{at:013d}_{secrets.token_hex(4)}", "customer": cid, "text": note,
               "by": by, "at_ms": at}
        await self._notes.insert_one(doc)
        return {"id": doc["_id"], "text": note, "by": by, "at_ms": at}

    # -- search -------------------------------------------------------------------------------
    async def search(self, query: str, limit: int = 20, *, role: Role | None = None
                     ) -> list[Document]:
        """Short rows of customers matching a name or hanzi prefix, a phone number (exact
        or its last digits) or an e-mail address; contact data as ``role`` may see it."""
        plan = plan_search(query, role)
        if not isinstance(limit, int) or not 1 <= limit <= SEARCH_LIMIT_MAX:
            raise InvalidPayload(f"limit: 1 to {SEARCH_LIMIT_MAX}", field="limit")
        # (condition, sort key); the plain fields also find customers the backfill has not
        # reached yet.
        conditions: list[tuple[Document, str]]
        if plan.path == "email":
            conditions = [({"email": plan.key}, "_id"), ({"search_email": plan.key}, "_id")]
        elif plan.path == "phone":
            conditions = [({"search_phone_rev": prefix_range(plan.key)}, "search_phone_rev")]
            if plan.exact_phone:
                conditions.insert(0, ({"phone": plan.exact_phone}, "_id"))
        elif plan.path == "name_zh":
            conditions = [({"name_zh": prefix_range(plan.key)}, "name_zh")]
        else:
            conditions = [({"search_name": prefix_range(plan.key)}, "search_name")]
        rows: dict[str, Document] = {}
        for condition, order in conditions:
            async for d in self._customers.find(condition, _SEARCH_PROJECTION).sort(
                    order, ASCENDING).limit(limit):
                rows.setdefault(str(d["_id"]), self._row(d, plan.path, role))
        return list(rows.values())[:limit]

    @staticmethod
    def _row(doc: Document, matched: str, role: Role | None) -> Document:
        row: Document = {"customer_id": str(doc["_id"]), "matched": matched}
        for field in ("name", "name_zh", "phone", "email", "district", "membership"):
            visible, value = (True, doc.get(field)) if role is None else shown(
                field, doc.get(field), role)
            if visible:
                row[field] = plain(value)
        return row
