"""The websocket protocol, end to end through the ASGI app, the hub and the emulator."""
from __future__ import annotations

import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat.models import Conversation, Message
from grokweb.asgi import application
from tests.chat.wsclient import Socket, connect, open_socket, refused_with, session_cookie
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async


async def test_an_anonymous_socket_is_closed_with_4401(emulator_provider) -> None:
    assert await refused_with(None) == 4401


async def test_a_session_from_before_a_password_change_opens_no_socket(user, emulator_provider) -> None:
    """The socket reads its session once (accounts.socket_auth), and checks it as a page would."""
    communicator, connected, _ = await connect(user)
    assert connected
    await communicator.disconnect()

    def change_password() -> None:
        user.set_password("a-new-password-456")
        user.save()

    cookie = await session_cookie(user)
    await db(change_password)()
    headers = [(b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1"), (b"cookie", f"sessionid={cookie}".encode())]
    stale = WebsocketCommunicator(application, "/ws/chat/", headers=headers)
    accepted, _ = await stale.connect(timeout=5)
    assert accepted
    message = await stale.receive_output(timeout=5)
    assert message == {"type": "websocket.close", "code": 4401}
    await stale.wait()


async def test_a_socket_without_an_allowed_origin_is_refused(user, emulator_provider) -> None:
    communicator, connected, _ = await connect(user, origin=b"http://evil.example")
    assert not connected


ID = "6b0d5c1e-3f1a-4c8e-9d2b-5a7f0e4c1b93"  # fixed: pytest-xdist workers must collect the same test ids


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_request"),
        ("[1, 2]", "bad_request"),
        ('{"content": "no type"}', "bad_request"),
        ('{"type": "dance"}', "bad_request"),
        ('{"type": "send", "request_id": "nope", "content": "hi"}', "bad_request"),
        ('{"type": "send", "request_id": "%s", "content": 5}' % ID, "bad_request"),
        ('{"type": "send", "request_id": "%s", "content": "   "}' % ID, "bad_request"),
        (json.dumps({"type": "send", "request_id": ID, "content": "x" * 300_000}), "too_large"),
        (json.dumps({"type": "send", "request_id": ID, "content": "x" * 150_000}), "too_large"),
        (json.dumps({"type": "send", "request_id": ID, "content": "hi", "model": "gpt-9"}),
         "model_unavailable"),
        # A known field of the wrong type is refused, never coerced (PROTOCOL.md): a number in a string, a bool.
        (json.dumps({"type": "send", "request_id": ID, "content": "hi", "params": {"max_tokens": "100"}}),
         "bad_request"),
        (json.dumps({"type": "send", "request_id": ID, "content": "hi", "params": {"temperature": "1"}}),
         "bad_request"),
        (json.dumps({"type": "send", "request_id": ID, "content": "hi", "params": {"temperature": True}}),
         "bad_request"),
        (json.dumps({"type": "send", "request_id": ID, "content": "hi", "params": {"max_tokens": True}}),
         "bad_request"),
        (json.dumps({"type": "send", "request_id": ID, "content": "hi", "params": {"top_p": "0.5"}}),
         "bad_request"),
    ],
)
async def test_bad_frames_get_an_error_and_store_nothing(user, emulator_provider, raw, code) -> None:
    socket = await open_socket(user)
    await socket.ws.send_to(text_data=raw)
    frame = await socket.recv()
    assert frame["type"] == "error" and frame["code"] == code and frame["detail"]
    await socket.send({"type": "ping"})
    assert (await socket.recv())["type"] == "pong"  # the socket stays open
    assert await db(Message.objects.count)() == 0 and await db(Conversation.objects.count)() == 0
    await socket.close()


@pytest.mark.parametrize("content", ["x" * 300_000, "x" * 150_000, "   "], ids=["frame", "message", "empty"])
async def test_an_error_frame_names_the_request_id_the_refused_frame_had(user, emulator_provider, content) -> None:
    """PROTOCOL.md: `error` carries `request_id` when the frame had one, a frame over MAX_FRAME_BYTES
    included, so a client can tell which of its sends was refused."""
    socket = await open_socket(user)
    await socket.send({"type": "send", "request_id": ID, "conversation": None, "content": content})
    frame = await socket.recv()
    assert frame["type"] == "error" and frame["request_id"] == ID
    await socket.close()


