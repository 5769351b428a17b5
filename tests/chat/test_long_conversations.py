"""Long conversations, branches and the sidebar's changes over the socket and the API (issue 14)."""
from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from chat.models import Conversation, Message
from tests.chat.wsclient import open_socket

pytestmark = pytest.mark.django_db(transaction=True)
db = database_sync_to_async
BOUND = 256 * 1024
TEXT = "The harbor master logged every vessel that came in through the breakwater. " * 30  # ~2.3 KB


def chain(owner: Any, count: int, text: str = TEXT, title: str = "Long") -> tuple[Conversation, list[Message]]:
    """A conversation of `count` alternating messages, one branch, made through the ORM."""
    conversation = Conversation.objects.create(owner=owner, title=title)
    rows: list[Message] = []
    parent = None
    for i in range(count):
        message = Message(id=uuid.uuid4(), conversation=conversation, parent_id=parent,
                          role="user" if i % 2 == 0 else "assistant", content=f"{text} [{i}]",
                          status="complete", model_slug="" if i % 2 == 0 else "grok-4")
        rows.append(message)
        parent = message.id
    Message.objects.bulk_create(rows, batch_size=500)
    conversation.current_leaf_id = parent
    conversation.save()
    return conversation, rows


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def frame_size(frame: dict[str, Any]) -> int:
    return len(json.dumps(frame, ensure_ascii=False).encode())


async def test_a_long_conversation_opens_with_its_latest_page_and_a_cursor(user, emulator_provider) -> None:
    conversation, rows = await db(chain)(user, 1000)
    socket = await open_socket(user)
    await socket.send({"type": "subscribe", "conversation": str(conversation.id)})
    snap = await socket.until("conversation.snapshot")
    assert frame_size(snap) <= BOUND
    ids = [m["id"] for m in snap["messages"]]
    assert ids == [str(m.id) for m in rows[-len(ids):]] and 0 < len(ids) < 1000  # the newest, in order
    assert snap["more"] is True and snap["cursor"] == ids[0]
    assert snap["conversation"]["leaf"] == str(rows[-1].id)
    assert all(m["siblings"] == [m["id"]] for m in snap["messages"])
    await socket.close()

    # Older pages over HTTP walk back to the first message, each once, each under the bound.
    client = await db(client_for)(user)
    seen = ids
    cursor = snap["cursor"]
    while cursor:
        answer = await db(client.get)(f"/api/conversations/{conversation.id}/messages", {"before": cursor})
        assert answer.status_code == 200 and len(answer.content) <= BOUND
        page = answer.json()
        seen = [m["id"] for m in page["messages"]] + seen
        cursor = page["cursor"] if page["more"] else None
    assert seen == [str(m.id) for m in rows]


async def test_a_message_too_large_for_a_frame_is_cut_and_marked(user, emulator_provider) -> None:
    conversation, rows = await db(chain)(user, 3)
    await db(Message.objects.filter(id=rows[-1].id).update)(content="é" * 400_000)
    socket = await open_socket(user)
    await socket.send({"type": "subscribe", "conversation": str(conversation.id)})
    snap = await socket.until("conversation.snapshot")
    assert frame_size(snap) <= BOUND
    last = snap["messages"][-1]
    assert last["id"] == str(rows[-1].id) and last["truncated"] is True and last["content"].startswith("é")
    await socket.close()


async def test_edits_and_regenerations_carry_their_siblings(user, emulator_provider) -> None:
    socket = await open_socket(user)
    first = await socket.chat("Tell me about lighthouses.")
    conversation = first["conversation"]
    await socket.until("message.done", message=first["assistant_message"]["id"], timeout=30)
    question = first["user_message"]["id"]
    assert first["user_message"]["siblings"] == [question]

    await socket.send({"type": "edit", "request_id": str(uuid.uuid4()), "message": question,
                       "content": "Tell me about harbors."})
    edited = await socket.until("message.created")
    assert edited["user_message"]["siblings"] == [question, edited["user_message"]["id"]]
    await socket.until("message.done", message=edited["assistant_message"]["id"], timeout=30)

    await socket.send({"type": "regenerate", "request_id": str(uuid.uuid4()),
                       "message": edited["assistant_message"]["id"]})
    again = await socket.until("message.created")
    assert again["assistant_message"]["siblings"] == [edited["assistant_message"]["id"],
                                                      again["assistant_message"]["id"]]
    await socket.until("message.done", message=again["assistant_message"]["id"], timeout=30)

    # Switching back to the first question is remembered and told to every tab.
    client = await db(client_for)(user)
    answer = await db(client.patch)(f"/api/conversations/{conversation}/", {"leaf": question},
                                    content_type="application/json")
    assert answer.status_code == 200 and answer.json()["leaf"] == first["assistant_message"]["id"]
    told = await socket.until("conversation.updated")
    assert told["conversation"] == {"id": conversation, "title": told["conversation"]["title"],
                                    "leaf": first["assistant_message"]["id"]}
    await socket.send({"type": "subscribe", "conversation": conversation})
    snap = await socket.until("conversation.snapshot")
    assert [m["id"] for m in snap["messages"]] == [question, first["assistant_message"]["id"]]
    assert snap["messages"][0]["siblings"] == [question, edited["user_message"]["id"]]

    # Forward again: the newest continuation of the edited question (the regenerated reply).
    await db(client.patch)(f"/api/conversations/{conversation}/", {"leaf": edited["user_message"]["id"]},
                           content_type="application/json")
    stored = await db(Conversation.objects.get)(id=conversation)
    assert str(stored.current_leaf_id) == again["assistant_message"]["id"]
    other = await db(Message.objects.create)(conversation=await db(Conversation.objects.create)(owner=user),
                                             role="user", content="elsewhere")
    wrong = await db(client.patch)(f"/api/conversations/{conversation}/", {"leaf": str(other.id)},
                                   content_type="application/json")
    assert wrong.status_code == 404
    await socket.close()


