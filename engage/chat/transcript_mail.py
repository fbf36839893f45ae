"""Transcripts mailed at a visitor's request: answered conversations only, one address, capped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from engage import keys
from engage.acd.interaction import Interaction
from engage.chat.store import ChatStore
from engage.errors import EngageError
from engage.infra.mailer import MailOutbox, check_address
from engage.infra.quota import Claim, Quotas, rest_of_day

SUBJECT = "Your chat transcript"
# A conversation's own cap outlives the conversation: the visitor may ask for its
# transcript after it ended (the access policy's visitor_tools in every state).
CONVERSATION_WINDOW_S = 30 * 24 * 3600


class NotAnswered(EngageError):
    """A transcript can be mailed once an agent has joined the conversation."""

    code = "not_answered"
    http_status = 409


class MailLimited(EngageError):
    """No more transcript mail for now."""

    code = "mail_limited"
    http_status = 429
    retriable = True


@dataclass(frozen=True)
class TranscriptLimits:
    """Sends per conversation (all to its first address), per visitor and per site per UTC day."""

    per_conversation: int = 3
    per_visitor_day: int = 5
    per_site_day: int = 500


_MESSAGES = {
    "address": "This conversation's transcript goes only to the address it was first sent to.",
    "conversation": "This conversation's transcript has been mailed as often as allowed.",
    "visitor": "You have asked for as many transcripts as allowed today.",
    "site": "Transcripts cannot be mailed right now; download it instead.",
}


class TranscriptMailer:
    """The company's mail server sends what a visitor typed to an address the visitor chose:
    so only after an agent took part, one address per conversation, a few sends, and daily
    caps per visitor and per site, reserved before the mail is queued."""

    def __init__(self, chat: ChatStore, outbox: MailOutbox, quotas: Quotas,
                 limits: TranscriptLimits | None = None) -> None:
        self._chat = chat
        self._outbox = outbox
        self._quotas = quotas
        self.limits = limits or TranscriptLimits()

    async def send(self, live: Interaction, visitor_id: str, email: str) -> str:
        """Queue the transcript of ``live`` (which the access policy let ``visitor_id`` use)
        to ``email``; returns the mail id."""
        check_address(email)
        record = await self._chat.conversation(live.id)
        agents = record.get("agents") if record is not None else None
        if not live.answered_ms and not agents:
            raise NotAnswered()
        site = live.site or str((record or {}).get("site") or "") or "-"
        now = datetime.now(UTC)
        day, window = now.strftime("%Y-%m-%d"), rest_of_day(now)
        limits = self.limits
        # The conversation's claim (with its address pin) last: a refusal by the daily caps
        # then pins no address.
        claims = [
            Claim(keys.quota_transcript_visitor(day, visitor_id), {"sends": 1},
                  {"sends": limits.per_visitor_day}, window, scope="visitor"),
            Claim(keys.quota_transcript_site(day, site), {"sends": 1},
                  {"sends": limits.per_site_day}, window, scope="site"),
            Claim(keys.quota_transcript_conversation(live.id), {"sends": 1},
                  {"sends": limits.per_conversation}, CONVERSATION_WINDOW_S,
                  pin=("to", email.lower()), scope="conversation"),
        ]
        refusal = await self._quotas.reserve(claims)
        if refusal is not None:
            scope = "address" if refusal.field == "to" else refusal.claim.scope
            if scope == "address":
                raise MailLimited(_MESSAGES[scope], scope=scope)
            raise MailLimited(_MESSAGES[scope], scope=scope, retry_after=refusal.retry_after)
        try:
            body = await self._chat.transcript_text(live.id)
            return await self._outbox.enqueue(email, SUBJECT, body, kind="transcript",
                                              ref=live.id)
        except BaseException:
            # Not queued (outbox full, database down): the visitor's sends are not used up.
            await self._quotas.release(claims)
            raise
