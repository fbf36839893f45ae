"""ICE server list for WebRTC peers, with TURN REST credentials (HMAC, time-limited)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any


def turn_credentials(secret: str, user: str, now: float, ttl: int) -> tuple[str, str]:
    """The TURN REST API scheme (coturn ``use-auth-secret``): ``expiry:user`` signed with SHA-1."""
    username = f"{int(now) + ttl}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(stun_urls: tuple[str, ...], turn_urls: tuple[str, ...], turn_secret: str,
                user: str, now: float, ttl: int) -> list[dict[str, Any]]:
    servers: list[dict[str, Any]] = []
    if stun_urls:
        servers.append({"urls": list(stun_urls)})
    if turn_urls and turn_secret:
        username, credential = turn_credentials(turn_secret, user, now, ttl)
        servers.append({"urls": list(turn_urls), "username": username,
                        "credential": credential})
    return servers