async def test_the_limits_hold_at_their_edges(user, emulator_provider, settings) -> None:
    """docs/protocol.md: a frame *over* MAX_FRAME_BYTES and a message *over* MAX_MESSAGE_CHARS are too_large;
    exactly at the limit is served."""
    limit = settings.GROKWEB["MAX_FRAME_BYTES"]
    socket = await open_socket(user)
    head = '{"type": "ping", "pad": "'
    await socket.ws.send_to(text_data=head + "x" * (limit - len(head) - 2) + '"}')
    assert (await socket.recv())["type"] == "pong"
    await socket.ws.send_to(text_data=head + "x" * (limit - len(head) - 1) + '"}')
    assert (await socket.recv())["code"] == "too_large"
    chars = settings.GROKWEB["MAX_MESSAGE_CHARS"]
    directive = " [[tokens=2]]"
    await socket.send({"type": "send", "request_id": str(uuid.uuid4()), "content": "x" * (chars + 1)})
    assert (await socket.until("error"))["code"] == "too_large"
    created = await socket.chat("x" * (chars - len(directive)) + directive)
    await socket.until("message.done", message=created["assistant_message"]["id"])
    await socket.close()


async def test_another_users_conversation_is_not_found(user, make_user, emulator_provider) -> None:
    owner = await db(make_user)("bob")
    theirs = await db(Conversation.objects.create)(owner=owner, title="secret plans")
    socket = await open_socket(user)
    for frame in (
        {"type": "subscribe", "conversation": str(theirs.id)},
        {"type": "send", "request_id": str(uuid.uuid4()), "conversation": str(theirs.id), "content": "hi"},
        {"type": "subscribe", "conversation": str(uuid.uuid4())},
    ):
        await socket.send(frame)
        answer = await socket.until("error")
        assert answer["code"] == "not_found" and "secret" not in answer["detail"]
    assert await db(Message.objects.count)() == 0
    await socket.close()


async def test_send_streams_a_reply_and_stores_it(user, emulator_provider) -> None:
    socket = await open_socket(user)
    created = await socket.chat("Hello Grok [[tokens=50]]")
    reply = created["assistant_message"]
    assert reply["status"] == "streaming" and created["user_message"]["content"] == "Hello Grok [[tokens=50]]"
    done = await socket.until("message.done", message=reply["id"])
    deltas = [f for f in socket.seen if f["type"] == "message.delta"]
    assert [f["seq"] for f in deltas] == list(range(1, len(deltas) + 1))
    assert "".join(f["content"] for f in deltas) == done["content"]
    stored = await db(Message.objects.get)(id=reply["id"])
    assert stored.status == "complete" and stored.content == done["content"]
    assert done["usage"]["completion_tokens"] == 50 and done["usage"]["cost_usd"].startswith("0.")
    assert any(f["type"] == "conversation.created" for f in socket.seen)
    await socket.close()


async def test_optional_send_fields_may_be_null(user, emulator_provider) -> None:
    """PROTOCOL.md: `attachments`, `model`, `params`, `system_prompt` are optional; null says "none", as absent does."""
    socket = await open_socket(user)
    created = await socket.chat("Hi [[tokens=3]]", attachments=None, model=None, params=None, system_prompt=None)
    assert created["user_message"]["content"] == "Hi [[tokens=3]]"
    await socket.until("message.done", message=created["assistant_message"]["id"])
    await socket.close()


