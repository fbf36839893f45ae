"""Proactive invite rules (pure): validation, URL matching and which rule, if any, applies."""

# URL globs: `*` is any run of characters (across `/` too), `?` one character; a glob that
# starts with `/` is matched against the path, any other against the whole URL; both without
# query and fragment. A URL regex is searched for (anchor it with ^ … $ to match whole) in the
# same query-less URL, compiled with RE2 so a marketer's pattern cannot take linear-time
# matching away (no backtracking, no ReDoS).

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engage.acd.routing import BusinessHours
from engage.errors import InvalidPayload

try:  # pragma: no branch - google-re2 is a dependency; stdlib re only where it has no wheel
    import re2

    _RE2_OPTIONS = re2.Options()
    _RE2_OPTIONS.log_errors = False  # refusals are reported to the marketer, not to stderr
except ImportError:  # pragma: no cover
    re2 = None

RULE_ID_RE = re.compile(r"^rule_[A-Za-z0-9_-]{4,64}$")
SITE_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{4,64}$")  # the same as engage.sites.registry.SITE_KEY_RE
QUEUE_ID_RE = re.compile(r"^[a-z0-9_-]{1,40}$")
MARKUP_RE = re.compile(r"<[A-Za-z/!?]")
CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # newlines are fine in an invite
CHANNELS = ("chat", "voice", "video", "cobrowse")
LANGS = ("en", "zh")
MAX_TEXT = 280
MAX_NAME = 100
MAX_PATTERN = 300
MAX_SEGMENTS = 20
META_KEYS = frozenset({"_id", "version", "created_by", "created_at", "updated_by",
                       "updated_at"})



def without_query(url: str) -> str:
    return url.split("#", 1)[0].split("?", 1)[0]


def url_path(url: str) -> str:
    """The path of a query-less URL ("/" when it has none); a bare path is its own path."""
    scheme = url.find("://")
    if scheme < 0:
        return url
    slash = url.find("/", scheme + 3)
    return "/" if slash < 0 else url[slash:]


def glob_match(glob: str, text: str) -> bool:
    """``*`` any run (possibly empty), ``?`` one character; O(len(glob) · len(text)) at
    worst, never exponential."""
    g = t = 0
    star_g, star_t = -1, 0
    while t < len(text):
        if g < len(glob) and (glob[g] == "?" or glob[g] == text[t]):
            g, t = g + 1, t + 1
        elif g < len(glob) and glob[g] == "*":
            star_g, star_t = g, t
            g += 1
        elif star_g >= 0:  # let the last star take one more character
            g, star_t = star_g + 1, star_t + 1
            t = star_t
        else:
            return False
    while g < len(glob) and glob[g] == "*":
        g += 1
    return g == len(glob)


def compile_url_regex(pattern: str) -> Any:
    if len(pattern) > MAX_PATTERN:
        raise InvalidPayload(f"url_regex: at most {MAX_PATTERN} characters", field="url_regex")
    try:
        if re2 is not None:
            return re2.compile(pattern, options=_RE2_OPTIONS)
        return re.compile(pattern)  # pragma: no cover
    except Exception as exc:  # re2.error / re.error; both mean "not a pattern we can run"
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode(errors="replace")
        raise InvalidPayload(f"url_regex: {detail}", field="url_regex") from None


def _fail(name: str, message: str) -> InvalidPayload:
    return InvalidPayload(f"{name}: {message}", field=name)


