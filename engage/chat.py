"""Chat conversations: ordered, deduplicated, persisted messages, receipts, ratings, transcripts."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]


class ChatStore:
    def __init__(self, db: AsyncDatabase[Document], redis: aioredis.Redis) -> None:
        self._db = db
        self._redis = redis
