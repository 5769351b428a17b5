"""The team deployment's moving parts for real: PostgreSQL, the Redis channel layer, a Celery worker."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection

from chat import services
from chat.groups import conversation_group, user_group
from chat.hub import Hub
from chat.models import Message
from tests.chat.wsclient import open_socket
from usage.models import UsageRecord

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
db = database_sync_to_async


async def _frame_in_group(group: str, type_: str, action) -> dict:  # type: ignore[no-untyped-def]
    """Listen on a group as a tab would, do `action`, and await the first frame of `type_`."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    await action
    while True:
        event = await asyncio.wait_for(layer.receive(channel), timeout=30)
        if event["frame"]["type"] == type_:
            return event["frame"]


def test_the_stack_is_the_team_one() -> None:
    assert connection.vendor == "postgresql"
    assert type(get_channel_layer()).__name__ == "RedisChannelLayer"
    assert settings.CELERY_BROKER_URL.startswith("redis://") and not settings.CELERY_TASK_ALWAYS_EAGER


async def test_a_reply_streams_through_the_redis_channel_layer(user, emulator_provider) -> None:
    socket = await open_socket(user)
    created = await socket.chat("Hello over Redis [[tokens=300]]")
    done = await socket.until("message.done", message=created["assistant_message"]["id"])
    deltas = [f for f in socket.seen if f["type"] == "message.delta"]
    assert "".join(f["content"] for f in deltas) == done["content"]
    assert [f["seq"] for f in deltas] == list(range(1, len(deltas) + 1))
    await socket.close()


async def test_another_process_can_snapshot_and_stop_a_reply(user, emulator_provider) -> None:
    """Two hubs stand for two web processes sharing the Redis layer."""
    runner_process, other_process = Hub(), Hub()
    await runner_process.start()
    await other_process.start()
    try:
        started = await db(services.send)(user, request_id=uuid.uuid4(), conversation_id=None,
                                          content="Long [[tokens=100000]]", runner=runner_process.channel)
        runner_process.launch(await db(services.prepare)(started.assistant_message.id))
        reply = started.assistant_message
        snap = None
        while not snap or not snap["content"]:
            snap = await other_process.snapshot(reply.id, reply.runner)
        assert snap["message"] == str(reply.id) and snap["seq"] >= 1
        done = await _frame_in_group(conversation_group(reply.conversation_id), "message.done",
                                     other_process.stop(reply.id, reply.runner))
        assert done["status"] == "cancelled"
        stored = await db(Message.objects.get)(id=reply.id)
        assert stored.status == "cancelled" and stored.content.startswith(snap["content"])
    finally:
        for hub in (runner_process, other_process):
            for task in hub._tasks:
                task.cancel()


def test_simultaneous_sends_with_one_request_id_start_one_reply(user, emulator_provider) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    request_id = uuid.uuid4()

    def send() -> str:
        try:
            started = services.send(user, request_id=request_id, conversation_id=None, content="race")
            return str(started.assistant_message.id)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        replies = set(pool.map(lambda _: send(), range(4)))
    assert len(replies) == 1
    assert Message.objects.filter(role="assistant").count() == 1


def test_titles_are_written_by_a_celery_worker_over_the_redis_broker(user, emulator_provider) -> None:
    from celery.contrib.testing.worker import start_worker

    from grokweb.celery import app

    started = services.send(user, request_id=uuid.uuid4(), conversation_id=None, content="Plan a trip to Porto")
    Message.objects.filter(id=started.assistant_message.id).update(status="complete", content="Go in May.")
    with start_worker(app, perform_ping_check=False, pool="solo", concurrency=1):
        queued = asyncio.sleep(0)
        send = lambda: app.send_task("chat.tasks.generate_title", args=[str(started.conversation.id)])

        async def queue() -> None:
            await queued
            send()

        updated = async_to_sync(_frame_in_group)(user_group(user.pk), "conversation.updated", queue())
    started.conversation.refresh_from_db()
    assert started.conversation.title and updated["conversation"]["title"] == started.conversation.title
    assert UsageRecord.objects.filter(purpose="title", conversation=started.conversation).count() == 1


def test_readyz_checks_database_layer_and_broker(client) -> None:
    body = client.get("/readyz").json()
    assert body == {"status": "ok", "checks": {"database": "ok", "channel_layer": "ok", "broker": "ok"}}
