"""Help detection policy (pure): raw widget signals → a decaying struggle score → offer or not."""

# The widget only measures; this module re-checks every measurement against the thresholds,
# because a client can send anything. Scores decay with server time (now_ms) so a visitor's
# clock cannot keep a score alive; dwell times compare client timestamps with each other,
# which is all a dwell is.

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import orjson

from engage.errors import InvalidPayload

SCORED_KINDS = ("rage_click", "dead_click", "error_click", "form_thrash", "form_idle",
                "quick_back", "js_error", "http_error")
HELP_CLICK = "help_click"  # explicit: reported and counted, never scored
KINDS = frozenset({*SCORED_KINDS, HELP_CLICK})
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "rage_click": 3.0, "dead_click": 1.5, "error_click": 3.0, "form_thrash": 2.0,
    "form_idle": 2.0, "quick_back": 1.5, "js_error": 1.0, "http_error": 2.0}
MAX_REASONS = 10
MAX_WEIGHT = 100.0

# Allowed ranges of the site-tunable numbers: (low, high, whole number?).
_RANGES: dict[str, tuple[float, float, bool]] = {
    "rage_click_count": (2, 20, True),
    "rage_click_window_ms": (100, 10_000, True),
    "rage_click_radius_px": (1, 500, True),
    "dead_click_wait_ms": (500, 30_000, True),
    "error_click_window_ms": (100, 10_000, True),
    "form_thrash_cycles": (2, 50, True),
    "form_idle_ms": (5_000, 3_600_000, True),
    "quick_back_ms": (500, 120_000, True),
    "offer_score": (0.5, 1_000, False),
    "decay_half_life_s": (1, 86_400, False),
    "cooldown_s": (0, 86_400, True),
    "max_offers_per_visit": (0, 20, True),
}
SENSOR_KEYS = ("rage_click_count", "rage_click_window_ms", "rage_click_radius_px",
               "dead_click_wait_ms", "error_click_window_ms", "form_thrash_cycles",
               "form_idle_ms")


def _number(name: str, raw: object, low: float, high: float, whole: bool) -> float:
    ok = isinstance(raw, int) or (isinstance(raw, float) and not whole)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not ok \
            or not low <= raw <= high:
        kind = "a whole number" if whole else "a number"
        raise InvalidPayload(f"{name}: {kind} from {low:g} to {high:g}", field=name)
    return float(raw)


@dataclass(frozen=True)
class HelpThresholds:
    """What counts as struggle and when to offer help; a site may override any of it."""

    rage_click_count: int = 3
    rage_click_window_ms: int = 1_000
    rage_click_radius_px: int = 30
    dead_click_wait_ms: int = 2_500
    error_click_window_ms: int = 1_000
    form_thrash_cycles: int = 3
    form_idle_ms: int = 60_000
    quick_back_ms: int = 5_000  # when the page's usual dwell is not known
    offer_score: float = 5.0
    decay_half_life_s: float = 120.0
    cooldown_s: int = 600
    max_offers_per_visit: int = 2
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))

    @classmethod
    def from_document(cls, doc: Mapping[str, Any] | None) -> HelpThresholds:
        """Defaults overridden by a site's document; anything unknown or out of range is
        refused with the field's name."""
        if doc is None:
            return cls()
        if not isinstance(doc, Mapping):
            raise InvalidPayload("help: an object of threshold overrides", field="help")
        unknown = sorted(set(doc) - set(_RANGES) - {"weights"})
        if unknown:
            raise InvalidPayload(f"{unknown[0]}: unknown help threshold", field=unknown[0])
        values: dict[str, Any] = {}
        for name, (low, high, whole) in _RANGES.items():
            if name in doc:
                number = _number(name, doc[name], low, high, whole)
                values[name] = int(number) if whole else number
        weights = dict(DEFAULT_WEIGHTS)
        raw_weights = doc.get("weights", {})
        if not isinstance(raw_weights, Mapping):
            raise InvalidPayload("weights: an object of signal kind -> weight", field="weights")
        for kind, raw in raw_weights.items():
            if kind not in DEFAULT_WEIGHTS:
                raise InvalidPayload(f"weights.{kind}: unknown signal kind",
                                     field=f"weights.{kind}")
            weights[kind] = _number(f"weights.{kind}", raw, 0, MAX_WEIGHT, False)
        return cls(**values, weights=weights)

    def to_document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        doc["weights"] = dict(self.weights)
        return doc

    def sensor_config(self) -> dict[str, int]:
        """The thresholds the widget's sensors measure against."""
        return {name: int(getattr(self, name)) for name in SENSOR_KEYS}


@dataclass(frozen=True)
class StruggleState:
    """One visit's struggle: the score as of ``updated_ms`` plus what is needed to go on."""

    score: float = 0.0
    updated_ms: int = 0
    half_life_s: float = HelpThresholds.decay_half_life_s
    counts: Mapping[str, int] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()  # recent counted kinds, oldest first, for the agent
    offers: int = 0
    last_offer_ms: int | None = None
    page_url: str = ""  # the page the visitor is on
    page_at: int = 0  # when it was entered (client ms)
    before_url: str = ""  # the page before it

    def to_json(self) -> str:
        doc = {f.name: getattr(self, f.name) for f in fields(self)}
        doc["counts"] = dict(self.counts)
        doc["reasons"] = list(self.reasons)
        return orjson.dumps(doc).decode()

    @classmethod
    def from_json(cls, raw: bytes | str | None) -> StruggleState:
        """The stored state; anything missing, corrupt or of the wrong shape → a fresh one."""
        try:
            doc = orjson.loads(raw or b"")
            if not isinstance(doc["counts"], dict) or not isinstance(doc["reasons"], list):
                return cls()
            state = cls(
                score=float(doc["score"]), updated_ms=int(doc["updated_ms"]),
                half_life_s=float(doc["half_life_s"]),
                counts={str(k): int(v) for k, v in doc["counts"].items()},
                reasons=tuple(str(r) for r in doc["reasons"] if r in KINDS)[-MAX_REASONS:],
                offers=int(doc["offers"]),
                last_offer_ms=None if doc["last_offer_ms"] is None
                else int(doc["last_offer_ms"]),
                page_url=str(doc["page_url"]), page_at=int(doc["page_at"]),
                before_url=str(doc["before_url"]))
        except (orjson.JSONDecodeError, TypeError, KeyError, ValueError, AttributeError,
                OverflowError):
            return cls()
        sane = (math.isfinite(state.score) and state.score >= 0 and state.half_life_s > 0
                and math.isfinite(state.half_life_s) and state.offers >= 0
                and all(v >= 0 for v in state.counts.values()))
        return state if sane else cls()


