"""What a new chat starts with: custom instructions, presets (own and team), and parameters checked per model."""
from __future__ import annotations

import uuid

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from chat import services
from chat.models import Conversation, Preset
from gateways.wire.codes import ChatError
from tests.chat.wsclient import open_socket

pytestmark = pytest.mark.django_db
db = database_sync_to_async
JSON = "application/json"


def _send(user, **extra):  # type: ignore[no-untyped-def]
    return services.send(user, request_id=uuid.uuid4(), conversation_id=None, content="hello", **extra)


def test_custom_instructions_start_every_new_chat_before_its_own_prompt(logged_in, user, emulator_provider,
                                                                        settings) -> None:
    settings.GROKWEB = {**settings.GROKWEB, "MAX_LIVE_GENERATIONS": 10}  # the replies are stored, never run
    assert logged_in.get("/api/me/instructions/").json() == {"custom_instructions": ""}
    answer = logged_in.put("/api/me/instructions/", {"custom_instructions": "  Answer in French.  "},
                           content_type=JSON)
    assert answer.status_code == 200 and answer.json() == {"custom_instructions": "Answer in French."}
    plain = _send(user).conversation
    assert plain.system_prompt == "Answer in French."
    with_own = _send(user, system_prompt="You are a travel agent.").conversation
    assert with_own.system_prompt == "Answer in French.\n\nYou are a travel agent."
    # What the model is sent: one system message first.
    plan = services.prepare(_send(user).assistant_message.id)
    assert plan.request.messages[0] == {"role": "system", "content": "Answer in French."}
    # Earlier chats keep what they started with.
    logged_in.put("/api/me/instructions/", {"custom_instructions": ""}, content_type=JSON)
    assert Conversation.objects.get(pk=plain.pk).system_prompt == "Answer in French."
    assert _send(user).conversation.system_prompt == ""


def test_instructions_too_long_are_refused_and_nothing_changes(logged_in) -> None:
    answer = logged_in.put("/api/me/instructions/", {"custom_instructions": "x" * 20_001}, content_type=JSON)
    assert answer.status_code == 400 and answer.json()["code"] == "too_large"
    assert logged_in.get("/api/me/instructions/").json() == {"custom_instructions": ""}


def test_a_person_saves_lists_changes_and_deletes_their_presets(logged_in, emulator_provider) -> None:
    made = logged_in.post("/api/presets/", {"name": "Terse coder", "model": "grok-3-mini",
                                            "system_prompt": "Code only.",
                                            "params": {"temperature": 0.2, "reasoning_effort": "high"}},
                          content_type=JSON)
    assert made.status_code == 201
    preset = made.json()
    assert preset["team"] is False and preset["editable"] and preset["available"]
    assert preset["params"] == {"temperature": 0.2, "reasoning_effort": "high"}
    changed = logged_in.patch(f"/api/presets/{preset['id']}/", {"name": "Coder", "params": {"max_tokens": 500}},
                              content_type=JSON).json()
    assert changed["name"] == "Coder" and changed["params"] == {"max_tokens": 500}
    assert [p["name"] for p in logged_in.get("/api/presets/").json()] == ["Coder"]
    assert logged_in.delete(f"/api/presets/{preset['id']}/").status_code == 204
    assert logged_in.get("/api/presets/").json() == []


@pytest.mark.parametrize(("body", "code", "words"), [
    ({"name": "x", "model": "grok-4-0709", "params": {"reasoning_effort": "high"}}, "bad_request", "does not take"),
    ({"name": "x", "model": "grok-3-mini", "params": {"temperature": 3}}, "bad_request", "between 0 and 2"),
    ({"name": "x", "model": "grok-3-mini", "params": {"max_tokens": 1.5}}, "bad_request", "whole number"),
    ({"name": "x", "model": "grok-3-mini", "params": {"seed": 1}}, "bad_request", "Unknown parameter"),
    ({"name": " ", "model": "grok-3-mini"}, "bad_request", "needs a name"),
    ({"name": "x", "model": "no-such-model"}, "model_unavailable", "not available"),
])
def test_a_preset_a_model_cannot_honour_is_refused_with_a_reason(logged_in, emulator_provider, body, code,
                                                                 words) -> None:
    answer = logged_in.post("/api/presets/", body, content_type=JSON)
    assert answer.status_code in (400, 404) and answer.json()["code"] == code and words in answer.json()["detail"]
    assert not Preset.objects.exists()


