"""Fixtures the integration tests share beyond tests/conftest.py: a staff HTTP session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.conftest import LiveNode
from tests.staff_http import cookie_session


@pytest.fixture
async def http(node: LiveNode) -> AsyncIterator[aiohttp.ClientSession]:
    """One cookie session on the live node, closed before the node stops."""
    async with cookie_session() as session:
        yield session
