"""Every Redis key and channel name engage uses, in one place (writers: the README's
"Where state lives" table and ``engage.owners``)."""

from __future__ import annotations

from dataclasses import dataclass

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


def login_failures_account(account: str) -> str:
    """Failed sign-ins of one account from every address (the softer, global limit)."""
    return f"{PREFIX}:login-fail:{{{account}}}:account"


def login_failures_pair(account: str, ip: str) -> str:
    """Failed sign-ins of one account from one address (the lock an attacker runs into);
    the account's hash tag, as the two are reserved together by one script."""
    return f"{PREFIX}:login-fail:{{{account}}}:from:{ip}"


def login_failures_ip(ip: str) -> str:
    return f"{PREFIX}:login-fail:ip:{ip}"


# Analysis results (written by `engage analyze` workers, read by every node).
ANALYSIS_CURRENT = f"{PREFIX}:analysis:current"  # the version the nodes serve
ANALYSIS_LOCK = f"{PREFIX}:analysis:lock"  # SET NX EX: one worker runs at a time
# Writers that change analysis inputs without changing counts may INCR this to force a rerun.
ANALYSIS_DATA_VERSION = f"{PREFIX}:analysis:data-version"


def analysis_offers(version: int | str) -> str:
    """Hash: customer id -> JSON of the customer's tier and top offers."""
    return f"{PREFIX}:analysis:v{version}:offers"


def analysis_report(version: int | str) -> str:
    return f"{PREFIX}:analysis:v{version}:report"


def visitor_state(visitor_id: str) -> str:
    """Live state of a visitor's current visit (hash; expires with the visit)."""
    return f"{PREFIX}:visitor:{visitor_id}"


def visitor_generation(visitor_id: str) -> str:
    """Counter: the visitor's token generation; tokens of an older one are revoked."""
    return f"engage:visitor-gen:{visitor_id}"


def visitor_active(visitor_id: str) -> str:
    """The visitor's interaction in progress, so a reloaded page resumes it."""
    return f"{PREFIX}:visitor-ix:{visitor_id}"


def visitor_sockets(visitor_id: str) -> str:
    """Sorted set: the visitor's open sockets (node:sid), scored by when their lease ends."""
    return f"{PREFIX}:visitor-sockets:{visitor_id}"


def rate(scope: str, subject: str) -> str:
    """A shared rate bucket (GCRA arrival time, ms), e.g. scope ``chat``, a visitor id."""
    return f"{PREFIX}:rate:{scope}:{subject}"


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


# -- ACD -----------------------------------------------------------------------------------
# Written only by engage/acd/store.py and its Lua scripts (engage/acd/lua/), which build the
# same keys from the prefix they get as ARGV[1]; ACD_FAMILIES names every family they use
# (tests/unit/test_keys.py keeps the scripts to it).
ACD_PREFIX = f"{PREFIX}:acd:"
ACD_FAMILIES: dict[str, str] = {
    "ix": "ix:<ix> hash: the live interaction",
    "agent": "agent:<a> hash: state, load per channel; agent:<a>:ix set: what it holds",
    "q": "q:<q> hash: queue config and AHT; q:<q>:waiting[:<channel>] and q:<q>:since "
         "zsets; q:<q>:ready:<channel> zset; q:<q>:staffed set",
    "queues": "set of queue ids",
    "state": "state:<agent state> set of agents",
    "offers": "zset: open offers by deadline",
    "consults": "zset: open consultation offers by deadline",
    "wrapups": "zset: wrap-ups by deadline",
    "heartbeat": "zset: agents by the last heartbeat of the node holding their sockets",
    "grace": "zset: disconnected agents by the end of their grace period",
    "sticky": "sticky:<customer> string: the customer's last agent",
    "seq": "counter: offer sequence (round-robin)",
    "ixseq": "counter: interaction ids",
    "events": "stream: every transition, drained into acd_events by the event-log writer",
}


@dataclass(frozen=True)
class AcdKeys:
    """The ACD's key templates under one prefix (a test may give its run another)."""

    prefix: str = ACD_PREFIX

    def interaction(self, ix: str) -> str:
        return f"{self.prefix}ix:{ix}"

    def agent(self, username: str) -> str:
        return f"{self.prefix}agent:{username}"

    def agent_interactions(self, username: str) -> str:
        return f"{self.prefix}agent:{username}:ix"

    def queue(self, queue: str) -> str:
        return f"{self.prefix}q:{queue}"

    def waiting(self, queue: str) -> str:
        return f"{self.prefix}q:{queue}:waiting"

    def waiting_since(self, queue: str) -> str:
        return f"{self.prefix}q:{queue}:since"

    def ready(self, queue: str, channel: str) -> str:
        return f"{self.prefix}q:{queue}:ready:{channel}"

    def staffed(self, queue: str) -> str:
        return f"{self.prefix}q:{queue}:staffed"

    def agents_in_state(self, state: str) -> str:
        return f"{self.prefix}state:{state}"

    @property
    def queues(self) -> str:
        return f"{self.prefix}queues"

    @property
    def offers(self) -> str:
        return f"{self.prefix}offers"

    @property
    def consults(self) -> str:
        return f"{self.prefix}consults"

    @property
    def heartbeat(self) -> str:
        return f"{self.prefix}heartbeat"

    @property
    def interaction_seq(self) -> str:
        return f"{self.prefix}ixseq"

    @property
    def events(self) -> str:
        return f"{self.prefix}events"


ACD = AcdKeys()
# The ACD event stream: the ACD store appends, the event-log writer drains it into MongoDB.
ACD_EVENTS = ACD.events


# -- calls -----------------------------------------------------------------------------------
# Written only by engage/calls/service.py (its two scripts build the same keys from ARGV[1]).
CALL_PREFIX = f"{PREFIX}:call:"


@dataclass(frozen=True)
class CallKeys:
    prefix: str = CALL_PREFIX

    def call(self, call_id: str) -> str:
        """Hash: one call's state, sides and socket ids."""
        return f"{self.prefix}c:{call_id}"

    def active(self, ix: str) -> str:
        """String: the interaction's current call id."""
        return f"{self.prefix}ix:{ix}"

    def party(self, side: str, party: str) -> str:
        """Set: the calls a visitor or agent is a side of."""
        return f"{self.prefix}party:{side}:{party}"


def trail_watchers(ix: str) -> str:
    """Set of agent sockets watching the visitor's trail through interaction ``ix``."""
    return f"engage:watch:{ix}"


# -- quotas ----------------------------------------------------------------------------------
# What one visitor, conversation or site may use (hashes of counters in a fixed window),
# written only by engage/infra/quota.py on behalf of the services that name them here.
QUOTA_PREFIX = f"{PREFIX}:quota:"


def quota_transcript_conversation(ix: str) -> str:
    """Transcript mails of one conversation: sends, and the one address they go to."""
    return f"{QUOTA_PREFIX}transcript:ix:{ix}"


def quota_transcript_visitor(day: str, visitor_id: str) -> str:
    return f"{QUOTA_PREFIX}transcript:visitor:{day}:{visitor_id}"


def quota_transcript_site(day: str, site: str) -> str:
    return f"{QUOTA_PREFIX}transcript:site:{day}:{site}"


def quota_attachments_conversation(ix: str) -> str:
    """Files and bytes uploaded to one conversation."""
    return f"{QUOTA_PREFIX}attach:ix:{ix}"


def quota_attachments_visitor(day: str, visitor_id: str) -> str:
    """Files and bytes one visitor uploaded on one UTC day."""
    return f"{QUOTA_PREFIX}attach:visitor:{day}:{visitor_id}"
