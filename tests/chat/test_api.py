"""The JSON API: PROTOCOL.md's shapes, ownership, pagination, CSRF."""
from __future__ import annotations

import uuid

import pytest
from django.test import Client

from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db


def _conversation(owner, title: str, text: str = "hello") -> Conversation:  # type: ignore[no-untyped-def]
    conversation = Conversation.objects.create(owner=owner, title=title)
    question = Message.objects.create(conversation=conversation, role="user", content=text)
    answer = Message.objects.create(conversation=conversation, role="assistant", parent=question,
                                    content="an answer", status="complete", model_slug="grok-4")
    conversation.current_leaf = answer
    conversation.save()
    return conversation


def test_anonymous_calls_are_refused() -> None:
    assert Client().get("/api/conversations/").status_code == 401
    assert Client().get("/api/models/").status_code == 401


def test_an_anonymous_write_is_told_to_sign_in_not_that_its_csrf_token_failed() -> None:
    """docs/protocol.md: 401 without a session; the CSRF check is for signed-in writes (nothing to forge before)."""
    anonymous = Client(enforce_csrf_checks=True)
    for answer in (anonymous.patch(f"/api/conversations/{uuid.uuid4()}/", {}, content_type="application/json"),
                   anonymous.delete(f"/api/conversations/{uuid.uuid4()}/"), anonymous.post("/api/attachments/")):
        assert answer.status_code == 401 and answer.json()["code"] == "unauthorized"


def test_models_list_has_the_protocol_shape(logged_in, emulator_provider) -> None:
    models = logged_in.get("/api/models/").json()
    by_slug = {m["slug"]: m for m in models}
    fast = by_slug["grok-4-fast-reasoning"]
    assert fast["price"] == {"input": "0.200000", "cached_input": "0.050000", "output": "0.500000"}
    assert fast["reasoning"] is True and fast["vision"] is True and fast["simulated"] is True
    assert {"slug", "name", "provider", "reasoning", "vision", "context_window", "price"} <= set(fast)
    assert sum(m["default"] for m in models) == 1


def test_a_time_is_spelled_as_the_websocket_frames_spell_it(logged_in, user) -> None:
    """One instant, one string: the list's updated_at is the conversation frames' (chat.selectors)."""
    from chat.selectors import conversation_dict, message_dict

    conversation = _conversation(user, "timed")
    listed = logged_in.get("/api/conversations/").json()["results"][0]
    framed = conversation_dict(Conversation.objects.get(pk=conversation.pk))
    assert listed["updated_at"] == framed["updated_at"]
    whole = logged_in.get(f"/api/conversations/{conversation.id}/").json()
    stored = Message.objects.get(pk=whole["messages"][0]["id"])
    assert whole["messages"][0]["created_at"] == message_dict(stored)["created_at"]


def test_conversations_are_the_users_own_newest_first_and_paged(logged_in, user, make_user) -> None:
    other = make_user("bob")
    _conversation(other, "bob's secret")
    made = [_conversation(user, f"chat {i}") for i in range(35)]
    first = logged_in.get("/api/conversations/").json()
    assert len(first["results"]) == 30 and first["next"]
    assert first["results"][0]["id"] == str(made[-1].id)
    second = logged_in.get("/api/conversations/", {"cursor": first["next"]}).json()
    ids = [r["id"] for r in first["results"] + second["results"]]
    assert len(ids) == len(set(ids)) == 35 and second["next"] is None
    assert "bob's secret" not in str(first) + str(second)
    assert logged_in.get("/api/conversations/", {"cursor": "garbage"}).status_code == 400


def test_search_matches_titles_and_message_text(logged_in, user) -> None:
    _conversation(user, "Lisbon trip")
    _conversation(user, "Untitled", text="what about quaternions?")
    _conversation(user, "Other")
    titles = lambda q: {r["title"] for r in logged_in.get("/api/conversations/", {"q": q}).json()["results"]}
    assert titles("lisbon") == {"Lisbon trip"}
    assert titles("QUATERNION") == {"Untitled"}


