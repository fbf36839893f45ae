"""Server settings read once from ``ENGAGE_*`` variables and flags, then frozen."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from engage.infra.client_address import parse_networks


class ConfigError(ValueError):
    """A setting has a value engage cannot use; the message names the variable."""


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true/false, got {raw!r}")


def _parse_int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: {value} is outside {low}..{high}")
    return value


def _parse_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _parse_networks(name: str, raw: str) -> tuple[str, ...]:
    if raw.strip().lower() == "none":
        return ()
    try:
        return tuple(str(network) for network in parse_networks(name, _parse_list(raw)))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _check_url(name: str, raw: str, schemes: tuple[str, ...]) -> str:
    scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
    if scheme not in schemes:
        raise ConfigError(f"{name}: expected a URL starting with {' or '.join(schemes)}")
    return raw


@dataclass(frozen=True)
class Settings:
    """Everything a node needs to start; immutable once read."""

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = field(default_factory=lambda: Path("var"))
    redis_url: str | None = None
    mongo_url: str | None = None
    mongo_db: str = "engage"
    public_url: str = ""
    secret_key: str = ""
    stun_urls: tuple[str, ...] = ()  # none by default: no third party learns who talks
    turn_urls: tuple[str, ...] = ()
    turn_secret: str = ""
    turn_ttl_seconds: int = 3600
    session_idle_seconds: int = 30 * 60
    session_absolute_seconds: int = 12 * 3600
    connect_timeout_seconds: int = 10
    redis_max_connections: int = 64
    agent_grace_seconds: int = 30  # a vanished agent's work waits this long before requeue
    socket_rate: int = 20  # events per second per socket, sustained
    socket_burst: int = 40
    visitor_limits: str = ""  # overrides of engage.visits.visitor_limits: "chat=20/30,..."
    attachment_max_bytes: int = 5 * 1024 * 1024
    attachment_retention_days: int = 90
    recording_retention_days: int = 90  # call recordings, files and documents alike
    smtp_url: str = ""  # smtp://[user:password@]host[:port]; empty: transcripts stay in the outbox
    mail_from: str = "engage@localhost"
    # /metrics: to peers in these networks (not through a proxy), or with this bearer token.
    metrics_allow: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    metrics_token: str = ""
    serve_source_maps: bool = False  # static/dist/*.map are built, but served only on request
    log_level: str = "INFO"
    log_json: bool = True
    node_id: str = ""
    trusted_proxies: tuple[str, ...] = ()  # networks whose X-Forwarded-For is believed
    password_workers: int = 0  # argon2 checks at a time; 0: half the CPUs, at least 1

    @property
    def cookie_secure(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def public_origin(self) -> str:
        scheme, _, rest = self.public_url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"

    @property
    def socket_origin(self) -> str:
        """The websocket origin of ``public_url`` (``wss`` under https), for CSP connect-src."""
        scheme, _, rest = self.public_origin.partition("://")
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}"

    def redacted(self) -> dict[str, object]:
        """Settings safe to log: secrets and credentials in URLs are hidden."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("secret_key", "turn_secret", "metrics_token"):
                value = "***" if value else ""
            elif f.name in ("redis_url", "mongo_url", "smtp_url") and value and "@" in value:
                scheme, _, rest = value.partition("://")
                value = f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


