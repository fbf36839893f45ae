"""The visitor limits' settings: defaults, overrides, and refusals of what is not a limit."""

from __future__ import annotations

import pytest

from engage.config import ConfigError, load
from engage.infra.shared_rate import Rate
from engage.services import _visitor_limits
from engage.visits.visitor_limits import VisitorLimits


def test_overrides_keep_the_other_defaults() -> None:
    limits = VisitorLimits.parse(" chat=10/30, sockets=4 ,token_site=100/60")
    assert limits.chat == Rate(10, 30) and limits.sockets == 4
    assert limits.token_site == Rate(100, 60)
    assert limits.conversation == VisitorLimits().conversation
    assert VisitorLimits.parse("") == VisitorLimits()


@pytest.mark.parametrize("spec", ["chat=10", "chat=0/30", "chat=10/0", "nope=1/1",
                                  "sockets=0", "sockets=x", "chat=-1/3", "chat=1/2/3"])
def test_what_is_not_a_limit_is_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        VisitorLimits.parse(spec)


def test_a_bad_setting_stops_the_node_with_the_variable_named() -> None:
    settings = load({"ENGAGE_VISITOR_LIMITS": "chat=fast"})
    with pytest.raises(ConfigError, match="ENGAGE_VISITOR_LIMITS"):
        _visitor_limits(settings)


def test_a_rate_reads_back_as_written() -> None:
    assert str(Rate.parse("30/60")) == "30/60" and Rate(30, 60).interval_ms == 2000
