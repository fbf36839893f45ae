"""Signed visitor tokens: which site and which anonymous visitor a widget socket speaks for."""

from __future__ import annotations

import re
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

from engage.errors import NotAuthenticated
from engage.models import VisitorIdentity

VISITOR_ID_RE = re.compile(r"^v_[A-Za-z0-9_-]{16,64}$")
TOKEN_MAX_AGE = 30 * 24 * 3600


def new_visitor_id() -> str:
    return "v_" + secrets.token_urlsafe(18)


class VisitorTokens:
    """HMAC-signed, time-limited tokens; the visitor id inside survives reloads."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="engage.visitor-token")

    def issue(self, site_key: str, visitor_id: str | None = None) -> tuple[str, str]:
        vid = visitor_id if visitor_id and VISITOR_ID_RE.fullmatch(visitor_id) else None
        vid = vid or new_visitor_id()
        return str(self._serializer.dumps({"s": site_key, "v": vid})), vid

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
        return VisitorIdentity(site_key=data["s"], visitor_id=data["v"])

