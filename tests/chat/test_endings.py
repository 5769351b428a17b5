"""Every reply ends, and every tab hears it once: when its ending cannot be stored, when its process is gone."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache
from django.utils import timezone

from accounts.models import Reservation
from chat import services
from chat.generation import Job, Pacing, Runner
from chat.hub import get_hub
from chat.models import Message
from chat.store import DjangoStore
from gateways.wire.events import ContentDelta, Finish, UpstreamEvent, Usage
from tests.chat.wsclient import open_socket
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async
END = ("message.done", "message.error")


def _started(user: Any, runner: str = "") -> services.Started:
    return services.send(user, request_id=uuid.uuid4(), conversation_id=None, content="hi",
                         model_slug="grok-4-fast-non-reasoning", runner=runner)


async def _raw_gateway() -> AsyncIterator[UpstreamEvent]:
    """Events as a gateway bug would leave them if nothing mended them (half an emoji, a NUL)."""
    yield ContentDelta("kept text \x00 and half \ud83d")
    yield Finish("stop")
    yield Usage({"prompt_tokens": 17, "completion_tokens": 9, "total_tokens": 26})


async def test_a_reply_whose_ending_cannot_be_stored_still_ends_billed_and_freed(user, emulator_provider) -> None:
    started = await db(_started)(user)
    reply = started.assistant_message
    frames: list[dict[str, Any]] = []

    async def publish(frame: dict[str, Any]) -> None:
        frames.append(frame)

    runner = Runner(Job(reply.id, 2), _raw_gateway(), publish, DjangoStore(), pacing=Pacing(frame_interval=0.0))
    ending = await runner.run()  # SQLite cannot encode the lone half: the first store raises

    (end,) = [f for f in frames if f["type"] in END]
    stored = await db(Message.objects.get)(id=reply.id)
    assert end["type"] == "message.error" and end["code"] == "internal" and end["detail"]
    assert stored.status == "error" == ending.status and stored.error_code == "internal"
    assert stored.content == end["content"] == "kept text \ufffd and half \ufffd"
    record = await db(UsageRecord.objects.get)(message_id=reply.id)
    assert record.prompt_tokens == 17 and record.completion_tokens == 9 and not record.estimated
    assert end["usage"]["prompt_tokens"] == 17
    assert not await db(Reservation.objects.filter(message_id=reply.id).exists)()  # the slot is free
    assert runner.unstored is None


async def test_subscribing_to_a_dead_processs_reply_ends_it_for_every_tab_once(user, emulator_provider) -> None:
    mark = "grokweb:runner:specific.gone!dead"
    await cache.aset(mark, 1, 30)  # its process is alive while the first tab subscribes
    started = await db(_started)(user, runner="specific.gone!dead")
    reply, conversation = str(started.assistant_message.id), str(started.conversation.id)
    await db(services.checkpoint)(started.assistant_message.id, "written so far", "", 3)
    watching, late = await open_socket(user), await open_socket(user)
    await watching.send({"type": "subscribe", "conversation": conversation})
    await watching.until("conversation.snapshot")

    await cache.adelete(mark)  # then it dies
    await late.send({"type": "subscribe", "conversation": conversation})
    snapshot = await late.until("conversation.snapshot")  # no wait for an answer that cannot come
    assert [item["message"] for item in snapshot["live"]] == [reply]
    for tab in (watching, late):
        end = await tab.until("message.error", message=reply)
        assert end["code"] == "internal" and end["content"] == "written so far"
        await tab.send({"type": "ping"})
        await tab.until("pong")
        assert [f["type"] for f in tab.seen if f.get("message") == reply and f["type"] in END] == ["message.error"]
        await tab.close()
    stored = await db(Message.objects.get)(id=reply)
    assert stored.status == "error" and stored.content == "written so far"
    assert not await db(Reservation.objects.filter(message_id=reply).exists)()
    assert await db(UsageRecord.objects.filter(message_id=reply).count)() == 1


async def test_stop_on_a_reply_no_process_runs_ends_it_at_once(user, emulator_provider) -> None:
    started = await db(_started)(user)  # no runner recorded, and none will come
    reply, conversation = str(started.assistant_message.id), str(started.conversation.id)
    socket = await open_socket(user)
    await socket.send({"type": "subscribe", "conversation": conversation})
    await socket.until("conversation.snapshot")
    await socket.send({"type": "stop", "message": reply})
    end = await socket.until("message.error", message=reply)
    assert end["code"] == "internal"
    assert (await db(Message.objects.get)(id=reply)).status == "error"
    assert not await db(Reservation.objects.filter(message_id=reply).exists)()
    await socket.close()


async def test_the_sweep_ends_a_dead_processs_replies_and_tells_the_tabs_already_watching(
        user, emulator_provider) -> None:
    mark = "grokweb:runner:specific.other!alive"
    await cache.aset(mark, 1, 30)
    started = await db(_started)(user, runner="specific.other!alive")
    reply, conversation = str(started.assistant_message.id), str(started.conversation.id)
    hub = await get_hub()
    socket = await open_socket(user)
    await socket.send({"type": "subscribe", "conversation": conversation})
    await socket.until("conversation.snapshot")

    await cache.adelete(mark)  # the other process died: its mark expires
    await hub.sweep()  # what the survivor's heartbeat does
    end = await socket.until("message.error", message=reply)
    assert end["code"] == "internal" and "stopped" in end["detail"]
    await hub.sweep()  # a second sweep (or another survivor) finds nothing left to end
    await socket.send({"type": "ping"})
    await socket.until("pong")
    assert len([f for f in socket.seen if f.get("message") == reply and f["type"] in END]) == 1
    await socket.close()


async def test_a_reply_this_process_lost_is_ended_by_its_own_sweep(user, emulator_provider) -> None:
    hub = await get_hub()
    started = await db(_started)(user, runner=hub.channel)  # recorded as ours, never launched
    reply = started.assistant_message.id
    await hub.sweep()
    assert (await db(Message.objects.get)(id=reply)).status == "streaming"  # it may be starting: grace
    await db(Message.objects.filter(id=reply).update)(created_at=timezone.now() - timedelta(minutes=5))
    await hub.sweep()
    assert (await db(Message.objects.get)(id=reply)).status == "error"
    assert not await db(Reservation.objects.filter(message_id=reply).exists)()


async def test_frames_that_cannot_be_published_never_stop_the_reply(user, emulator_provider) -> None:
    """The layer is away (every publish raises): the reply still streams to its end and is stored whole."""
    from gateways.wire.client import get_client

    started = await db(_started)(user)
    plan = await db(services.prepare)(started.assistant_message.id)
    tried: list[str] = []

    async def publish(frame: dict[str, Any]) -> None:
        tried.append(frame["type"])
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    runner = Runner(Job(plan.message_id, plan.prompt_chars), get_client().stream(plan.endpoint, plan.request),
                    publish, DjangoStore(), pacing=Pacing(frame_interval=0.0, checkpoint_first=0.0))
    ending = await runner.run()
    stored = await db(Message.objects.get)(id=plan.message_id)
    assert ending.status == "complete" == stored.status and stored.content == ending.content and stored.content
    assert "message.delta" in tried and tried[-1] == "message.done"  # it kept trying, the end included
    assert await db(UsageRecord.objects.filter(message_id=plan.message_id, estimated=False).exists)()
    assert not await db(Reservation.objects.filter(message_id=plan.message_id).exists)()


async def test_a_live_reply_ended_as_an_orphan_gets_one_end_frame_and_one_ledger_row_with_its_real_usage(
        user, emulator_provider) -> None:
    """Redis lost this process's runner mark and another process's sweep ended a reply still streaming here.

    Its tabs keep the one end frame the sweep sent; the runner, still alive, stops and publishes no
    second one; the ledger keeps one row, with the runner's usage in place of the sweep's guess from
    the last checkpoint (which has no text yet: never a zero bill for a reply that has text).
    """
    from chat.groups import conversation_group

    hub = await get_hub()
    socket = await open_socket(user)
    created = await socket.chat("Tell me more [[ttft_ms=0]] [[tps=40]] [[tokens=120]]")
    reply, conversation = created["assistant_message"]["id"], created["conversation"]
    await socket.until("message.delta", message=reply)
    (run,) = [task for task in hub._tasks if task.get_coro().cr_code.co_name == "_run"]

    ended = await db(services.end_orphan)(uuid.UUID(reply))  # what the other process's sweep does
    assert ended is not None
    await hub.publish(conversation_group(conversation), ended[1])  # and tells the tabs
    end = await socket.until("message.error", message=reply)
    assert end["usage"]["estimated"] and end["usage"]["prompt_tokens"] > 1  # the prompt was sent whole

    await run  # the runner goes on to its own end: stopped at its next checkpoint, or finished
    await socket.send({"type": "ping"})
    await socket.until("pong")
    assert [f["type"] for f in socket.seen if f.get("message") == reply and f["type"] in END] == ["message.error"]
    stored = await db(Message.objects.get)(id=reply)
    assert stored.status == "error" and stored.error_detail == services.ORPHAN_DETAIL  # what its tabs were told
    (record,) = await db(lambda: list(UsageRecord.objects.filter(message_id=reply)))()
    assert record.completion_tokens > 0 and record.prompt_tokens > 1
    assert not await db(Reservation.objects.filter(message_id=reply).exists)()
    await socket.close()
