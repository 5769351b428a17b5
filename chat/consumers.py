"""The websocket protocol (PROTOCOL.md): validate, authorize, dispatch. Nothing else.

Replies are streamed by the process's hub, not here: a consumer handles one
message at a time and dies with its tab, and a reply must outlive both.
Frames for the socket come from the hub (chat.fanout) into its inbox, not from
a channel of its own on the layer: within a process they skip the layer.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from accounts import status as account_status
from accounts.socket_auth import authenticate
from gateways.wire.codes import ChatError, is_retryable

from . import bounds, frames, paging, selectors, services
from .fanout import SocketInbox
from .groups import LAYER_LOST_CODE, conversation_group, user_group
from .hub import Hub, get_hub
from .socket_write import text_writer

log = logging.getLogger(__name__)
db = database_sync_to_async


class ChatConsumer(AsyncJsonWebsocketConsumer):
    hub: Hub

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Channels' consumer loop, with the hub's inbox in place of a layer channel per socket.

        Client messages and inbox messages are dispatched one at a time (a turn lock), as
        Channels does, so a frame never interleaves with a handler that is still running
        (a snapshot being built, a send being stored): it waits for its turn, in order.
        The user is read here (grokweb.socket_routing has no auth middleware): one coroutine fewer,
        suspended for the socket's whole life. A scope that already carries one keeps it.
        """
        if "user" not in scope:
            await authenticate(scope)
        self.scope = scope
        self.channel_layer = None  # the hub holds this process's layer channel
        self.base_send = send
        self.inbox = SocketInbox(self._take_turn, self._frame_at_once)
        self._turn = asyncio.Lock()
        self._write_text = text_writer(send)  # None unless served by daphne (chat.socket_write)
        self._frame_limit = settings.GROKWEB["MAX_FRAME_BYTES"]
        try:
            while True:
                await self._take_turn(await receive())
        except StopConsumer:
            pass
        finally:
            self.inbox.close()

    async def _take_turn(self, message: dict[str, Any]) -> None:
        async with self._turn:
            await self.dispatch(message)

    def _frame_at_once(self, message: dict[str, Any]) -> bool:
        """A reply's delta, straight onto the socket when nothing else has the turn (True), as `chat_frame` would.

        Most frames a reply streams reach a socket that is doing nothing else. Written here, in the
        publisher's step, it skips the turn lock, the dispatch, Channels' and daphne's send and
        autobahn's framing (chat.socket_write), the largest part of a frame's cost. Only when the
        turn is free (no handler running or waiting, so nothing to interleave with), only deltas
        (the end frames update `seen_seq`: `chat_frame` keeps that), and only a frame within the
        size bound; otherwise False and the frame takes its turn as always.
        """
        write = self._write_text
        turn = self._turn
        if write is None or turn.locked() or getattr(turn, "_waiters", None):
            return False
        frame = message["frame"]
        if frame["type"] != "message.delta":
            return False
        if self._has_delta(frame):
            return True  # this socket has it from a snapshot (chat_frame drops it too)
        data = _encode(frame)
        return len(data) <= self._frame_limit and write(data)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its thread hop per message.

        Channels runs `close_old_connections` in a worker thread before every handler, frames
        included: a thread hop per frame per socket, the largest per-frame cost in a profile of
        the relay. Every database call here goes through `database_sync_to_async`, which closes
        old connections in its own thread anyway, so the extra hop protects nothing.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    @classmethod
    async def encode_json(cls, content: dict[str, Any]) -> str:
        return _encode(content).decode()

    async def connect(self) -> None:
        user = self.scope.get("user")
        # 4401 not signed in, 4403 disabled, 4423 pending approval (accounts.status).
        refused = account_status.close_code(user)
        if refused is not None:
            # Accept first: a close before accept() is an HTTP 403 on the wire (daphne), and the
            # browser would never learn the code, so a tab whose session is gone would retry forever.
            await self.accept()
            await self.close(code=refused)
            return
        self.user = user
        self.conversations: set[str] | None = None  # made at the first join: an empty set is 216 bytes a socket
        self.seen_seq: dict[str, int] = {}
        self.hub = await get_hub()
        await self.hub.join(user_group(user.pk), self.inbox)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "user"):
            return
        await self.hub.leave(user_group(self.user.pk), self.inbox)
        for conversation in self.conversations or ():
            await self.hub.leave(conversation_group(conversation), self.inbox)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        request_id = None
        try:
            if len(raw.encode()) > settings.GROKWEB["MAX_FRAME_BYTES"]:
                request_id = frames.request_id_of(raw)
                raise ChatError("too_large", f"Frames are limited to {settings.GROKWEB['MAX_FRAME_BYTES']:,} bytes.")
            if frames.too_deep(raw):
                raise ChatError("bad_request", f"Frames nest at most {frames.MAX_DEPTH} levels deep.")
            try:
                data = json.loads(raw)
            except ValueError:
                raise ChatError("bad_request", "The frame is not valid JSON.") from None
            if isinstance(data, dict):
                request_id = data.get("request_id") if isinstance(data.get("request_id"), str) else None
            try:
                frame = frames.parse_frame(data)
            except frames.ValidationError as exc:
                raise ChatError("bad_request", frames.describe(exc)) from None
            await getattr(self, f"on_{frame.type}")(frame)
        except ChatError as exc:
            await self.send_error(exc.code, exc.detail, request_id, **exc.extra)
        except Exception:
            log.exception("websocket frame failed")
            await self.send_error("internal", "Something went wrong; nothing was changed.", request_id)

    async def send_error(self, code: str, detail: str, request_id: str | None = None, **extra: Any) -> None:
        frame = {"type": "error", "code": code, "detail": detail, **extra}
        if request_id:
            frame["request_id"] = request_id
        await self.send_json(frame)

    async def send_json(self, content: Any, close: bool = False) -> None:
        """Every frame out stays under MAX_FRAME_BYTES (chat.bounds): texts too long are cut and marked.

        Encoded once: a frame that fits (all but a rare huge one) is sent as encoded, and only one
        over the limit is measured and cut by chat.bounds.
        """
        limit = settings.GROKWEB["MAX_FRAME_BYTES"]
        data = _encode(content)
        if len(data) > limit:
            data = _encode(bounds.bound(content, limit))
        await self.send(text_data=data.decode(), close=close)

    # Client frames -------------------------------------------------------

    async def on_ping(self, frame: frames.Ping) -> None:
        await self.send_json({"type": "pong"})

    async def on_subscribe(self, frame: frames.Subscribe) -> None:
        found = await db(_stored_state)(self.user, frame.conversation)
        if found is None:
            raise ChatError("not_found", "That conversation does not exist.")
        conversation, page = found
        await self._join(str(conversation.id))
        # The running processes know more than the last checkpoints: ask them all at once.
        answers = await asyncio.gather(*(self.hub.snapshot(m.id, m.runner) for m in page.streaming))
        live = []
        for message, snap in zip(page.streaming, answers, strict=True):
            snap = snap or {"message": str(message.id), "content": message.content,
                            "reasoning": message.reasoning, "seq": message.live_seq}
            self.seen_seq[snap["message"]] = snap["seq"]
            live.append(snap)
        # The latest page of the branch; older pages over HTTP. send_json keeps it under the bound.
        await self.send_json({"type": "conversation.snapshot", **paging.snapshot_fields(conversation, page),
                              "live": live})

    async def on_send(self, frame: frames.Send) -> None:
        params = frame.params.model_dump(exclude_none=True) if frame.params else None
        start = partial(services.send, self.user, request_id=frame.request_id, conversation_id=frame.conversation,
                        content=frame.content, model_slug=frame.model, params=params,
                        system_prompt=frame.system_prompt, runner=self.hub.channel, attachments=frame.attachments or ())
        await self._start(start, str(frame.request_id))

    async def on_regenerate(self, frame: frames.Regenerate) -> None:
        start = partial(services.regenerate, self.user, request_id=frame.request_id, message_id=frame.message,
                        model_slug=frame.model, runner=self.hub.channel)
        await self._start(start, str(frame.request_id))

    async def on_edit(self, frame: frames.Edit) -> None:
        start = partial(services.edit, self.user, request_id=frame.request_id, message_id=frame.message,
                        content=frame.content, runner=self.hub.channel)
        await self._start(start, str(frame.request_id))

    async def on_stop(self, frame: frames.Stop) -> None:
        message = await db(services.stoppable)(self.user, frame.message)
        if message.status == message.Status.STREAMING:
            await self.hub.stop(message.id, message.runner)

    # Helpers -------------------------------------------------------------

    async def _join(self, conversation_id: str) -> None:
        if self.conversations is None:
            self.conversations = set()
        if conversation_id not in self.conversations:
            await self.hub.join(conversation_group(conversation_id), self.inbox)
            self.conversations.add(conversation_id)

    async def _start(self, start: Callable[[], services.Started], request_id: str) -> None:
        """Store, plan and launch in one database hop; the upstream call starts before the frames go out.

        The runner holds its first frame until `message.created` is out, so a
        tab never sees a delta for a message it has not been told about.
        """
        prepared = await db(_store_and_plan)(self.user, start, request_id)
        conversation_id = str(prepared.started.conversation.id)
        await self._join(conversation_id)
        if prepared.started.duplicate:  # answer the repeat, start nothing
            await self.send_json(prepared.created)
            return
        announced = asyncio.Event()
        if prepared.plan is not None:
            self.hub.launch(prepared.plan, announced)
        try:
            if prepared.conversation_frame is not None:
                await self._broadcast(user_group(self.user.pk), prepared.conversation_frame)
            await self._broadcast(conversation_group(conversation_id), prepared.created)
            if prepared.failed is not None:
                await self._broadcast(conversation_group(conversation_id), prepared.failed)
        finally:
            announced.set()

    async def _broadcast(self, group: str, frame: dict[str, Any]) -> None:
        await self.hub.publish(group, frame)

    # Layer events --------------------------------------------------------

    async def account_closed(self, event: dict[str, Any]) -> None:
        """Staff disabled this account (chat.receivers): close with its code (4403), on every tab."""
        await self.close(code=event["code"])

    async def layer_lost(self, event: dict[str, Any]) -> None:
        """This process missed frames while the channel layer was away: reconnect and resubscribe (a snapshot)."""
        await self.close(code=LAYER_LOST_CODE)

    def _has_delta(self, frame: dict[str, Any]) -> bool:
        """Whether this socket already has this delta's text, from the snapshot it was sent."""
        return bool(frame["seq"] <= self.seen_seq.get(frame["message"], 0))

    async def chat_frame(self, event: dict[str, Any]) -> None:
        """Forward a frame; drop deltas this socket already has from a snapshot."""
        frame = event["frame"]
        if frame["type"] == "message.delta":
            if self._has_delta(frame):
                return
        elif frame["type"] in ("message.done", "message.error"):
            self.seen_seq.pop(frame["message"], None)
        await self.send_json(frame)


