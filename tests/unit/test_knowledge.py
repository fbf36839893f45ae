"""The pure parts of the answer set: variables, validation and search ranking (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from engage.demo.knowledge import demo_answers
from engage.desk.knowledge import (
    MAX_TEXT,
    VARIABLES,
    build_index,
    rank,
    render,
    template_problems,
    validate_answer,
)
from engage.errors import InvalidPayload

Document = dict[str, Any]


def answer(answer_id: str, **fields: Any) -> Document:
    base: Document = {"answer_id": answer_id, "category": "General", "title": answer_id,
                      "text": {"en": "text"}, "tags": [], "shortcut": "/" + answer_id}
    return base | fields


# -- render -----------------------------------------------------------------------------------
def test_render_fills_known_variables() -> None:
    text = "Hello {visitor_name}, I am {agent_name} of {site_name} ({queue_name}, {customer_name})"
    values = {"visitor_name": "Ms Li", "agent_name": "Wang Fang", "site_name": "Homes",
              "queue_name": "Rent", "customer_name": "C-1"}
    assert render(text, values) == "Hello Ms Li, I am Wang Fang of Homes (Rent, C-1)"


def test_missing_value_renders_its_fallback_and_tidies_the_space() -> None:
    assert render("Hello {visitor_name}, welcome", {}) == "Hello, welcome"
    assert render("Hello {visitor_name}!", {"visitor_name": ""}) == "Hello!"
    assert render("Hello {visitor_name}", {}) == "Hello"
    assert render("Dear {visitor_name} and team", {}) == "Dear  and team"  # not before a word
    assert render("{visitor_name}您好，请问", {}) == "您好，请问"  # noqa: RUF001
    assert set(VARIABLES.values()) == {""}


def test_unknown_variables_and_lone_braces_stay_visible() -> None:
    assert render("Hi {foo} {visitor_name}", {"visitor_name": "Li"}) == "Hi {foo} Li"
    assert render("a { b } c {}", {}) == "a { b } c {}"
    assert render("{{visitor_name}} is a variable", {"visitor_name": "x"}) \
        == "{visitor_name} is a variable"


def test_values_are_plain_one_line_text_and_never_expanded_again() -> None:
    values = {"visitor_name": "{agent_name}<b>\n\x00Li", "agent_name": "Wang"}
    assert render("{visitor_name}/{agent_name}", values) == "{agent_name}<b>  Li/Wang"
    assert len(render("{visitor_name}", {"visitor_name": "x" * 1000})) == 200


# -- validation -------------------------------------------------------------------------------
def test_template_problems_name_unknown_variables_and_unbalanced_braces() -> None:
    assert template_problems("Hi {visitor_name}, {{literal}}") == []
    problems = template_problems("Hi {name} {foo} {name}")
    assert len(problems) == 1 and "{name}, {foo}" in problems[0]
    assert "{visitor_name}" in problems[0]  # says what is known
    assert template_problems("Hi {visitor_name") == [
        "unbalanced braces; write {{ or }} for a literal brace"]
    assert len(template_problems("{foo} }")) == 2


def body(**fields: Any) -> Document:
    return {"category": "Renting", "title": "Rental deposit", "shortcut": "/RentDeposit",
            "tags": ["deposit", "押金", "Deposit", " "],
            "text": {"en": "  Pay one, deposit one.\r\nThanks {visitor_name}  ", "zh": ""}
            } | fields


def test_validate_normalises_an_answer() -> None:
    assert validate_answer(body()) == {
        "category": "Renting", "title": "Rental deposit", "shortcut": "/rentdeposit",
        "tags": ["deposit", "押金"], "text": {"en": "Pay one, deposit one.\nThanks {visitor_name}"}}
    assert validate_answer(body(shortcut="deposit"))["shortcut"] == "/deposit"
    assert validate_answer({k: v for k, v in body().items() if k != "category"})[
        "category"] == "General"


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"text": {"en": "Hi {name}"}}, "text.en", "unknown variable(s) {name}"),
    ({"text": {"zh": "您好 {visitor_name"}}, "text.zh", "unbalanced braces"),
    ({"text": {"en": " ", "zh": ""}}, "text", "is required"),
    ({"text": {"fr": "Bonjour"}}, "text", "languages en and zh"),
    ({"text": "plain"}, "text", "an object"),
    ({"text": {"en": "x" * (MAX_TEXT + 1)}}, "text.en", f"at most {MAX_TEXT}"),
    ({"text": {"en": "bell\x07"}}, "text.en", "control characters"),
    ({"title": ""}, "title", "required"),
    ({"title": "a\nb"}, "title", "control characters"),
    ({"shortcut": "/has space"}, "shortcut", "e.g. /deposit"),
    ({"shortcut": None}, "shortcut", "e.g. /deposit"),
    ({"tags": "deposit"}, "tags", "a list"),
    ({"tags": [1]}, "tags", "text"),
])
def test_validate_refuses_with_a_clear_message(fields: Document, field: str,
                                               words: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        validate_answer(body(**fields))
    assert caught.value.details["field"] == field
    assert words in caught.value.message


def test_every_demo_answer_is_valid_and_bilingual() -> None:
    answers = demo_answers()
    assert len(answers) >= 15
    assert len({a["shortcut"] for a in answers}) == len(answers)
    for a in answers:
        assert set(a["text"]) == {"en", "zh"}
        assert validate_answer(a)["text"] == a["text"]


# -- search ranking ---------------------------------------------------------------------------
INDEX = build_index([
    answer("text", title="Moving out", text={"en": "The deposit comes back at move-out."}),
    answer("tags", title="Handover", tags=["Deposit"], text={"zh": "交接验房"}),
    answer("title", title="Rental deposit", category="Renting",
           text={"en": "Pay one", "zh": "押一付一，押金退还"}),  # noqa: RUF001
    answer("deposit", title="Purchase", text={"en": "Credited against the down payment"}),
    answer("other", title="Opening hours", text={"en": "9 to 21"}),
])


def ids(found: list[Document]) -> list[str]:
    return [a["answer_id"] for a in found]


def test_rank_puts_shortcut_then_title_then_tags_then_text() -> None:
    assert ids(rank(INDEX, "DEPOSIT")) == ["deposit", "title", "tags", "text"]
    assert ids(rank(INDEX, "/deposit")) == ["deposit"]
    assert ids(rank(INDEX, "/dep")) == ["deposit"]  # typing a shortcut


def test_every_word_must_match_somewhere() -> None:
    assert ids(rank(INDEX, "rental   pay")) == ["title"]
    assert ids(rank(INDEX, "rental nothing")) == []


def test_chinese_substrings_match() -> None:
    assert ids(rank(INDEX, "押金")) == ["title"]
    assert ids(rank(INDEX, "验房")) == ["tags"]


def test_language_and_category_filter() -> None:
    assert ids(rank(INDEX, "deposit", lang="zh")) == ["title", "tags"]
    assert ids(rank(INDEX, "押金", lang="en")) == []
    assert ids(rank(INDEX, "deposit", category="Renting")) == ["title"]


def test_empty_query_lists_by_category_then_title_with_a_limit() -> None:
    assert ids(rank(INDEX, "")) == ["tags", "text", "other", "deposit", "title"]
    assert ids(rank(INDEX, "  ", limit=2)) == ["tags", "text"]
