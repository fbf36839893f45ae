"""What the visitor-side HTTP routes use of the node's services, and nothing more."""

from __future__ import annotations

from dataclasses import dataclass

from engage.acd.gate import AccessGate
from engage.chat.attachments import AttachmentStore
from engage.chat.store import ChatStore
from engage.config import Settings
from engage.infra.client_address import ClientAddress
from engage.sites.registry import SiteRegistry
from engage.sites.visitor_tokens import VisitorAuth
from engage.visits.visitor_limits import VisitorQuota


@dataclass(frozen=True)
class WidgetDeps:
    settings: Settings
    sites: SiteRegistry
    visitor_auth: VisitorAuth
    visitor_quota: VisitorQuota
    addresses: ClientAddress
    access: AccessGate
    chat: ChatStore
    attachments: AttachmentStore
