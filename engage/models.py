"""Domain values shared across services: staff roles, staff users, sites."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Role(enum.StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    MARKETER = "marketer"
    ADMIN = "admin"


ALL_ROLES: frozenset[Role] = frozenset(Role)


@dataclass(frozen=True)
class StaffUser:
    username: str
    role: Role
    display_name: str
    disabled: bool = False
    skills: dict[str, int] = field(default_factory=dict)
    queues: tuple[str, ...] = ()


@dataclass(frozen=True)
class StaffSession:
    """A signed-in staff member's server-side session."""

    session_id: str
    username: str
    role: Role
    display_name: str
    created_at: float
    last_seen: float


@dataclass(frozen=True)
class Site:
    """A company website that embeds the widget; only its listed origins may connect."""

    site_key: str
    name: str
    allowed_origins: tuple[str, ...]
    identity_secret: str = ""
    widget: Mapping[str, Any] = field(default_factory=dict)  # see engage.sites.widget_settings

    def allows(self, origin: str | None) -> bool:
        return origin is not None and origin in self.allowed_origins


@dataclass(frozen=True)
class VisitorIdentity:
    """What a verified visitor token says: which site, which visitor."""

    site_key: str
    visitor_id: str
    customer_id: str = ""  # set only when the site proved it with the identity HMAC
    generation: int = 0  # the visitor's token generation it was issued in (revocation)
