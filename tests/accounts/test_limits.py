"""Rate limits: messages per minute (with when to retry) and concurrent generations, with group overrides."""
from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async

from accounts import limits
from gateways.wire.codes import ChatError
from tests.chat.wsclient import open_socket

db = database_sync_to_async


@pytest.fixture
def per_minute(settings):  # type: ignore[no-untyped-def]
    def set_limits(messages: int, live: int = 3) -> None:
        settings.GROKWEB = {**settings.GROKWEB, "MESSAGES_PER_MINUTE": messages, "MAX_LIVE_GENERATIONS": live}

    return set_limits


@pytest.mark.django_db
def test_the_window_counts_per_user_and_says_when_to_retry(user, make_user, per_minute) -> None:
    per_minute(2)
    start = 1_800_000_000.0  # a window boundary (divisible by 60)
    limits.hit(user, now=start + 10)
    limits.hit(user, now=start + 20)
    with pytest.raises(ChatError) as refused:
        limits.hit(user, now=start + 45)
    assert refused.value.code == "rate_limited" and refused.value.extra == {"retry_after": 15}
    limits.hit(make_user("bob"), now=start + 45)  # someone else is not affected
    limits.hit(user, now=start + 61)  # the next minute


@pytest.mark.django_db
def test_the_most_generous_group_override_applies(user, make_group, per_minute) -> None:
    per_minute(2, live=1)
    make_group("fast", per_minute=30, members=(user,))
    make_group("faster", per_minute=60, live=4, members=(user,))
    make_group("plain", members=(user,))
    assert limits.limits_for(user) == limits.Limits(60, 4)


@pytest.mark.django_db(transaction=True)
async def test_too_many_messages_a_minute_are_refused_with_retry_after(user, emulator_provider, per_minute,
                                                                      monkeypatch) -> None:
    per_minute(2)
    # 20 s into a counting minute, whenever the test runs: the three sends cannot straddle two windows.
    from types import SimpleNamespace

    from accounts import limits

    monkeypatch.setattr(limits, "time", SimpleNamespace(time=lambda: 60 * 28_000_000 + 20.0))
    socket = await open_socket(user)
    for n in range(2):
        created = await socket.chat(f"quick {n} [[tokens=3]]")
        await socket.until("message.done", message=created["assistant_message"]["id"])
    request_id = str(uuid.uuid4())
    await socket.send({"type": "send", "request_id": request_id, "conversation": None, "content": "one more"})
    error = await socket.until("error", request_id=request_id)
    assert error["code"] == "rate_limited" and error["retry_after"] == 40
    assert "2 messages a minute" in error["detail"]
    await socket.close()


@pytest.mark.django_db(transaction=True)
async def test_concurrent_generations_are_limited(user, emulator_provider, per_minute) -> None:
    per_minute(20, live=1)
    socket = await open_socket(user)
    first = await socket.chat("long [[tokens=100000]]")
    request_id = str(uuid.uuid4())
    await socket.send({"type": "send", "request_id": request_id, "conversation": None, "content": "another"})
    error = await socket.until("error", request_id=request_id)
    assert error["code"] == "rate_limited" and error["retry_after"] > 0 and "being written" in error["detail"]
    await socket.send({"type": "stop", "message": first["assistant_message"]["id"]})
    await socket.until("message.done", message=first["assistant_message"]["id"])
    second = await socket.chat("now it fits [[tokens=3]]")
    await socket.until("message.done", message=second["assistant_message"]["id"])
    await socket.close()


@pytest.mark.django_db
def test_deleting_a_chat_while_its_reply_streams_frees_the_slot(user, emulator_provider, per_minute) -> None:
    from chat import services
    from chat.models import Conversation

    per_minute(20, live=1)
    started = services.send(user, request_id=uuid.uuid4(), conversation_id=None, content="long")
    with pytest.raises(ChatError) as refused:
        services.send(user, request_id=uuid.uuid4(), conversation_id=None, content="another")
    assert refused.value.code == "rate_limited"
    Conversation.objects.filter(pk=started.conversation.pk).delete()
    assert services.send(user, request_id=uuid.uuid4(), conversation_id=None, content="now it fits").duplicate is False
