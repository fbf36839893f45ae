"""The team bulletin board: notes agents and supervisors post for everyone, pushed live."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]


class BulletinService:
    def __init__(self, db: AsyncDatabase[Document], redis: aioredis.Redis) -> None:
        self._db = db
        self._redis = redis

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
