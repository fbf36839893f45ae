"""Customer-ledger policy (pure): who sees and edits which fields, edit checks, search plans."""

# Visibility. Agents, supervisors and admins see the whole ledger. Marketers see identity,
# segment, purchases and the contact history - what targeting and opt-out handling need - but
# not the postal address, the staff notes (free text written for service, which can hold
# family, health or complaint details), interaction summaries, transcript links or the
# revision history; their phone and e-mail are masked, enough to tell which contact an opt-out
# is about.
#
# Edits. Agents correct contact data and opt-outs, as customers ask during a contact;
# supervisors also the name, membership and segment (they change what a customer is entitled
# to); admins also the analysis attributes (bands, household, origin). Marketers record
# opt-outs only. Everything else (ids, created_at, ledger_version) is not editable at all.

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from analytics.contacts import normalise_email, normalise_phone
from engage.errors import Forbidden, InvalidPayload
from engage.infra.dates import utc
from engage.models import Role

OPT_OUTS = ("contact_opt_out", "email_opt_out", "sms_opt_out")
# The one opt-out model: the stored flags that stop contact on each channel. Calls (outbound
# lists, the dialer) and every other channel stop at `contact_opt_out`; `opt_out` is the
# flag older CRM imports carry, and it stops everything.
CHANNEL_OPT_OUTS: dict[str, tuple[str, ...]] = {
    "call": ("contact_opt_out", "opt_out"),
    "sms": ("contact_opt_out", "sms_opt_out", "opt_out"),
    "email": ("contact_opt_out", "email_opt_out", "opt_out"),
    # Unsolicited on the website: proactive invites and help offers to a signed-in customer.
    "proactive": ("contact_opt_out", "opt_out"),
}


def opted_out(customer: Mapping[str, Any], channel: str) -> bool:
    """Whether the customer asked not to be contacted on ``channel``."""
    return any(bool(customer.get(flag)) for flag in CHANNEL_OPT_OUTS[channel])
AGENT_EDITS = frozenset({"phone", "email", "address", "district", "preferred_language",
                         *OPT_OUTS})
SUPERVISOR_EDITS = AGENT_EDITS | {"name", "name_zh", "membership", "segment"}
ADMIN_EDITS = SUPERVISOR_EDITS | {"age_band", "income_band", "household_size",
                                  "origin_channel"}
EDITABLE: Mapping[Role, frozenset[str]] = {
    Role.AGENT: AGENT_EDITS, Role.SUPERVISOR: SUPERVISOR_EDITS,
    Role.MARKETER: frozenset(OPT_OUTS), Role.ADMIN: ADMIN_EDITS}
EDITABLE_FIELDS = ADMIN_EDITS
# The customer fields a ledger shows, in display order.
PROFILE_FIELDS = ("name", "name_zh", "phone", "email", "address", "district",
                  "preferred_language", *OPT_OUTS, "membership", "segment", "age_band",
                  "income_band", "household_size", "origin_channel", "created_at")
# Same levels as engage.demo.catalog.MEMBERSHIPS (a unit test keeps them equal).
MEMBERSHIPS = ("none", "silver", "gold", "platinum")
LANGUAGES = ("zh", "en")
NOTE_MAX = 4000
QUERY_MIN, QUERY_MAX, PHONE_DIGITS_MIN = 2, 100, 4
# Maximum length of each free-text field, after normalisation.
TEXT_MAX = {"name": 100, "name_zh": 50, "address": 200, "district": 60}
SEGMENT_RE = re.compile(r"[a-z0-9][a-z0-9 _-]{0,39}")
# Band labels: 18-24, 65+, <100k, 100k-200k, 800k+.
BAND_RE = re.compile(r"[<>]?[0-9]{1,6}[kKmM]?(?:-[0-9]{1,6}[kKmM]?|\+)?")
ORIGIN_RE = re.compile(r"[a-z][a-z0-9_]{0,29}")
PHONE_QUERY_RE = re.compile(r"\+?[\d\s\-().]+")
CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


@dataclass(frozen=True)
class View:
    """What one role sees of a ledger."""

    hidden: frozenset[str] = frozenset()  # profile fields left out
    masked: frozenset[str] = frozenset()  # profile fields shown only in part
    notes: bool = True
    interaction_detail: bool = True  # summaries and transcript links
    revisions: bool = True


FULL = View()
VIEWS: Mapping[Role, View] = {
    Role.AGENT: FULL, Role.SUPERVISOR: FULL, Role.ADMIN: FULL,
    Role.MARKETER: View(hidden=frozenset({"address"}), masked=frozenset({"phone", "email"}),
                        notes=False, interaction_detail=False, revisions=False)}


def view_of(role: Role) -> View:
    return VIEWS[role]


def mask(field: str, value: str) -> str:
    """Enough of a phone or e-mail to recognise it, not enough to use it."""
    if not value:
        return value
    if field == "email" and "@" in value:
        local, domain = value.rsplit("@", 1)
        return f"{local[:1]}***@{domain}"
    if len(value) <= 6:
        return "****"
    return (value[:6] if len(value) > 10 else "") + "****" + value[-4:]