async def test_repeating_a_request_id_never_starts_a_second_reply(user, emulator_provider) -> None:
    socket = await open_socket(user)
    request_id = str(uuid.uuid4())
    frame = {"type": "send", "request_id": request_id, "conversation": None, "content": "once"}
    await socket.send(frame)
    first = await socket.until("message.created", request_id=request_id)
    await socket.send(frame)
    second = await socket.until("message.created", request_id=request_id)
    assert first["assistant_message"]["id"] == second["assistant_message"]["id"]
    await socket.until("message.done")
    await socket.send({"type": "ping"})
    await socket.until("pong")
    # The repeat started nothing: the tab heard of one reply only.
    assert {f["message"] for f in socket.seen if f["type"].startswith("message.") and "message" in f} == {
        first["assistant_message"]["id"]}
    assert await db(Message.objects.filter(role="assistant").count)() == 1
    assert await db(UsageRecord.objects.filter(purpose="chat").count)() == 1
    await socket.close()


async def test_stop_ends_the_reply_as_cancelled_with_its_text(user, emulator_provider) -> None:
    socket = await open_socket(user)
    created = await socket.chat("Long please [[tokens=100000]]")
    reply_id = created["assistant_message"]["id"]
    await socket.until("message.delta", message=reply_id)
    await socket.send({"type": "stop", "message": reply_id})
    done = await socket.until("message.done", message=reply_id)
    stored = await db(Message.objects.get)(id=reply_id)
    assert done["status"] == "cancelled" == stored.status
    assert stored.content and stored.content == done["content"]
    assert done["usage"]["estimated"] is True
    await socket.close()


USAGE_FIELDS = {"prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens", "total_tokens", "cost_usd",
                "estimated"}


async def test_a_reply_stopped_before_its_first_token_ends_with_every_field_of_message_done(user,
                                                                                            emulator_provider) -> None:
    """PROTOCOL.md's message.done, whole, for the emptiest ending: finish_reason null (stopped), no text,
    an estimated usage (the prompt), and timing with ttft_ms null (no token came) but a duration."""
    socket = await open_socket(user)
    created = await socket.chat("Wait for it [[ttft_ms=20000]]")
    reply_id = created["assistant_message"]["id"]
    await socket.send({"type": "stop", "message": reply_id})
    done = await socket.until("message.done", message=reply_id, timeout=20)
    assert {"message", "status", "finish_reason", "content", "usage", "timing"} <= set(done)
    assert (done["status"], done["finish_reason"], done["content"]) == ("cancelled", None, "")
    assert set(done["usage"]) >= USAGE_FIELDS and done["usage"]["estimated"] is True
    assert done["usage"]["prompt_tokens"] > 0 and isinstance(done["usage"]["cost_usd"], str)
    assert done["timing"]["ttft_ms"] is None and isinstance(done["timing"]["duration_ms"], int)
    await socket.close()


async def test_closing_the_tab_does_not_stop_the_reply_and_a_new_tab_resyncs(user, emulator_provider) -> None:
    """Snapshot + later frames add up to exactly the stored text."""
    socket = await open_socket(user)
    created = await socket.chat("Keep going [[tokens=20000]]")
    reply_id, conversation = created["assistant_message"]["id"], created["conversation"]
    await socket.until("message.delta", message=reply_id)
    await socket.close()

    second = await open_socket(user)
    await second.send({"type": "subscribe", "conversation": conversation})
    snapshot = await second.until("conversation.snapshot")
    live = {item["message"]: item for item in snapshot["live"]}
    finished_early = reply_id not in live  # it ended before this tab subscribed: no frames will follow
    done = None if finished_early else await second.until("message.done", message=reply_id)
    text = live[reply_id]["content"] if reply_id in live else None
    if text is None:  # finished before the snapshot was taken
        text = next(m["content"] for m in snapshot["messages"] if m["id"] == reply_id)
    later = [f for f in second.seen if f["type"] == "message.delta" and f["message"] == reply_id]
    if later:
        assert later[0]["seq"] == live[reply_id]["seq"] + 1
    text += "".join(f["content"] for f in later)
    stored = await db(Message.objects.get)(id=reply_id)
    assert stored.status == "complete" and text == stored.content
    assert done is None or done["content"] == stored.content
    await second.close()


