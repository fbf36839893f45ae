"""The sign-in's ``next``: only a path on this node survives, whatever a browser would make of
the rest (it strips tabs and newlines, trims controls, reads ``\\`` as ``/``)."""

from __future__ import annotations

import pytest

from agent_console.web_auth import safe_next

# Each would send the browser off this origin (or run script) if it were followed.
BYPASSES = [
    "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "\\/evil.example",
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "\t//evil.example",
    " //evil.example", "\x00//evil.example", "\x1f/\\evil.example", "/\x0b/evil.example",
    "https://evil.example", "https:evil.example", "HTTPS://evil.example", "http:/evil.example",
    "//evil.example/%2F..", "javascript:alert(1)", "java\tscript:alert(1)",
    " javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "evil.example",
    "console", "./console", "../console", "/%2F%2Fevil.example", "/%2f/evil.example",
    "/%5Cevil.example", "/%5c%5cevil.example", "/\u3000/evil.example", "/\u00a0/evil.example",
    "", "   ", "\t",
]

# Same-origin paths keep working, with their query and fragment.
PATHS = [
    ("/console", "/console"),
    ("/wallboard?queue=sales#top", "/wallboard?queue=sales#top"),
    ("/admin/users/a%2Fb", "/admin/users/a%2Fb"),
    ("/", "/"),
    ("/marketing?next=//x", "/marketing?next=//x"),
    # What a browser strips is stripped first, so the answer is what the browser would open.
    ("/con\tsole", "/console"),
    (" /console ", "/console"),
]


@pytest.mark.parametrize("raw", BYPASSES)
def test_a_redirect_off_this_origin_is_refused(raw: str) -> None:
    assert safe_next(raw) is None


@pytest.mark.parametrize("raw, expected", PATHS)
def test_a_local_path_is_kept(raw: str, expected: str) -> None:
    assert safe_next(raw) == expected


def test_nothing_is_nothing() -> None:
    assert safe_next(None) is None