def stored(field: str, value: Any) -> Any:
    """A value as read back from MongoDB in its domain type: nx-27017 keeps a top-level
    boolean written by $set as 0/1, and a field may be absent."""
    if field in OPT_OUTS:
        return bool(value)
    if field == "household_size":
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) \
            else None
    return value


def shown(field: str, value: Any, role: Role) -> tuple[bool, Any]:
    """(visible, value as shown) of one profile field for ``role``."""
    view = VIEWS[role]
    if field in view.hidden:
        return False, None
    value = stored(field, value)
    if field in view.masked and isinstance(value, str):
        value = mask(field, value)
    return True, value


def visible_change(change: Mapping[str, Any], role: Role) -> dict[str, Any]:
    """A revision as ``role`` may see it: old and new values follow the field's visibility."""
    out = dict(change)
    field = str(change.get("field", ""))
    for key in ("old", "new"):
        visible, value = shown(field, change.get(key), role)
        out[key] = value if visible else None
        if not visible:
            out["redacted"] = True
    return out


def field_spec(field: str) -> dict[str, Any]:
    """How a form edits one field: its input kind and the values :func:`normalise` accepts
    (a console builds its inputs from this rather than keeping its own copy of the rules)."""
    if field in OPT_OUTS:
        return {"type": "bool"}
    if field == "household_size":
        return {"type": "int", "min": 1, "max": 20, "optional": True}
    if field in ("membership", "preferred_language"):
        return {"type": "choice",
                "choices": list(MEMBERSHIPS if field == "membership" else LANGUAGES)}
    if field in ("phone", "email"):
        return {"type": "tel" if field == "phone" else "email", "max": 32 if field == "phone"
                else 254}
    longest = {"segment": 40, "origin_channel": 30, "age_band": 16, "income_band": 16}
    return {"type": "text", "max": longest.get(field, TEXT_MAX.get(field, 100)),
            "required": field == "name"}


def check_version(raw: object) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        raise InvalidPayload("version: the ledger version the edit was made on (0 or more)",
                             field="version")
    return raw


def check_changes(changes: object, role: Role) -> dict[str, Any]:
    """The normalised changes, or InvalidPayload (unknown field, bad value) / Forbidden
    (a field this role may not edit), each naming the field."""
    if not isinstance(changes, dict) or not changes:
        raise InvalidPayload("changes: an object of field -> new value", field="changes")
    for field in changes:
        if field not in EDITABLE_FIELDS:
            raise InvalidPayload(f"{field}: not an editable field", field=str(field))
    for field in changes:
        if field not in EDITABLE[role]:
            raise Forbidden(f"A {role.value} may not edit {field}.", field=field)
    return {field: normalise(field, value) for field, value in changes.items()}


def _text(field: str, value: object, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidPayload(f"{field}: text", field=field)
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in value):
        raise InvalidPayload(f"{field}: no control characters", field=field)
    text = " ".join(unicodedata.normalize("NFKC", value).split())  # one line, single spaces
    if required and not text:
        raise InvalidPayload(f"{field}: must not be empty", field=field)
    if len(text) > TEXT_MAX.get(field, 100):
        raise InvalidPayload(f"{field}: at most {TEXT_MAX.get(field, 100)} characters",
                             field=field)
    return text


def _pattern(field: str, value: object, pattern: re.Pattern[str], what: str,
             lower: bool = False) -> str:
    text = _text(field, value)
    text = text.lower() if lower else text
    if text and not pattern.fullmatch(text):
        raise InvalidPayload(f"{field}: {what}", field=field)
    return text


def normalise(field: str, value: object) -> Any:
    """The value to store; "" (or None for household_size) clears an optional field."""
    if field in OPT_OUTS:
        if not isinstance(value, bool):
            raise InvalidPayload(f"{field}: true or false", field=field)
        return value
    if field == "phone":
        raw = _text(field, value)
        phone = normalise_phone(raw) if raw and len(raw) <= 32 else ""
        if raw and not phone:
            raise InvalidPayload("phone: an E.164 number (+8613812345678) or a mainland "
                                 "mobile (13812345678)", field=field)
        return phone
    if field == "email":
        raw = _text(field, value)
        email = normalise_email(raw) if len(raw) <= 254 else ""
        if raw and not email:
            raise InvalidPayload("email: an address like name@example.com", field=field)
        return email
    if field == "household_size":
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 20:
            raise InvalidPayload("household_size: a whole number from 1 to 20", field=field)
        return value
    if field in ("membership", "preferred_language"):
        allowed = MEMBERSHIPS if field == "membership" else LANGUAGES
        text = _text(field, value).lower()
        if text not in allowed:
            raise InvalidPayload(f"{field}: one of {', '.join(allowed)}", field=field)
        return text
    if field == "segment":
        return _pattern(field, value, SEGMENT_RE, "up to 40 of a-z, 0-9, space, '_', '-'",
                        lower=True)
    if field in ("age_band", "income_band"):
        return _pattern(field, value, BAND_RE, "a short band label like 25-34 or <100k")
    if field == "origin_channel":
        return _pattern(field, value, ORIGIN_RE, "a channel key like web or walk_in",
                        lower=True)
    return _text(field, value, required=field == "name")


