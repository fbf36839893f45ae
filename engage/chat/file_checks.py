"""What an uploaded file really is: its magic number, then a decoded image or an inert PDF."""

from __future__ import annotations

import io
import re
import zlib

from PIL import Image, UnidentifiedImageError

from engage.errors import EngageError, UnsupportedType

IMAGE_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF",
                 "image/webp": "WEBP"}
# A phone camera's 48 MP is the largest honest picture a visitor sends; a few KB of PNG can
# claim far more pixels than that and take gigabytes to decode (a decompression bomb).
MAX_PIXELS = 50_000_000
MAX_SIDE = 20_000
# PDF streams are inflated to look inside object streams, up to this much in total.
MAX_INFLATED = 32 * 1024 * 1024

# Names that make a PDF act rather than show: scripts, launching programs, embedded files,
# forms that send data away, Flash/3D media; and encryption, which hides all of them from
# this check. /OpenAction alone (open at page 1) is ordinary; with a script it has /JS.
ACTIVE_NAMES = ("JavaScript", "JS", "Launch", "EmbeddedFile", "EmbeddedFiles", "RichMedia",
                "XFA", "SubmitForm", "ImportData", "Encrypt")
_DELIMITERS = rb"\s/<>\[\]()%{}"
_ESCAPED_NAME = re.compile(rb"/[^" + _DELIMITERS + rb"]*#[^" + _DELIMITERS + rb"]*")
_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_ACTIVE = re.compile(rb"/(" + b"|".join(n.encode() for n in ACTIVE_NAMES) + rb")(?=[" +
                     _DELIMITERS + rb"]|$)")
_STREAM = re.compile(rb"stream\r?\n")
_HEADER = re.compile(rb"%PDF-(1\.[0-7]|2\.0)")


class UnsafeContent(EngageError):
    """The file carries active content (scripts, programs, embedded files)."""

    code = "unsafe_content"
    http_status = 415


def sniff(data: bytes) -> str | None:
    """The content type the bytes themselves announce (magic numbers), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def check_content(data: bytes, content_type: str) -> None:
    """Raise unless ``data`` decodes as ``content_type`` (blocking: run it in a thread)."""
    if content_type in IMAGE_FORMATS:
        check_image(data, IMAGE_FORMATS[content_type])
    elif content_type == "application/pdf":
        check_pdf(data)
    else:
        raise UnsupportedType(f"{content_type[:60]} is not accepted.")


def check_image(data: bytes, image_format: str) -> None:
    """The image's header names its format and a sane size, and its pixels decode."""
    broken = UnsupportedType(f"The file is not a readable {image_format} image.")
    try:
        with Image.open(io.BytesIO(data), formats=[image_format]) as image:
            width, height = image.size
            if image.format != image_format:
                raise broken
            if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                raise UnsupportedType(f"The image is too large ({width} x {height} pixels).")
            # Decoding (the first frame) is what shows a truncated or forged body.
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
            Image.DecompressionBombError):
        raise broken from None


def check_pdf(data: bytes) -> None:
    """A PDF header and end marker, and no active names, also not #-escaped (``/J#53``) or
    inside compressed object streams."""
    if not _HEADER.match(data) or b"%%EOF" not in data[-2048:]:
        raise UnsupportedType("The file is not a complete PDF document.")
    found = active_names(data)
    budget = MAX_INFLATED
    for match in _STREAM.finditer(data):
        inflated, budget = _inflate(data, match.end(), budget)
        found |= active_names(inflated)
    if found:
        listed = ", ".join(sorted(found))
        raise UnsafeContent(f"PDF files with active content ({listed}) are not accepted.")


def active_names(data: bytes) -> set[str]:
    """The active names in ``data`` after undoing ``#xx`` escapes in every name."""
    names = data if b"#" not in data else _ESCAPED_NAME.sub(
        lambda m: _HEX_ESCAPE.sub(lambda h: bytes([int(h[1], 16)]), m[0]), data)
    return {m[1].decode() for m in _ACTIVE.finditer(names)}


def _inflate(data: bytes, start: int, budget: int) -> tuple[bytes, int]:
    """The stream at ``start`` inflated (empty when it is not Flate), within ``budget``."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(memoryview(data)[start:], budget + 1)
    except zlib.error:
        return b"", budget
    if len(out) > budget:
        raise UnsafeContent("The PDF's compressed streams are too large to check.")
    return out, budget - len(out)
