"""The upload content checks on their own: names as PDF readers read them, bounded inflation."""

from __future__ import annotations

import zlib

import pytest

from engage.chat.file_checks import (
    MAX_INFLATED,
    UnsafeContent,
    active_names,
    check_pdf,
)
from engage.errors import UnsupportedType


def pdf(body: bytes) -> bytes:
    return b"%PDF-1.4\n" + body + b"\n%%EOF"


@pytest.mark.parametrize(("text", "names"), [
    (b"<</S/JavaScript/JS(x)>>", {"JavaScript", "JS"}),
    (b"<</S /J#61v#61Script>>", {"JavaScript"}),   # #xx escapes are the same name
    (b"<</S/#4C#61unch>>", {"Launch"}),
    (b"/JSX /JavaScripts /Launcher /Font /F1", set()),  # whole names only
    (b"(the text mentions /JS)", {"JS"}),  # a literal string is enough to refuse: no parser
    (b"/EmbeddedFiles[", {"EmbeddedFiles"}),
    (b"/Encrypt 5 0 R", {"Encrypt"}),
])
def test_active_names_are_read_like_a_pdf_reader_reads_them(text: bytes, names: set[str]
                                                             ) -> None:
    assert active_names(text) == names


def test_an_ordinary_open_action_passes() -> None:
    check_pdf(pdf(b"1 0 obj <</Type/Catalog/OpenAction [3 0 R /FitH 792]>> endobj"))


def test_streams_are_looked_into_and_their_inflation_is_bounded() -> None:
    hidden = zlib.compress(b"<</S/Launch/F(calc.exe)>>")
    with pytest.raises(UnsafeContent, match="Launch"):
        check_pdf(pdf(b"5 0 obj <</Type/ObjStm/Filter/FlateDecode>>stream\n" + hidden
                      + b"\nendstream"))
    escaped = b"5 0 obj <</Type /Obj#53tm /N 1 /Filter [/FlateDecode]>>stream\n"
    with pytest.raises(UnsafeContent, match="Launch"):
        check_pdf(pdf(escaped + hidden + b"\nendstream"))
    bomb = zlib.compress(b"\x00" * (MAX_INFLATED + 1), 9)
    with pytest.raises(UnsafeContent, match="too large to check"):
        check_pdf(pdf(b"5 0 obj <</Type/ObjStm/Filter/FlateDecode>>stream\n" + bomb
                      + b"\nendstream"))
    # Page content, fonts and images hold no objects: bytes there that look like a name
    # refuse nothing, and nothing is inflated for them.
    check_pdf(pdf(b"5 0 obj <</Filter/FlateDecode>>stream\n" + hidden + b"\nendstream"))
    check_pdf(pdf(b"6 0 obj <</Filter/FlateDecode>>stream\n" + bomb + b"\nendstream"))
    # ... unless objects sit in a body that its /Length ends early, where a reader finds them.
    smuggled = b"7 0 obj <</Length 2>>stream\nab\nendobj 8 0 obj <</S/JavaScript>> endobj"
    with pytest.raises(UnsafeContent, match="JavaScript"):
        check_pdf(pdf(smuggled + b"\nendstream"))
    # Object streams in another encoding cannot be read here: refused.
    with pytest.raises(UnsafeContent, match="cannot read"):
        check_pdf(pdf(b"9 0 obj <</Type/ObjStm/Filter/ASCIIHexDecode>>stream\n2F4A53>"
                      b"\nendstream"))


@pytest.mark.parametrize("data", [b"%PDF-9.9\n%%EOF", b"%PDF-1.7\n" + b"x" * 4096,
                                  b"%PDF-1.7\n%%EOF" + b" " * 4096])
def test_a_pdf_needs_its_header_and_its_end(data: bytes) -> None:
    with pytest.raises(UnsupportedType, match="not a complete PDF"):
        check_pdf(data)
