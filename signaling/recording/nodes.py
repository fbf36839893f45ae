"""Which node runs each recorded call's server peer; this node's peers; signals forwarded."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import redis.asyncio as aioredis
from aiortc import RTCConfiguration

from engage import bus, keys
from engage.acd.gate import Interactions
from engage.calls.recordings import RecordingStore
from engage.calls.service import Call, CallRefused, CallService
from engage.errors import EngageError, NotFound
from engage.infra.redis_text import as_text
from engage.tasks import TaskSet
from signaling.recording.file import CallRecording
from signaling.recording.offer import check_offer
from signaling.recording.peer import RecordedCall

log = logging.getLogger("engage.recorder")

# The first node to take a signal of a recorded call runs its peer; it keeps the claim
# alive while it records, so a node that died frees its calls within OWNER_TTL seconds.
OWNER_TTL = 30
HEARTBEAT_SECONDS = 10
FORWARD_TIMEOUT = 20.0  # an answer needs ICE gathering on the owner
MAX_REMEMBERED = 1000
REQUEST, REPLY, STOP = "recorder.request", "recorder.reply", "recorder.stop"

Push = Callable[[Call, str, str, dict[str, Any]], Awaitable[None]]


class RecorderUnavailable(EngageError):
    """The node recording this call did not answer; try again."""

    code = "recorder_unavailable"
    http_status = 503
    retriable = True


class ForwardedRefusal(EngageError):
    """A refusal the owning node gave, passed on with its code and details."""

    def __init__(self, ack: dict[str, Any]) -> None:
        details = {k: v for k, v in ack.items() if k not in ("ok", "code", "message")}
        super().__init__(str(ack.get("message") or "refused"), **details)
        self.code = str(ack.get("code") or "internal")


class RecorderDirectory:
    """This node's recorded calls, and the way to the node that records any other."""

    def __init__(self, redis: aioredis.Redis, calls: CallService, store: RecordingStore,
                 interactions: Interactions, node_id: str, push: Push, *, tasks: TaskSet,
                 configuration: RTCConfiguration | None = None) -> None:
        self._redis = redis
        self._calls = calls
        self._store = store
        self._interactions = interactions
        self._node = node_id
        self._push = push
        self._configuration = configuration
        self._local: dict[str, tuple[Call, RecordedCall]] = {}
        self._creating = asyncio.Lock()
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._stopped: dict[str, asyncio.Event] = {}
        self._task_set = tasks
        self._tasks: set[asyncio.Task[Any]] = set()  # ours among them: stop() waits for them
        self._heartbeat: asyncio.Task[None] | None = None

    def listen(self, listener: bus.EventListener) -> None:
        listener.on(REQUEST, self._on_request)
        listener.on(REPLY, self._on_reply)
        listener.on(STOP, self._on_stop)

    def local(self, call_id: str) -> RecordedCall | None:
        entry = self._local.get(call_id)
        return entry[1] if entry else None

    async def start(self) -> None:
        if self._heartbeat is None:
            self._heartbeat = self._task_set.every(HEARTBEAT_SECONDS, self._beat,
                                                   name="recorder-heartbeat")

    async def stop(self) -> None:
        """Finish every local recording (the node goes away, and their media with it)."""
        task, self._heartbeat = self._heartbeat, None
        await self._task_set.cancel(task)
        for call_id in list(self._local):
            await self._finish_local(call_id)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Future[Any]:
        task = self._task_set.spawn(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _finishing(self, call_id: str) -> asyncio.Future[Any]:
        """Finishes the call's local recording in a task of its own: a caller that is
        cancelled (a socket handler, the heartbeat when the node stops) cannot leave the file
        half closed, and ``stop()`` waits for it."""
        return asyncio.shield(self._spawn(self._finish_local(call_id), "recorder-finish"))

    # -- signals -----------------------------------------------------------------------------
    async def signal(self, call: Call, side: str, kind: str, sdp: str | None,
                     candidate: dict[str, Any] | None) -> None:
        """Apply one side's signal to the call's server peer, wherever it runs."""
        owner = await self._owner(call.call_id)
        if owner == self._node:
            await self._apply(call, side, kind, sdp, candidate)
        else:
            await self._forward(owner, call, side, kind, sdp, candidate)

    async def _owner(self, call_id: str) -> str:
        key = keys.recorder_owner(call_id)
        for _ in range(3):  # a claim may expire between SET NX and GET
            await self._redis.set(key, self._node, nx=True, ex=OWNER_TTL)
            owner = await self._redis.get(key)
            if owner is not None:
                return as_text(owner)
        raise RecorderUnavailable()

    async def _apply(self, call: Call, side: str, kind: str, sdp: str | None,
                     candidate: dict[str, Any] | None) -> None:
        if kind == "offer":
            assert sdp is not None
            check_offer(sdp)  # before a peer (and a file) exists for it
            recorder = await self._recorder(call)
            answer = await recorder.offer(side, sdp)
            await self._push(call, side, "call.signal",
                             {"from": "server", "kind": "answer", "sdp": answer})
        elif kind == "ice":
            await (await self._recorder(call)).candidate(side, candidate)
        # "restart" needs nothing here: the side restarts ICE with a fresh offer.

    async def _recorder(self, call: Call) -> RecordedCall:
        async with self._creating:
            entry = self._local.get(call.call_id)
            if entry is not None:
                return entry[1]

            async def open_recording() -> CallRecording:
                return await self._open_recording(call)
            recorder = RecordedCall(call.call_id, open_recording, self._configuration)
            self._local[call.call_id] = (call, recorder)
        # Listed first, checked after: a hang-up from now on finds the recorder and closes
        # it, and one that came before shows here. Checked first, a hang-up between check
        # and listing would look for it in vain, and the recording would run on unseen.
        try:
            active = (await self._calls.get(call.call_id)).active
        except NotFound:
            active = False
        if not active:
            await self._finishing(call.call_id)
            raise CallRefused("call_ended")
        return recorder

    async def _open_recording(self, call: Call) -> CallRecording:
        live = await self._interactions.interaction(call.interaction)
        video = call.media == "video"
        rec_id, path = await self._store.begin(
            call=call.call_id, interaction=call.interaction, queue=live.queue if live else "",
            agent=call.agent, visitor=call.visitor, media=call.media,
            content_type="video/webm" if video else "audio/ogg")
        comments = {"title": f"{call.call_id} ({call.interaction})", "engage_call":
                    call.call_id, "engage_recording": rec_id,
                    "channels": "left=agent right=visitor"}
        return await asyncio.to_thread(CallRecording, path, video=video, comments=comments,
                                       recording_id=rec_id)

    async def _forward(self, owner: str, call: Call, side: str, kind: str, sdp: str | None,
                       candidate: dict[str, Any] | None) -> None:
        request = secrets.token_hex(8)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[request] = future
        try:
            await bus.publish(self._redis, REQUEST, node=owner, origin=self._node, id=request,
                              call=call.call_id, side=side, kind=kind, sdp=sdp,
                              candidate=candidate)
            ack = await asyncio.wait_for(future, FORWARD_TIMEOUT)
        except TimeoutError:
            raise RecorderUnavailable() from None
        finally:
            self._replies.pop(request, None)
        if not ack.get("ok"):
            raise ForwardedRefusal(ack)

    async def _on_request(self, event: dict[str, Any]) -> None:
        if event.get("node") == self._node:
            # The bus loop must not wait for ICE gathering.
            self._spawn(self._serve(event), "recorder-serve")

    async def _serve(self, event: dict[str, Any]) -> None:
        try:
            call = await self._calls.get(str(event["call"]))
            if not call.active:
                raise CallRefused("call_ended")
            await self._apply(call, str(event["side"]), str(event["kind"]), event.get("sdp"),
                              event.get("candidate"))
            ack: dict[str, Any] = {"ok": True}
        except EngageError as exc:
            ack = exc.to_ack()
        except Exception:
            log.exception("a forwarded call signal failed", extra={"call": event.get("call")})
            ack = {"ok": False, "code": "internal", "message": "the recorder failed"}
        await bus.publish(self._redis, REPLY, node=event.get("origin"), id=event.get("id"),
                          ack=ack)

    async def _on_reply(self, event: dict[str, Any]) -> None:
        future = self._replies.get(str(event.get("id"))) if event.get("node") == self._node \
            else None
        if future is not None and not future.done():
            future.set_result(dict(event.get("ack") or {}))

    # -- the end ---------------------------------------------------------------------------------
    async def finish(self, call: Call) -> None:
        """The call ended: its recording stops here, or on the node that records it."""
        if call.call_id in self._local:
            await self._finishing(call.call_id)
            return
        owner = await self._redis.get(keys.recorder_owner(call.call_id))
        if owner is not None:
            await bus.publish(self._redis, STOP, node=as_text(owner), call=call.call_id)

    async def _on_stop(self, event: dict[str, Any]) -> None:
        if event.get("node") == self._node and str(event.get("call")) in self._local:
            self._spawn(self._finish_local(str(event["call"])), "recorder-finish")

    async def _finish_local(self, call_id: str) -> None:
        entry = self._local.pop(call_id, None)
        if entry is None:
            return
        call, recorder = entry
        try:
            media = await recorder.close()
            if media is not None:
                await self._store.complete(media.recording_id, duration_ms=media.duration_ms,
                                           size=media.size)
                await self._calls.log(call, "recorded", "system",
                                      recording=media.recording_id,
                                      duration_ms=media.duration_ms, size=media.size)
                log.info("recording finished", extra={
                    "call": call_id, "recording": media.recording_id,
                    "duration_ms": media.duration_ms, "size": media.size})
        except Exception:
            log.exception("finishing a recording failed", extra={"call": call_id})
        finally:
            await self._redis.delete(keys.recorder_owner(call_id))
            self._stopped.setdefault(call_id, asyncio.Event()).set()
            while len(self._stopped) > MAX_REMEMBERED:  # only recent ends are waited for
                del self._stopped[next(iter(self._stopped))]

    async def wait_finished(self, call_id: str) -> None:
        """Until this node finished the call's recording (tests, benches)."""
        await self._stopped.setdefault(call_id, asyncio.Event()).wait()

    async def _beat(self) -> None:
        """Keep this node's claims alive; finish recordings whose call ended unnoticed (a
        stop message lost while Redis reconnected, a call that expired)."""
        for call_id in list(self._local):
            try:
                try:
                    active = (await self._calls.get(call_id)).active
                except NotFound:
                    active = False
                if active:
                    await self._redis.expire(keys.recorder_owner(call_id), OWNER_TTL)
                else:
                    await self._finishing(call_id)
            except Exception:  # one call's failure must not skip the others
                log.exception("recorder heartbeat failed", extra={"call": call_id})
