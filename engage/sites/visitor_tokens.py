"""Signed visitor tokens and identity: which site, which visitor, and (if proven) which customer;
short-lived, renewable, and revocable per visitor (a generation kept in Redis)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

import redis.asyncio as aioredis
from itsdangerous import BadSignature, URLSafeTimedSerializer

from engage import keys
from engage.errors import NotAuthenticated
from engage.models import VisitorIdentity

VISITOR_ID_RE = re.compile(r"^v_[A-Za-z0-9_-]{16,64}$")
CUSTOMER_ID_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
# A token opens sockets and routes for a few hours; a page renews it (the widget does so
# hourly) by presenting it within a month, as long as the visitor's generation has not moved.
TOKEN_MAX_AGE = 4 * 3600
RENEW_MAX_AGE = 30 * 24 * 3600
GENERATION_TTL_SECONDS = RENEW_MAX_AGE + 24 * 3600  # outlives every token it can revoke


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
              customer_id: str = "", generation: int = 0) -> tuple[str, str]:
        vid = visitor_id if visitor_id and VISITOR_ID_RE.fullmatch(visitor_id) else None
        vid = vid or new_visitor_id()
        data: dict[str, object] = {"s": site_key, "v": vid}
        if customer_id:
            data["c"] = customer_id
        if generation:
            data["g"] = generation
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
        customer, generation = data.get("c"), data.get("g", 0)
        return VisitorIdentity(site_key=data["s"], visitor_id=data["v"],
                               customer_id=customer if isinstance(customer, str) else "",
                               generation=generation if isinstance(generation, int) else -1)


class VisitorAuth:
    """Visitor tokens checked against the visitor's current generation (Redis): the one
    place that issues, renews, verifies and revokes them."""

    def __init__(self, tokens: VisitorTokens, redis: aioredis.Redis) -> None:
        self.tokens = tokens
        self._redis = redis

    async def _generation(self, visitor_id: str) -> int:
        raw = await self._redis.get(keys.visitor_generation(visitor_id))
        return int(raw) if raw is not None else 0

    async def verify(self, token: object, max_age: int = TOKEN_MAX_AGE) -> VisitorIdentity:
        identity = self.tokens.verify(token, max_age)
        if identity.generation != await self._generation(identity.visitor_id):
            raise NotAuthenticated("the visitor token was revoked")
        return identity

    async def revoke(self, visitor_id: str) -> None:
        """Every token of this visitor issued so far stops working (renewal included)."""
        key = keys.visitor_generation(visitor_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, GENERATION_TTL_SECONDS)
            await pipe.execute()

    async def issue(self, site_key: str, customer_id: str = "") -> tuple[str, str]:
        """A token for a new visitor."""
        return self.tokens.issue(site_key, None, customer_id)

    async def renew(self, site_key: str, previous: object, customer_id: str) -> tuple[str, str]:
        """A token for this page view: the same visitor while the identity is unchanged; a new
        visitor id on every identity change (signed in, signed out, another customer), and
        the previous visitor's tokens revoked, so a token copied before cannot follow the
        customer and one browser never shows one person's conversations to the next."""
        known: VisitorIdentity | None = None
        if isinstance(previous, str):
            try:
                known = await self.verify(previous, RENEW_MAX_AGE)
            except NotAuthenticated:
                known = None  # expired, revoked or forged: just a new visitor
        if known is not None and known.site_key == site_key \
                and known.customer_id == customer_id:
            return self.tokens.issue(site_key, known.visitor_id, customer_id,
                                     known.generation)
        if known is not None:
            await self.revoke(known.visitor_id)
        return self.tokens.issue(site_key, None, customer_id)