async def test_a_tab_opened_mid_reply_learns_how_long_it_thought(user, emulator_provider) -> None:
    socket = await open_socket(user)
    created = await socket.chat("Long please [[tokens=100000]]")
    reply_id = created["assistant_message"]["id"]
    await socket.until("message.delta", message=reply_id)
    second = await open_socket(user)
    await second.send({"type": "subscribe", "conversation": created["conversation"]})
    live = {item["message"]: item for item in (await second.until("conversation.snapshot"))["live"]}
    assert isinstance(live[reply_id]["thought_ms"], int) and live[reply_id]["thought_ms"] >= 0
    await socket.send({"type": "stop", "message": reply_id})
    await socket.until("message.done", message=reply_id)
    await second.close()
    await socket.close()


async def test_a_failed_reply_keeps_its_partial_text(user, emulator_provider) -> None:
    socket = await open_socket(user)
    created = await socket.chat("Hello [[fault:drop:4]]")
    error = await socket.until("message.error", message=created["assistant_message"]["id"])
    stored = await db(Message.objects.get)(id=created["assistant_message"]["id"])
    assert error["code"] == "upstream_unavailable" and error["retryable"] is True
    assert stored.status == "error" and stored.content and error["content"] == stored.content
    await socket.close()


async def test_at_most_three_live_replies_per_user(user, emulator_provider) -> None:
    socket = await open_socket(user)
    for _ in range(3):
        await socket.chat("Long [[tokens=100000]]")
    await socket.send({"type": "send", "request_id": str(uuid.uuid4()), "conversation": None, "content": "4th"})
    refused = await socket.until("error")
    assert refused["code"] == "rate_limited"
    for frame in [f for f in socket.seen if f["type"] == "message.created"]:
        await socket.send({"type": "stop", "message": frame["assistant_message"]["id"]})
        await socket.until("message.done", message=frame["assistant_message"]["id"])
    assert await db(Message.objects.filter(status="streaming").count)() == 0
    await socket.close()


async def test_a_first_reply_gets_a_title_pushed_to_the_users_tabs(user, emulator_provider) -> None:
    socket = await open_socket(user)
    created = await socket.chat("Plan a trip to Lisbon")
    updated = await socket.until("conversation.updated")
    assert updated["conversation"]["id"] == created["conversation"] and updated["conversation"]["title"]
    conversation = await db(Conversation.objects.get)(id=created["conversation"])
    assert conversation.title == updated["conversation"]["title"]
    assert await db(UsageRecord.objects.filter(purpose="title", conversation=conversation).count)() == 1
    await socket.close()


async def test_regenerate_makes_a_sibling_reply(user, emulator_provider) -> None:
    socket: Socket = await open_socket(user)
    created = await socket.chat("Pick a colour")
    first = created["assistant_message"]["id"]
    await socket.until("message.done", message=first)
    request_id = str(uuid.uuid4())
    await socket.send({"type": "regenerate", "request_id": request_id, "message": first})
    again = await socket.until("message.created", request_id=request_id)
    await socket.until("message.done", message=again["assistant_message"]["id"])
    assert again["assistant_message"]["parent"] == created["user_message"]["id"]
    await socket.send({"type": "subscribe", "conversation": created["conversation"]})
    snapshot = await socket.until("conversation.snapshot")
    assert [m["id"] for m in snapshot["messages"]] == [created["user_message"]["id"], again["assistant_message"]["id"]]
    await socket.close()


async def test_a_stopped_first_reply_still_names_the_conversation(user, emulator_provider) -> None:
    socket = await open_socket(user)
    created = await socket.chat("Plan a week in Kyoto [[tokens=100000]]")
    reply_id = created["assistant_message"]["id"]
    await socket.until("message.delta", message=reply_id)
    await socket.send({"type": "stop", "message": reply_id})
    await socket.until("message.done", message=reply_id)
    updated = await socket.until("conversation.updated")
    assert updated["conversation"]["id"] == created["conversation"] and updated["conversation"]["title"]
    await socket.close()
