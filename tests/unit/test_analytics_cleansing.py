"""Cleansing: contact rules, duplicate merging with a report, refused and dropped ledger rows."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.cleansing import (
    EMAIL_INVALID,
    MERGED,
    PHONE_INVALID,
    PHONE_MISSING,
    SAME_PHONE,
    UNREACHABLE,
    cleanse_customers,
    cleanse_transactions,
    group_strings,
)
from analytics.contacts import name_keys, normalise_email, normalise_name, normalise_phone
from analytics.errors import LengthMismatchError, NegativeValueError, NonFiniteError


@pytest.mark.parametrize(("raw", "expected"), [
    ("+8613800000001", "+8613800000001"),
    ("138 0000-0001", "+8613800000001"),
    ("0086 138 0000 0001", "+8613800000001"),
    ("+86 21 6321 0000", "+862163210000"),  # Shanghai landline
    ("+44 20 7946 0958", "+442079460958"),
    ("+861380000", ""),  # truncated
    ("1380000", ""),
    ("00000000000", ""),
    ("+8612345678901", ""),  # no mainland mobile starts 12
    ("", ""),
])
def test_phone_rules(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("Wang.Wei@QQ.com ", "wang.wei@qq.com"),
    ("10004973@qq.com", "10004973@qq.com"),
    ("wang.weiqq.com", ""),
    ("wang.wei@qq", ""),
    ("wang@@qq.com", ""),
    ("wang wei@qq.com", ""),
    ("", ""),
])
def test_email_rules(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


def test_name_normalisation() -> None:
    assert normalise_name("  Wang   Wei ") == normalise_name("wang\u3000wei") == "wangwei"
    assert name_keys(["Wang  Wei", None, "WANGWEI"]).tolist() == ["wangwei", "", "wangwei"]


def test_group_strings_is_exact() -> None:
    keys = np.array(["b", "a", "b", "", "a", "ab"], dtype=np.str_)
    group = group_strings(keys)
    assert [group[0] == group[2], group[1] == group[4], len(set(group.tolist()))] == [
        True, True, 4]


def test_duplicates_merge_transitively_into_the_earliest() -> None:
    ids = ["c0", "c1", "c2", "c3", "c4", "c5"]
    phones = ["+8613800000001", "138 0000 0001", "", "12345", "+8613900000002",
              "+8613900000002"]
    emails = ["a@x.com", "b@x.com", "c@x.com", "A@X.com", "bad", "e@y.org"]
    created = np.array([10, 5, 1, 20, 3, 2])
    report = cleanse_customers(ids, phones, emails, created=created)
    assert report.canonical.tolist() == [1, 1, 2, 1, 5, 5]
    assert report.kept.tolist() == [1, 2, 5]
    assert report.merges == (("c0", "c1"), ("c3", "c1"), ("c4", "c5"))
    assert report.counts() == {"received": 6, "kept": 3, "merged": 3, "phone_invalid": 1,
                               "email_invalid": 1, "unreachable": 0}
    assert report.reasons(2) == ("phone_missing",)
    assert report.reasons(3) == ("phone_invalid", "merged", "same_email")
    assert report.reasons(4) == ("email_invalid", "merged", "same_phone")
    assert report.flags[0] & MERGED and not report.flags[1] & MERGED


def test_without_registration_times_the_first_row_is_kept() -> None:
    report = cleanse_customers(["x", "y"], ["+8613800000001"] * 2, None)
    assert report.merges == (("y", "x"),)
    assert report.flags.tolist() == [SAME_PHONE, SAME_PHONE | MERGED]  # e-mail not checked
    unknown = cleanse_customers(["x", "y"], None, None)
    assert unknown.flags.tolist() == [0, 0] and unknown.unreachable == 0


@pytest.mark.parametrize(("rule", "merged"), [
    ("off", ()),
    ("fallback", (("c6", "c7"),)),
    ("always", (("c6", "c7"), ("c9", "c7"))),
])
def test_name_and_district_matching(rule: str, merged: tuple[tuple[str, str], ...]) -> None:
    ids = ["c6", "c7", "c8", "c9"]
    phones = ["", "+8613800000007", "+8613800000008", "+8613800000009"]
    emails = ["", "", "", ""]
    names = ["Wang  Wei", "wang wei", "Wang Wei", "WANG WEI"]
    districts = np.array([1, 1, 2, 1])
    report = cleanse_customers(ids, phones, emails, names, districts,
                               name_district=rule)  # type: ignore[arg-type]
    assert report.merges == merged
    assert bool(report.flags[0] & UNREACHABLE) is True
    assert report.unreachable == (1 if rule == "off" else 0)


def test_empty_and_mismatched_customers() -> None:
    report = cleanse_customers([], [], [], [], np.zeros(0, np.int64))
    assert report.counts()["kept"] == 0 and report.merges == ()
    with pytest.raises(LengthMismatchError, match=r"^emails has 1 entries, expected 2$"):
        cleanse_customers(["a", "b"], ["", ""], ["x@y.com"])


def ledger() -> tuple[np.ndarray, ...]:
    customer = np.array([0, 1, 1, 2, 0, 0])
    product = np.array([0, 0, 0, 1, 0, 1])
    amount = np.array([10.0, 5.0, 5.0, 7.0, 10.0, 3.0])
    time = np.array([100, 200, 200, 300, 100, 999])
    return customer, product, amount, time


def test_transactions_duplicates_merges_and_as_of() -> None:
    customer, product, amount, time = ledger()
    canonical = np.array([0, 1, 1])  # customer 2 was merged into 1
    report = cleanse_transactions(customer, product, amount, time, canonical, as_of=999)
    assert report.rows.tolist() == [0, 1, 3]  # row 2 and 4 duplicate, row 5 not before as_of
    assert report.counts() == {"received": 6, "kept": 3, "duplicates": 2, "non_finite": 0,
                               "negative": 0, "reassigned": 1, "after_as_of": 1}


def test_same_time_different_amounts_are_not_duplicates() -> None:
    customer, product = np.array([0, 0, 0]), np.array([0, 0, 0])
    amount, time = np.array([5.0, 6.0, 5.0]), np.array([1, 1, 1])
    report = cleanse_transactions(customer, product, amount, time, np.array([0]))
    assert report.rows.tolist() == [0, 1] and report.duplicates == 1


def test_bad_amounts_refused_with_exact_messages_or_dropped() -> None:
    customer, product, amount, time = ledger()
    amount[2], amount[4] = np.nan, np.inf
    canonical = np.array([0, 1, 2])
    with pytest.raises(NonFiniteError,
                       match=r"^tx_amount has 2 NaN or infinite values \(first at index 2\)$"):
        cleanse_transactions(customer, product, amount, time, canonical)
    amount[2], amount[4] = 5.0, -1.0
    with pytest.raises(NegativeValueError,
                       match=r"^tx_amount has 1 negative values \(first at index 4\)$"):
        cleanse_transactions(customer, product, amount, time, canonical)
    amount[2] = np.nan
    report = cleanse_transactions(customer, product, amount, time, canonical,
                                  drop_invalid=True)
    assert (report.non_finite, report.negative) == (1, 1)
    assert report.rows.tolist() == [0, 1, 3, 5]
    assert isinstance(NonFiniteError("x"), ValueError) and NonFiniteError.code == "non_finite"


def test_flag_bits_are_distinct() -> None:
    bits = [PHONE_MISSING, PHONE_INVALID, EMAIL_INVALID, UNREACHABLE, MERGED]
    assert len(set(bits)) == len(bits) and all(b & (b - 1) == 0 for b in bits)
