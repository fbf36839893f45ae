"""A request body as a JSON object, for every HTTP adapter (no web framework here): size and
nesting limits checked before anything deep is built."""

from __future__ import annotations

from typing import Any

import orjson

from engage.errors import InvalidPayload, PayloadTooLarge

# Every JSON body of the product is a small form: the longest texts (notes, answers) are 4,000
# characters, which even as \uXXXX escapes stay far below this.
MAX_BODY_BYTES = 64 * 1024
# The top-level object is depth 1; no route takes more than a few levels. Past ~1,000 a value
# that reaches str(), repr() or a BSON encoder raises RecursionError, far below orjson's 1,024.
MAX_DEPTH = 32

_OPENERS_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def nests_deeper_than(raw: bytes, limit: int) -> bool:
    """Whether the arrays and objects of ``raw`` go deeper than ``limit``, read from the bytes
    without parsing (all at C speed, linear in the body). Exact for valid JSON; anything else
    the parser refuses afterwards."""
    # Escaped backslashes first, so that in \\" the quote still ends the string.
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Outside the strings (every other piece between quotes) only the brackets matter.
    structure = b"".join(text.split(b'"')[::2]).translate(_OPENERS_AS_SQUARE, _NOT_BRACKETS)
    for _ in range(limit):
        # Each pass takes away the innermost level: replace() never rescans what it made.
        inner = structure.replace(b"[]", b"")
        if not inner:
            return False
        if len(inner) == len(structure):
            return True  # no pair left to close: not JSON, refused either way
        structure = inner
    return bool(structure)


def json_object(raw: bytes, *, max_bytes: int = MAX_BODY_BYTES,
                max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """The body as a JSON object; PayloadTooLarge over ``max_bytes``, InvalidPayload if it is
    not a JSON object or nests deeper than ``max_depth``."""
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    # Counting first keeps the usual flat form from paying for the scan.
    if raw.count(b"[") + raw.count(b"{") > max_depth and nests_deeper_than(raw, max_depth):
        raise InvalidPayload(f"the body nests deeper than {max_depth} levels")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidPayload("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidPayload("the body must be a JSON object")
    return body