def check_note(text: object) -> str:
    """A note as stored: plain text with its line breaks, trimmed, 1-4000 characters."""
    if not isinstance(text, str):
        raise InvalidPayload("text: the note", field="text")
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n" for c in
           text.replace("\r\n", "\n")):
        raise InvalidPayload("text: plain text without control characters", field="text")
    note = unicodedata.normalize("NFC", text.replace("\r\n", "\n")).strip()
    if not note or len(note) > NOTE_MAX:
        raise InvalidPayload(f"text: 1 to {NOTE_MAX} characters", field="text")
    return note


# -- stored values ------------------------------------------------------------------------------
def stored_time(value: Any) -> datetime | None:
    """A stored time as aware UTC: BSON dates, epoch-ms ints, or ISO text (nx-27017's form
    of a date written by $set)."""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str):
        try:
            return utc(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def iso(value: Any) -> str | None:
    """ISO 8601 text of a stored time, or None."""
    moment = stored_time(value)
    return moment.isoformat() if moment is not None else None


def plain(value: Any) -> Any:
    """A value a JSON body can carry."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return iso(value) if isinstance(value, datetime) else str(value)


def ledger_version(doc: Mapping[str, Any]) -> int:
    """The customer document's ledger version; absent means 0."""
    raw = doc.get("ledger_version")
    return int(raw) if isinstance(raw, int) and not isinstance(raw, bool) else 0


def unchanged(field: str, old: Any, new: Any) -> bool:
    """Whether storing ``new`` over the stored ``old`` changes nothing ("" and absent alike)."""
    empty = (None, "")
    return stored(field, old) == new or (old in empty and new in empty)


def revision(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A stored revision as the API shows it."""
    return {"version": int(doc.get("version") or 0), "field": str(doc.get("field", "")),
            "old": plain(stored(str(doc.get("field", "")), doc.get("old"))),
            "new": plain(stored(str(doc.get("field", "")), doc.get("new"))),
            "by": str(doc.get("by", "")), "at_ms": int(doc.get("at_ms") or 0)}


# -- search ------------------------------------------------------------------------------------
SearchPath = Literal["name", "name_zh", "phone", "email"]


@dataclass(frozen=True)
class SearchPlan:
    """Which indexed key a query searches, and for what."""

    path: SearchPath
    key: str  # name prefix, hanzi prefix, reversed phone digits, or the lower-cased address
    exact_phone: str = ""  # the query as an E.164 number, when it is one


def name_key(name: str) -> str:
    """Latin names compare lower-cased, with single spaces and full-width forms folded."""
    return " ".join(unicodedata.normalize("NFKC", name).lower().split())


def digits(text: str) -> str:
    return "".join(c for c in text if c.isascii() and c.isdigit())


def search_keys(name: object, phone: object, email: object) -> dict[str, str]:
    """The ledger's derived search keys of a customer document; the phone key is the
    reversed digits of the stored number, so a suffix search is an indexed prefix range."""
    return {"search_name": name_key(name if isinstance(name, str) else ""),
            "search_phone_rev": digits(phone if isinstance(phone, str) else "")[::-1],
            "search_email": (email if isinstance(email, str) else "").strip().lower()}


def plan_search(query: object, role: Role | None = None) -> SearchPlan:
    """How to search for ``query``. Searching by phone or e-mail is for roles that see them
    whole: a masked phone's digits would otherwise come back a few at a time (a suffix search
    per guess), and an exact address search would confirm a guessed one."""
    plan = _plan(query)
    if role is not None and plan.path in ("phone", "email") and plan.path in VIEWS[role].masked:
        raise Forbidden(f"your role searches customers by name, not by {plan.path}")
    return plan


def _plan(query: object) -> SearchPlan:
    if not isinstance(query, str):
        raise InvalidPayload("q: the text to search for", field="q")
    q = " ".join(unicodedata.normalize("NFKC", query).split())
    if not QUERY_MIN <= len(q) <= QUERY_MAX:
        raise InvalidPayload(f"q: {QUERY_MIN} to {QUERY_MAX} characters", field="q")
    if "@" in q:
        return SearchPlan("email", q.lower())
    if PHONE_QUERY_RE.fullmatch(q):
        found = digits(q)
        if len(found) < PHONE_DIGITS_MIN:
            raise InvalidPayload(f"q: at least {PHONE_DIGITS_MIN} digits of a phone number",
                                 field="q")
        return SearchPlan("phone", found[::-1], normalise_phone(q))
    if CJK_RE.search(q):
        return SearchPlan("name_zh", q.replace(" ", ""))
    return SearchPlan("name", name_key(q))


def prefix_range(prefix: str) -> dict[str, str]:
    """A condition matching strings that start with ``prefix`` (an index range scan)."""
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return {"$gte": prefix}
    return {"$gte": prefix, "$lt": prefix[:-1] + chr(last + 1)}
