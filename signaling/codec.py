"""The JSON module handed to python-socketio: orjson, which refuses nesting past 1024 levels."""

from __future__ import annotations

from typing import Any

import orjson


class OrjsonCodec:
    """``dumps``/``loads`` compatible with the standard library's, as python-socketio expects.

    Deeply nested input raises ``orjson.JSONDecodeError`` (a ``ValueError``) instead of the
    ``RecursionError`` the standard library would hit.
    """

    JSONDecodeError = orjson.JSONDecodeError

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(data: str | bytes, **_: Any) -> Any:
        return orjson.loads(data)
