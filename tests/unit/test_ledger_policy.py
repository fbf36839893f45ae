"""Ledger policy: every role x field permission, value checks, views, search plans."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engage.customers.ledger_policy import (
    EDITABLE_FIELDS,
    MEMBERSHIPS,
    NOTE_MAX,
    PROFILE_FIELDS,
    SearchPlan,
    check_changes,
    check_note,
    check_version,
    iso,
    mask,
    normalise,
    plan_search,
    prefix_range,
    revision,
    search_keys,
    shown,
    stored,
    unchanged,
    view_of,
    visible_change,
)
from engage.demo import catalog as demo_catalog
from engage.errors import Forbidden, InvalidPayload
from engage.models import Role

A, S, M, D = Role.AGENT, Role.SUPERVISOR, Role.MARKETER, Role.ADMIN
# The permission table, written out rather than derived, so a policy change shows up here.
WHO_EDITS: dict[str, set[Role]] = {
    "phone": {A, S, D}, "email": {A, S, D}, "address": {A, S, D}, "district": {A, S, D},
    "preferred_language": {A, S, D},
    "contact_opt_out": {A, S, M, D}, "email_opt_out": {A, S, M, D}, "sms_opt_out": {A, S, M, D},
    "name": {S, D}, "name_zh": {S, D}, "membership": {S, D}, "segment": {S, D},
    "age_band": {D}, "income_band": {D}, "household_size": {D}, "origin_channel": {D},
}
VALID: dict[str, Any] = {
    "phone": "13812345678", "email": "li.na@163.com", "address": "88 Century Ave",
    "district": "Pudong", "preferred_language": "en", "contact_opt_out": True,
    "email_opt_out": False, "sms_opt_out": True, "name": "Li Na", "name_zh": "李娜",
    "membership": "gold", "segment": "young_family", "age_band": "25-34",
    "income_band": "<100k", "household_size": 3, "origin_channel": "walk_in",
}


def test_the_table_covers_every_editable_field() -> None:
    assert set(WHO_EDITS) == set(VALID) == EDITABLE_FIELDS
    assert set(EDITABLE_FIELDS) <= set(PROFILE_FIELDS)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("field", sorted(WHO_EDITS))
def test_every_role_and_field(role: Role, field: str) -> None:
    if role in WHO_EDITS[field]:
        assert field in check_changes({field: VALID[field]}, role)
    else:
        with pytest.raises(Forbidden) as refused:
            check_changes({field: VALID[field]}, role)
        assert refused.value.details == {"field": field}
        assert field in refused.value.message


def test_a_forbidden_field_refuses_the_whole_change() -> None:
    with pytest.raises(Forbidden) as refused:
        check_changes({"phone": "13812345678", "name": "X"}, Role.AGENT)
    assert refused.value.details["field"] == "name"


@pytest.mark.parametrize("changes", [None, [], {}, "phone", {"ledger_version": 3},
                                     {"_id": "C1"}, {"created_at": "2020-01-01"}])
def test_not_editable_at_all(changes: Any) -> None:
    with pytest.raises(InvalidPayload):
        check_changes(changes, Role.ADMIN)


@pytest.mark.parametrize(("field", "raw", "value"), [
    ("phone", "13812345678", "+8613812345678"),
    ("phone", "+86 138-1234-5678", "+8613812345678"),
    ("phone", "0086 13812345678", "+8613812345678"),
    ("phone", "+1 (415) 555-0123", "+14155550123"),
    ("phone", "", ""),
    ("email", "  Wang.Wei@QQ.com ", "wang.wei@qq.com"),
    ("email", "", ""),
    ("name", "  Wang   Wei ", "Wang Wei"),
    ("name", "\uff37\uff41\uff4e\uff47 \uff37\uff45\uff49", "Wang Wei"),  # full-width forms folded
    ("name_zh", " 王 伟 ", "王 伟"),
    ("address", "88 Century Ave\nApt 12", "88 Century Ave Apt 12"),
    ("membership", "Gold", "gold"), ("preferred_language", "EN", "en"),
    ("segment", "Young_Family", "young_family"), ("segment", "", ""),
    ("age_band", "65+", "65+"), ("income_band", "100k-200k", "100k-200k"),
    ("household_size", 20, 20), ("household_size", None, None),
    ("origin_channel", "WeChat", "wechat"),
    ("contact_opt_out", False, False),
])
def test_values_are_normalised(field: str, raw: Any, value: Any) -> None:
    assert normalise(field, raw) == value


@pytest.mark.parametrize(("field", "raw"), [
    ("phone", "12345"), ("phone", "+8612345678901"), ("phone", "call me"), ("phone", 138),
    ("phone", "1" * 40), ("email", "wang@"), ("email", "a@b"), ("email", "a@@b.com"),
    ("email", "x" * 250 + "@qq.com"), ("name", ""), ("name", "   "), ("name", "x" * 101),
    ("name", "Wang\x00Wei"), ("name", None), ("name_zh", "王" * 51), ("address", "x" * 201),
    ("address", "a\x1bb"), ("membership", "diamond"), ("preferred_language", "fr"),
    ("segment", "-x"), ("segment", "x" * 41), ("age_band", "<script>"),
    ("household_size", 0), ("household_size", 21), ("household_size", True),
    ("household_size", "3"), ("origin_channel", "web site"), ("contact_opt_out", 1),
    ("email_opt_out", "true"), ("sms_opt_out", None),
])
def test_bad_values_name_their_field(field: str, raw: Any) -> None:
    with pytest.raises(InvalidPayload) as refused:
        normalise(field, raw)
    assert refused.value.details == {"field": field}


def test_memberships_match_the_demo_levels() -> None:
    assert demo_catalog.MEMBERSHIPS == MEMBERSHIPS


@pytest.mark.parametrize(("raw", "ok"), [(0, True), (7, True), (-1, False), (True, False),
                                         ("1", False), (None, False), (1.0, False)])
def test_versions(raw: Any, ok: bool) -> None:
    if ok:
        assert check_version(raw) == raw
    else:
        with pytest.raises(InvalidPayload) as refused:
            check_version(raw)
        assert refused.value.details == {"field": "version"}


def test_notes_are_plain_text_with_line_breaks() -> None:
    assert check_note("  Called back.\r\nWants a quote.  ") == "Called back.\nWants a quote."
    assert check_note("x" * NOTE_MAX) == "x" * NOTE_MAX
    for bad in ("", "   ", "x" * (NOTE_MAX + 1), "bell\x07", None, 42):
        with pytest.raises(InvalidPayload):
            check_note(bad)


def test_views_per_role() -> None:
    for role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN):
        view = view_of(role)
        assert view.notes and view.interaction_detail and view.revisions
        assert shown("address", "88 Century Ave", role) == (True, "88 Century Ave")
        assert shown("phone", "+8613812345678", role) == (True, "+8613812345678")
    marketer = view_of(Role.MARKETER)
    assert not (marketer.notes or marketer.interaction_detail or marketer.revisions)
    assert shown("address", "88 Century Ave", Role.MARKETER) == (False, None)
    assert shown("phone", "+8613812345678", Role.MARKETER) == (True, "+86138****5678")
    assert shown("email", "wang.wei@qq.com", Role.MARKETER) == (True, "w***@qq.com")
    assert shown("contact_opt_out", 1, Role.MARKETER) == (True, True)


def test_masks() -> None:
    assert mask("phone", "+8613812345678") == "+86138****5678"
    assert mask("phone", "1380000") == "****0000"
    assert mask("phone", "12345") == "****"
    assert mask("email", "") == ""
    assert mask("email", "broken") == "****"


def test_changes_shown_to_a_marketer_follow_field_visibility() -> None:
    change = {"version": 2, "field": "address", "old": "a", "new": "b", "by": "agent",
              "at_ms": 5}
    assert visible_change(change, Role.AGENT) == change
    assert visible_change(change, Role.MARKETER) == {**change, "old": None, "new": None,
                                                     "redacted": True}
    phone = {**change, "field": "phone", "old": None, "new": "+8613812345678"}
    assert visible_change(phone, Role.MARKETER)["new"] == "+86138****5678"


def test_stored_values_read_back_in_their_types() -> None:
    assert stored("contact_opt_out", 1) is True
    assert stored("contact_opt_out", 0) is False
    assert stored("contact_opt_out", None) is False
    assert stored("household_size", 3) == 3
    assert stored("household_size", "3") is None
    assert stored("phone", "+86") == "+86"
    assert unchanged("address", None, "")
    assert unchanged("contact_opt_out", 0, False)
    assert not unchanged("contact_opt_out", 1, False)
    assert not unchanged("phone", "+8613812345678", "+8613812345679")
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert iso(moment) == iso(moment.replace(tzinfo=None)) == "2026-01-02T03:04:05+00:00"
    assert iso("2026-01-02T03:04:05+00:00") == iso(moment)
    assert iso(int(moment.timestamp() * 1000)) == iso(moment)
    assert iso("not a date") is None
    assert revision({"version": 3, "field": "sms_opt_out", "old": 0, "new": 1, "by": "a",
                     "at_ms": 9, "_id": "x"}) == {
        "version": 3, "field": "sms_opt_out", "old": False, "new": True, "by": "a",
        "at_ms": 9}


@pytest.mark.parametrize(("query", "plan"), [
    ("wa", SearchPlan("name", "wa")),
    ("  WANG   Wei ", SearchPlan("name", "wang wei")),
    ("\uff57\uff41\uff4e\uff47", SearchPlan("name", "wang")),
    ("王伟", SearchPlan("name_zh", "王伟")),
    ("王 伟", SearchPlan("name_zh", "王伟")),
    ("5678", SearchPlan("phone", "8765")),
    ("138 0000 1234", SearchPlan("phone", "43210000831", "+8613800001234")),
    ("+86 138-0000-1234", SearchPlan("phone", "4321000083168", "+8613800001234")),
    ("Wang.Wei@QQ.COM", SearchPlan("email", "wang.wei@qq.com")),
])
def test_search_plans(query: str, plan: SearchPlan) -> None:
    assert plan_search(query) == plan


@pytest.mark.parametrize("query", ["", "w", " w ", "王", "123", "+1-2", "x" * 101, None, 12])
def test_search_queries_too_short_or_not_text(query: Any) -> None:
    with pytest.raises(InvalidPayload) as refused:
        plan_search(query)
    assert refused.value.details == {"field": "q"}


def test_search_keys_and_prefix_ranges() -> None:
    assert search_keys("Wang  WEI", "+86 138-0000-1234", " Wang@QQ.com") == {
        "search_name": "wang wei", "search_phone_rev": "4321000083168",
        "search_email": "wang@qq.com"}
    assert search_keys(None, None, None) == {"search_name": "", "search_phone_rev": "",
                                             "search_email": ""}
    assert prefix_range("wang") == {"$gte": "wang", "$lt": "wanh"}
    assert prefix_range("王") == {"$gte": "王", "$lt": chr(ord("王") + 1)}
    assert prefix_range("a\U0010ffff") == {"$gte": "a\U0010ffff"}