# Environment variable -> (field, parser). Flags use the same names in lower-kebab case.
def _parsers() -> dict[str, tuple[str, Any]]:
    return {
        "ENGAGE_HOST": ("host", lambda n, v: v),
        "ENGAGE_PORT": ("port", lambda n, v: _parse_int(n, v, 0, 65535)),
        "ENGAGE_DATA_DIR": ("data_dir", lambda n, v: Path(v)),
        "ENGAGE_REDIS_URL": (
            "redis_url", lambda n, v: _check_url(n, v, ("redis", "rediss", "unix"))),
        "ENGAGE_MONGO_URL": (
            "mongo_url", lambda n, v: _check_url(n, v, ("mongodb", "mongodb+srv"))),
        "ENGAGE_MONGO_DB": ("mongo_db", lambda n, v: v),
        "ENGAGE_PUBLIC_URL": ("public_url", lambda n, v: _check_url(n, v, ("http", "https"))),
        "ENGAGE_SECRET_KEY": ("secret_key", lambda n, v: v),
        "ENGAGE_STUN_URLS": ("stun_urls", lambda n, v: _parse_list(v)),
        "ENGAGE_TURN_URLS": ("turn_urls", lambda n, v: _parse_list(v)),
        "ENGAGE_TURN_SECRET": ("turn_secret", lambda n, v: v),
        "ENGAGE_TURN_TTL": ("turn_ttl_seconds", lambda n, v: _parse_int(n, v, 60, 86400)),
        "ENGAGE_SESSION_IDLE": ("session_idle_seconds", lambda n, v: _parse_int(n, v, 60, 86400)),
        "ENGAGE_SESSION_ABSOLUTE": (
            "session_absolute_seconds", lambda n, v: _parse_int(n, v, 300, 7 * 86400)),
        "ENGAGE_CONNECT_TIMEOUT": (
            "connect_timeout_seconds", lambda n, v: _parse_int(n, v, 1, 15)),
        "ENGAGE_REDIS_MAX_CONNECTIONS": (
            "redis_max_connections", lambda n, v: _parse_int(n, v, 4, 10000)),
        "ENGAGE_AGENT_GRACE": ("agent_grace_seconds", lambda n, v: _parse_int(n, v, 0, 3600)),
        "ENGAGE_SOCKET_RATE": ("socket_rate", lambda n, v: _parse_int(n, v, 1, 100_000)),
        "ENGAGE_SOCKET_BURST": ("socket_burst", lambda n, v: _parse_int(n, v, 1, 100_000)),
        "ENGAGE_VISITOR_LIMITS": ("visitor_limits", lambda n, v: v),
        "ENGAGE_ATTACHMENT_MAX_BYTES": (
            "attachment_max_bytes", lambda n, v: _parse_int(n, v, 1024, 100 * 1024 * 1024)),
        "ENGAGE_ATTACHMENT_RETENTION_DAYS": (
            "attachment_retention_days", lambda n, v: _parse_int(n, v, 1, 3650)),
        "ENGAGE_RECORDING_RETENTION_DAYS": (
            "recording_retention_days", lambda n, v: _parse_int(n, v, 1, 3650)),
        "ENGAGE_SMTP_URL": ("smtp_url", lambda n, v: _check_url(n, v, ("smtp", "smtps"))),
        "ENGAGE_MAIL_FROM": ("mail_from", lambda n, v: v),
        "ENGAGE_METRICS_ALLOW": ("metrics_allow", _parse_networks),
        "ENGAGE_METRICS_TOKEN": ("metrics_token", lambda n, v: v),
        "ENGAGE_SERVE_SOURCE_MAPS": ("serve_source_maps", _parse_bool),
        "ENGAGE_LOG_LEVEL": ("log_level", lambda n, v: v.upper()),
        "ENGAGE_LOG_JSON": ("log_json", _parse_bool),
        "ENGAGE_NODE_ID": ("node_id", lambda n, v: v),
        "ENGAGE_TRUSTED_PROXIES": ("trusted_proxies", _parse_networks),
        "ENGAGE_PASSWORD_WORKERS": (
            "password_workers", lambda n, v: _parse_int(n, v, 0, 64)),
    }


ENV_VARS = tuple(_parsers())


# Settings holding URLs that may carry credentials (user:password@).
URL_SETTINGS = frozenset({"ENGAGE_REDIS_URL", "ENGAGE_MONGO_URL", "ENGAGE_SMTP_URL"})


def _has_credentials(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.password is not None or "@" in parts.netloc


def flag_for(env_name: str) -> str:
    """``ENGAGE_REDIS_URL`` -> ``--redis-url``."""
    return "--" + env_name.removeprefix("ENGAGE_").lower().replace("_", "-")


def load(env: Mapping[str, str], flags: Mapping[str, str | None] | None = None) -> Settings:
    """Build settings from the environment, flags winning over variables; no I/O."""
    values: dict[str, Any] = {}
    parsers = _parsers()
    for env_name, (attr, parse) in parsers.items():
        raw = env.get(env_name)
        if flags and flags.get(env_name) is not None:
            raw = flags[env_name]
            if env_name in URL_SETTINGS and raw and _has_credentials(raw):
                raise ConfigError(f"{flag_for(env_name)}: a URL with credentials would show "
                                  f"in `ps`; give it in ${env_name} instead")
        if raw is None or raw == "":
            continue
        values[attr] = parse(env_name, raw)
    settings = Settings(**values)
    if settings.turn_urls and not settings.turn_secret:
        raise ConfigError("ENGAGE_TURN_SECRET: required when ENGAGE_TURN_URLS is set")
    if settings.metrics_token and len(settings.metrics_token) < 24:
        raise ConfigError("ENGAGE_METRICS_TOKEN: use at least 24 characters")
    if settings.session_absolute_seconds < settings.session_idle_seconds:
        raise ConfigError("ENGAGE_SESSION_ABSOLUTE: must not be shorter than ENGAGE_SESSION_IDLE")
    if not settings.public_url:
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        settings = replace(settings, public_url=f"http://{host}:{settings.port}")
    if not settings.node_id:
        settings = replace(settings, node_id=f"{socket.gethostname()}-{os.getpid()}")
    return settings


def with_secret_key(settings: Settings) -> Settings:
    """Use the configured key, or one kept in the data dir so tokens survive restarts."""
    if settings.secret_key:
        return settings
    path = settings.data_dir / "secret_key"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return replace(settings, secret_key=path.read_text().strip())
