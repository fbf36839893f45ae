"""Group commit on nx-27017: concurrent inserts share a batch, each caller gets its own result."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from engage.infra.group_commit import GroupInsert


async def test_each_caller_hears_about_its_own_document(
        db: AsyncDatabase[dict[str, Any]]) -> None:
    col = db.group_commit
    await col.create_index("key", unique=True)
    await col.insert_one({"key": "taken"})
    group = GroupInsert(col)
    keys = [f"k{i}" for i in range(50)] + ["taken"] + [f"m{i}" for i in range(50)]
    results = await asyncio.gather(*(group.insert({"key": k}) for k in keys),
                                   return_exceptions=True)
    errors = {k: r for k, r in zip(keys, results, strict=True) if r is not None}
    assert list(errors) == ["taken"] and isinstance(errors["taken"], DuplicateKeyError)
    assert await col.count_documents({}) == 101
    # The group goes on after a failure.
    await group.insert({"key": "after"})
    with pytest.raises(DuplicateKeyError):
        await group.insert({"key": "after"})
