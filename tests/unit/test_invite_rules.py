"""Invite rules: validation, every condition at its boundary, URL matching, choice order."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engage.acd.routing import BusinessHours
from engage.errors import InvalidPayload
from engage.sites import registry as sites
from engage.visits.invite_rules import (
    SITE_KEY_RE,
    InviteRule,
    VisitContext,
    choose,
    explain,
    glob_match,
)

# A Wednesday, 10:00 in Shanghai.
NOW = datetime(2025, 3, 5, 2, 0, tzinfo=UTC)


def doc(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"rule_id": "rule_test", "site_key": "site_test", "name": "Rent help",
                            "queue": "rent", "text": {"en": "Need help renting?"},
                            "require_agent": False}
    return base | fields


def rule(**fields: Any) -> InviteRule:
    return InviteRule.from_document(doc(**fields))


def ctx(**fields: Any) -> VisitContext:
    base: dict[str, Any] = {"url": "https://shop.test/rent/flat-12?utm=x#top",
                            "time_on_page_s": 30.0, "pages_this_visit": 3, "returning": False,
                            "now": NOW, "agents_available": {"rent": 1}}
    return VisitContext(**(base | fields))


def test_defaults_and_round_trip() -> None:
    r = rule()
    assert (r.enabled, r.channel, r.max_per_day, r.priority, r.url_glob, r.hours) == (
        True, "chat", 1, 0, "", None)
    full = rule(text={"en": "Hi", "zh": "你好"}, url_glob="/rent/*", url_regex=r"flat-\d+",
                min_time_on_page_s=20, min_pages=2, returning=True, segments=["vip", "vip"],
                min_affinity=0.5, min_struggle=3, hours={"tz": "Asia/Shanghai",
                                                         "days": [0, 1, 2], "open": "09:00",
                                                         "close": "18:00"},
                max_per_day=3, priority=7, channel="video")
    assert full.segments == ("vip",)
    assert full.hours == BusinessHours(days=(0, 1, 2), open=time(9), close=time(18))
    assert InviteRule.from_document(full.to_document()) == full
    assert InviteRule.from_document(full.to_document() | {"_id": "x", "version": 3}) == full


@pytest.mark.parametrize(("fields", "name"), [
    ({"rule_id": "r1"}, "rule_id"), ({"site_key": "a b"}, "site_key"), ({"name": " "}, "name"),
    ({"queue": "Rent!"}, "queue"), ({"queue": "q" * 41}, "queue"), ({"channel": "fax"}, "channel"),
    ({"text": {"zh": "你好"}}, "text.en"), ({"text": {"en": ""}}, "text.en"),
    ({"text": {"en": "x" * 281}}, "text.en"), ({"text": {"en": "<b>hi</b>"}}, "text.en"),
    ({"text": {"en": "hi", "fr": "salut"}}, "text"), ({"text": "hi"}, "text"),
    ({"text": {"en": "ok", "zh": "a\x00b"}}, "text.zh"),
    ({"url_glob": "*" * 301}, "url_glob"), ({"url_regex": "x" * 301}, "url_regex"),
    ({"url_regex": "(unclosed"}, "url_regex"), ({"url_regex": r"(a)\1"}, "url_regex"),
    ({"url_regex": "(?=look)"}, "url_regex"), ({"min_time_on_page_s": -1}, "min_time_on_page_s"),
    ({"min_pages": 1.5}, "min_pages"), ({"returning": "yes"}, "returning"),
    ({"segments": "vip"}, "segments"), ({"segments": [""]}, "segments"),
    ({"min_affinity": 1.01}, "min_affinity"), ({"min_affinity": True}, "min_affinity"),
    ({"min_struggle": -0.1}, "min_struggle"), ({"require_agent": 1}, "require_agent"),
    ({"hours": "9-5"}, "hours"), ({"hours": {"tz": "Mars/Base"}}, "hours.tz"),
    ({"hours": {"tz": "../etc/passwd"}}, "hours.tz"), ({"hours": {"days": [7]}}, "hours.days"),
    ({"hours": {"days": []}}, "hours.days"), ({"hours": {"open": "25:00"}}, "hours"),
    ({"hours": {"open": "09:00", "close": "09:00"}}, "hours"),
    ({"hours": {"open": "09:00+08:00"}}, "hours"),
    ({"max_per_day": 0}, "max_per_day"), ({"max_per_day": 51}, "max_per_day"),
    ({"priority": "high"}, "priority"), ({"enabled": None}, "enabled"),
    ({"surprise": 1}, "surprise"),
])
def test_refusals_name_the_field(fields: dict[str, Any], name: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        rule(**fields)
    assert caught.value.message.startswith(f"{name}:"), caught.value.message
    assert caught.value.details["field"] == name


def test_missing_required_fields_are_refused() -> None:
    for name in ("rule_id", "site_key", "name", "queue", "text"):
        body = doc()
        del body[name]
        with pytest.raises(InvalidPayload, match=f"^{name}"):
            InviteRule.from_document(body)
    with pytest.raises(InvalidPayload):
        InviteRule.from_document([])  # type: ignore[arg-type]


def test_site_key_pattern_is_the_registry_one() -> None:
    assert SITE_KEY_RE.pattern == sites.SITE_KEY_RE.pattern


@pytest.mark.parametrize(("glob", "text", "matches"), [
    ("", "", True), ("", "x", False), ("*", "", True), ("a*c", "abc", True), ("a*c", "ac", True),
    ("a*c", "abd", False), ("a?c", "abc", True), ("a?c", "ac", False), ("/rent/*", "/rent/", True),
    ("/rent/*", "/rent/a/b/c", True), ("*/checkout", "/shop/x/checkout", True),
    ("*a*a*a*a*b", "a" * 2000, False), ("ab", "abc", False), ("a.c", "abc", False),
])
def test_glob_match(glob: str, text: str, matches: bool) -> None:
    assert glob_match(glob, text) is matches


@given(st.text("ab*?./", max_size=8), st.text("ab./", max_size=12))
def test_glob_match_agrees_with_a_regex_translation(glob: str, text: str) -> None:
    pattern = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    assert glob_match(glob, text) is (re.fullmatch(pattern, text, re.DOTALL) is not None)


@pytest.mark.parametrize(("glob", "url", "matches"), [
    ("/rent/*", "https://shop.test/rent/flat-12?utm=x", True),
    ("/rent/*", "https://shop.test/buy/flat-12", False),
    ("/rent", "https://shop.test/rent?x=/rent", True),  # the query is ignored
    ("/", "https://shop.test", True),
    ("https://shop.test/*", "https://shop.test/rent/a", True),
    ("https://shop.test/*", "https://other.test/rent/a", False),
    ("*/checkout*", "https://shop.test/cart/checkout/step-2#pay", True),
    ("*flat-12", "https://shop.test/rent/flat-12?ref=flat-123", True),
])
def test_url_glob(glob: str, url: str, matches: bool) -> None:
    assert ("url" not in explain(rule(url_glob=glob), ctx(url=url))) is matches


@pytest.mark.parametrize(("regex", "url", "matches"), [
    (r"/rent/flat-\d+$", "https://shop.test/rent/flat-12?utm=x", True),
    (r"^https://shop\.test/buy/", "https://shop.test/rent/flat-12", False),
    (r"utm=", "https://shop.test/rent?utm=x", False),  # the query is not part of the URL
    (r"(a+)+$", "https://shop.test/" + "a" * 2000 + "!", False),  # linear, not catastrophic
])
def test_url_regex(regex: str, url: str, matches: bool) -> None:
    assert ("url_regex" not in explain(rule(url_regex=regex), ctx(url=url))) is matches


def test_glob_and_regex_must_both_match() -> None:
    r = rule(url_glob="/rent/*", url_regex=r"flat-1\d$")
    assert explain(r, ctx(url="https://s.test/rent/flat-12")) == []
    assert explain(r, ctx(url="https://s.test/rent/flat-22")) == ["url_regex"]
    assert explain(r, ctx(url="https://s.test/buy/flat-22")) == ["url", "url_regex"]


@pytest.mark.parametrize(("fields", "passing", "failing", "code"), [
    ({"min_time_on_page_s": 30}, {"time_on_page_s": 30}, {"time_on_page_s": 29.9},
     "time_on_page"),
    ({"min_pages": 3}, {"pages_this_visit": 3}, {"pages_this_visit": 2}, "pages"),
    ({"returning": True}, {"returning": True}, {"returning": False}, "returning"),
    ({"returning": False}, {"returning": False}, {"returning": True}, "returning"),
    ({"segments": ["vip", "family"]}, {"segment": "family"}, {"segment": None}, "segment"),
    ({"min_affinity": 0.5}, {"affinity": 0.5}, {"affinity": 0.49}, "affinity"),
    ({"min_affinity": 0.5}, {"affinity": 1.0}, {"affinity": None}, "affinity"),
    ({"min_struggle": 4}, {"struggle": 4.0}, {"struggle": 3.99}, "struggle"),
    ({"require_agent": True}, {"agents_available": {"rent": 1}},
     {"agents_available": {"buy": 5}}, "no_agent"),
    ({"require_agent": True}, {"agents_available": {"rent": 2}},
     {"agents_available": {"rent": 0}}, "no_agent"),
    ({"max_per_day": 2}, {"shown_today": {"rule_test": 1}}, {"shown_today": {"rule_test": 2}},
     "cap"),
    ({"hours": {"days": [2], "open": "10:00", "close": "18:00"}}, {"now": NOW},
     {"now": datetime(2025, 3, 5, 1, 59, 59, tzinfo=UTC)}, "hours"),
    ({"hours": {"days": [0, 1], "open": "00:00"}}, {"now": datetime(2025, 3, 3, 2, tzinfo=UTC)},
     {"now": NOW}, "hours"),
])
def test_each_condition_at_its_boundary(fields: dict[str, Any], passing: dict[str, Any],
                                        failing: dict[str, Any], code: str) -> None:
    r = rule(**fields)
    assert explain(r, ctx(**passing)) == []
    assert explain(r, ctx(**failing)) == [code]
    assert choose([r], ctx(**passing)) == r
    assert choose([r], ctx(**failing)) is None


def test_empty_conditions_match_anyone() -> None:
    assert explain(rule(), ctx(returning=True, segment=None, affinity=None,
                               agents_available={}, pages_this_visit=0)) == []


@pytest.mark.parametrize("flag", ["opted_out", "in_conversation", "invite_pending"])
def test_visit_state_blocks_every_rule(flag: str) -> None:
    rules = [rule(), rule(rule_id="rule_other", priority=9)]
    assert choose(rules, ctx(**{flag: True})) is None
    assert explain(rules[0], ctx(**{flag: True})) == [flag]


def test_disabled_rules_are_skipped() -> None:
    off = rule(enabled=False, priority=100)
    assert explain(off, ctx()) == ["disabled"]
    assert choose([off, rule()], ctx()) == rule()


def test_highest_priority_then_rule_id() -> None:
    low, high = rule(rule_id="rule_aaaa", priority=1), rule(rule_id="rule_zzzz", priority=5)
    tie = rule(rule_id="rule_mmmm", priority=5)
    assert choose([low, high, tie], ctx()) == tie
    assert choose([low, high], ctx()) == high
    capped = ctx(shown_today={"rule_mmmm": 1, "rule_zzzz": 1})
    assert choose([low, high, tie], capped) == low


def test_naive_now_is_refused() -> None:
    with pytest.raises(InvalidPayload, match=r"^now"):
        ctx(now=datetime(2025, 3, 5, 10))


RULES = st.builds(
    lambda rid, prio, glob, pages, ret, seg, aff, strug, agent, cap, enabled: rule(
        rule_id=f"rule_{rid:04d}", priority=prio, url_glob=glob, min_pages=pages, returning=ret,
        segments=seg, min_affinity=aff, min_struggle=strug, require_agent=agent,
        max_per_day=cap, enabled=enabled),
    st.integers(0, 9999), st.integers(-3, 3), st.sampled_from(["", "/rent/*", "*flat*", "/buy"]),
    st.integers(0, 4), st.none() | st.booleans(), st.lists(st.sampled_from(["vip", "new"]),
                                                            max_size=2),
    st.none() | st.floats(0, 1), st.none() | st.floats(0, 10), st.booleans(), st.integers(1, 3),
    st.booleans())
CONTEXTS = st.builds(
    lambda url, pages, ret, seg, aff, strug, agents, shown, flags: ctx(
        url=url, pages_this_visit=pages, returning=ret, segment=seg, affinity=aff,
        struggle=strug, agents_available={"rent": agents},
        shown_today={f"rule_{i:04d}": shown for i in range(0, 10000, 7)},
        opted_out=flags[0], in_conversation=flags[1], invite_pending=flags[2]),
    st.sampled_from(["https://s.test/rent/flat-1", "https://s.test/buy", "https://s.test/"]),
    st.integers(0, 5), st.booleans(), st.none() | st.sampled_from(["vip", "new"]),
    st.none() | st.floats(0, 1), st.floats(0, 10), st.integers(0, 2), st.integers(0, 3),
    # Mostly a visit that may be invited, so that choose() has something to choose.
    st.sampled_from([(False, False, False)] * 4 + [(True, False, False), (False, True, False),
                                                   (False, False, True)]))


@given(st.lists(RULES, max_size=6), CONTEXTS)
def test_choose_returns_only_rules_explain_clears(rules: list[InviteRule],
                                                  visit: VisitContext) -> None:
    chosen = choose(rules, visit)
    clear = [r for r in rules if not explain(r, visit)]
    if chosen is None:
        assert clear == []
    else:
        assert explain(chosen, visit) == []
        assert all((-chosen.priority, chosen.rule_id) <= (-r.priority, r.rule_id)
                   for r in clear)


@given(RULES)
def test_rule_document_round_trip(r: InviteRule) -> None:
    assert InviteRule.from_document(r.to_document()) == r
