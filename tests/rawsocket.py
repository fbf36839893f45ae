"""A raw Engine.IO v4 / Socket.IO v5 client over a websocket, for sending hostile packets."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson


class Closed(Exception):
    """The server closed the connection."""


class RawSocket:
    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http = http
        self.ws = ws

    @classmethod
    async def open(cls, url: str, origin: str | None = None) -> RawSocket:
        http = aiohttp.ClientSession()
        headers = {"Origin": origin} if origin else {}
        try:
            ws = await http.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket",
                                       headers=headers, max_msg_size=0)
        except Exception:
            await http.close()
            raise
        sock = cls(http, ws)
        opening = await sock.recv()
        assert opening.startswith("0{"), opening
        return sock

    async def recv(self, timeout: float = 10) -> str:
        """The next Socket.IO-level text frame; answers Engine.IO pings on the way."""
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), timeout)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                            aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                raise Closed(str(msg.extra))
            text = str(msg.data)
            if text == "2":
                await self.ws.send_str("3")
                continue
            return text

    async def send(self, frame: str) -> None:
        await self.ws.send_str(frame)

    async def join(self, namespace: str, auth: dict[str, Any] | None = None) -> str:
        body = orjson.dumps(auth).decode() if auth is not None else ""
        await self.send(f"40{namespace},{body}")
        reply = await self.recv()
        return reply

    async def event(self, namespace: str, ack_id: int, *args: Any) -> None:
        await self.send(f"42{namespace},{ack_id}{orjson.dumps(list(args)).decode()}")

    async def ack(self, namespace: str, ack_id: int) -> Any:
        """Wait for the ack with this id; other frames (events) are skipped."""
        prefix = f"43{namespace},{ack_id}"
        while True:
            frame = await self.recv()
            if frame.startswith(prefix):
                return orjson.loads(frame[len(prefix):])[0]

    async def next_event(self, namespace: str) -> list[Any]:
        prefix = f"42{namespace},"
        while True:
            frame = await self.recv()
            if frame.startswith(prefix):
                return list(orjson.loads(frame[len(prefix):]))

    async def wait_closed(self, timeout: float = 10) -> None:
        """Returns once the server has closed the connection (frames before that are read)."""
        try:
            while True:
                await self.recv(timeout)
        except Closed:
            return

    async def close(self) -> None:
        await self.ws.close()
        await self.http.close()
