"""Which one module writes each MongoDB collection and Redis key family (README's state table)."""

from __future__ import annotations

from engage import keys

# Collection -> the module that writes it and creates its indexes. Everyone else reads, or
# calls the owner (tests/unit/test_state_owners.py scans the source for stray writes).
COLLECTIONS: dict[str, str] = {
    "acd_events": "engage.acd.eventlog",
    "queues": "engage.acd.queues",
    "analysis_runs": "engage.analysis.store",
    "analysis_rules": "engage.analysis.store",
    "analysis_offers": "engage.analysis.store",
    "meta": "engage.analysis.store",
    "campaign_lists": "engage.analysis.campaigns",
    "campaign_members": "engage.analysis.campaigns",
    "offer_feedback": "engage.analysis.feedback",
    "recordings": "engage.calls.recordings",
    "attachments": "engage.chat.attachments",
    "chat_conversations": "engage.chat.store",
    "chat_messages": "engage.chat.store",
    "chat_ratings": "engage.chat.store",
    "customers": "engage.customers.ledger",
    "customer_revisions": "engage.customers.ledger",
    "customer_notes": "engage.customers.ledger",
    "transactions": "engage.customers.history",
    "interactions": "engage.customers.history",
    "products": "engage.customers.history",
    "bulletin_posts": "engage.desk.bulletin",
    "knowledge": "engage.desk.knowledge",
    "mail_outbox": "engage.infra.mailer",
    "sites": "engage.sites.registry",
    "staff": "engage.staff.directory",
    "invite_rules": "engage.visits.invites",
    "invite_stats": "engage.visits.invites",
    "visitor_prefs": "engage.visits.invites",
    "visitors": "engage.visits.service",
    "visits": "engage.visits.trail_store",
    "visit_events": "engage.visits.trail_store",
    "visitor_messages": "engage.visits.contact_requests",
    "callback_requests": "engage.visits.contact_requests",
}

# The demo loader stands in for the CRM import and an admin's first setup: it bulk-loads
# these collections directly, in the owners' document shapes (never their indexes).
LOADERS: dict[str, frozenset[str]] = {
    "engage.demo.data": frozenset({"customers", "transactions", "interactions", "products",
                                   "sites", "queues", "meta"}),
    "engage.demo.knowledge": frozenset({"knowledge"}),
}

# Redis key family (see engage.keys) -> the module that writes it.
REDIS: dict[str, str] = {
    f"{keys.ACD_PREFIX}*": "engage.acd.store",
    f"{keys.CALL_PREFIX}*": "engage.calls.service",
    keys.chat_state("*"): "engage.chat.store",
    keys.session("*"): "engage.staff.sessions",
    keys.user_sessions("*"): "engage.staff.sessions",
    keys.socket_token("*"): "engage.staff.sessions",
    keys.login_failures_account("*"): "engage.staff.sessions",
    keys.login_failures_pair("*", "*"): "engage.staff.sessions",
    keys.login_failures_ip("*"): "engage.staff.sessions",
    keys.visitor_state("*"): "engage.visits.service",
    keys.visitor_active("*"): "engage.visits.service",
    keys.visitor_generation("*"): "engage.sites.visitor_tokens",
    keys.visitor_sockets("*"): "engage.visits.visitor_limits",
    keys.rate("*", "*"): "engage.infra.shared_rate",
    keys.invite("*"): "engage.visits.invites",
    keys.invite_pending("*"): "engage.visits.invites",
    keys.invites_shown("*", "*"): "engage.visits.invites",
    keys.invite_opt_out("*"): "engage.visits.invites",
    keys.invite_accepted("*"): "engage.visits.invites",
    keys.invite_converted("*"): "engage.visits.invites",
    keys.ANALYSIS_CURRENT: "engage.analysis.store",
    keys.analysis_offers("*"): "engage.analysis.store",
    keys.analysis_report("*"): "engage.analysis.store",
    keys.ANALYSIS_LOCK: "engage.analysis.worker",
    keys.ANALYSIS_DATA_VERSION: "engage.analysis.worker",
    keys.recorder_owner("*"): "signaling.recording.nodes",
    keys.trail_watchers("*"): "signaling.handlers.watch",
    f"{keys.QUOTA_PREFIX}*": "engage.infra.quota",
    keys.EVENTS_CHANNEL: "engage.bus",
    keys.SOCKETIO_CHANNEL: "signaling.fanout",
}
