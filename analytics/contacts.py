"""Contact-detail rules: normalising phones, e-mails and names, and telling which are usable."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from analytics.patterns import CN_NUMBER, EMAIL, PHONE

CN_MOBILE_LOCAL = re.compile(r"1[3-9]\d{9}")
PHONE_NOISE = re.compile(r"[\s\-().]")
SPACES = (" ", "\t", "\u3000")  # \u3000: the ideographic (full-width) space
NO_SPACE = str.maketrans(dict.fromkeys(SPACES, ""))


def normalise_phone(raw: str, default_country: str = "86") -> str:
    """The E.164 form of ``raw``, or "" when it cannot be a reachable number.

    Spaces, dashes, dots and brackets are dropped; a leading ``00`` becomes ``+``; a bare
    mainland mobile (11 digits starting 13-19) gets ``+86`` when the default country is 86.
    Numbers under +86 must be a mainland mobile or landline, anything else plain E.164.
    """
    if CN_NUMBER.fullmatch(raw):  # the common case: already a clean mainland number
        return raw
    phone = PHONE_NOISE.sub("", raw)
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    elif default_country == "86" and CN_MOBILE_LOCAL.fullmatch(phone):
        phone = "+86" + phone
    return phone if PHONE.fullmatch(phone) else ""


def normalise_email(raw: str) -> str:
    """The lower-cased address, or "" when it is not a deliverable-looking address."""
    email = raw.strip().lower()
    return email if EMAIL.fullmatch(email) else ""


def normalise_name(raw: str) -> str:
    """Lower-cased with all spaces removed, so 'Wang  Wei', 'wang wei' and 'WangWei' match."""
    return raw.translate(NO_SPACE).lower()


def name_keys(raw: Sequence[str | None]) -> npt.NDArray[np.str_]:
    """``normalise_name`` of every name ("" where missing), vectorised."""
    names = np.array([r or "" for r in raw], dtype=np.str_) if len(raw) else np.zeros(
        0, dtype="<U1")
    for space in SPACES:
        names = np.strings.replace(names, space, "")
    out: npt.NDArray[np.str_] = np.strings.lower(names)
    return out


def phone_keys(raw: Sequence[str | None], default_country: str = "86"
               ) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Normalised phones ("" where unusable), which were blank, and which were invalid."""
    return _keys([normalise_phone(p, default_country) if p else "" for p in raw], raw)


def email_keys(raw: Sequence[str | None]
               ) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Normalised e-mails ("" where unusable), which were blank, and which were invalid."""
    return _keys([normalise_email(e) if e else "" for e in raw], raw)


def _keys(normal: list[str], raw: Sequence[str | None]
          ) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    keys = np.array(normal, dtype=np.str_) if normal else np.zeros(0, dtype="<U1")
    blank = np.array([not r or r.isspace() for r in raw], dtype=np.bool_)
    return keys, blank, (keys == "") & ~blank
