"""The standard question set: canned answers, their variables and a per-node search index."""

# MongoDB `knowledge` holds the answers (optimistic `version`, unique `shortcut`). Answers are a
# few hundred at most, so every node keeps all of them in memory and searches there; a change
# on any node is published as bus.KNOWLEDGE_CHANGED and every node reloads (the changing node at
# once). A node that missed an event still catches up after CACHE_MAX_AGE_SECONDS. Times are
# epoch-ms ints: nx-27017 stores a datetime written to an existing document as a string.

from __future__ import annotations

import re
import secrets
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from engage import bus
from engage.errors import Conflict, InvalidPayload, NotFound
from engage.infra.clock import now_ms

Document = dict[str, Any]
COLLECTION = "knowledge"
CATEGORIES = ("Buying", "Renting", "Decoration", "Greening", "Property management", "General")
LANGS = ("en", "zh")
# Every variable an answer may use, and what a missing value renders as.
VARIABLES: dict[str, str] = {"visitor_name": "", "agent_name": "", "customer_name": "",
                             "site_name": "", "queue_name": ""}
MAX_TEXT, MAX_TITLE, MAX_CATEGORY, MAX_TAGS, MAX_TAG, MAX_VALUE = 4000, 200, 60, 20, 40, 200
MAX_QUERY, MAX_LIMIT = 200, 100
ANSWER_ID_RE = re.compile(r"^kb_[A-Za-z0-9_-]{6,40}$")
SHORTCUT_RE = re.compile(r"^/[a-z0-9][a-z0-9_-]{0,31}$")
CACHE_MAX_AGE_SECONDS = 60.0
# "{{" and "}}" are literal braces (as in str.format); "{name}" a placeholder; a lone brace is
# unbalanced.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
# After an empty value, a space left before this punctuation is dropped ("Hello {x}," -> "Hello,").
_TIGHT = frozenset(",.!?;:，。！？；：、")  # noqa: RUF001
# Search tiers: a term's best match counts; the whole query equal to a shortcut beats all.
SHORTCUT_EXACT, SHORTCUT_PREFIX, IN_TITLE, IN_TAGS, IN_TEXT = 1000, 40, 30, 20, 10


# -- pure: templates ---------------------------------------------------------------------------
def template_problems(text: str) -> list[str]:
    """What stops ``text`` from being saved: unknown variables and unbalanced braces."""
    unknown: list[str] = []
    unbalanced = False
    for m in _TOKEN.finditer(text):
        name = m.group(1)
        if name is not None and name not in VARIABLES and name not in unknown:
            unknown.append(name)
        elif name is None and m.group(0) in "{}":
            unbalanced = True
    problems = []
    if unknown:
        problems.append("unknown variable(s) " + ", ".join("{" + n + "}" for n in unknown)
                        + "; known: " + ", ".join("{" + n + "}" for n in VARIABLES))
    if unbalanced:
        problems.append("unbalanced braces; write {{ or }} for a literal brace")
    return problems


def _plain_value(value: str) -> str:
    """A value is one line of plain text: controls become spaces, and it is capped."""
    cleaned = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in value)
    return cleaned.strip()[:MAX_VALUE]


def render(text: str, values: Mapping[str, str]) -> str:
    """Fill the variables of ``text`` in one pass (a value is never expanded again).

    A known variable without a value renders as its fallback; an unknown ``{foo}`` and a lone
    brace stay as written so the agent sees them before sending.
    """
    out: list[str] = []
    at = 0
    for m in _TOKEN.finditer(text):
        out.append(text[at:m.start()])
        at = m.end()
        token, name = m.group(0), m.group(1)
        if token in ("{{", "}}"):
            out.append(token[0])
        elif name is None or name not in VARIABLES:
            out.append(token)
        else:
            value = _plain_value(str(values.get(name) or "")) or VARIABLES[name]
            if not value and out and out[-1].endswith(" ") \
                    and (at == len(text) or text[at] in _TIGHT):
                out[-1] = out[-1][:-1]
            out.append(value)
    out.append(text[at:])
    return "".join(out)


# -- pure: validation --------------------------------------------------------------------------
def _plain_text(name: str, raw: Any, high: int, multiline: bool) -> str:
    if not isinstance(raw, str):
        raise InvalidPayload(f"{name}: text", field=name)
    value = raw.replace("\r\n", "\n").strip()
    allowed = "\n\t" if multiline else ""
    if any(unicodedata.category(c)[0] == "C" and c not in allowed for c in value):
        raise InvalidPayload(f"{name}: plain text without control characters", field=name)
    if len(value) > high:
        raise InvalidPayload(f"{name}: at most {high} characters", field=name)
    return value


def normalise_shortcut(raw: str) -> str:
    value = raw.strip().lower()
    return value if value.startswith("/") else "/" + value