def test_detail_shows_the_visible_branch(logged_in, user) -> None:
    conversation = _conversation(user, "branches")
    question = conversation.messages.get(role="user")
    Message.objects.create(conversation=conversation, role="assistant", parent=question, content="old answer",
                           status="complete")
    body = logged_in.get(f"/api/conversations/{conversation.id}/").json()
    assert [m["content"] for m in body["messages"]] == ["hello", "an answer"]
    assert {"id", "role", "content", "reasoning", "status", "model", "parent", "created_at", "finish_reason",
            "usage"} <= set(body["messages"][1])


def test_another_users_conversation_is_404_like_a_missing_one(logged_in, make_user) -> None:
    theirs = _conversation(make_user("bob"), "secret")
    for path in (f"/api/conversations/{theirs.id}/", f"/api/conversations/{uuid.uuid4()}/"):
        response = logged_in.get(path)
        assert response.status_code == 404 and "secret" not in response.content.decode()
    assert logged_in.delete(f"/api/conversations/{theirs.id}/").status_code == 404
    assert Conversation.objects.filter(id=theirs.id).exists()


def test_writes_need_a_csrf_token(user) -> None:
    conversation = _conversation(user, "keep")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.patch(f"/api/conversations/{conversation.id}/", {"title": "x"}, content_type="application/json")
    assert response.status_code == 403
    client.get("/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    response = client.patch(f"/api/conversations/{conversation.id}/", {"title": "Renamed", "pinned": True},
                            content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200 and response.json()["pinned"] is True
    conversation.refresh_from_db()
    assert conversation.title == "Renamed"


@pytest.mark.parametrize("body", [{"pinned": "true"}, {"pinned": 1}, {"archived": "yes"},
                                  {"params": {"temperature": "1"}}, {"params": {"max_tokens": 5.0}}])
def test_a_patch_field_of_the_wrong_type_is_refused_not_coerced(logged_in, user, body) -> None:
    """docs/protocol.md: a body of the wrong type answers 400 bad_request; "true" is not a bool, "1" not a number."""
    conversation = _conversation(user, "keep")
    response = logged_in.patch(f"/api/conversations/{conversation.id}/", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "bad_request"
    conversation.refresh_from_db()
    assert not conversation.pinned and not conversation.archived and not conversation.params


def test_a_preset_flag_of_the_wrong_type_is_refused(logged_in) -> None:
    response = logged_in.post("/api/presets/", {"name": "p", "model": "grok-3-mini", "team": "false"},
                              content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "bad_request"


def test_an_unknown_api_path_and_a_method_a_path_does_not_take_answer_the_json_refusal(logged_in) -> None:
    """docs/protocol.md: every refusal under /api/ is `{detail, code}`, these two (from the URL resolver and
    from ninja's method dispatch) too; a page elsewhere keeps its HTML 404, and a missing slash its redirect."""
    missing = logged_in.get("/api/no-such-thing/")
    assert missing.status_code == 404 and missing["Content-Type"].startswith("application/json")
    assert missing.json()["code"] == "not_found" and missing.json()["detail"]
    assert Client().get("/api/no-such-thing/").json()["code"] == "not_found"
    wrong = logged_in.post("/api/models/")
    assert wrong.status_code == 405 and wrong["Allow"] == "GET"
    assert wrong.json()["code"] == "bad_request" and "GET" in wrong.json()["detail"]
    assert logged_in.get("/api/models").status_code == 301  # APPEND_SLASH still finds /api/models/
    assert logged_in.get("/no-such-page/")["Content-Type"].startswith("text/html")


def test_openapi_schema_is_served(logged_in) -> None:
    schema = Client().get("/api/openapi.json").json()
    assert "/api/conversations/{conversation_id}/" in schema["paths"]


def test_health_endpoints() -> None:
    assert Client().get("/healthz").status_code == 200
    ready = Client().get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
