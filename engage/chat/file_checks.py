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
# Object streams (the only streams that hold objects, so actions) are inflated to look
# inside, up to this much in total; other streams (page text, fonts, images) hold no names a
# reader acts on, and random bytes in them would only refuse honest files.
MAX_INFLATED = 32 * 1024 * 1024
# How far before ``stream`` its dictionary is looked for.
DICT_WINDOW = 4096

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
_STREAM = re.compile(rb"(?<!end)stream\r?\n")
_HEADER = re.compile(rb"%PDF-(1\.[0-7]|2\.0)")
_OBJECT = re.compile(rb"\d\s+\d+\s+obj\b|\bendobj\b")
_FLATE_ONLY = re.compile(rb"/Filter\s*(/FlateDecode|\[\s*/FlateDecode\s*\])")
_OBJECT_STREAM = re.compile(rb"/Type\s*/ObjStm(?=[" + _DELIMITERS + rb"]|$)")


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
    inside compressed object streams. Other streams' bodies (page text, fonts, images) are
    skipped: their bytes are not objects, and random ones would refuse honest files."""
    if not _HEADER.match(data) or b"%%EOF" not in data[-2048:]:
        raise UnsupportedType("The file is not a complete PDF document.")
    found: set[str] = set()
    budget, at = MAX_INFLATED, 0
    for match in _STREAM.finditer(data):
        if match.start() < at:
            continue  # "stream" inside a body already skipped
        found |= active_names(data[at:match.start()])
        end = data.find(b"endstream", match.end())
        end = len(data) if end < 0 else end
        if _object_stream_dict(data, match.start()) is not None:
            body, budget = _object_stream_body(data, match.start(), match.end(), end, budget)
            found |= active_names(body)
        elif _OBJECT.search(data, match.end(), end):
            # Objects where a body should be (a /Length that ends it early, so a reader
            # sees them): read like the rest of the file.
            found |= active_names(data[match.end():end])
        at = end
    found |= active_names(data[at:])
    if found:
        listed = ", ".join(sorted(found))
        raise UnsafeContent(f"PDF files with active content ({listed}) are not accepted.")


def active_names(data: bytes) -> set[str]:
    """The active names in ``data`` after undoing ``#xx`` escapes in every name."""
    return {m[1].decode() for m in _ACTIVE.finditer(_unescaped(data))}


def _unescaped(data: bytes) -> bytes:
    """``data`` with every name's ``#xx`` escapes undone (``/J#53`` is ``/JS``)."""
    if b"#" not in data:
        return data
    return _ESCAPED_NAME.sub(
        lambda m: _HEX_ESCAPE.sub(lambda h: bytes([int(h[1], 16)]), m[0]), data)


def _object_stream_dict(data: bytes, stream_at: int) -> bytes | None:
    """The dictionary before ``stream`` (since its ``obj``) when it says /Type /ObjStm."""
    start = data.rfind(b"obj", max(0, stream_at - DICT_WINDOW), stream_at)
    head = _unescaped(data[start if start >= 0 else max(0, stream_at - DICT_WINDOW):stream_at])
    return head if _OBJECT_STREAM.search(head) else None


def _object_stream_body(data: bytes, stream_at: int, start: int, end: int, budget: int
                        ) -> tuple[bytes, int]:
    """An object stream's objects: inflated (within ``budget``, which it returns reduced),
    or as they are when unfiltered; another encoding could hide anything from this check."""
    head = _object_stream_dict(data, stream_at) or b""
    if b"/Filter" not in head:
        return data[start:end], budget
    if not _FLATE_ONLY.search(head):
        raise UnsafeContent("PDF object streams in an encoding this check cannot read are "
                            "not accepted.")
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(memoryview(data)[start:end], budget + 1)
    except zlib.error:
        raise UnsupportedType("The file is not a readable PDF document.") from None
    if len(out) > budget:
        raise UnsafeContent("The PDF's compressed streams are too large to check.")
    return out, budget - len(out)
