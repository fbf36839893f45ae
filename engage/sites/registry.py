"""The sites that embed the widget and their origin allow-lists, cached per node."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from engage import bus
from engage.errors import InvalidPayload, NotFound
from engage.models import Site
from engage.sites.widget_settings import WidgetSettings

Document = dict[str, Any]

ORIGIN_RE = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$")
SITE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{4,64}$")


def check_origin(origin: str) -> str:
    """An exact scheme://host[:port]; wildcards are refused on purpose."""
    if not ORIGIN_RE.fullmatch(origin):
        raise InvalidPayload(f"origin {origin!r}: expected scheme://host[:port], no wildcard, "
                             "no path")
    return origin


def _to_site(doc: Document) -> Site:
    return Site(site_key=doc["site_key"], name=str(doc.get("name") or doc["site_key"]),
                allowed_origins=tuple(doc.get("allowed_origins") or ()),
                identity_secret=doc.get("identity_secret", ""),
                widget=dict(doc.get("widget") or {}))


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db.sites.create_index([("site_key", ASCENDING)], unique=True)


class SiteRegistry:
    """Reads sites from MongoDB; keeps an in-memory copy for the hot origin check."""

    def __init__(self, db: AsyncDatabase[Document], redis: aioredis.Redis,
                 staff_origin: str) -> None:
        self._col = db.sites
        self._redis = redis
        self.staff_origin = staff_origin
        self._sites: dict[str, Site] = {}
        self._origins: frozenset[str] = frozenset()

    async def refresh(self) -> None:
        sites = {doc["site_key"]: _to_site(doc) async for doc in self._col.find({})}
        self._sites = sites
        self._origins = frozenset(o for s in sites.values() for o in s.allowed_origins)

    def get(self, site_key: str) -> Site | None:
        return self._sites.get(site_key)

    def origin_known(self, origin: str | None) -> bool:
        """Any site's origin or the staff console's own: the Engine.IO-level gate."""
        return origin is not None and (origin == self.staff_origin or origin in self._origins)

    def all(self) -> list[Site]:
        return sorted(self._sites.values(), key=lambda s: s.site_key)

    async def save(self, site_key: str, name: str, allowed_origins: list[str],
                   widget: Mapping[str, Any] | None = None) -> Site:
        """Create or replace a site; ``widget`` None keeps the site's widget settings."""
        if not SITE_KEY_RE.fullmatch(site_key):
            raise InvalidPayload("site_key: 4-64 characters of A-Z, a-z, 0-9, '_' or '-'")
        origins = sorted({check_origin(o) for o in allowed_origins})
        if not origins:
            raise InvalidPayload("allowed_origins: at least one origin")
        existing = await self._col.find_one({"site_key": site_key})
        widget_doc = (existing or {}).get("widget") or {}
        if widget is not None:
            widget_doc = WidgetSettings.from_document(widget).to_document()
        doc = {"site_key": site_key, "name": name or site_key, "allowed_origins": origins,
               "identity_secret": (existing or {}).get("identity_secret")
               or secrets.token_urlsafe(32), "widget": widget_doc}
        await self._col.replace_one({"site_key": site_key}, doc, upsert=True)
        await self.refresh()
        await bus.publish(self._redis, bus.SITES_CHANGED, site_key=site_key)
        return _to_site(doc)

    async def require(self, site_key: str) -> Site:
        """The site; one not cached yet (saved on another node a moment ago) is read alone.
        Anyone may send any key, so an unknown one costs one indexed read, never a reload."""
        site = self.get(site_key)
        if site is None and isinstance(site_key, str) and SITE_KEY_RE.fullmatch(site_key):
            doc = await self._col.find_one({"site_key": site_key})
            if doc is not None:
                site = _to_site(doc)
                self._sites = {**self._sites, site_key: site}
                self._origins = self._origins | frozenset(site.allowed_origins)
        if site is None:
            raise NotFound("unknown site")
        return site
