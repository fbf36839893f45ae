"""The one JSON body reader: the nesting read from the bytes agrees with the parsed value,
whatever the strings hold; limits answer with stable codes; and the traceback budget."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from engage.errors import InvalidPayload, PayloadTooLarge
from engage.infra.json_body import MAX_BODY_BYTES, MAX_DEPTH, json_object, nests_deeper_than
from engage.infra.logs import TracebackBudget

# Strings that look like structure, quotes and escapes: none of it may count.
TRICKY = ['a"[', "\\", "}{][", 'x\\"y', '\\\\"', '"', "\\]", "[[[[", "", "\u2028{"]


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


def generated(rng: random.Random, levels: int) -> Any:
    if levels == 0:
        return rng.choice([*TRICKY, 1, None, True, 2.5])
    if rng.random() < 0.5:
        return [generated(rng, rng.randint(0, levels - 1)) for _ in range(rng.randint(0, 3))]
    return {rng.choice(TRICKY) + str(i): generated(rng, rng.randint(0, levels - 1))
            for i in range(rng.randint(0, 3))}


def test_the_depth_read_from_the_bytes_is_the_depth_of_the_value() -> None:
    rng = random.Random(24)
    for _ in range(2000):
        value = generated(rng, rng.randint(0, 9))
        raw, true_depth = orjson.dumps(value), depth(value)
        for limit in range(11):
            assert nests_deeper_than(raw, limit) == (true_depth > limit), (raw, limit)


@pytest.mark.parametrize("raw", [
    b"[" * 1100, b"[" * 1100 + b"]" * 1100, b'{"a":' * 1100 + b"1" + b"}" * 1100,
    b'{"x":' + b"[" * 1000 + b"]" * 1000 + b"}",
    b'{"x":' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}",
    b'{"x":"' + b"[" * 40 + b'",' + b'"y":' + b"[" * MAX_DEPTH + b"]" * MAX_DEPTH + b"}",
])
def test_too_deep_is_invalid_before_parsing(raw: bytes) -> None:
    with pytest.raises(InvalidPayload, match="deeper than 32"):
        json_object(raw)


def test_brackets_inside_strings_do_not_count() -> None:
    text = "[" * 500 + '\\"{' * 100
    assert json_object(orjson.dumps({"text": text})) == {"text": text}


def test_at_the_limits_is_accepted() -> None:
    nested = b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1)
    assert json_object(b'{"x":' + nested + b"}")["x"] is not None
    filler = MAX_BODY_BYTES - len(b'{"x":""}')
    assert len(json_object(b'{"x":"' + b"y" * filler + b'"}')["x"]) == filler


def test_over_the_size_limit_is_too_large() -> None:
    with pytest.raises(PayloadTooLarge) as info:
        json_object(b'{"x":"' + b"y" * MAX_BODY_BYTES + b'"}')
    assert info.value.code == "too_large"


@pytest.mark.parametrize("raw", [b"", b"[]", b"1", b'"x"', b"{", b'{"a":NaN}', b'{"a":"\xff"}',
                                 b"[" * 70_000])
def test_anything_but_an_object_is_invalid(raw: bytes) -> None:
    with pytest.raises((InvalidPayload, PayloadTooLarge)):
        json_object(raw)


def test_one_traceback_per_kind_per_window() -> None:
    now = [0.0]
    budget = TracebackBudget(window_seconds=60, max_kinds=2, clock=lambda: now[0])
    assert [budget.allows("Boom /a") for _ in range(3)] == [True, False, False]
    assert budget.allows("Oops /a") is True
    assert budget.allows("Third /b") is False  # memory is bounded: new kinds wait
    now[0] = 61.0
    assert budget.allows("Boom /a") is True and budget.allows("Third /b") is True
