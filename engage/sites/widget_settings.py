"""A site's widget settings (default queue, help thresholds, sensitive URL parameters); pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from engage.errors import InvalidPayload
from engage.visits.help_policy import HelpThresholds

QUEUE_RE = re.compile(r"^[a-z0-9_-]{1,40}$")
PARAM_RE = re.compile(r"^[A-Za-z0-9_.\[\]-]{1,64}$")
# Stripped from every URL a visitor sends unless the site lists its own: the usual carriers of
# credentials and personal data in query strings and fragments.
DEFAULT_SENSITIVE = ("token", "access_token", "id_token", "refresh_token", "code", "state",
                     "password", "pass", "pwd", "secret", "session", "sessionid", "sid",
                     "auth", "key", "apikey", "api_key", "signature", "sig", "otp",
                     "email", "phone", "mobile", "card", "cc", "cvv", "ssn", "idcard")
REDACTED = "[redacted]"


@dataclass(frozen=True)
class WidgetSettings:
    queue: str = ""  # where help requests go when the widget names no queue
    queues: tuple[str, ...] = ()  # the others its visitors may name (a visitor asks no other)
    thresholds: HelpThresholds = field(default_factory=HelpThresholds)
    sensitive_params: frozenset[str] = frozenset(DEFAULT_SENSITIVE)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any] | None) -> WidgetSettings:
        doc = doc or {}
        unknown = set(doc) - {"queue", "queues", "thresholds", "sensitive_params"}
        if unknown:
            raise InvalidPayload(f"widget: unknown setting {sorted(unknown)[0]!r}")
        queue = doc.get("queue") or ""
        if not isinstance(queue, str) or (queue and not QUEUE_RE.fullmatch(queue)):
            raise InvalidPayload("widget.queue: a queue id (a-z, 0-9, '_', '-')")
        queues = doc.get("queues") or []
        if not isinstance(queues, list) or len(queues) > 50 or not all(
                isinstance(q, str) and QUEUE_RE.fullmatch(q) for q in queues):
            raise InvalidPayload("widget.queues: up to 50 queue ids (a-z, 0-9, '_', '-')")
        params = doc.get("sensitive_params")
        if params is None:
            sensitive = frozenset(DEFAULT_SENSITIVE)
        elif not isinstance(params, list) or len(params) > 100 or not all(
                isinstance(p, str) and PARAM_RE.fullmatch(p) for p in params):
            raise InvalidPayload("widget.sensitive_params: up to 100 parameter names")
        else:
            sensitive = frozenset(p.lower() for p in params) | frozenset(DEFAULT_SENSITIVE)
        return cls(queue=queue, queues=tuple(dict.fromkeys(queues)),
                   thresholds=HelpThresholds.from_document(doc.get("thresholds")),
                   sensitive_params=sensitive)

    def offers(self, queue: str) -> bool:
        """Whether this site's visitors may ask for ``queue``."""
        return bool(queue) and (queue == self.queue or queue in self.queues)

    def to_document(self) -> dict[str, Any]:
        extra = sorted(self.sensitive_params - frozenset(DEFAULT_SENSITIVE))
        return {"queue": self.queue, "queues": list(self.queues),
                "thresholds": self.thresholds.to_document(),
                "sensitive_params": extra}


def _clean_pairs(raw: str, sensitive: frozenset[str]) -> str:
    pairs = parse_qsl(raw, keep_blank_values=True)
    return urlencode([(k, REDACTED if k.lower() in sensitive else v) for k, v in pairs],
                     safe="[]/")


def sanitize_url(url: str, sensitive: frozenset[str]) -> str:
    """The URL with the values of sensitive query and fragment parameters replaced; user info
    dropped. Fragments that are routes (``#/cart?step=2``) keep the route."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https"):
        return ""
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    query = _clean_pairs(parts.query, sensitive) if parts.query else ""
    fragment = parts.fragment
    if fragment:
        route, sep, rest = fragment.partition("?")
        if sep:
            fragment = f"{route}?{_clean_pairs(rest, sensitive)}"
        elif "=" in fragment:
            fragment = _clean_pairs(fragment, sensitive)
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def without_query(url: str) -> str:
    """What invite URL rules match against: scheme, host and path."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
