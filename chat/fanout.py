"""Frames to the tabs that follow a group: the ones in this process directly, the others over the layer.

Each socket has an inbox (an asyncio.Queue its consumer reads in order, one message at a
time). A frame published here goes straight into the inboxes of this process's sockets in
that group, and once through the channel layer for the other web processes, whose hubs put
it into theirs. A process joins a layer group once, with its hub's channel, while at least
one of its sockets follows that group, so a frame costs one layer message per process, not
one per socket, and none at all with the in-memory layer (there is no other process).

The layer may be away for a while (Redis restarting): a frame that cannot go through it
still reaches this process's sockets, and the failure is noted (`troubled`) so the hub,
once the layer is back, rejoins its groups and has its sockets reconnect (chat.hub).

Messages sent to a group from outside a hub (a Celery worker's title, a disabled account)
carry the group's name (`groups.layer_message`), so the receiving hub knows whose inboxes
they are for.
"""
from __future__ import annotations

import asyncio
import logging
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, Protocol

from channels.layers import InMemoryChannelLayer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .groups import FRAME

log = logging.getLogger(__name__)
LAYER_TIMEOUT_S = 10.0  # a layer call that takes longer is a layer that is away
LAYER_DOWN: tuple[type[BaseException], ...] = (OSError, TimeoutError, RedisConnectionError, RedisTimeoutError)


class Inbox(Protocol):
    """Where a socket's layer-shaped messages ({"type": ..., ...}) go: an asyncio.Queue will do."""

    def put_nowait(self, item: dict[str, Any], /) -> None: ...


