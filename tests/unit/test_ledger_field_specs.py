"""The ledger's field specs (what a console builds its edit inputs from) agree with the checks."""

from __future__ import annotations

import pytest

from engage.customers.ledger_policy import EDITABLE_FIELDS, field_spec, normalise
from engage.errors import InvalidPayload


@pytest.mark.parametrize("field", sorted(EDITABLE_FIELDS))
def test_every_editable_field_has_a_spec_the_checks_agree_with(field: str) -> None:
    spec = field_spec(field)
    kind = spec["type"]
    assert kind in {"bool", "int", "choice", "tel", "email", "text"}
    if kind == "bool":
        assert normalise(field, True) is True and normalise(field, False) is False
    elif kind == "int":
        assert normalise(field, spec["min"]) == spec["min"]
        assert normalise(field, spec["max"]) == spec["max"]
        assert normalise(field, None) is None and spec["optional"] is True
        for outside in (spec["min"] - 1, spec["max"] + 1):
            with pytest.raises(InvalidPayload):
                normalise(field, outside)
    elif kind == "choice":
        assert all(normalise(field, choice) == choice for choice in spec["choices"])
        with pytest.raises(InvalidPayload):
            normalise(field, "none-of-these")
    elif kind == "text":
        if spec["required"]:
            with pytest.raises(InvalidPayload):
                normalise(field, "")
        else:
            assert normalise(field, "") == ""
        with pytest.raises(InvalidPayload):
            normalise(field, "a" * (spec["max"] + 1))


def test_contact_fields_say_their_input_kind() -> None:
    assert field_spec("phone") == {"type": "tel", "max": 32}
    assert field_spec("email") == {"type": "email", "max": 254}
    assert field_spec("name") == {"type": "text", "max": 100, "required": True}
