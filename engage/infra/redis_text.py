"""Redis replies as text: redis-py returns bytes unless the client decodes responses."""

from __future__ import annotations


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