class SocketInbox:
    """A socket's inbox: messages handed one at a time, in order, to `deliver`.

    The task that hands them over runs only while some are waiting, and the queue exists only
    then too: an idle socket (most of them, most of the time) holds neither. An asyncio.Queue and
    a reader task per socket were a few KiB of every open socket.
    """

    __slots__ = ("_at_once", "_closed", "_deliver", "_step", "_task", "_waiting")

    def __init__(self, deliver: Callable[[dict[str, Any]], Coroutine[Any, Any, None]],
                 at_once: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """`at_once(frame_message)`: hands a frame over without `deliver`, synchronously, if it can (True);
        False if it did nothing (then `deliver` does it)."""
        self._deliver = deliver
        self._at_once = at_once
        self._waiting: deque[dict[str, Any]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._step: Coroutine[Any, Any, None] | None = None  # a frame begun at once, for the task to go on with
        self._closed = False

    def put_nowait(self, item: dict[str, Any], /) -> None:
        if self._closed:
            return  # the socket is gone: a frame published as it left has nobody to go to
        if self._task is None and not self._waiting and item.get("type") == FRAME:
            if self._at_once is not None:
                try:
                    if self._at_once(item):
                        return
                except Exception:  # as in _hand_over: one frame that fails must not end the socket's frames
                    log.exception("delivering a frame to a socket failed")
                    return
            self._deliver_now(item)
            return
        if self._waiting is None:
            self._waiting = deque()
        self._waiting.append(item)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._hand_over())

    def _deliver_now(self, item: dict[str, Any]) -> None:
        """A frame to an idle socket: handed over in the publisher's step, not in a task of its own.

        A frame's hand-over (the consumer's turn, its `chat_frame`, daphne's send) normally completes
        without waiting for anything, and a task per frame cost a task and a loop iteration per frame
        per socket. If it does wait (the consumer is busy with a handler, or a send yields), the rest
        of it becomes the inbox's task, and frames that come meanwhile queue behind it as always.
        Only frames: their handler touches no database, so running in the publisher's context is safe.
        """
        step = self._deliver(item)
        try:
            waiting_on = step.send(None)
        except StopIteration:
            return
        except Exception:  # as in _hand_over: one frame that fails must not end the socket's frames
            log.exception("delivering a %s to a socket failed", item.get("type"))
            return
        self._waiting = deque()
        self._step = step
        self._task = asyncio.get_running_loop().create_task(self._hand_over(_go_on(step, waiting_on)))

    async def _hand_over(self, first: Awaitable[None] | None = None) -> None:
        waiting = self._waiting
        self._step = None  # the task has it now (a cancellation reaches it through `first`)
        try:
            if first is not None:
                try:
                    await first
                except Exception:
                    log.exception("delivering a frame to a socket failed")
            while waiting:
                message = waiting.popleft()
                try:
                    await self._deliver(message)
                except Exception:  # one frame that fails to go out must not end the socket's frames
                    log.exception("delivering a %s to a socket failed", message.get("type"))
        finally:
            self._task = None
            if not waiting:
                self._waiting = None

    def close(self) -> None:
        """The socket is gone: drop what waits, stop handing over."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
        if self._step is not None:  # begun at once, and its task has not started: end it here
            self._step.close()
            self._step = None
        self._waiting = None


@types.coroutine
def _go_on(step: Coroutine[Any, Any, None], waiting_on: Any) -> Generator[Any, Any, None]:
    """Carry on with `step`, a coroutine that stopped on its first step waiting for `waiting_on`
    (what it yielded), inside the task that awaits this: `yield from` for a coroutine already started."""
    while True:
        try:
            sent = yield waiting_on
        except BaseException as exc:  # a cancellation or error thrown into the task: pass it on
            try:
                waiting_on = step.throw(exc)
            except StopIteration:
                return
        else:
            try:
                waiting_on = step.send(sent)
            except StopIteration:
                return


class Fanout:
    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel = ""  # the hub's channel on the layer (set when the hub starts)
        # Another process may follow a group only over a shared layer.
        self.remote = not isinstance(layer, InMemoryChannelLayer)
        self.members: dict[str, set[Inbox]] = {}
        self.joined: set[str] = set()  # groups this process is a member of on the layer
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # per group: its lock, and who holds or awaits it
        self.troubled = False  # a layer call failed since the hub last rejoined (chat.hub.Hub._watch_layer)

    async def join(self, group: str, inbox: Inbox) -> None:
        """Follow `group`; returns once frames published anywhere from now on reach `inbox`."""
        self.members.setdefault(group, set()).add(inbox)
        await self._settle(group)

    async def leave(self, group: str, inbox: Inbox) -> None:
        members = self.members.get(group)
        if members is not None:
            members.discard(inbox)
            if not members:
                del self.members[group]
        await self._settle(group)

    async def _settle(self, group: str) -> None:
        """Make the layer membership match the local one (joins and leaves of a group, one at a time)."""
        lock, users = self._locks.get(group) or (asyncio.Lock(), 0)
        self._locks[group] = (lock, users + 1)
        try:
            async with lock:
                wanted = group in self.members
                if wanted and group not in self.joined:
                    await self.layer.group_add(group, self.channel)
                    self.joined.add(group)
                elif not wanted and group in self.joined:
                    self.joined.discard(group)
                    try:
                        await asyncio.wait_for(self.layer.group_discard(group, self.channel), LAYER_TIMEOUT_S)
                    except Exception:  # a stale membership costs only ignored messages until it expires
                        self._trouble("leaving a group")
        finally:
            lock, users = self._locks[group]
            if users == 1:
                del self._locks[group]  # nobody holds or waits for it: a group's lock lives only while in use
            else:
                self._locks[group] = (lock, users - 1)

    def deliver(self, group: str, message: dict[str, Any]) -> None:
        """Into the inboxes of this process's followers of `group` (in publishing order)."""
        for inbox in self.members.get(group, ()):
            inbox.put_nowait(message)

    async def publish(self, group: str, message: dict[str, Any]) -> None:
        """To every follower of `group`: here at once, in other processes through the layer."""
        self.deliver(group, message)
        if self.remote:
            try:
                await asyncio.wait_for(self.layer.group_send(group, {**message, "group": group,
                                                                     "origin": self.channel}), LAYER_TIMEOUT_S)
            except Exception:  # never the publisher's problem: tabs elsewhere resync once the layer is back
                self._trouble("publishing")

    def _trouble(self, doing: str) -> None:
        if not self.troubled:
            log.warning("channel layer unavailable while %s: frames reach only this process's sockets until it "
                        "is back", doing, exc_info=True)
        self.troubled = True

    def inboxes(self) -> set[Inbox]:
        """Every socket of this process (each follows at least its user's group)."""
        return {inbox for members in self.members.values() for inbox in members}

    def received(self, message: dict[str, Any]) -> None:
        """A group message the layer brought to this process's channel."""
        group = message.get("group")
        if message.get("origin") == self.channel:
            return  # published here, delivered here already
        if not group:
            log.warning("a %s message without its group reached the hub; dropped", message.get("type"))
            return
        self.deliver(group, message)

    async def renew(self) -> None:
        """Re-add this process's memberships: the layer forgets a member after its group expiry (a day)."""
        for group in list(self.joined):
            await self.layer.group_add(group, self.channel)
