"""Chat attachments on disk: content-type sniffing, size cap, access metadata, retention."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]


class AttachmentStore:
    def __init__(self, db: AsyncDatabase[Document], root: Path, *, max_bytes: int,
                 retention_days: int) -> None:
        self._db = db
        self.root = root
        self.max_bytes = max_bytes
        self.retention_days = retention_days

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