@dataclass(frozen=True)
class HelpDecision:
    offer: bool
    reason: str  # offer | below_threshold | no_agent | opted_out | in_conversation | cooldown
    #             | offer_limit
    score: float
    signals: list[str]


def score(state: StruggleState, now_ms: int) -> float:
    """The score decayed to ``now_ms``; time never runs backwards here."""
    elapsed_s = max(0, now_ms - state.updated_ms) / 1000
    decayed: float = state.score * 0.5 ** (elapsed_s / state.half_life_s)
    return max(0.0, decayed)


def _int(event: Mapping[str, Any], key: str) -> int:
    value = event.get(key, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _signal_kind(event: Mapping[str, Any], t: HelpThresholds) -> str | None:
    """The kind of a ``signal`` event when its measurements pass the thresholds."""
    kind = event.get("kind")
    if kind == "rage_click":
        ok = (_int(event, "count") >= t.rage_click_count
              and _int(event, "span_ms") <= t.rage_click_window_ms
              and _int(event, "radius_px") <= t.rage_click_radius_px)
    elif kind == "dead_click":
        ok = _int(event, "wait_ms") >= t.dead_click_wait_ms
    elif kind == "error_click":
        # span_ms, when the widget sends it, is the time from the click to the error.
        ok = _int(event, "span_ms") <= t.error_click_window_ms
    elif kind == "form_thrash":
        ok = _int(event, "cycles") >= t.form_thrash_cycles
    elif kind == "form_idle":
        ok = _int(event, "idle_ms") >= t.form_idle_ms
    else:
        ok = kind == HELP_CLICK
    return str(kind) if ok else None


def _page(state: StruggleState, event: Mapping[str, Any], t: HelpThresholds,
          usual_dwell_ms: int | None) -> tuple[StruggleState, str | None]:
    """Moves the page history on; a quick back is a return to the page before the previous
    one while the previous one was shown for less than its usual dwell."""
    url = str(event.get("url", ""))
    at = _int(event, "at")
    if url == state.page_url:  # a reload or a replace to the same page is not a new page
        return state, None
    limit = usual_dwell_ms if usual_dwell_ms is not None else t.quick_back_ms
    quick = bool(url) and url == state.before_url and 0 <= at - state.page_at < limit
    moved = replace(state, before_url=state.page_url, page_url=url, page_at=at)
    return moved, "quick_back" if quick else None


def observe(state: StruggleState, event: Mapping[str, Any], thresholds: HelpThresholds,
            now_ms: int, usual_dwell_ms: int | None = None
            ) -> tuple[StruggleState, list[str]]:
    """Apply one trail event; returns the new state and the kinds it counted."""
    kind: str | None = None
    etype = event.get("type")
    if etype == "signal":
        kind = _signal_kind(event, thresholds)
    elif etype == "error":
        kind = "js_error"
    elif etype == "http_error":
        status = _int(event, "status")
        kind = "http_error" if 400 <= status <= 599 else None
    elif etype == "page":
        state, kind = _page(state, event, thresholds, usual_dwell_ms)
    # Everything else (heartbeats, clicks, forms, leaves, conversions) only advances time.
    now = max(now_ms, state.updated_ms)
    current = score(state, now)
    if kind is None:
        return replace(state, score=current, updated_ms=now,
                       half_life_s=thresholds.decay_half_life_s), []
    counts = dict(state.counts)
    counts[kind] = counts.get(kind, 0) + 1
    return replace(state, score=current + thresholds.weights.get(kind, 0.0), updated_ms=now,
                   half_life_s=thresholds.decay_half_life_s, counts=counts,
                   reasons=(*state.reasons, kind)[-MAX_REASONS:]), [kind]


def decide(state: StruggleState, now_ms: int, thresholds: HelpThresholds, *,
           agents_available: int, opted_out: bool, in_conversation: bool) -> HelpDecision:
    """Whether to offer help now; the reason is a stable code either way."""
    current = score(state, now_ms)
    signals = list(state.reasons)

    def answer(reason: str) -> HelpDecision:
        return HelpDecision(offer=reason == "offer", reason=reason, score=current,
                            signals=signals)

    if opted_out:
        return answer("opted_out")
    if in_conversation:
        return answer("in_conversation")
    if state.offers >= thresholds.max_offers_per_visit:
        return answer("offer_limit")
    if state.last_offer_ms is not None \
            and now_ms - state.last_offer_ms < thresholds.cooldown_s * 1000:
        return answer("cooldown")
    if current < thresholds.offer_score:
        return answer("below_threshold")
    if agents_available < 1:
        return answer("no_agent")
    return answer("offer")


def record_offer(state: StruggleState, now_ms: int) -> StruggleState:
    """Remember that help was offered (for the cooldown and the per-visit limit)."""
    return replace(state, offers=state.offers + 1, last_offer_ms=now_ms)
