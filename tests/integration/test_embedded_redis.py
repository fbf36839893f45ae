"""The embedded Redis asks for a password: generated once per data dir, never on a command line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import AuthenticationError, ResponseError

from engage.infra.embedded import EmbeddedRedis


async def test_embedded_redis_refuses_clients_without_its_password(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis", persist=False)
    server.start()
    try:
        assert server.password and server.password in server.url
        assert server.password not in server.display_url
        assert process_args(server), "the child is running"
        assert all(server.password not in arg for arg in process_args(server))
        secret = tmp_path / "redis" / "redis.secret"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600

        anonymous = aioredis.Redis(host=server.host, port=server.port)
        try:
            with pytest.raises((AuthenticationError, ResponseError), match=r"(?i)auth"):
                await anonymous.set("k", "v")
        finally:
            await anonymous.aclose()
        client = aioredis.from_url(server.url)
        try:
            assert await client.set("k", "v") is True
        finally:
            await client.aclose()
    finally:
        server.stop()
    # The same data dir keeps its password (a restarted node's clients still connect).
    assert EmbeddedRedis(tmp_path / "redis", persist=False).password == server.password


def process_args(server: EmbeddedRedis) -> list[str]:
    assert server.process is not None
    raw = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
    return [part.decode() for part in raw.split(b"\0") if part]
