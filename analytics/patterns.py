"""The one definition of a usable phone number and e-mail address, for every part of engage.

The socket schemas, the ledger, the mailer and the campaign cleansing all check contacts with
these, so a number a visitor may leave is exactly a number a campaign may call. They live in
``analytics`` because ``analytics`` imports nothing of ours and everything else may import it.
"""

from __future__ import annotations

import re


def _whole(body: str) -> str:
    # msgspec checks a pattern with re.search, where "$" also matches before a final newline:
    # (?!\n) keeps "+8613800138000\n" out. The same text is a valid JSON Schema (ECMA) regex.
    return rf"^(?:{body})$(?!\n)"


# E.164 (ITU-T): '+', a country code that never starts with 0, at most 15 digits in all. At
# least 7: the shortest numbers in service are 7 digits with their country code (Niue +683
# and Tokelau +690 have 4-digit subscriber numbers).
_E164 = r"\+[1-9][0-9]{6,14}"
# Mainland China (+86): an 11-digit mobile (1[3-9]...), a Beijing landline (10 + 8 digits) or
# another area code (2-4 digits, never starting 0 or 1) + local number.
_CN = r"\+86(?:1[3-9][0-9]{9}|10[0-9]{8}|[2-9][0-9]{8,10})"
CN_PATTERN = _whole(_CN)
# The rule itself: E.164, and under +86 only a mainland mobile or landline.
PHONE_PATTERN = _whole(rf"{_CN}|(?!\+86)(?:{_E164})")

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# A deliverable-looking address: a dot-atom local part of at most 64 characters, a domain of
# at most 253 whose top level is letters, 254 in all (RFC 5321); no quotes, comments, display
# names or spaces, so it is safe in a mail header as it stands.
EMAIL_PATTERN = _whole(rf"(?=.{{3,254}}$)(?=[^@]{{1,64}}@){_ATOM}(?:\.{_ATOM})*"
                       rf"@(?=.{{1,253}}$)(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")

CN_NUMBER = re.compile(CN_PATTERN)
PHONE = re.compile(PHONE_PATTERN)
EMAIL = re.compile(EMAIL_PATTERN)