def test_staff_publish_team_presets_that_everyone_sees_and_only_staff_change(staff_client, logged_in, make_user,
                                                                             emulator_provider) -> None:
    team = staff_client.post("/api/presets/", {"name": "Team reviewer", "model": "grok-4-0709", "team": True},
                             content_type=JSON).json()
    assert team["team"] is True
    # Another staff member's private preset stays theirs; the member sees the team one, read-only.
    staff_client.post("/api/presets/", {"name": "Mine", "model": "grok-4-0709"}, content_type=JSON)
    seen = logged_in.get("/api/presets/").json()
    assert [(p["name"], p["team"], p["editable"]) for p in seen] == [("Team reviewer", True, False)]
    assert logged_in.patch(f"/api/presets/{team['id']}/", {"name": "Mine now"}, content_type=JSON).status_code == 403
    assert logged_in.delete(f"/api/presets/{team['id']}/").status_code == 403
    refused = logged_in.post("/api/presets/", {"name": "Ours", "model": "grok-4-0709", "team": True},
                             content_type=JSON)
    assert refused.status_code == 403 and "administrators" in refused.json()["detail"]
    other_admin = Client()
    other_admin.force_login(make_user("ops", is_staff=True))
    assert other_admin.patch(f"/api/presets/{team['id']}/", {"name": "Reviewer"},
                             content_type=JSON).json()["name"] == "Reviewer"


def test_another_persons_own_preset_is_not_found(logged_in, make_user, emulator_provider) -> None:
    bob = Client()
    bob.force_login(make_user("bob"))
    theirs = bob.post("/api/presets/", {"name": "Bob's", "model": "grok-3-mini"}, content_type=JSON).json()
    assert logged_in.patch(f"/api/presets/{theirs['id']}/", {"name": "x"}, content_type=JSON).status_code == 404
    assert logged_in.get("/api/presets/").json() == []


def test_models_say_which_parameters_they_take_within_which_limits(logged_in, emulator_provider) -> None:
    by_slug = {m["slug"]: m for m in logged_in.get("/api/models/").json()}
    mini, grok4 = by_slug["grok-3-mini"]["params"], by_slug["grok-4-0709"]["params"]
    assert mini["reasoning_effort"] == {"choices": ["low", "high"]} and "reasoning_effort" not in grok4
    assert grok4["max_tokens"]["max"] == 256_000 and grok4["temperature"] == {"min": 0, "max": 2, "step": 0.1}


def test_send_refuses_a_parameter_the_model_does_not_take_and_stores_nothing(user, emulator_provider) -> None:
    with pytest.raises(ChatError) as refused:
        _send(user, model_slug="grok-4-0709", params={"reasoning_effort": "low"})
    assert refused.value.code == "bad_request" and "Grok 4 does not take reasoning_effort" in refused.value.detail
    with pytest.raises(ChatError):
        _send(user, model_slug="grok-4-0709", params={"max_tokens": 300_000})  # past its context window
    assert not Conversation.objects.exists()


def test_the_conversation_system_prompt_and_params_are_set_over_http_and_checked(logged_in, user,
                                                                                 emulator_provider) -> None:
    conversation = _send(user, model_slug="grok-3-mini", params={"reasoning_effort": "high"}).conversation
    url = f"/api/conversations/{conversation.id}/"
    answer = logged_in.patch(url, {"system_prompt": " Be brief. ", "params": {"temperature": 0.5, "top_p": 0.9}},
                             content_type=JSON)
    assert answer.status_code == 200
    stored = logged_in.get(url).json()
    assert stored["system_prompt"] == "Be brief." and stored["params"] == {"temperature": 0.5, "top_p": 0.9}
    bad = logged_in.patch(url, {"params": {"top_p": 0}}, content_type=JSON)
    assert bad.status_code == 400 and "top_p" in bad.json()["detail"]
    # A model change keeps what the new model takes and drops the rest.
    logged_in.patch(url, {"params": {"temperature": 0.5, "reasoning_effort": "low"}}, content_type=JSON)
    logged_in.patch(url, {"model": "grok-4-0709"}, content_type=JSON)
    assert logged_in.get(url).json()["params"] == {"temperature": 0.5}