def _encode(content: Any) -> bytes:
    """A frame as UTF-8 JSON."""
    try:
        return orjson.dumps(content)
    except TypeError:  # e.g. a lone surrogate a client escaped into its JSON: let json escape it
        return json.dumps(content).encode()


def _stored_state(user: Any, conversation_id: Any) -> tuple[Any, paging.BranchPage] | None:
    """Sync, one hop: the conversation and the latest page of its visible branch (with its streaming replies)."""
    conversation = selectors.conversation_for(user, conversation_id)
    if conversation is None:
        return None
    # Live text usually takes the place of the checkpoint it extends: keep a little room for it.
    return conversation, paging.branch_page(conversation, staff=user.is_staff, live_bytes=paging.LIVE_RESERVE)


@dataclass
class _Prepared:
    started: services.Started
    conversation_frame: dict[str, Any] | None
    created: dict[str, Any]
    plan: services.Plan | None = None
    failed: dict[str, Any] | None = None


def _store_and_plan(user: Any, start: Callable[[], services.Started], request_id: str) -> _Prepared:
    """Sync: store the messages, build the frames, plan the upstream call (or end the reply if it cannot start)."""
    started = start()
    conversation = None
    if started.new_conversation:
        conversation = {"type": "conversation.created",
                        "conversation": selectors.conversation_dict(started.conversation)}
    made = [m for m in (started.user_message, started.assistant_message) if m is not None]
    objects = paging.with_siblings(started.conversation, made)  # "‹ 2/3 ›" for edits and regenerations
    created = {
        "type": "message.created", "request_id": request_id, "conversation": str(started.conversation.id),
        "user_message": objects[0] if started.user_message else None,
        "assistant_message": objects[-1],
    }
    prepared = _Prepared(started, conversation, created)
    if started.duplicate:
        return prepared
    reply_id = started.assistant_message.id
    try:
        prepared.plan = services.plan(started.assistant_message, started.conversation, user, started.held)
    except ChatError as exc:
        services.fail_to_start(reply_id, exc.code, exc.detail)
        prepared.failed = {"type": "message.error", "message": str(reply_id), "code": exc.code,
                           "detail": exc.detail, "retryable": is_retryable(exc.code), "content": "", "usage": None,
                           **exc.extra}
    return prepared
