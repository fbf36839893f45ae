"""Signed visitor tokens and identity: which site, which visitor, and (if proven) which customer."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

from engage.errors import NotAuthenticated
from engage.models import VisitorIdentity

VISITOR_ID_RE = re.compile(r"^v_[A-Za-z0-9_-]{16,64}$")
CUSTOMER_ID_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
TOKEN_MAX_AGE = 30 * 24 * 3600


def new_visitor_id() -> str:
    return "v_" + secrets.token_urlsafe(18)


def identity_hash(secret: str, customer_id: str) -> str:
    """What a site's back end puts in the page: hex HMAC-SHA256 of its customer id."""
    return hmac.new(secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def proven_customer(secret: str, customer_id: object, customer_hash: object) -> str:
    """The customer id when its hash is right, else "" (anonymous); constant-time compare."""
    if not secret or not isinstance(customer_id, str) or not isinstance(customer_hash, str):
        return ""
    if not CUSTOMER_ID_RE.fullmatch(customer_id) or len(customer_hash) > 128:
        return ""
    expected = identity_hash(secret, customer_id)
    return customer_id if hmac.compare_digest(expected, customer_hash.lower()) else ""


class VisitorTokens:
    """HMAC-signed, time-limited tokens; the visitor id inside survives reloads."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="engage.visitor-token")

    def issue(self, site_key: str, visitor_id: str | None = None,
              customer_id: str = "") -> tuple[str, str]:
        vid = visitor_id if visitor_id and VISITOR_ID_RE.fullmatch(visitor_id) else None
        vid = vid or new_visitor_id()
        data = {"s": site_key, "v": vid}
        if customer_id:
            data["c"] = customer_id
        return str(self._serializer.dumps(data)), vid

    def verify(self, token: object, max_age: int = TOKEN_MAX_AGE) -> VisitorIdentity:
        if not isinstance(token, str) or not token or len(token) > 512:
            raise NotAuthenticated("a visitor token is required")
        try:
            data = self._serializer.loads(token, max_age=max_age)
        except BadSignature:
            raise NotAuthenticated("the visitor token is invalid or expired") from None
        if not isinstance(data, dict) or not isinstance(data.get("s"), str) \
                or not isinstance(data.get("v"), str):
            raise NotAuthenticated("the visitor token is invalid")
        customer = data.get("c")
        return VisitorIdentity(site_key=data["s"], visitor_id=data["v"],
                               customer_id=customer if isinstance(customer, str) else "")

    def renew(self, site_key: str, previous: object, customer_id: str) -> tuple[str, str]:
        """A token for this page view: the same visitor while the identity is unchanged; a new
        visitor id when it changes (another customer, or signed out), so one browser never
        shows one person's conversations to the next."""
        keep = None
        if isinstance(previous, str):
            try:
                known = self.verify(previous)
            except NotAuthenticated:
                known = None  # expired or forged: just a new visitor
            if known is not None and known.site_key == site_key and (
                    known.customer_id == customer_id or not known.customer_id):
                keep = known.visitor_id  # anonymous -> signed in keeps the history
        return self.issue(site_key, keep, customer_id)