@pytest.mark.django_db(transaction=True)
async def test_a_new_chat_over_the_socket_uses_the_presets_prompt_and_parameters(user, emulator_provider) -> None:
    socket = await open_socket(user)
    created = await socket.chat("Hi [[tokens=5]]", model="grok-3-mini", system_prompt="Be a pirate.",
                                params={"temperature": 0.3, "max_tokens": 50, "reasoning_effort": "low"})
    await socket.until("message.done", message=created["assistant_message"]["id"])
    conversation = await db(Conversation.objects.get)(pk=created["conversation"])
    assert conversation.system_prompt == "Be a pirate."
    assert conversation.params == {"temperature": 0.3, "max_tokens": 50, "reasoning_effort": "low"}
    request_id = str(uuid.uuid4())
    await socket.send({"type": "send", "request_id": request_id, "conversation": None, "content": "x",
                       "model": "grok-4-0709", "params": {"reasoning_effort": "low"}})
    error = await socket.until("error", request_id=request_id)
    assert error["code"] == "bad_request" and "does not take reasoning_effort" in error["detail"]
    await socket.close()


def test_max_tokens_up_to_what_api_models_advertises_is_taken_by_patch(logged_in, user, emulator_provider) -> None:
    """docs/protocol.md: `max_tokens` runs from 1 to the model's context window, as `/api/models/` says;
    the frame's own checks must not refuse less (2,000,000-token models were capped at 1,000,000)."""
    top = {m["slug"]: m for m in logged_in.get("/api/models/").json()}["grok-4-1-fast-non-reasoning"]
    highest = top["params"]["max_tokens"]["max"]
    assert highest == 2_000_000
    conversation = _send(user, model_slug="grok-4-1-fast-non-reasoning").conversation
    url = f"/api/conversations/{conversation.id}/"
    answer = logged_in.patch(url, {"params": {"max_tokens": highest}}, content_type=JSON)
    assert answer.status_code == 200 and logged_in.get(url).json()["params"] == {"max_tokens": highest}
    assert logged_in.patch(url, {"params": {"max_tokens": highest + 1}}, content_type=JSON).status_code == 400


@pytest.mark.django_db(transaction=True)
async def test_max_tokens_up_to_the_context_window_is_taken_over_the_socket(user, emulator_provider) -> None:
    socket = await open_socket(user)
    created = await socket.chat("Hi [[tokens=5]]", model="grok-4-1-fast-non-reasoning",
                                params={"max_tokens": 2_000_000})
    done = await socket.until("message.done", message=created["assistant_message"]["id"])
    assert done["status"] == "complete"
    request_id = str(uuid.uuid4())
    await socket.send({"type": "send", "request_id": request_id, "conversation": None, "content": "x",
                       "model": "grok-4-1-fast-non-reasoning", "params": {"max_tokens": 2_000_001}})
    error = await socket.until("error", request_id=request_id)
    assert error["code"] == "bad_request" and "max_tokens" in error["detail"]
    await socket.close()


def test_a_max_tokens_past_any_float_is_refused_as_a_bad_request(logged_in, user, emulator_provider) -> None:
    conversation = _send(user, model_slug="grok-4-1-fast-non-reasoning").conversation
    answer = logged_in.patch(f"/api/conversations/{conversation.id}/", {"params": {"max_tokens": 10**400}},
                             content_type=JSON)
    assert answer.status_code == 400 and answer.json()["code"] == "bad_request"
