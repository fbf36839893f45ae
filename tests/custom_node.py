"""A live node like the ``node`` fixture's, but with settings of the test's choosing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from engage.app import SERVICES, create_app
from engage.infra.backends import open_backends
from engage.models import Role
from tests.conftest import PASSWORD, SITE_KEY, SITE_ORIGIN, LiveNode, node_settings


@asynccontextmanager
async def node_with(redis_url: str, mongo_url: str, db_name: str, tmp_path: Path,
                    aiohttp_server: Any, **env: str) -> AsyncIterator[LiveNode]:
    """One node with ``env`` on top of the test defaults, one user per role and the test
    site; afterwards the node stops and its database is dropped."""
    settings = node_settings(redis_url, mongo_url, db_name, tmp_path,
                             ENGAGE_CONNECT_TIMEOUT="2", **env)
    async with open_backends(settings, own_children=False) as backends:
        app = create_app(settings, backends)
        server = await aiohttp_server(app, port=settings.port)
        services = app[SERVICES]
        for role in Role:
            await services.staff.add(role.value, PASSWORD, role)
        await services.sites.save(SITE_KEY, "Test shop", [SITE_ORIGIN])
        try:
            # The listening URL, not the public one: a test may pose as an https deployment.
            yield LiveNode(url=str(server.make_url("")).rstrip("/"), settings=settings, app=app)
        finally:
            await server.close()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    await client.drop_database(db_name)
    await client.close()
