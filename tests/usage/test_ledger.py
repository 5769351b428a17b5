"""Exactly one ledger row per upstream call, whatever the ending, through the websocket and the emulator."""
from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async

from chat.models import Conversation, Message
from chat.services import fail_to_start
from tests.chat.wsclient import open_socket
from usage.models import UsageRecord
from usage.money import format_usd

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async


def _rows(message_id: str) -> list[UsageRecord]:
    return list(UsageRecord.objects.filter(message_id=message_id))


async def _ended(socket, content: str) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    created = await socket.chat(content)
    reply = created["assistant_message"]["id"]
    while True:
        frame = await socket.recv()
        if frame["type"] in ("message.done", "message.error") and frame["message"] == reply:
            return created, frame


async def test_a_complete_reply_and_its_title_are_ledgered_once_each(user, emulator_provider) -> None:
    socket = await open_socket(user)
    created, done = await _ended(socket, "Hello [[tokens=40]]")
    await socket.until("conversation.updated")  # the title was written
    [row] = await db(_rows)(created["assistant_message"]["id"])
    assert (row.outcome, row.purpose, row.estimated, row.convention) == ("complete", "chat", False, "A")
    assert row.provider_id == emulator_provider.pk and row.raw_usage and row.cost_ticks > 0
    assert row.stated_cost_ticks is not None and abs(row.cost_ticks - row.stated_cost_ticks) <= 1
    assert done["usage"]["cost_usd"] == format_usd(row.cost_ticks) and done["usage"]["estimated"] is False
    titles = await db(lambda: list(UsageRecord.objects.filter(conversation_id=created["conversation"],
                                                              purpose="title")))()
    assert len(titles) == 1 and titles[0].outcome == "complete" and titles[0].message_id is None
    await socket.close()


async def test_a_regeneration_is_its_own_row(user, emulator_provider) -> None:
    socket = await open_socket(user)
    created, _ = await _ended(socket, "Pick a number [[tokens=10]]")
    request_id = str(uuid.uuid4())
    await socket.send({"type": "regenerate", "request_id": request_id, "message": created["assistant_message"]["id"]})
    again = await socket.until("message.created", request_id=request_id)
    await socket.until("message.done", message=again["assistant_message"]["id"])
    chat_rows = await db(lambda: list(UsageRecord.objects.filter(conversation_id=created["conversation"],
                                                                 purpose="chat")))()
    assert sorted(str(r.message_id) for r in chat_rows) == sorted(
        [created["assistant_message"]["id"], again["assistant_message"]["id"]])
    await socket.close()


async def test_a_stopped_reply_gets_an_estimated_flagged_row(user, emulator_provider) -> None:
    socket = await open_socket(user)
    created = await socket.chat("Long [[tokens=100000]]")
    reply = created["assistant_message"]["id"]
    await socket.until("message.delta", message=reply)
    await socket.send({"type": "stop", "message": reply})
    done = await socket.until("message.done", message=reply)
    [row] = await db(_rows)(reply)
    assert row.outcome == "cancelled" and row.estimated and row.convention == "estimate"
    assert row.prompt_tokens > 0 and row.completion_tokens > 0 and row.cost_ticks > 0
    assert done["usage"]["estimated"] is True
    await socket.close()


@pytest.mark.parametrize("fault", ["drop:5", "stream_error:5"])
async def test_a_reply_broken_mid_stream_gets_an_estimated_flagged_row(user, emulator_provider, fault) -> None:
    socket = await open_socket(user)
    created, error = await _ended(socket, f"Hello [[fault:{fault}]] [[tokens=50]]")
    assert error["type"] == "message.error"
    [row] = await db(_rows)(created["assistant_message"]["id"])
    assert row.outcome == "error" and row.estimated and row.completion_tokens > 0 and row.cost_ticks > 0
    await socket.close()


@pytest.mark.parametrize("fault", ["404", "403_credits", "503"])
async def test_a_call_refused_at_start_gets_a_zero_row_flagged_error(user, emulator_provider, fault) -> None:
    emulator_provider.max_retries = 0
    await db(emulator_provider.save)()
    socket = await open_socket(user)
    created, error = await _ended(socket, f"Hello [[fault:{fault}]]")
    assert error["type"] == "message.error"
    [row] = await db(_rows)(created["assistant_message"]["id"])
    assert row.outcome == "error" and not row.estimated and row.convention == "refused"
    assert (row.prompt_tokens, row.total_tokens, row.cost_ticks) == (0, 0, 0)
    await socket.close()


def _streaming_reply(user) -> Message:  # type: ignore[no-untyped-def]
    conversation = Conversation.objects.create(owner=user)
    return Message.objects.create(conversation=conversation, role="assistant", status="streaming")


async def test_a_reply_that_never_reached_the_upstream_has_no_row(user, emulator_provider) -> None:
    reply = await db(_streaming_reply)(user)
    await db(fail_to_start)(reply.id, "model_unavailable", "The model of this reply was removed.")
    stored = await db(Message.objects.get)(id=reply.id)
    assert stored.status == "error" and stored.error_code == "model_unavailable"
    assert await db(UsageRecord.objects.count)() == 0
