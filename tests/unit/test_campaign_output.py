"""Pure parts of campaigns and feedback: the CSV export, criteria checks, the uplift table."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from engage.analysis.campaigns import CSV_HEADER, CampaignCriteria, csv_text, is_e164
from engage.analysis.feedback import uplift_table
from engage.analysis.inputs import ProductInfo
from engage.analysis.store import RunInfo
from engage.errors import InvalidPayload

RUN = RunInfo(version=3, run_at="2026-11-22T07:50:00+00:00", as_of="2026-10-31T00:00:00+00:00",
              products={"DC-FUL": ProductInfo("DC-FUL", "Full renovation", "全屋装修",
                                              "decoration", 320_000.0),
                        "PM-CLN": ProductInfo("PM-CLN", "Home cleaning", "家政保洁",
                                              "property_management", 380.0)})


def member(**extra: Any) -> dict[str, Any]:
    return {"customer_id": "C0000001", "name": "Wang Wei", "phone": "+8613800000001",
            "product": "DC-FUL", "product_name": "Full renovation", "score": 0.51234,
            "tier": "A", "reason": "Bought “Apartment purchase” in March 2025; 44% …",
            **extra}


def test_csv_is_rfc4180_with_the_header_and_quoting() -> None:
    rows = [member(), member(customer_id="C0000002", name='Li, "Lily" 李丽',
                             reason="line one\nline two")]
    text = csv_text(rows)
    assert text.startswith(",".join(CSV_HEADER) + "\r\n") and text.endswith("\r\n")
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[0] == list(CSV_HEADER)
    assert parsed[2][1] == 'Li, "Lily" 李丽' and parsed[2][7] == "line one\nline two"
    assert parsed[1][5] == "0.5123" and parsed[1][2] == "+8613800000001"


def test_csv_defuses_spreadsheet_formulas_but_keeps_phones() -> None:
    text = csv_text([member(name="=HYPERLINK(\"http://x\")", reason="+1 for you")])
    row = list(csv.reader(io.StringIO(text, newline="")))[1]
    assert row[1].startswith("'=") and row[7] == "'+1 for you" and row[2] == "+8613800000001"


def test_csv_with_bom() -> None:
    assert csv_text([], bom=True).startswith("\ufeffcustomer_id,")


def test_e164() -> None:
    assert is_e164("+8613800000001") and is_e164("+14155550123")
    assert not any(is_e164(p) for p in ("13800000001", "+0123456789", "+86 138", "", None))


def test_criteria_defaults_and_refusals() -> None:
    criteria = CampaignCriteria.from_json({"name": " Reno ", "lines": ["decoration"]}, RUN)
    assert (criteria.name, criteria.tiers, criteria.size, criteria.lines) == (
        "Reno", ("A", "B"), 1_000, ("decoration",))
    for body, message in (({}, "name"), ({"name": "x", "products": ["NOPE"]}, "NOPE"),
                          ({"name": "x", "tiers": ["E"]}, "tiers"),
                          ({"name": "x", "size": 0}, "size"),
                          ({"name": "x", "size": True}, "size"),
                          ({"name": "x", "segments": {"shoe_size": ["42"]}}, "segments"),
                          ({"name": "x", "lang": "fr"}, "lang")):
        with pytest.raises(InvalidPayload, match=message):
            CampaignCriteria.from_json(body, RUN)


def test_criteria_pick_the_best_matching_offer_in_segment() -> None:
    doc = {"district": "Pudong", "offers": [
        {"product": "PM-CLN", "score": 0.4}, {"product": "DC-FUL", "score": 0.2}]}
    reno = CampaignCriteria(name="r", lines=("decoration",))
    assert reno.pick(doc, RUN) == {"product": "DC-FUL", "score": 0.2}
    assert CampaignCriteria(name="any").pick(doc, RUN) == {"product": "PM-CLN", "score": 0.4}
    elsewhere = CampaignCriteria(name="r", segments={"district": ("Xuhui",)})
    assert elsewhere.pick(doc, RUN) is None
    assert CampaignCriteria(name="r", lines=("decoration",), min_score=0.3).pick(
        doc, RUN) is None


def test_uplift_counts_episodes_against_the_no_rule_baseline() -> None:
    rule = "BS-APT->DC-FUL"
    rows: list[dict[str, Any]] = [
        # two rule-driven episodes: one converted (after accepting), one declined
        {"customer_id": "C1", "product": "DC-FUL", "outcome": "offered", "rule": rule},
        {"customer_id": "C1", "product": "DC-FUL", "outcome": "accepted", "rule": rule},
        {"customer_id": "C1", "product": "DC-FUL", "outcome": "converted", "rule": None},
        {"customer_id": "C2", "product": "DC-FUL", "outcome": "declined", "rule": rule},
        # the same product offered without a rule: 1 of 4 converted
        *({"customer_id": f"B{i}", "product": "DC-FUL", "outcome": "offered", "rule": None}
          for i in range(4)),
        {"customer_id": "B0", "product": "DC-FUL", "outcome": "converted", "rule": None},
        # the same customer and product in a campaign is another episode
        {"customer_id": "C1", "product": "DC-FUL", "outcome": "offered", "rule": rule,
         "campaign": "cmp_1"},
    ]
    table = uplift_table(rows, {rule: 0.44})
    assert table["episodes"] == 7
    (entry,) = table["rules"]
    assert (entry["offered"], entry["accepted"], entry["declined"], entry["converted"]) == (
        3, 1, 1, 1)
    assert entry["conversion_rate"] == pytest.approx(1 / 3)
    assert entry["baseline_offered"] == 4 and entry["baseline_conversion_rate"] == 0.25
    assert entry["uplift_points"] == pytest.approx(8.33, abs=0.01)
    assert entry["rule_confidence"] == 0.44
    assert table["baseline"]["DC-FUL"]["converted"] == 1


def test_uplift_without_baseline_has_no_uplift() -> None:
    table = uplift_table([{"customer_id": "C1", "product": "X", "outcome": "offered",
                           "rule": "A->X"}])
    assert table["rules"][0]["uplift_points"] is None
    assert table["rules"][0]["rule_confidence"] is None
