"""Settings: parsing, precedence, validation messages, redaction, freezing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engage.config import ENV_VARS, ConfigError, flag_for, load, with_secret_key


def test_defaults_are_embedded_and_local() -> None:
    settings = load({})
    assert settings.redis_url is None and settings.mongo_url is None
    assert settings.host == "127.0.0.1" and settings.port == 8080
    assert settings.public_url == "http://127.0.0.1:8080"
    assert settings.stun_urls == ()


def test_flags_win_over_environment() -> None:
    settings = load({"ENGAGE_PORT": "9000"}, {"ENGAGE_PORT": "9100"})
    assert settings.port == 9100
    assert settings.public_url == "http://127.0.0.1:9100"


def test_settings_are_frozen() -> None:
    settings = load({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize("env, message", [
    ({"ENGAGE_PORT": "eighty"}, "ENGAGE_PORT: expected a whole number"),
    ({"ENGAGE_PORT": "70000"}, "ENGAGE_PORT: 70000 is outside 0..65535"),
    ({"ENGAGE_REDIS_URL": "localhost:6379"}, "ENGAGE_REDIS_URL: expected a URL"),
    ({"ENGAGE_MONGO_URL": "http://x"}, "ENGAGE_MONGO_URL: expected a URL"),
    ({"ENGAGE_LOG_JSON": "maybe"}, "ENGAGE_LOG_JSON: expected true/false"),
    ({"ENGAGE_TURN_URLS": "turn:t.example.test"}, "ENGAGE_TURN_SECRET: required"),
    ({"ENGAGE_CONNECT_TIMEOUT": "60"}, "ENGAGE_CONNECT_TIMEOUT: 60 is outside 1..15"),
    ({"ENGAGE_SESSION_IDLE": "7200", "ENGAGE_SESSION_ABSOLUTE": "3600"},
     "ENGAGE_SESSION_ABSOLUTE: must not be shorter"),
])
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(env)


def test_lists_and_public_url() -> None:
    settings = load({"ENGAGE_STUN_URLS": "stun:a.test:3478, stun:b.test:3478",
                     "ENGAGE_HOST": "0.0.0.0", "ENGAGE_PUBLIC_URL": "https://cc.example.test/x"})
    assert settings.stun_urls == ("stun:a.test:3478", "stun:b.test:3478")
    assert settings.public_origin == "https://cc.example.test"
    assert settings.cookie_secure is True


def test_redacted_hides_secrets_and_url_credentials() -> None:
    settings = load({"ENGAGE_SECRET_KEY": "s3cret", "ENGAGE_REDIS_URL": "redis://u:pw@r:6379/0",
                     "ENGAGE_TURN_URLS": "turn:t.test", "ENGAGE_TURN_SECRET": "tt"})
    shown = str(settings.redacted())
    assert "s3cret" not in shown and "pw" not in shown and "tt'" not in shown
    assert "redis://***@r:6379/0" in shown


def test_every_variable_has_a_flag() -> None:
    assert flag_for("ENGAGE_REDIS_URL") == "--redis-url"
    assert len({flag_for(v) for v in ENV_VARS}) == len(ENV_VARS)


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = with_secret_key(load({"ENGAGE_DATA_DIR": str(tmp_path)}))
    second = with_secret_key(load({"ENGAGE_DATA_DIR": str(tmp_path)}))
    assert len(first.secret_key) >= 48 and first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    given = with_secret_key(load({"ENGAGE_DATA_DIR": str(tmp_path),
                                  "ENGAGE_SECRET_KEY": "from-env"}))
    assert given.secret_key == "from-env"


@pytest.mark.parametrize("env_name", ["ENGAGE_REDIS_URL", "ENGAGE_MONGO_URL", "ENGAGE_SMTP_URL"])
def test_url_credentials_only_from_the_environment(env_name: str) -> None:
    scheme = {"ENGAGE_REDIS_URL": "redis", "ENGAGE_MONGO_URL": "mongodb",
              "ENGAGE_SMTP_URL": "smtp"}[env_name]
    with_password = f"{scheme}://user:hunter22@db.internal:1234"
    with pytest.raises(ConfigError, match=f"give it in \\${env_name}"):
        load({}, {env_name: with_password})
    assert load({env_name: with_password}) is not None  # the environment is not in `ps`
    assert load({}, {env_name: f"{scheme}://db.internal:1234"}) is not None


def test_metrics_and_source_map_settings() -> None:
    default = load({})
    assert default.metrics_allow == ("127.0.0.0/8", "::1/128") and default.metrics_token == ""
    assert default.serve_source_maps is False
    settings = load({"ENGAGE_METRICS_ALLOW": "10.0.0.5/8, 2001:db8::/32",
                     "ENGAGE_METRICS_TOKEN": "m" * 24, "ENGAGE_SERVE_SOURCE_MAPS": "1"})
    assert settings.metrics_allow == ("10.0.0.0/8", "2001:db8::/32")
    assert settings.serve_source_maps is True
    assert "m" * 24 not in str(settings.redacted())
    assert load({"ENGAGE_METRICS_ALLOW": "none"}).metrics_allow == ()
    with pytest.raises(ConfigError, match="ENGAGE_METRICS_ALLOW"):
        load({"ENGAGE_METRICS_ALLOW": "10.0.0.0/33"})
    with pytest.raises(ConfigError, match="ENGAGE_METRICS_TOKEN"):
        load({"ENGAGE_METRICS_TOKEN": "short"})


def test_socket_origin_follows_the_public_url() -> None:
    assert load({"ENGAGE_PUBLIC_URL": "https://e.example.test/x"}).socket_origin == \
        "wss://e.example.test"
    assert load({"ENGAGE_PUBLIC_URL": "http://127.0.0.1:8080"}).socket_origin == \
        "ws://127.0.0.1:8080"


def test_the_metrics_token_has_no_flag() -> None:
    """Like the secret key: a flag would show the token in `ps`."""
    from engage.cli import _parser

    with pytest.raises(SystemExit):
        _parser().parse_args(["serve", "--metrics-token", "m" * 24])
    assert _parser().parse_args(["serve", "--metrics-allow", "10.0.0.0/8"])
