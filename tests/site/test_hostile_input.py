"""Hostile input gets a clear 4xx, never a 500: every URL and every frame type, walked with the inputs of an attack run.

Dates at the edge of the calendar, NUL characters, 20,000-character text, deep JSON. The
test client re-raises any exception a view lets escape, so a 500 fails here with its traceback.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from chat.models import Conversation, Message
from tests.chat.wsclient import open_socket

LONG = "x" * 20_000
# Every query parameter a page or endpoint reads.
PARAMS = ("from", "to", "q", "cursor", "view", "limit", "group_by", "format", "source", "token", "table", "user",
          "model", "preset", "before", "next", "status", "o", "p", "e")
HOSTILE = ("9999-12-31", "0001-01-01", "\x00", "a\x00b", LONG, "-1", "{{7*7}}", "=HYPERLINK(\"http://x\")")
# Every form field name a page posts.
FIELDS = ("username", "email", "password", "password1", "password2", "name", "title", "system_prompt", "base_url",
          "api_key", "kind", "note", "group", "groups", "monthly_limit_usd", "monthly_limit_tokens", "expires",
          "expires_at", "model", "slug", "mode", "action", "signup_mode", "days", "priority", "max_tokens", "q")
SKIPPED = ("admin/", "accounts/logout/")  # the admin is Django's (probed below through its search); logout is harmless


def _urls(resolver: URLResolver, prefix: str = "") -> list[str]:
    found = []
    for entry in resolver.url_patterns:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _urls(entry, pattern)
        elif isinstance(entry, URLPattern):
            found.append(pattern)
    return found


def _concrete(pattern: str, ids: dict[str, Any]) -> str | None:
    """A pattern with its parameters filled with real objects' ids (None for the admin's redirects)."""
    if pattern.startswith(SKIPPED) or "(?P<name>" in pattern:
        return None
    pattern = pattern.replace("^", "").replace("$", "").replace("/?", "/")
    pattern = re.sub(r"\(\?P<slug>[^)]*\)", "grok-4-fast", pattern)
    pattern = re.sub(r"\(\?P<path>[^)]*\)", "nowhere", pattern)
    pk = next((ids[prefix] for prefix in ("gateways/providers/listed/", "gateways/routes/")
               if pattern.startswith(prefix)), ids["pk"])
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(pk if m.group(1) == "pk" else ids[m.group(1)]), pattern)


@pytest.fixture
def world(staff, make_user, emulator_provider, settings, tmp_path):  # type: ignore[no-untyped-def]
    from accounts import tokens
    from accounts.models import Invite
    from chat import uploads
    from gateways.models import ListedModel, Route

    settings.MEDIA_ROOT = str(tmp_path / "media")
    attachment = uploads.store(staff, "notes.txt", b"hello")

    conversation = Conversation.objects.create(owner=staff, title="=HYPERLINK(\"http://evil\")")
    Message.objects.create(conversation=conversation, role="user", content="hello", status="complete")
    token = tokens.create(staff, "script")[0]
    invite = Invite.objects.create(created_by=staff, email="new@example.com", token_hash="0" * 64,
                                   expires_at=timezone.now() + dt.timedelta(days=1))
    member = make_user("member")
    listed = ListedModel.objects.create(provider=emulator_provider, upstream_id="grok-mystery")
    from chat.models import Preset

    preset = Preset.objects.create(owner=staff, name="Terse", team=True)
    return {"conversation_id": conversation.id, "attachment_id": attachment.id, "preset_id": preset.id,
            "token_id": token.id, "token": "nope", "invite_id": invite.pk,
            "user_id": member.pk, "action": "disable", "uidb64": "MQ", "pk": emulator_provider.pk,
            "gateways/providers/listed/": listed.pk, "gateways/routes/": Route.objects.first().pk}


def _no_internal(response: Any, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code}"
    if response.get("Content-Type", "").startswith("application/json") and not response.streaming:
        body = response.json()
        code = body.get("code") or (body.get("error") or {}).get("code") if isinstance(body, dict) else None
        assert code != "internal", what


@pytest.mark.django_db
def test_every_url_answers_hostile_query_parameters_and_forms_without_a_500(world, staff_client) -> None:
    urls = sorted({u for p in _urls(get_resolver()) if (u := _concrete(p, world)) is not None})
    assert len(urls) > 40  # the walk really walks
    for url in urls:
        for value in HOSTILE:
            _no_internal(staff_client.get(url, {name: value for name in PARAMS}), f"GET {url} all={value[:20]!r}")
        for name in ("from", "to"):
            for value in ("9999-12-31", "0001-01-01", "2024-02-30"):
                _no_internal(staff_client.get(url, {name: value}), f"GET {url} {name}={value}")
        _no_internal(staff_client.get(url, {"q": LONG}), f"GET {url} q=long")
        for value in ("\x00", LONG, "=cmd|' /C calc'!A0"):
            _no_internal(staff_client.post(url, {name: value for name in FIELDS}), f"POST {url} {value[:20]!r}")


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/usage/me", "/api/usage/report", "/usage/me/", "/usage/report/",
                                 "/usage/report.csv", "/usage/me.csv"])
def test_a_date_at_the_calendars_edge_is_a_clear_400(staff_client, url) -> None:
    response = staff_client.get(url, {"from": "9999-12-31", "to": "9999-12-31"})
    assert response.status_code == 400
    assert "2999-12-31" in response.content.decode()  # says which dates it takes


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["?q=%00", "?from=%00", "?cursor=a%00b"])
def test_a_nul_in_a_query_is_bad_request(logged_in, query) -> None:
    response = logged_in.get("/api/conversations/" + query)
    assert response.status_code == 400 and response.json()["code"] == "bad_request"
    assert "NUL" in response.json()["detail"]


@pytest.mark.django_db
def test_a_search_too_long_is_a_clear_400(logged_in) -> None:
    response = logged_in.get("/api/conversations/", {"q": LONG})
    assert response.status_code == 400 and response.json() == {
        "detail": "Search text is limited to 200 characters.", "code": "bad_request"}


@pytest.mark.django_db
@pytest.mark.parametrize("patch", [{"title": "a\x00b"}, {"system_prompt": "be\x00nice"}, {"params": {"k\x00": 1}},
                                   {"system_prompt": "x" * 100_001}, {"params": {"temperature": 9}},
                                   {"params": {"temperature": "hot"}}, {"pinned": "maybe"}, {"title": ["a"]}])
def test_a_bad_conversation_patch_is_refused_and_changes_nothing(user, logged_in, patch) -> None:
    conversation = Conversation.objects.create(owner=user, title="mine", system_prompt="be brief")
    response = logged_in.patch(f"/api/conversations/{conversation.id}/", json.dumps(patch),
                               content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] in ("bad_request", "too_large")
    assert response.json()["detail"]
    conversation.refresh_from_db()
    assert (conversation.title, conversation.system_prompt, conversation.params) == ("mine", "be brief", {})


@pytest.mark.django_db(transaction=True)
def test_the_team_api_refuses_a_nul_and_deep_json_in_its_error_shape(user, emulator_provider) -> None:
    from accounts import tokens

    raw = tokens.create(user, "script")[1]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    bodies = [json.dumps({"model": "grok-4-fast", "messages": [{"role": "user", "content": "a\x00b"}]}),
              json.dumps({"model": "grok\x00", "messages": [{"role": "user", "content": "hi"}]}),
              '{"model": "grok-4-fast", "messages": ' + "[" * 5000 + "]" * 5000 + "}"]
    for body in bodies:
        response = client.post("/v1/chat/completions", body, content_type="application/json")
        assert response.status_code == 400, body[:40]
        assert response.json()["error"]["code"] == "bad_request"


WS_ID = "0f0c8a8e-2b7e-4c5a-9a53-3b4f6c1d2e7f"


def _frames() -> list[tuple[str, str]]:
    """Every frame type with each of its fields made hostile."""
    base = {"subscribe": {"conversation": WS_ID}, "send": {"request_id": WS_ID, "content": "hi"},
            "stop": {"message": WS_ID}, "regenerate": {"request_id": WS_ID, "message": WS_ID},
            "edit": {"request_id": WS_ID, "message": WS_ID, "content": "hi"}, "ping": {}}
    extra = {"send": {"model": "grok-4-fast", "system_prompt": "be brief", "conversation": WS_ID,
                      "params": {"temperature": 1}, "attachments": []}, "regenerate": {"model": "grok-4-fast"}}
    found = []
    for kind, fields in base.items():
        every = {**fields, **extra.get(kind, {})}
        for name in every:
            for value in ("\x00", "a\x00b", LONG * 5, 10**30, [[[[]]]], {"$gt": ""}, None, "\ud800"):
                found.append((kind, json.dumps({"type": kind, **every, name: value})))
        opened = json.dumps({"type": kind, **fields})[:-1]
        found.append((kind, opened + ', "deep": ' + "[" * 1000 + '"x"' + "]" * 1000 + "}"))
        found.append((kind, opened + ', "deep": ' + "{\"a\": " * 50_000 + "1" + "}" * 50_000 + "}"))
    return found


@pytest.mark.django_db(transaction=True)
async def test_every_frame_type_with_hostile_fields_gets_a_clear_answer_never_internal(user, emulator_provider) -> None:
    socket = await open_socket(user)
    for kind, raw in _frames():
        await socket.ws.send_to(text_data=raw)
        await socket.send({"type": "ping"})
        while (frame := await socket.recv()).get("type") != "pong":
            assert not (frame["type"] == "error" and frame["code"] == "internal"), (kind, raw[:120], frame)
            assert frame["type"] != "message.error" or frame["code"] != "internal", (kind, raw[:120], frame)
    await socket.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("raw", [
    json.dumps({"type": "send", "request_id": WS_ID, "content": "a\x00b"}),
    json.dumps({"type": "send", "request_id": WS_ID, "content": "hi", "system_prompt": "\x00"}),
    json.dumps({"type": "edit", "request_id": WS_ID, "message": WS_ID, "content": "\x00"}),
    '{"type": "ping", "x": ' + "[" * 1000 + "]" * 1000 + "}",
])
async def test_a_nul_or_a_deep_frame_is_bad_request_and_stores_nothing(user, emulator_provider, raw) -> None:
    socket = await open_socket(user)
    await socket.ws.send_to(text_data=raw)
    frame = await socket.recv()
    assert frame["type"] == "error" and frame["code"] == "bad_request", frame
    assert "NUL" in frame["detail"] or "deep" in frame["detail"]
    count = database_sync_to_async(Message.objects.count)
    assert await count() == 0
    await socket.close()


@pytest.mark.django_db(transaction=True)
def test_daphne_answers_a_search_of_20000_characters_instead_of_dropping_the_connection() -> None:
    import socket

    from tests.site.daphne import running_daphne

    with running_daphne() as url:
        host, port = url.removeprefix("http://").split(":")
        for query in ("q=" + "x" * 20_000, "q=" + "x" * 100_000):
            with socket.create_connection((host, int(port)), timeout=30) as sock:
                sock.sendall(f"GET /api/conversations/?{query} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                assert sock.recv(64).startswith(b"HTTP/1.1 414 ")