def validate_answer(body: Mapping[str, Any]) -> Document:
    """The stored fields of an answer from a client's body, or InvalidPayload naming the field."""
    if not isinstance(body, Mapping):
        raise InvalidPayload("the answer must be an object")
    category = _plain_text("category", body.get("category", "General"), MAX_CATEGORY, False)
    title = _plain_text("title", body.get("title"), MAX_TITLE, False)
    if not category or not title:
        raise InvalidPayload(f"{'category' if not category else 'title'}: required",
                             field="category" if not category else "title")
    raw_text = body.get("text")
    if not isinstance(raw_text, Mapping) or not set(raw_text) <= set(LANGS):
        raise InvalidPayload("text: an object of language -> text, languages en and zh",
                             field="text")
    text: dict[str, str] = {}
    for lang in LANGS:
        value = _plain_text(f"text.{lang}", raw_text.get(lang, ""), MAX_TEXT, True)
        problems = template_problems(value)
        if problems:
            raise InvalidPayload(f"text.{lang}: " + "; ".join(problems), field=f"text.{lang}")
        if value:
            text[lang] = value
    if not text:
        raise InvalidPayload("text: an English (en) or Chinese (zh) text is required",
                             field="text")
    raw_tags = body.get("tags", [])
    if not isinstance(raw_tags, list) or len(raw_tags) > MAX_TAGS:
        raise InvalidPayload(f"tags: a list of at most {MAX_TAGS} words", field="tags")
    tags: list[str] = []
    for raw in raw_tags:
        tag = _plain_text("tags", raw, MAX_TAG, False)
        if tag and tag.casefold() not in (t.casefold() for t in tags):
            tags.append(tag)
    shortcut_raw = body.get("shortcut")
    shortcut = normalise_shortcut(shortcut_raw) if isinstance(shortcut_raw, str) else ""
    if not SHORTCUT_RE.fullmatch(shortcut):
        raise InvalidPayload("shortcut: a slash and up to 32 letters, digits, - or _, "
                             "e.g. /deposit", field="shortcut")
    return {"category": category, "title": title, "text": text, "tags": tags,
            "shortcut": shortcut}


# -- pure: search ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Indexed:
    """One answer with its searchable fields folded for case-insensitive matching."""

    answer: Document
    shortcut: str
    title: str
    tags: tuple[str, ...]
    text: Mapping[str, str]


def build_index(answers: Sequence[Document]) -> list[Indexed]:
    return [Indexed(answer=a, shortcut=str(a["shortcut"]), title=str(a["title"]).casefold(),
                    tags=tuple(str(t).casefold() for t in a.get("tags", ())),
                    text={k: str(v).casefold() for k, v in a["text"].items()})
            for a in sorted(answers, key=lambda a: (str(a["category"]), str(a["title"])))]


def _term_score(entry: Indexed, term: str, texts: Sequence[str]) -> int:
    if term.startswith("/"):  # typing a shortcut: "/dep" finds "/deposit"
        return SHORTCUT_PREFIX if entry.shortcut.startswith(term) else 0
    if term in entry.title:
        return IN_TITLE
    if any(term in tag for tag in entry.tags) or term in entry.shortcut:
        return IN_TAGS
    if any(term in text for text in texts):
        return IN_TEXT
    return 0


def rank(index: Sequence[Indexed], query: str, lang: str | None = None,
         category: str | None = None, limit: int = 20) -> list[Document]:
    """Answers matching every word of ``query``, best first; all of them for an empty query.

    With ``lang`` only answers written in that language are offered, searched in it.
    """
    folded = " ".join(query.split()).casefold()
    terms = folded.split()
    scored: list[tuple[int, int, Document]] = []
    for order, entry in enumerate(index):
        if category and entry.answer["category"] != category:
            continue
        if lang is not None and lang not in entry.text:
            continue
        texts = [entry.text[lang]] if lang is not None else list(entry.text.values())
        score = 0
        if folded and normalise_shortcut(folded) == entry.shortcut:
            score = SHORTCUT_EXACT
        elif terms:
            term_scores = [_term_score(entry, term, texts) for term in terms]
            if not all(term_scores):
                continue
            score = sum(term_scores)
        scored.append((-score, order, entry.answer))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [answer for _, _, answer in scored[:limit]]


async def ensure_indexes(db: AsyncDatabase[Document]) -> None:
    await db[COLLECTION].create_index([("shortcut", ASCENDING)], unique=True)
    await db[COLLECTION].create_index([("category", ASCENDING)])


def _public(doc: Mapping[str, Any]) -> Document:
    out = {k: v for k, v in doc.items() if k != "_id"}
    out["answer_id"] = doc["_id"]
    return out