def _int(doc: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = doc.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(name, f"a whole number from {low} to {high}")
    return value


def _optional_number(doc: Mapping[str, Any], name: str, low: float, high: float
                     ) -> float | None:
    value = doc.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not low <= value <= high:
        raise _fail(name, f"empty or a number from {low:g} to {high:g}")
    return float(value)


def _bool(doc: Mapping[str, Any], name: str, default: bool) -> bool:
    value = doc.get(name, default)
    if not isinstance(value, bool):
        raise _fail(name, "true or false")
    return value


def _string(doc: Mapping[str, Any], name: str, default: str, limit: int) -> str:
    value = doc.get(name, default)
    if not isinstance(value, str) or len(value) > limit:
        raise _fail(name, f"text of at most {limit} characters")
    return value


def _text(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not set(raw) <= set(LANGS):
        raise _fail("text", "an object with 'en' and optionally 'zh'")
    text: dict[str, str] = {}
    for lang in LANGS:
        value = raw.get(lang)
        if value is None and lang != "en":
            continue
        name = f"text.{lang}"
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
            raise _fail(name, f"1 to {MAX_TEXT} characters")
        if MARKUP_RE.search(value) or CONTROL_RE.search(value):
            raise _fail(name, "plain text only (no HTML or control characters)")
        text[lang] = value.strip()
    return text


def hours_from_document(raw: Any) -> BusinessHours | None:
    """The business-hours document queues use: {tz, days (Monday = 0), open, close}."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise _fail("hours", "an object {tz, days, open, close} or null")
    tz = raw.get("tz", "Asia/Shanghai")
    try:
        if not isinstance(tz, str) or len(tz) > 64:
            raise ValueError(tz)
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _fail("hours.tz", f"unknown time zone {str(tz)[:64]!r}") from None
    days = raw.get("days", list(range(7)))
    if not isinstance(days, list) or not days or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6 for d in days):
        raise _fail("hours.days", "a non-empty list of weekdays 0 (Monday) to 6")
    try:
        opens = time.fromisoformat(str(raw.get("open", "00:00")))
        closes = time.fromisoformat(str(raw.get("close", "23:59:59")))
    except ValueError:
        raise _fail("hours", "open and close as HH:MM[:SS]") from None
    if opens.tzinfo is not None or closes.tzinfo is not None:
        raise _fail("hours", "open and close without an offset (the zone is hours.tz)")
    if opens == closes:
        raise _fail("hours", "open and close must differ")
    return BusinessHours(tz=tz, days=tuple(sorted(set(days))), open=opens, close=closes)


def hours_to_document(hours: BusinessHours) -> dict[str, Any]:
    return {"tz": hours.tz, "days": list(hours.days), "open": hours.open.isoformat(),
            "close": hours.close.isoformat()}


@dataclass(frozen=True)
class InviteRule:
    """When to invite a visitor to talk, to which queue, and what the invite says."""

    rule_id: str
    site_key: str
    name: str
    queue: str
    text: Mapping[str, str]
    enabled: bool = True
    channel: str = "chat"
    url_glob: str = ""
    url_regex: str = ""
    min_time_on_page_s: int = 0
    min_pages: int = 0
    returning: bool | None = None
    segments: tuple[str, ...] = ()
    min_affinity: float | None = None
    min_struggle: float | None = None
    require_agent: bool = True
    hours: BusinessHours | None = None
    max_per_day: int = 1
    priority: int = 0
    _regex: Any = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.url_regex:
            object.__setattr__(self, "_regex", compile_url_regex(self.url_regex))

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> InviteRule:
        """A validated rule; every refusal names the field. Storage fields are ignored."""
        if not isinstance(doc, Mapping):
            raise InvalidPayload("the rule must be an object")
        unknown = sorted(set(doc) - _FIELDS - META_KEYS)
        if unknown:
            raise _fail(unknown[0], "unknown field")
        rule_id = doc.get("rule_id")
        if not isinstance(rule_id, str) or not RULE_ID_RE.fullmatch(rule_id):
            raise _fail("rule_id", "rule_ followed by 4-64 letters, digits, '_' or '-'")
        site_key = doc.get("site_key")
        if not isinstance(site_key, str) or not SITE_KEY_RE.fullmatch(site_key):
            raise _fail("site_key", "4-64 characters of A-Z, a-z, 0-9, '_' or '-'")
        name = doc.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise _fail("name", f"1 to {MAX_NAME} characters")
        queue = doc.get("queue")
        if not isinstance(queue, str) or not QUEUE_ID_RE.fullmatch(queue):
            raise _fail("queue", "1-40 characters of a-z, 0-9, '_' or '-'")
        channel = doc.get("channel", "chat")
        if channel not in CHANNELS:
            raise _fail("channel", ", ".join(CHANNELS))
        returning = doc.get("returning")
        if returning is not None and not isinstance(returning, bool):
            raise _fail("returning", "true, false or null (either)")
        segments = doc.get("segments", [])
        if not isinstance(segments, list | tuple) or len(segments) > MAX_SEGMENTS or not all(
                isinstance(s, str) and 0 < len(s) <= 64 for s in segments):
            raise _fail("segments", f"a list of up to {MAX_SEGMENTS} segment names")
        return cls(
            rule_id=rule_id, site_key=site_key, name=name.strip(), queue=queue,
            text=_text(doc.get("text")), enabled=_bool(doc, "enabled", True), channel=channel,
            url_glob=_string(doc, "url_glob", "", MAX_PATTERN),
            url_regex=_string(doc, "url_regex", "", MAX_PATTERN),
            min_time_on_page_s=_int(doc, "min_time_on_page_s", 0, 0, 86_400),
            min_pages=_int(doc, "min_pages", 0, 0, 1_000), returning=returning,
            segments=tuple(dict.fromkeys(segments)),
            min_affinity=_optional_number(doc, "min_affinity", 0.0, 1.0),
            min_struggle=_optional_number(doc, "min_struggle", 0.0, 1_000.0),
            require_agent=_bool(doc, "require_agent", True),
            hours=hours_from_document(doc.get("hours")),
            max_per_day=_int(doc, "max_per_day", 1, 1, 50),
            priority=_int(doc, "priority", 0, -1_000, 1_000))

    def to_document(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id, "site_key": self.site_key, "name": self.name,
            "enabled": self.enabled, "queue": self.queue, "channel": self.channel,
            "text": dict(self.text), "url_glob": self.url_glob, "url_regex": self.url_regex,
            "min_time_on_page_s": self.min_time_on_page_s, "min_pages": self.min_pages,
            "returning": self.returning, "segments": list(self.segments),
            "min_affinity": self.min_affinity, "min_struggle": self.min_struggle,
            "require_agent": self.require_agent,
            "hours": None if self.hours is None else hours_to_document(self.hours),
            "max_per_day": self.max_per_day, "priority": self.priority}

    def url_matches(self, url: str) -> tuple[bool, bool]:
        """(glob matches, regex matches) for a URL; an empty pattern matches anything."""
        bare = without_query(url)
        glob_ok = not self.url_glob or glob_match(
            self.url_glob, url_path(bare) if self.url_glob.startswith("/") else bare)
        regex_ok = self._regex is None or self._regex.search(bare) is not None
        return glob_ok, regex_ok


_FIELDS = frozenset({"rule_id", "site_key", "name", "enabled", "queue", "channel", "text",
                     "url_glob", "url_regex", "min_time_on_page_s", "min_pages", "returning",
                     "segments", "min_affinity", "min_struggle", "require_agent", "hours",
                     "max_per_day", "priority"})


@dataclass(frozen=True)
class VisitContext:
    """What is known about a visit when deciding on an invite."""

    url: str
    time_on_page_s: float
    pages_this_visit: int
    returning: bool
    now: datetime  # aware
    segment: str | None = None
    affinity: float | None = None  # the customer's best analysis offer score
    struggle: float = 0.0
    agents_available: Mapping[str, int] = field(default_factory=dict)
    shown_today: Mapping[str, int] = field(default_factory=dict)
    opted_out: bool = False
    in_conversation: bool = False
    invite_pending: bool = False

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise InvalidPayload("now: a time with a time zone", field="now")


def explain(rule: InviteRule, ctx: VisitContext) -> list[str]:
    """The conditions that keep ``rule`` from inviting in ``ctx``, as stable codes."""
    failing = [code for code, fails in (
        ("opted_out", ctx.opted_out), ("in_conversation", ctx.in_conversation),
        ("invite_pending", ctx.invite_pending), ("disabled", not rule.enabled)) if fails]
    glob_ok, regex_ok = rule.url_matches(ctx.url)
    checks = (
        ("url", not glob_ok),
        ("url_regex", not regex_ok),
        ("time_on_page", ctx.time_on_page_s < rule.min_time_on_page_s),
        ("pages", ctx.pages_this_visit < rule.min_pages),
        ("returning", rule.returning is not None and ctx.returning != rule.returning),
        ("segment", bool(rule.segments) and ctx.segment not in rule.segments),
        ("affinity", rule.min_affinity is not None
         and (ctx.affinity is None or ctx.affinity < rule.min_affinity)),
        ("struggle", rule.min_struggle is not None and ctx.struggle < rule.min_struggle),
        ("hours", rule.hours is not None and not rule.hours.is_open(ctx.now)),
        ("no_agent", rule.require_agent and ctx.agents_available.get(rule.queue, 0) < 1),
        ("cap", ctx.shown_today.get(rule.rule_id, 0) >= rule.max_per_day),
    )
    return failing + [code for code, fails in checks if fails]


def choose(rules: Iterable[InviteRule], ctx: VisitContext) -> InviteRule | None:
    """The enabled rule whose conditions all hold: highest priority, then lowest rule id."""
    if ctx.opted_out or ctx.in_conversation or ctx.invite_pending:
        return None
    matching = [rule for rule in rules if rule.enabled and not explain(rule, ctx)]
    return min(matching, key=lambda r: (-r.priority, r.rule_id), default=None)
