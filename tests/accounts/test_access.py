"""Per-model access over HTTP (/api/models/, PATCH) and the websocket (send, regenerate, edit)."""
from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from accounts import access
from chat.models import Conversation, Message
from gateways.models import Model
from tests.chat.wsclient import open_socket

db = database_sync_to_async
LIMITED = "grok-4-0709"


def _limit(slug: str, groups: list) -> None:  # type: ignore[type-arg]
    access.limit_to_groups(Model.objects.get(slug=slug), groups)


@pytest.mark.django_db
def test_the_model_list_leaves_out_models_limited_to_other_groups(logged_in, user, staff_client, make_group,
                                                                   emulator_provider) -> None:
    everyone = {m["slug"] for m in logged_in.get("/api/models/").json()}
    assert LIMITED in everyone
    insiders = make_group("insiders")
    _limit(LIMITED, [insiders])
    _limit("grok-code-fast-1", [])  # staff only
    mine = {m["slug"] for m in logged_in.get("/api/models/").json()}
    assert mine == everyone - {LIMITED, "grok-code-fast-1"}
    assert {m["slug"] for m in staff_client.get("/api/models/").json()} == everyone  # staff see all
    user.groups.add(insiders)
    assert LIMITED in {m["slug"] for m in logged_in.get("/api/models/").json()}
    access.open_to_everyone(Model.objects.get(slug="grok-code-fast-1"))
    assert len(logged_in.get("/api/models/").json()) == len(everyone)


@pytest.mark.django_db
def test_a_conversation_cannot_be_switched_to_a_refused_model(logged_in, user, make_group, emulator_provider) -> None:
    conversation = Conversation.objects.create(owner=user, model=Model.objects.get(is_default=True))
    _limit(LIMITED, [make_group("insiders")])
    answer = logged_in.patch(f"/api/conversations/{conversation.id}/", {"model": LIMITED},
                             content_type="application/json")
    assert answer.status_code == 400 and answer.json()["code"] == "model_unavailable"
    assert "not available" in answer.json()["detail"]
    conversation.refresh_from_db()
    assert conversation.model.slug != LIMITED


@pytest.mark.django_db(transaction=True)
async def test_send_regenerate_and_edit_refuse_a_limited_model(user, make_group, emulator_provider) -> None:
    socket = await open_socket(user)
    created = await socket.chat("first [[tokens=5]]", model=LIMITED)
    await socket.until("message.done", message=created["assistant_message"]["id"])
    group = await db(make_group)("insiders")
    await db(_limit)(LIMITED, [group])
    before = await db(Message.objects.count)()

    request_id = str(uuid.uuid4())
    await socket.send({"type": "send", "request_id": request_id, "conversation": created["conversation"],
                       "content": "again"})
    assert (await socket.until("error", request_id=request_id))["code"] == "model_unavailable"
    request_id = str(uuid.uuid4())
    await socket.send({"type": "regenerate", "request_id": request_id, "message": created["assistant_message"]["id"]})
    assert (await socket.until("error", request_id=request_id))["code"] == "model_unavailable"
    request_id = str(uuid.uuid4())
    await socket.send({"type": "edit", "request_id": request_id, "message": created["user_message"]["id"],
                       "content": "changed"})
    assert (await socket.until("error", request_id=request_id))["code"] == "model_unavailable"
    request_id = str(uuid.uuid4())
    await socket.send({"type": "send", "request_id": request_id, "conversation": None, "content": "new",
                       "model": LIMITED})
    assert (await socket.until("error", request_id=request_id))["code"] == "model_unavailable"
    assert await db(Message.objects.count)() == before  # nothing half-written

    await db(user.groups.add)(group)
    again = await socket.chat("in the group now [[tokens=5]]", conversation=created["conversation"])
    assert again["assistant_message"]["model"] == LIMITED
    await socket.until("message.done", message=again["assistant_message"]["id"])
    await socket.close()


@pytest.mark.django_db
def test_anonymous_users_get_401_from_the_model_list(emulator_provider) -> None:
    assert Client().get("/api/models/").status_code == 401
