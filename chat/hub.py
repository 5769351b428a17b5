"""The process's generations and its sockets' groups: start, stop and snapshot replies, from any web process.

Each process owns a channel on the layer. A stop or snapshot request for a
reply running elsewhere is sent to the channel recorded on the message, so
every tab of a user sees the same stream whichever process serves it. Frames
reach this process's sockets directly and other processes through the layer
(chat.fanout); the same channel receives those.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from uuid import UUID, uuid4

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache

from gateways.attempts import buffered
from gateways.failover import FailoverStream, RouteChoice
from gateways.wire.client import get_client
from usage.ledger import ledger_failed_attempts

from . import embedded_beat, services, tasks
from .fanout import LAYER_DOWN, LAYER_TIMEOUT_S, Fanout, Inbox
from .generation import Job, Pacing, Runner
from .groups import FRAME, LAYER_LOST, conversation_group
from .store import DjangoStore

log = logging.getLogger(__name__)
HEARTBEAT_S = 10.0
RUNNER_TTL_S = 30
RENEW_GROUPS_BEATS = 360  # re-add layer group memberships hourly (they expire after a day)
PROBE_S = 2.0  # how often the hub sends itself a message through a layer group
DEAF_S = 15.0  # a probe not back after this long: this process no longer hears the layer
LISTEN_RETRY_S = 1.0
# The upstream reader pauses a little over one frame interval between reads, so the frame a read
# brings is never sooner than one interval after the last (chat.generation) despite timers' jitter.
READ_PAUSE = 1.05


SINCE_KEY = "grokweb:runners-since"  # when the shared cache started keeping runner marks


def _alive(runner: str) -> bool:
    """Whether the process with channel `runner` said it was alive within RUNNER_TTL_S.

    A missing mark means a dead process only once the cache has kept marks that long: a Redis
    that restarted empty forgot every mark, and live processes put theirs back within a beat.
    """
    if not runner:
        return False
    if cache.get(f"grokweb:runner:{runner}") is not None:
        return True
    if not settings.REDIS_URL:
        return False  # a process-local cache dies with its process: no mark, no process
    since = cache.get(SINCE_KEY)
    return since is None or time.time() - float(since) < RUNNER_TTL_S


async def _alive_now(runner: str) -> bool:
    try:
        return await sync_to_async(_alive, thread_sensitive=False)(runner)
    except Exception:  # the cache is away: assume the process is (never end a reply on a guess)
        log.warning("could not tell whether %s is alive", runner, exc_info=True)
        return True


class Hub:
    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel = ""
        self.fanout = Fanout(self.layer)
        self.runners: dict[UUID, Runner] = {}
        # Replies that ended (their tabs were told) but whose ending the database did not take: retried each beat.
        self.unsaved: dict[UUID, services.Ending] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._silent: dict[str, float] = {}  # runner channels that did not answer a snapshot: until when to skip them
        self._probe_group = f"hub.{uuid4().hex}"  # this process alone: its probes come back through it
        self._probe_seen = 0

    async def start(self) -> None:
        # The default prefix on purpose: channels_redis serves one process-local
        # prefix per receive loop, and another prefix would wait out its 5 s poll.
        self.channel = await self.layer.new_channel()
        self.fanout.channel = self.channel
        await self._beat()
        await self.sweep()
        self._spawn(self._listen())
        self._spawn(self._heartbeat())
        if self.fanout.remote:
            await self.layer.group_add(self._probe_group, self.channel)
            self._spawn(self._watch_layer())
        if settings.CELERY_TASK_ALWAYS_EAGER:  # no broker, so no beat either: run its schedule here
            for path, seconds in embedded_beat.intervals(settings.CELERY_BEAT_SCHEDULE).items():
                self._spawn(embedded_beat.run_every(path, seconds))

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a hub task failed", exc_info=task.exception())

    async def _beat(self) -> None:
        await cache.aset(f"grokweb:runner:{self.channel}", 1, RUNNER_TTL_S)
        await cache.aadd(SINCE_KEY, time.time(), None)

    async def _heartbeat(self) -> None:
        """Mark this process alive; end replies nobody is writing; store endings the database refused."""
        beats = 0
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            beats += 1
            try:
                await self._beat()
                await self._store_unsaved()
                await self.sweep()
                if beats % RENEW_GROUPS_BEATS == 0:
                    await self._rejoin() if self.fanout.remote else await self.fanout.renew()
            except Exception:  # a missed beat must not kill the loop
                log.exception("runner heartbeat failed")

    async def _listen(self) -> None:
        while True:
            try:
                request = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except LAYER_DOWN:  # the layer is away: keep trying; _watch_layer reconnects the sockets after
                if not self.fanout.troubled:
                    log.warning("channel layer receive failed; retrying", exc_info=True)
                self.fanout.troubled = True
                await asyncio.sleep(LISTEN_RETRY_S)
                continue
            except Exception:
                log.exception("channel layer receive failed")
                await asyncio.sleep(LISTEN_RETRY_S)
                continue
            try:
                await self._answer(request)
            except Exception:
                log.exception("runner request failed")

    async def _watch_layer(self) -> None:
        """Notice when this process stops hearing the layer, and recover once it hears again.

        Every PROBE_S the hub sends itself a message through a group of its own. When a layer
        call failed (a publish, a receive, a probe) or a probe has not come back within DEAF_S
        (Redis restarted and forgot the group members, or the receive loop broke), the process
        has missed frames meant for its sockets: as soon as the layer answers again it re-adds
        its group memberships and closes its sockets with LAYER_LOST_CODE, so each browser
        reconnects and resubscribes (a fresh snapshot) instead of staying open and deaf.
        """
        loop = asyncio.get_running_loop()
        sent: dict[int, float] = {}
        n = 0
        while True:
            await asyncio.sleep(PROBE_S)
            now = loop.time()
            for k in [k for k in sent if k <= self._probe_seen]:
                del sent[k]
            if any(at < now - DEAF_S for at in sent.values()):
                if not self.fanout.troubled:
                    log.warning("this process stopped hearing the channel layer")
                self.fanout.troubled = True
            if self.fanout.troubled:
                try:
                    await asyncio.wait_for(self._rejoin(), LAYER_TIMEOUT_S * 2)
                except Exception:
                    continue  # still away
                sent.clear()
                self.fanout.troubled = False
                self._reconnect_sockets()
                continue
            n += 1
            try:
                await asyncio.wait_for(self.layer.group_send(self._probe_group, {"type": "runner.probe", "n": n}),
                                       LAYER_TIMEOUT_S)
                sent[n] = now
            except Exception:
                self.fanout.troubled = True

    async def _rejoin(self) -> None:
        await self.layer.group_add(self._probe_group, self.channel)
        await self.fanout.renew()

    def _reconnect_sockets(self) -> None:
        inboxes = self.fanout.inboxes()
        log.warning("channel layer back: %d sockets of this process reconnect to resync", len(inboxes))
        for inbox in inboxes:
            inbox.put_nowait({"type": LAYER_LOST})

    async def _answer(self, request: dict[str, Any]) -> None:
        kind = request["type"]
        if not kind.startswith("runner."):
            self.fanout.received(request)  # a frame for this process's sockets
            return
        if kind == "runner.probe":
            self._probe_seen = max(self._probe_seen, int(request.get("n", 0)))
            return
        message_id = UUID(request["message"])
        runner = self.runners.get(message_id)
        if kind == "runner.stop":
            if runner is not None:
                runner.stop()
            elif message_id not in self.unsaved:  # recorded as ours, but nobody here writes it
                await self.end_orphan(message_id)
        elif kind == "runner.snapshot":
            snap = runner.live.snapshot() if runner is not None else None
            await self.layer.send(request["reply_to"], {"type": "runner.snapshot_reply", "live": snap})

    # Sockets and their groups (chat.fanout) --------------------------------

    async def join(self, group: str, inbox: Inbox) -> None:
        await self.fanout.join(group, inbox)

    async def leave(self, group: str, inbox: Inbox) -> None:
        await self.fanout.leave(group, inbox)

    async def publish(self, group: str, frame: dict[str, Any]) -> None:
        """One protocol frame to every tab following `group`, in this process and the others."""
        await self.fanout.publish(group, {"type": FRAME, "frame": frame})

    # Replies ---------------------------------------------------------------

    def launch(self, plan: services.Plan, announced: asyncio.Event | None = None) -> None:
        """Start a reply in this process; it outlives the socket that asked for it.

        Frames wait for `announced` (set once `message.created` is out), so the
        upstream call can start before the announcement without reordering.
        """
        group = conversation_group(plan.conversation_id)

        async def publish(frame: dict[str, Any]) -> None:
            if announced is not None and not announced.is_set():
                await announced.wait()
            if store.ended_elsewhere:  # its tabs had their end frame from whoever ended it
                return
            await self.publish(group, frame)

        def publish_now(frame: dict[str, Any]) -> bool:
            """`publish` done synchronously, when it can be: no other process to tell, `message.created` out."""
            if announced is not None and not announced.is_set():
                return False
            if not store.ended_elsewhere:
                self.fanout.deliver(group, {"type": FRAME, "frame": frame})
            return True

        # A reply cut at a budget is read token by token (join_text below): its frames stay the flusher's.
        joined = plan.output_room is None
        job = Job(plan.message_id, plan.prompt_chars, plan.endpoint.usage_convention, plan.hidden_reasoning_rate,
                  plan.show_route, plan.output_room)
        store = DjangoStore(plan.planned)  # the attempts are written with the ending: no thread hop of their own
        g = settings.GROKWEB

        async def waiting(choice: RouteChoice) -> None:
            await publish(waiting_frame(plan.message_id, choice.provider_name, g["WAITING_NOTICE_S"]))

        events = FailoverStream(get_client(), list(plan.routes), plan.request,
                                record=buffered(plan.model_slug, store.attempts),
                                failed_over=ledger_failed_attempts(plan.user_id, plan.conversation_id,
                                                                   plan.model_slug),
                                coalesce_s=g["DELTA_INTERVAL_S"] * READ_PAUSE,
                                # A reply cut at a budget is checked after every upstream event: token by token.
                                join_text=joined, start_deadline_s=g["REPLY_START_DEADLINE_S"],
                                waiting=waiting, waiting_after_s=g["WAITING_NOTICE_S"])
        pacing = Pacing(frame_interval=g["DELTA_INTERVAL_S"], checkpoint_first=g["CHECKPOINT_INTERVAL_S"])
        runner = Runner(job, events, publish, store, pacing=pacing, served=lambda: events.served,
                        publish_now=publish_now if joined and not self.fanout.remote else None)
        store.stop = runner.stop
        self.runners[plan.message_id] = runner
        self._spawn(self._run(runner, store, plan))

    async def _run(self, runner: Runner, store: DjangoStore, plan: services.Plan) -> None:
        try:
            ending = await runner.run()
            if runner.unstored is not None:
                self.unsaved[plan.message_id] = runner.unstored
            # A stopped first reply still names the chat; a titled one costs no thread hop here.
            if store.untitled and ending.status != "error" and ending.content:
                await database_sync_to_async(tasks.request_title, thread_sensitive=False)(plan.conversation_id)
        except Exception:
            log.exception("reply %s could not be finished", plan.message_id)
        finally:
            self.runners.pop(plan.message_id, None)

    async def stop(self, message_id: UUID, runner_channel: str) -> None:
        """Stop a reply wherever it runs; one that no process runs is ended here and now."""
        if message_id in self.runners:
            self.runners[message_id].stop()
        elif message_id in self.unsaved:
            return  # ended already, its tabs told
        elif runner_channel and runner_channel != self.channel and await _alive_now(runner_channel):
            await self.layer.send(runner_channel, {"type": "runner.stop", "message": str(message_id)})
        else:
            await self.end_orphan(message_id)

    async def end_orphan(self, message_id: UUID) -> None:
        """End a reply no process writes, and tell its tabs on every process (once: services.end_orphan)."""
        ended = await database_sync_to_async(services.end_orphan)(message_id)
        if ended is not None:
            await self._announce([ended])

    async def sweep(self) -> None:
        """End the replies nobody writes any more (a dead process's, or this one's lost ones); tell their tabs."""
        running = frozenset(self.runners) | frozenset(self.unsaved)
        ended = await database_sync_to_async(services.end_orphans)(_alive, self.channel, running)
        await self._announce(ended)

    async def _announce(self, ended: list[services.Ended]) -> None:
        for conversation_id, frame in ended:
            await self.publish(conversation_group(conversation_id), frame)

    async def _store_unsaved(self) -> None:
        for message_id, ending in list(self.unsaved.items()):
            try:
                await database_sync_to_async(services.end_anyway)(message_id, ending)
            except Exception:
                log.warning("reply %s: its ending is still not stored", message_id, exc_info=True)
                return  # the database is still away: try the rest next beat
            self.unsaved.pop(message_id, None)

    async def snapshot(self, message_id: UUID, runner_channel: str) -> dict[str, Any] | None:
        """Live text and seq of a running reply, asking its process if it is elsewhere.

        None when no process runs it: a dead process's reply is then ended (its tabs get the end
        frame) without waiting for an answer that cannot come.
        """
        if message_id in self.runners:
            return self.runners[message_id].live.snapshot()
        if not runner_channel or runner_channel == self.channel:
            return None
        if not await _alive_now(runner_channel):
            self._spawn(self.end_orphan(message_id))
            return None
        now = time.monotonic()
        if self._silent.get(runner_channel, 0.0) > now:
            return None  # it did not answer a moment ago (killed, its mark not yet expired): do not wait again
        try:
            reply_to = await self.layer.new_channel()
            await asyncio.wait_for(self.layer.send(runner_channel, {
                "type": "runner.snapshot", "message": str(message_id), "reply_to": reply_to}), LAYER_TIMEOUT_S)
            answer = await asyncio.wait_for(self.layer.receive(reply_to), timeout=2.0)
        except Exception:  # no answer in time, or the layer is away: the last checkpoint will do
            self._silent[runner_channel] = now + RUNNER_TTL_S
            return None
        self._silent.pop(runner_channel, None)
        return answer.get("live")


def waiting_frame(message_id: UUID, gateway: str, waited_s: float) -> dict[str, Any]:
    """`message.waiting` (docs/protocol.md): the reply's gateway has said nothing for `waited_s` seconds."""
    return {"type": "message.waiting", "message": str(message_id), "gateway": gateway,
            "waited_s": round(waited_s, 1)}


_hub: Hub | None = None
_hub_lock: asyncio.Lock | None = None


async def get_hub() -> Hub:
    """The process's hub, started on first use inside the server's event loop."""
    global _hub, _hub_lock
    if _hub is not None:
        return _hub
    if _hub_lock is None:
        _hub_lock = asyncio.Lock()
    async with _hub_lock:
        if _hub is None:
            hub = Hub()
            await hub.start()
            _hub = hub
    return _hub


def reset_hub() -> None:
    """Forget the hub (tests run each case in a fresh event loop)."""
    global _hub, _hub_lock
    if _hub is not None:
        for task in list(_hub._tasks):
            task.cancel()
    _hub, _hub_lock = None, None
