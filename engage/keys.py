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


# Analysis results (written by `engage analyze` workers, read by every node).
ANALYSIS_CURRENT = f"{PREFIX}:analysis:current"  # the version the nodes serve
ANALYSIS_LOCK = f"{PREFIX}:analysis:lock"  # SET NX EX: one worker runs at a time
# Writers that change analysis inputs without changing counts may INCR this to force a rerun.
ANALYSIS_DATA_VERSION = f"{PREFIX}:analysis:data-version"


def analysis_offers(version: int) -> str:
    """Hash: customer id -> JSON of the customer's tier and top offers."""
    return f"{PREFIX}:analysis:v{version}:offers"


def analysis_report(version: int) -> str:
    return f"{PREFIX}:analysis:v{version}:report"


def visitor_state(visitor_id: str) -> str:
    """Live state of a visitor's current visit (hash; expires with the visit)."""
    return f"{PREFIX}:visitor:{visitor_id}"


def visitor_active(visitor_id: str) -> str:
    """The visitor's interaction in progress, so a reloaded page resumes it."""
    return f"{PREFIX}:visitor-ix:{visitor_id}"


def chat_state(ix: str) -> str:
    """A conversation's message counter, client ids and receipts (hash)."""
    return f"{PREFIX}:chat:{ix}"


def invite(invite_id: str) -> str:
    return f"{PREFIX}:invite:{invite_id}"


def invite_pending(visitor_id: str) -> str:
    return f"{PREFIX}:invite-pending:{visitor_id}"


def invites_shown(day: str, visitor_id: str) -> str:
    """Invites shown to a visitor on one UTC day, per rule (hash): the daily caps."""
    return f"{PREFIX}:invite-shown:{day}:{visitor_id}"


def invite_opt_out(visitor_id: str) -> str:
    return f"{PREFIX}:invite-opt-out:{visitor_id}"


def invite_accepted(visitor_id: str) -> str:
    return f"{PREFIX}:invite-accepted:{visitor_id}"


def invite_converted(visit_id: str) -> str:
    return f"{PREFIX}:invite-converted:{visit_id}"


def recorder_owner(call_id: str) -> str:
    """The node whose server peer records a call (string, refreshed while it records)."""
    return f"{PREFIX}:recorder:{call_id}"


def trail_watchers(ix: str) -> str:
    """Set of agent sockets watching the visitor's trail through interaction ``ix``."""
    return f"engage:watch:{ix}"
