"""JSON log lines (one object per line) with the ``extra=`` fields of each record, and the
budget of full tracebacks."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(level: str = "INFO", json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Per-packet chatter of the Socket.IO stack is not operational information.
    for noisy in ("socketio", "engineio", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class TracebackBudget:
    """Whether a failure may log its full traceback: the first of each kind per window does,
    the rest log one line, so a request an attacker can repeat cannot flood the log."""

    def __init__(self, window_seconds: float = 60.0, max_kinds: int = 1000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window_seconds
        self._max_kinds = max_kinds
        self._clock = clock
        self._last: dict[str, float] = {}

    def allows(self, kind: str) -> bool:
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self._window:
            return False
        if len(self._last) >= self._max_kinds:
            # Bounded memory: forget the kinds whose window is over; if none is, new kinds
            # wait (they still get their one line).
            self._last = {k: t for k, t in self._last.items() if now - t < self._window}
            if len(self._last) >= self._max_kinds:
                return False
        self._last[kind] = now
        return True