async def test_rename_pin_archive_and_delete_reach_every_tab(user, make_user, emulator_provider) -> None:
    conversation, _ = await db(chain)(user, 2, title="Before")
    before = conversation.updated_at
    tab = await open_socket(user)
    stranger = await db(make_user)("bob")
    client = await db(client_for)(user)

    async def patch(**change: Any) -> dict[str, Any]:
        answer = await db(client.patch)(f"/api/conversations/{conversation.id}/", change,
                                        content_type="application/json")
        assert answer.status_code == 200
        return (await tab.until("conversation.updated"))["conversation"]

    assert (await patch(title="  Renamed  "))["title"] == "Renamed"
    pinned = await patch(pinned=True)
    assert pinned["pinned"] is True and pinned["archived"] is False and "updated_at" in pinned
    assert (await patch(archived=True))["archived"] is True
    stored = await db(Conversation.objects.get)(id=conversation.id)
    assert stored.updated_at == before  # none of these moves the chat in the list

    theirs = await db(client_for)(stranger)
    assert (await db(theirs.delete)(f"/api/conversations/{conversation.id}/")).status_code == 404
    assert (await db(client.delete)(f"/api/conversations/{conversation.id}/")).status_code == 204
    gone = await tab.until("conversation.deleted")
    assert gone["conversation"] == str(conversation.id)
    await tab.close()


def opening_of(html: str) -> dict[str, Any] | None:
    """The page the chat page's HTML carries (`<script id="opening" type="application/json">`)."""
    import re

    found = re.search(r'<script id="opening" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(found.group(1)) if found else None


async def test_the_chat_page_carries_the_latest_page_the_snapshot_then_repeats(user, emulator_provider) -> None:
    conversation, rows = await db(chain)(user, 1000, text=TEXT + " </script><script>alert(1)</script>")
    client = await db(client_for)(user)
    answer = await db(client.get)(f"/c/{conversation.id}/")
    assert answer.status_code == 200
    assert "no-store" in answer["Cache-Control"]  # a private page: never kept by a cache on the way
    html = answer.content.decode()
    assert "<script>alert(1)" not in html  # the text is JSON inside the page, escaped
    opening = opening_of(html)
    assert opening is not None and len(answer.content) < BOUND + 64 * 1024
    assert opening["messages"][-1]["id"] == str(rows[-1].id) and opening["messages"][-1]["content"].endswith("[999]")
    assert opening["more"] is True and opening["cursor"] == opening["messages"][0]["id"]

    socket = await open_socket(user)
    await socket.send({"type": "subscribe", "conversation": str(conversation.id)})
    snap = await socket.until("conversation.snapshot")
    await socket.close()
    assert snap["messages"] == opening["messages"] and snap["cursor"] == opening["cursor"]
    assert snap["conversation"] == opening["conversation"] and snap["live"] == []


async def test_the_chat_page_carries_nothing_of_another_users_conversation(user, make_user, emulator_provider) -> None:
    other = await db(make_user)("someone-else")
    conversation, _ = await db(chain)(other, 4)
    client = await db(client_for)(user)
    answer = await db(client.get)(f"/c/{conversation.id}/")
    assert answer.status_code == 200  # the shell; its socket then says not_found
    assert opening_of(answer.content.decode()) is None and TEXT[:40] not in answer.content.decode()
    assert opening_of((await db(client.get)("/")).content.decode()) is None
