"""One contact rule: what the visitor socket accepts is what campaigns, the ledger and the mailer
keep, and the other way round (analytics.patterns)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from analytics.contacts import normalise_email, normalise_phone
from engage.analysis.campaigns import is_e164
from engage.errors import InvalidPayload
from engage.infra.mailer import check_address
from signaling.schemas import EVENTS, VISITOR_NS, decode


def socket_accepts(event: str, payload: dict[str, Any]) -> bool:
    try:
        decode(EVENTS[VISITOR_NS][event], [payload])
    except msgspec.ValidationError:
        return False
    return True


def campaign_keeps(phone: str) -> bool:
    """Kept as it stands by the analysis export's cleansing, then dialable by a campaign."""
    return normalise_phone(phone) == phone and is_e164(phone)


def mailer_sends(address: str) -> bool:
    try:
        check_address(address)
    except InvalidPayload:
        return False
    return True


phones = st.one_of(
    st.from_regex(r"\A\+[0-9]{0,17}\Z"),
    st.from_regex(r"\A\+86[0-9]{6,13}\Z"),
    st.text(alphabet="+0123456789 -\n", max_size=18),
)


@pytest.mark.parametrize(("phone", "kept"), [
    ("+8613800138000", True),   # mainland mobile
    ("+861065529988", True),    # Beijing landline (area code 10)
    ("+862163210000", True),    # Shanghai landline
    ("+442079460958", True),
    ("+6831234", True),         # Niue: 7 digits with the country code, the shortest in use
    ("+683123", False),
    ("+123456789012345", True),  # 15 digits, the E.164 maximum
    ("+1234567890123456", False),
    ("+86123456", False),       # not a mainland mobile or landline
    ("+8612345678901", False),  # no mainland mobile starts 12
    ("+0123456789", False),
    ("13800138000", False),     # the socket takes only the international form
    ("+8613800138000\n", False),
    ("", False),
])
def test_phone_rule_examples(phone: str, kept: bool) -> None:
    assert socket_accepts("contact.callback", {"name": "Li", "phone": phone}) is kept
    assert campaign_keeps(phone) is kept


@settings(max_examples=400, deadline=None)
@given(phones)
@example("+6831234")
def test_a_phone_the_socket_accepts_is_one_campaigns_keep(phone: str) -> None:
    accepted = socket_accepts("contact.callback", {"name": "Li", "phone": phone})
    assert accepted == campaign_keeps(phone)
    left = socket_accepts("contact.message", {"name": "Li", "text": "hi", "phone": phone})
    assert left == (accepted or phone == "")


emails = st.one_of(
    st.emails(),
    st.text(alphabet="ab.@-_+Z9 \n", max_size=20),
    st.builds(lambda local, domain: f"{local}@{domain}",
              st.text(alphabet="ab.", min_size=1, max_size=70),
              st.text(alphabet="ab.-", min_size=1, max_size=12)),
)


@pytest.mark.parametrize(("address", "kept"), [
    ("li@example.com", True),
    ("Ann.Lee+chat@Mail.Example.co.uk", True),
    ("o'neil@example.ie", True),
    ("a" * 64 + "@example.com", True),
    ("a" * 65 + "@example.com", False),
    ("a..b@example.com", False),
    ("wang@qq", False),
    ("wang wei@qq.com", False),
    ("Ann <ann@example.com>", False),
    ("ann@example.com\n", False),
    ("用户@例子.中国", False),
])
def test_email_rule_examples(address: str, kept: bool) -> None:
    assert socket_accepts("chat.transcript", {"interaction": "ix0000000001",
                                              "email": address}) is kept
    assert socket_accepts("contact.message", {"name": "Li", "text": "hi", "email": address}) \
        is kept
    assert (normalise_email(address) == address.lower() != "") is kept
    assert mailer_sends(address) is kept


@settings(max_examples=400, deadline=None)
@given(emails)
def test_an_address_the_socket_accepts_is_one_cleansing_and_the_mailer_keep(address: str) -> None:
    accepted = socket_accepts("chat.transcript", {"interaction": "ix0000000001",
                                                  "email": address})
    assert accepted == mailer_sends(address)
    assert accepted == (normalise_email(address) == address.lower() != "")
    left = socket_accepts("contact.message", {"name": "Li", "text": "hi", "email": address})
    assert left == (accepted or address == "")
