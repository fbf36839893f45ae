"""Help policy: threshold re-checks at their boundaries, decay, quick back, decisions, storage."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage.errors import InvalidPayload
from engage.visits.help_policy import (
    DEFAULT_WEIGHTS,
    HelpThresholds,
    StruggleState,
    decide,
    observe,
    record_offer,
    score,
)

T = HelpThresholds()
NOW = 1_700_000_000_000


def signal(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": "signal", "at": NOW, "url": "https://shop.test/a", "kind": kind, **fields}


def page(url: str, at: int, nav: str = "push") -> dict[str, Any]:
    return {"type": "page", "at": at, "url": url, "title": "", "referrer": "", "nav": nav}


def counted(event: dict[str, Any], thresholds: HelpThresholds = T) -> list[str]:
    return observe(StruggleState(), event, thresholds, NOW)[1]


def test_defaults_are_the_design_thresholds() -> None:
    assert T.sensor_config() == {
        "rage_click_count": 3, "rage_click_window_ms": 1000, "rage_click_radius_px": 30,
        "dead_click_wait_ms": 2500, "error_click_window_ms": 1000, "form_thrash_cycles": 3,
        "form_idle_ms": 60000}
    assert T.quick_back_ms == 5000 and T.max_offers_per_visit == 2
    assert set(T.weights) == set(DEFAULT_WEIGHTS)
    assert "help_click" not in T.weights


@pytest.mark.parametrize(("fields", "counts"), [
    ({"count": 3, "span_ms": 1000, "radius_px": 30}, True),  # every value on its boundary
    ({"count": 10, "span_ms": 0, "radius_px": 0}, True),
    ({"count": 2, "span_ms": 500, "radius_px": 10}, False),
    ({"count": 3, "span_ms": 1001, "radius_px": 10}, False),
    ({"count": 3, "span_ms": 5000, "radius_px": 10}, False),
    ({"count": 3, "span_ms": 500, "radius_px": 31}, False),
    ({"count": 5, "span_ms": 500, "radius_px": 200}, False),
])
def test_rage_click_is_rechecked(fields: dict[str, int], counts: bool) -> None:
    assert counted(signal("rage_click", **fields)) == (["rage_click"] if counts else [])


@pytest.mark.parametrize(("kind", "fields", "counts"), [
    ("dead_click", {"wait_ms": 2500}, True),
    ("dead_click", {"wait_ms": 2499}, False),
    ("dead_click", {}, False),
    ("error_click", {"span_ms": 1000}, True),
    ("error_click", {}, True),  # no delay reported: the widget only sends it within the window
    ("error_click", {"span_ms": 1001}, False),
    ("form_thrash", {"cycles": 3}, True),
    ("form_thrash", {"cycles": 2}, False),
    ("form_idle", {"idle_ms": 60000}, True),
    ("form_idle", {"idle_ms": 59999}, False),
    ("something_else", {}, False),
])
def test_signals_are_rechecked_at_the_boundary(kind: str, fields: dict[str, int],
                                               counts: bool) -> None:
    assert counted(signal(kind, **fields)) == ([kind] if counts else [])


def test_site_thresholds_move_the_boundary() -> None:
    strict = HelpThresholds.from_document({"rage_click_count": 5, "dead_click_wait_ms": 4000})
    assert counted(signal("rage_click", count=4, span_ms=100, radius_px=5), strict) == []
    assert counted(signal("rage_click", count=5, span_ms=100, radius_px=5), strict) == [
        "rage_click"]
    assert counted(signal("dead_click", wait_ms=3000), strict) == []


def test_errors_count_and_bogus_statuses_do_not() -> None:
    assert counted({"type": "error", "at": NOW, "url": "u", "message": "x"}) == ["js_error"]
    assert counted({"type": "http_error", "at": NOW, "url": "u", "status": 404}) == [
        "http_error"]
    assert counted({"type": "http_error", "at": NOW, "url": "u", "status": 200}) == []
    assert counted({"type": "http_error", "at": NOW, "url": "u", "status": "500"}) == []


def test_help_click_is_reported_but_not_scored() -> None:
    state, kinds = observe(StruggleState(), signal("help_click"), T, NOW)
    assert kinds == ["help_click"]
    assert state.counts == {"help_click": 1}
    assert score(state, NOW) == 0.0


def test_weights_add_up_and_reasons_are_kept() -> None:
    state = StruggleState()
    state, _ = observe(state, signal("rage_click", count=3, span_ms=10, radius_px=1), T, NOW)
    state, _ = observe(state, {"type": "error", "at": NOW, "url": "u"}, T, NOW)
    assert score(state, NOW) == pytest.approx(T.weights["rage_click"] + T.weights["js_error"])
    assert state.reasons == ("rage_click", "js_error")
    assert state.counts == {"rage_click": 1, "js_error": 1}


def test_score_halves_every_half_life_of_server_time() -> None:
    state, _ = observe(StruggleState(), signal("form_thrash", cycles=3), T, NOW)
    half = int(T.decay_half_life_s * 1000)
    assert score(state, NOW + half) == pytest.approx(T.weights["form_thrash"] / 2)
    assert score(state, NOW + 2 * half) == pytest.approx(T.weights["form_thrash"] / 4)
    assert score(state, NOW - half) == pytest.approx(T.weights["form_thrash"])


def test_heartbeat_only_advances_time() -> None:
    state, _ = observe(StruggleState(), signal("form_thrash", cycles=3), T, NOW)
    half = int(T.decay_half_life_s * 1000)
    later, kinds = observe(state, {"type": "heartbeat", "at": 1, "url": "u", "dwell_ms": 15000},
                           T, NOW + half)
    assert kinds == []
    assert later.updated_ms == NOW + half
    assert later.score == pytest.approx(T.weights["form_thrash"] / 2)
    assert later.counts == state.counts


def test_client_clock_does_not_stop_decay() -> None:
    event = signal("form_thrash", cycles=3) | {"at": NOW + 10**9}
    state, _ = observe(StruggleState(), event, T, NOW)
    assert state.updated_ms == NOW


def test_quick_back_uses_the_usual_dwell_or_the_fallback() -> None:
    a, b = "https://shop.test/list", "https://shop.test/item"
    state, _ = observe(StruggleState(), page(a, 1_000), T, NOW)
    state, _ = observe(state, page(b, 2_000), T, NOW)
    # b was shown 4999 ms < the 5000 ms fallback
    quick, kinds = observe(state, page(a, 6_999, nav="pop"), T, NOW)
    assert kinds == ["quick_back"]
    assert (quick.page_url, quick.before_url) == (a, b)
    assert observe(state, page(a, 7_000), T, NOW)[1] == []  # exactly the limit: not quick
    assert observe(state, page(a, 3_000), T, NOW, usual_dwell_ms=1_000)[1] == []
    assert observe(state, page(a, 20_000), T, NOW, usual_dwell_ms=30_000)[1] == ["quick_back"]


def test_forward_navigation_and_reloads_are_not_quick_back() -> None:
    a, b, c = "https://s.test/a", "https://s.test/b", "https://s.test/c"
    state, _ = observe(StruggleState(), page(a, 1_000), T, NOW)
    state, _ = observe(state, page(b, 1_100), T, NOW)
    assert observe(state, page(c, 1_200), T, NOW)[1] == []
    reloaded, kinds = observe(state, page(b, 1_200, nav="load"), T, NOW)
    assert kinds == [] and (reloaded.page_url, reloaded.before_url) == (b, a)
    assert reloaded.page_at == 1_100  # a reload does not restart the page's dwell


def test_decide_reasons_in_order() -> None:
    high = StruggleState(score=T.offer_score, updated_ms=NOW)
    low = StruggleState(score=T.offer_score - 0.01, updated_ms=NOW)

    def reason(state: StruggleState, now: int = NOW, **kw: Any) -> str:
        args = {"agents_available": 1, "opted_out": False, "in_conversation": False} | kw
        return decide(state, now, T, **args).reason

    assert reason(high) == "offer"  # exactly the offer score offers
    assert reason(low) == "below_threshold"
    assert reason(high, agents_available=0) == "no_agent"
    assert reason(high, opted_out=True) == "opted_out"
    assert reason(high, in_conversation=True) == "in_conversation"
    offered = record_offer(high, NOW)
    later = NOW + T.cooldown_s * 1000
    assert reason(offered, later - 1) == "cooldown"
    assert reason(StruggleState(score=100.0, updated_ms=later, offers=1, last_offer_ms=NOW),
                  later) == "offer"
    assert reason(record_offer(offered, NOW), later) == "offer_limit"


def test_decision_carries_score_and_signals() -> None:
    state, _ = observe(StruggleState(), signal("form_idle", idle_ms=60_000), T, NOW)
    decision = decide(state, NOW, T, agents_available=3, opted_out=False,
                      in_conversation=False)
    assert (decision.offer, decision.reason) == (False, "below_threshold")
    assert decision.score == pytest.approx(T.weights["form_idle"])
    assert decision.signals == ["form_idle"]


def test_state_round_trips_and_garbage_gives_a_fresh_state() -> None:
    state, _ = observe(StruggleState(), page("https://s.test/a", 5), T, NOW)
    state, _ = observe(state, signal("dead_click", wait_ms=3000), T, NOW)
    state = record_offer(state, NOW)
    assert StruggleState.from_json(state.to_json()) == state
    assert StruggleState.from_json(state.to_json().encode()) == state
    for garbage in (None, "", b"\xff", "[]", "{}", '{"score": "x"}', "null",
                    state.to_json().replace('"offers":1', '"offers":-1'),
                    state.to_json().replace('"counts":{', '"counts":[').replace("}", "]", 1)):
        assert StruggleState.from_json(garbage) == StruggleState()


@pytest.mark.parametrize("doc", [
    {"rage_click_count": 1}, {"rage_click_count": 3.5}, {"rage_click_count": True},
    {"rage_click_count": "3"}, {"offer_score": float("nan")}, {"offer_score": 0},
    {"decay_half_life_s": 0}, {"max_offers_per_visit": -1}, {"form_idle_ms": 10**9},
    {"nonsense": 1}, {"weights": []}, {"weights": {"help_click": 1}},
    {"weights": {"rage_click": -1}}, {"weights": {"rage_click": "big"}},
])
def test_from_document_refuses_bad_input(doc: dict[str, Any]) -> None:
    with pytest.raises(InvalidPayload) as caught:
        HelpThresholds.from_document(doc)
    name = next(iter(doc))
    assert caught.value.message.startswith(name)


def test_from_document_merges_overrides_and_round_trips() -> None:
    custom = HelpThresholds.from_document({"offer_score": 7.5, "cooldown_s": 0,
                                           "weights": {"js_error": 0}})
    assert custom.offer_score == 7.5 and custom.cooldown_s == 0
    assert custom.weights["js_error"] == 0 and custom.weights["rage_click"] == 3.0
    assert HelpThresholds.from_document(custom.to_document()) == custom
    assert HelpThresholds.from_document(None) == T
    with pytest.raises(InvalidPayload):
        HelpThresholds.from_document([])  # type: ignore[arg-type]


# -- properties -------------------------------------------------------------------------------

KIND_EVENTS = st.sampled_from([
    signal("rage_click", count=3, span_ms=100, radius_px=5), signal("dead_click", wait_ms=9000),
    signal("form_thrash", cycles=4), signal("help_click"), signal("rage_click", count=1),
    {"type": "error", "at": 1, "url": "u"}, {"type": "http_error", "at": 1, "url": "u",
                                             "status": 503},
    {"type": "heartbeat", "at": 1, "url": "u", "dwell_ms": 1}, page("https://s/a", 10),
    page("https://s/b", 20), {"type": "click", "at": 1, "url": "u", "x": 1, "y": 2}])
STEPS = st.lists(st.tuples(KIND_EVENTS, st.integers(-10_000, 600_000)), max_size=30)


def run(steps: list[tuple[dict[str, Any], int]]) -> tuple[StruggleState, int]:
    state, now = StruggleState(), NOW
    for event, delta in steps:
        now += delta
        state, _ = observe(state, event, T, now)
    return state, now


@given(STEPS, st.lists(st.integers(0, 10**9), min_size=2, max_size=10))
def test_score_is_never_negative_and_decays_without_signals(
        steps: list[tuple[dict[str, Any], int]], gaps: list[int]) -> None:
    state, now = run(steps)
    previous = score(state, now)
    assert previous >= 0
    for gap in gaps:
        now += gap
        current = score(state, now)
        assert 0 <= current <= previous
        previous = current


@given(STEPS, st.integers(0, 5), st.booleans(), st.booleans(), st.integers(0, 3),
       st.integers(0, 2_000_000))
def test_never_offers_when_it_must_not(steps: list[tuple[dict[str, Any], int]], agents: int,
                                       opted_out: bool, in_conversation: bool, offers: int,
                                       since_offer: int) -> None:
    state, now = run(steps)
    for _ in range(offers):
        state = record_offer(state, now - since_offer)
    decision = decide(state, now, T, agents_available=agents, opted_out=opted_out,
                      in_conversation=in_conversation)
    if decision.offer:
        assert agents >= 1 and not opted_out and not in_conversation
        assert offers < T.max_offers_per_visit
        assert offers == 0 or since_offer >= T.cooldown_s * 1000
        assert decision.score >= T.offer_score
    assert decision.score == score(state, now)


@given(STEPS)
def test_storage_round_trip_property(steps: list[tuple[dict[str, Any], int]]) -> None:
    state, _ = run(steps)
    assert StruggleState.from_json(state.to_json()) == state
