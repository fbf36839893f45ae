"""A request body as a JSON object, for every HTTP adapter (no web framework here)."""

from __future__ import annotations

from typing import Any

import orjson

from engage.errors import InvalidPayload


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, or InvalidPayload."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidPayload("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidPayload("the body must be a JSON object")
    return body
