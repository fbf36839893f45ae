"""The services of one node, built from settings and open backends (no web framework here)."""

from __future__ import annotations

from dataclasses import dataclass

from engage.acd.eventlog import EventLogWriter
from engage.acd.gate import AccessGate
from engage.acd.kpis import KpiService
from engage.acd.queues import QueueDirectory
from engage.acd.service import Acd, SilentNotifier
from engage.acd.store import AcdStore
from engage.analysis.campaigns import CampaignService
from engage.analysis.feedback import FeedbackService
from engage.analysis.store import AnalysisStore
from engage.analysis.suggestions import SuggestionService
from engage.calls.recordings import RecordingStore
from engage.chat.attachments import AttachmentStore
from engage.chat.store import ChatStore
from engage.chat.transcript_mail import TranscriptMailer
from engage.config import ConfigError, Settings
from engage.customers.ledger import LedgerService
from engage.customers.profiles import ProfileDirectory
from engage.desk.bulletin import BulletinService
from engage.desk.knowledge import KnowledgeService
from engage.infra.backends import Backends
from engage.infra.client_address import ClientAddress, parse_networks
from engage.infra.mailer import MailOutbox
from engage.infra.metrics import Metrics
from engage.infra.quota import Quotas
from engage.sites.registry import SiteRegistry
from engage.sites.visitor_tokens import VisitorAuth, VisitorTokens
from engage.staff.auth import AuthService
from engage.staff.directory import StaffDirectory
from engage.staff.passwords import PasswordChecks, PasswordHasher
from engage.staff.sessions import LoginThrottle, SessionStore
from engage.tasks import TaskSet
from engage.visits.contact_requests import ContactRequests
from engage.visits.invites import InviteService
from engage.visits.service import VisitService
from engage.visits.trail_store import TrailStore
from engage.visits.visitor_limits import VisitorLimits, VisitorQuota


@dataclass(frozen=True)
class Services:
    settings: Settings
    backends: Backends
    tasks: TaskSet  # the node's background tasks; the app closes it last
    metrics: Metrics
    staff: StaffDirectory
    sessions: SessionStore
    auth: AuthService
    sites: SiteRegistry
    visitor_tokens: VisitorTokens
    visitor_auth: VisitorAuth
    visitor_quota: VisitorQuota  # what one visitor, address or site may do, on every node
    queues: QueueDirectory
    acd: Acd
    access: AccessGate
    eventlog: EventLogWriter
    kpis: KpiService
    analysis: AnalysisStore
    suggestions: SuggestionService
    feedback: FeedbackService
    campaigns: CampaignService
    invites: InviteService
    chat: ChatStore
    attachments: AttachmentStore
    recordings: RecordingStore
    outbox: MailOutbox
    transcripts: TranscriptMailer
    trail: TrailStore
    visits: VisitService
    ledger: LedgerService
    knowledge: KnowledgeService
    bulletin: BulletinService
    contact_requests: ContactRequests
    addresses: ClientAddress  # the client's address of a request (trusted proxies applied)


def _visitor_limits(settings: Settings) -> VisitorLimits:
    try:
        return VisitorLimits.parse(settings.visitor_limits)
    except ValueError as exc:
        raise ConfigError(f"ENGAGE_VISITOR_LIMITS: {exc}") from None


def build_services(settings: Settings, backends: Backends,
                   hasher: PasswordHasher | None = None) -> Services:
    """``hasher``: the argon2 hasher to use (tests pass an instrumented one)."""
    metrics = Metrics()
    passwords = PasswordChecks(hasher, settings.password_workers,
                               on_check=metrics.password_checks.inc)
    staff = StaffDirectory(backends.db, passwords)
    sessions = SessionStore(backends.redis, settings.session_idle_seconds,
                            settings.session_absolute_seconds)
    throttle = LoginThrottle(backends.redis)
    tasks = TaskSet()
    store = AcdStore(backends.redis)
    queues = QueueDirectory(backends.db, store)
    acd = Acd(store, queues, staff, SilentNotifier(), node_id=settings.node_id, tasks=tasks,
              metrics=metrics,
              grace_seconds=settings.agent_grace_seconds,
              profiles=ProfileDirectory(backends.db))
    analysis = AnalysisStore(backends.db, backends.redis)
    suggestions = SuggestionService(analysis, backends.db)
    sites = SiteRegistry(backends.db, backends.redis, settings.public_origin)
    invites = InviteService(backends.db, backends.redis)
    trail = TrailStore(backends.db, tasks=tasks)
    chat = ChatStore(backends.db, backends.redis)
    tokens = VisitorTokens(settings.secret_key)
    quotas = Quotas(backends.redis)
    outbox = MailOutbox(backends.db, settings.smtp_url, settings.mail_from, tasks=tasks)
    return Services(
        settings=settings, backends=backends, tasks=tasks, metrics=metrics, staff=staff,
        sessions=sessions, auth=AuthService(staff, sessions, throttle, backends.redis),
        sites=sites,
        visitor_tokens=tokens, visitor_auth=VisitorAuth(tokens, backends.redis),
        queues=queues, acd=acd,
        visitor_quota=VisitorQuota(backends.redis, _visitor_limits(settings), settings.node_id,
                                   tasks=tasks),
        eventlog=EventLogWriter(backends.redis, backends.db, consumer=settings.node_id,
                                tasks=tasks),
        kpis=KpiService(backends.db), analysis=analysis, suggestions=suggestions,
        feedback=FeedbackService(backends.db, analysis, suggestions),
        campaigns=CampaignService(backends.db, analysis),
        invites=invites, trail=trail, access=AccessGate(acd, chat),
        visits=VisitService(backends.db, backends.redis, sites, acd, invites, suggestions,
                            trail),
        chat=chat,
        attachments=AttachmentStore(backends.db, settings.data_dir.resolve() / "attachments",
                                    max_bytes=settings.attachment_max_bytes,
                                    retention_days=settings.attachment_retention_days,
                                    tasks=tasks, quotas=quotas),
        recordings=RecordingStore(backends.db, settings.data_dir.resolve() / "recordings",
                                  retention_days=settings.recording_retention_days,
                                  tasks=tasks, node_id=settings.node_id),
        outbox=outbox, transcripts=TranscriptMailer(chat, outbox, quotas),
        ledger=LedgerService(backends.db, backends.redis, tasks=tasks),
        knowledge=KnowledgeService(backends.db, backends.redis),
        bulletin=BulletinService(backends.db, backends.redis),
        contact_requests=ContactRequests(backends.db),
        addresses=ClientAddress(parse_networks("ENGAGE_TRUSTED_PROXIES",
                                               settings.trusted_proxies)))