class KnowledgeService:
    """The canned answers of every node: stored in MongoDB, searched in this node's memory."""

    def __init__(self, db: AsyncDatabase[Document], redis: aioredis.Redis) -> None:
        self._db = db
        self._redis = redis
        self._col = db[COLLECTION]
        self._index: list[Indexed] = []
        self._loaded_at: float | None = None

    async def start(self) -> None:
        await ensure_indexes(self._db)

    async def stop(self) -> None:
        self._index, self._loaded_at = [], None

    # -- the per-node index ------------------------------------------------------------------
    async def refresh(self) -> None:
        answers = [_public(doc) async for doc in self._col.find({})]
        self._index, self._loaded_at = build_index(answers), time.monotonic()

    async def on_changed(self, event: Mapping[str, Any]) -> None:
        """Bus handler: another node (or this one) changed an answer."""
        await self.refresh()

    async def _current(self) -> list[Indexed]:
        if self._loaded_at is None or time.monotonic() - self._loaded_at > CACHE_MAX_AGE_SECONDS:
            await self.refresh()
        return self._index

    async def _changed(self, answer_id: str) -> None:
        await self.refresh()
        await bus.publish(self._redis, bus.KNOWLEDGE_CHANGED, answer=answer_id)

    async def search(self, query: str, lang: str | None = None, category: str | None = None,
                     limit: int = 20) -> list[Document]:
        """Matching answers, best first (shortcut exact > title > tags > text)."""
        if lang is not None and lang not in LANGS:
            raise InvalidPayload("lang: en or zh", field="lang")
        if len(query) > MAX_QUERY:
            raise InvalidPayload(f"q: at most {MAX_QUERY} characters", field="q")
        return rank(await self._current(), query, lang, category or None,
                    max(1, min(limit, MAX_LIMIT)))

    async def list_answers(self, category: str | None = None) -> list[Document]:
        """Every answer (of one category), by category then title."""
        return [e.answer for e in await self._current()
                if category is None or e.answer["category"] == category]

    async def categories(self) -> list[str]:
        used = {str(e.answer["category"]) for e in await self._current()}
        return [*CATEGORIES, *sorted(used - set(CATEGORIES))]

    # -- CRUD (MongoDB is the record; the index follows) --------------------------------------
    async def get(self, answer_id: str) -> Document:
        doc = await self._col.find_one({"_id": answer_id}) \
            if ANSWER_ID_RE.fullmatch(answer_id) else None
        if doc is None:
            raise NotFound("no such answer", answer=answer_id[:80])
        return _public(doc)

    async def _shortcut_taken(self, shortcut: str) -> Conflict:
        other = await self._col.find_one({"shortcut": shortcut}, {"title": 1})
        title = other.get("title") if other else None
        return Conflict(f"the shortcut {shortcut} is already used"
                        + (f" by {title!r}" if title else ""), field="shortcut")

    async def create(self, body: Mapping[str, Any], by: str) -> Document:
        fields = validate_answer(body)
        answer_id = "kb_" + secrets.token_urlsafe(9)
        now = now_ms()
        stored = {"_id": answer_id, **fields, "version": 1, "created_by": by,
                  "created_at_ms": now, "updated_by": by, "updated_at_ms": now}
        try:
            await self._col.insert_one(stored)
        except DuplicateKeyError:
            raise await self._shortcut_taken(fields["shortcut"]) from None
        await self._changed(answer_id)
        return _public(stored)

    async def update(self, answer_id: str, body: Mapping[str, Any], by: str,
                     version: object) -> Document:
        """Replace the answer if nobody changed it since ``version``; Conflict otherwise."""
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidPayload("version: the version you edited (a whole number)",
                                 field="version")
        current = await self._col.find_one({"_id": answer_id}) \
            if ANSWER_ID_RE.fullmatch(answer_id) else None
        if current is None:
            raise NotFound("no such answer", answer=answer_id[:80])
        fields = validate_answer(body)
        stored = {**fields, "version": version + 1, "created_by": current.get("created_by"),
                  "created_at_ms": current.get("created_at_ms"), "updated_by": by,
                  "updated_at_ms": now_ms()}
        try:
            result = await self._col.replace_one({"_id": answer_id, "version": version}, stored)
        except DuplicateKeyError:
            raise await self._shortcut_taken(fields["shortcut"]) from None
        if result.matched_count == 0:
            raise Conflict("the answer was changed by someone else; reload it and try again",
                           current_version=current.get("version"))
        await self._changed(answer_id)
        return _public({"_id": answer_id, **stored})

    async def delete(self, answer_id: str) -> None:
        result = await self._col.delete_one({"_id": answer_id})
        if result.deleted_count == 0:
            raise NotFound("no such answer", answer=answer_id[:80])
        await self._changed(answer_id)

    async def render(self, answer_id: str, lang: str, values: Any) -> Document:
        """The answer's text in ``lang`` (or its other language) with the variables filled."""
        if lang not in LANGS:
            raise InvalidPayload("lang: en or zh", field="lang")
        if not isinstance(values, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
            raise InvalidPayload("values: an object of variable -> text", field="values")
        unknown = sorted(set(values) - set(VARIABLES))
        if unknown:
            raise InvalidPayload("values: unknown variable(s) " + ", ".join(unknown)
                                 + "; known: " + ", ".join(VARIABLES), field="values")
        answer = await self.get(answer_id)
        used = lang if lang in answer["text"] else next(iter(answer["text"]))
        return {"text": render(answer["text"][used], values), "lang": used}
