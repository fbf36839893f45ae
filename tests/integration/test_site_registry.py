"""The site registry answers unknown site keys without reloading every site."""

from __future__ import annotations

from typing import Any

import pytest

from engage.errors import NotFound
from engage.sites.registry import SiteRegistry

SITE = {"name": "Shop", "allowed_origins": ["https://b.example"], "identity_secret": "s",
        "widget": {}}


async def test_an_unknown_key_is_one_read_and_a_new_site_is_read_alone(
        db: Any, redis: Any) -> None:
    registry = SiteRegistry(db, redis, "http://127.0.0.1:8080")
    await registry.refresh()
    # Saved by another node a moment ago: not in this node's copy yet.
    await db.sites.insert_one({"site_key": "site_b", **SITE})
    await db.sites.insert_one({"site_key": "site_c", **SITE,
                               "allowed_origins": ["https://c.example"]})

    for key in ("site_nope", "../../etc", "x" * 5000):
        with pytest.raises(NotFound):
            await registry.require(key)
    assert registry.get("site_b") is None  # no reload of the whole collection

    site = await registry.require("site_b")
    assert site.allowed_origins == ("https://b.example",)
    assert registry.origin_known("https://b.example")
    assert registry.get("site_c") is None and not registry.origin_known("https://c.example")
