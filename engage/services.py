"""The services of one node, built from settings and open backends (no web framework here)."""

from __future__ import annotations

from dataclasses import dataclass

from engage.acd import Acd, SilentNotifier
from engage.acd_store import AcdStore
from engage.analysis_store import AnalysisStore
from engage.attachments import AttachmentStore
from engage.auth import AuthService
from engage.backends import Backends
from engage.bulletin import BulletinService
from engage.campaigns import CampaignService
from engage.chat import ChatStore
from engage.config import Settings
from engage.eventlog import EventLogWriter
from engage.feedback import FeedbackService
from engage.invites import InviteService
from engage.knowledge import KnowledgeService
from engage.kpis import KpiService
from engage.ledger import LedgerService
from engage.mailer import MailOutbox
from engage.metrics import Metrics
from engage.profiles import ProfileDirectory
from engage.queues import QueueDirectory
from engage.recordings import RecordingStore
from engage.sessions import LoginThrottle, SessionStore
from engage.sites import SiteRegistry
from engage.staff import StaffDirectory
from engage.suggestions import SuggestionService
from engage.trail_store import TrailStore
from engage.visitors import VisitorTokens
from engage.visits import VisitService


@dataclass(frozen=True)
class Services:
    settings: Settings
    backends: Backends
    metrics: Metrics
    staff: StaffDirectory
    sessions: SessionStore
    auth: AuthService
    sites: SiteRegistry
    visitor_tokens: VisitorTokens
    queues: QueueDirectory
    acd: Acd
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
    trail: TrailStore
    visits: VisitService
    ledger: LedgerService
    knowledge: KnowledgeService
    bulletin: BulletinService


def build_services(settings: Settings, backends: Backends) -> Services:
    staff = StaffDirectory(backends.db)
    sessions = SessionStore(backends.redis, settings.session_idle_seconds,
                            settings.session_absolute_seconds)
    throttle = LoginThrottle(backends.redis)
    metrics = Metrics()
    store = AcdStore(backends.redis)
    queues = QueueDirectory(backends.db, store)
    acd = Acd(store, queues, staff, SilentNotifier(), node_id=settings.node_id, metrics=metrics,
              grace_seconds=settings.agent_grace_seconds,
              profiles=ProfileDirectory(backends.db))
    analysis = AnalysisStore(backends.db, backends.redis)
    suggestions = SuggestionService(analysis, backends.db)
    sites = SiteRegistry(backends.db, backends.redis, settings.public_origin)
    invites = InviteService(backends.db, backends.redis)
    trail = TrailStore(backends.db)
    return Services(
        settings=settings, backends=backends, metrics=metrics, staff=staff,
        sessions=sessions, auth=AuthService(staff, sessions, throttle, backends.redis),
        sites=sites,
        visitor_tokens=VisitorTokens(settings.secret_key), queues=queues, acd=acd,
        eventlog=EventLogWriter(backends.redis, backends.db, consumer=settings.node_id),
        kpis=KpiService(backends.db), analysis=analysis, suggestions=suggestions,
        feedback=FeedbackService(backends.db, analysis, suggestions),
        campaigns=CampaignService(backends.db, analysis),
        invites=invites, trail=trail,
        visits=VisitService(backends.db, backends.redis, sites, acd, invites, suggestions,
                            trail),
        chat=ChatStore(backends.db, backends.redis),
        attachments=AttachmentStore(backends.db, settings.data_dir.resolve() / "attachments",
                                    max_bytes=settings.attachment_max_bytes,
                                    retention_days=settings.attachment_retention_days),
        recordings=RecordingStore(backends.db, settings.data_dir.resolve() / "recordings",
                                  retention_days=settings.recording_retention_days,
                                  node_id=settings.node_id),
        outbox=MailOutbox(backends.db, settings.smtp_url, settings.mail_from),
        ledger=LedgerService(backends.db, backends.redis),
        knowledge=KnowledgeService(backends.db, backends.redis),
        bulletin=BulletinService(backends.db, backends.redis))
