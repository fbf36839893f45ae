"""Every Redis key and channel name engage uses, in one place."""

from __future__ import annotations

PREFIX = "engage"

# Socket.IO cross-node fan-out (python-socketio AsyncRedisManager).
SOCKETIO_CHANNEL = f"{PREFIX}:socketio"
# Domain events published by services, delivered by adapters on every node.
EVENTS_CHANNEL = f"{PREFIX}:events"


def session(session_id: str) -> str:
    return f"{PREFIX}:session:{session_id}"


def user_sessions(username: str) -> str:
    return f"{PREFIX}:user-sessions:{username}"


def socket_token(token: str) -> str:
    return f"{PREFIX}:socket-token:{token}"


def login_failures_account(username: str) -> str:
    return f"{PREFIX}:login-fail:account:{username.lower()}"


def login_failures_ip(ip: str) -> str:
    return f"{PREFIX}:login-fail:ip:{ip}"
