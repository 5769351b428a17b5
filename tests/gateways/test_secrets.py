"""Provider keys never leave the server: not in pages, admin pages, API answers, frames or log lines."""
from __future__ import annotations

import logging
from io import StringIO

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.urls import reverse

from gateways.discovery import discover
from gateways.models import Model, Provider
from tests.chat.wsclient import open_socket

from .conftest import KEYS

pytestmark = pytest.mark.django_db(transaction=True)
NEW_KEY = "sk-typed-by-an-admin-7Hq2Lx9Pz4"


def _secrets() -> list[str]:
    return [*KEYS.values(), NEW_KEY, "Zq9W7vB3nT5yR1"]


def _assert_clean(text: str, where: str) -> None:
    for secret in _secrets():
        assert secret not in text, f"a provider key leaked into {where}"


@pytest.fixture
def everything(make_provider, staff_client, gateways, monkeypatch):  # type: ignore[no-untyped-def]
    """Providers made every way there is: the form, the environment, the Django admin."""
    staff_client.post(reverse("gateways:provider_add"), {
        "name": "Crazy", "kind": "crazyrouter", "base_url": gateways["crazyrouter"].url,
        "api_key": KEYS["crazyrouter"], "enabled": "on", "include_usage": "on", "usage_convention": "auto",
        "connect_timeout": 10, "first_token_timeout": 120, "idle_timeout": 60, "max_retries": 0, "headers": ""})
    monkeypatch.setenv("XAI_API_KEY", KEYS["xai"])
    monkeypatch.setenv("XAI_BASE_URL", gateways["xai"].url)
    out = StringIO()
    call_command("bootstrap", stdout=out)
    _assert_clean(out.getvalue(), "bootstrap's output")
    aiml = make_provider("aimlapi", headers={"X-Emulator-Fault": "503"})  # fails: its errors get logged
    discover(aiml)
    make_provider("maxtoken", key="sk-wrong")
    return Provider.objects.all()


def test_keys_appear_in_no_page_answer_or_log_line(everything, staff_client, logged_in, caplog, user) -> None:
    caplog.set_level(logging.DEBUG)
    crazy = Provider.objects.get(name="Crazy")
    pages = [reverse("gateways:providers"), reverse("gateways:health"), reverse("gateways:provider_add"),
             reverse("gateways:routes"),
             "/admin/", "/admin/gateways/provider/", "/admin/gateways/model/", "/admin/usage/usagerecord/",
             "/admin/gateways/auditentry/", "/admin/gateways/attempt/", "/admin/gateways/listedmodel/",
             "/admin/gateways/model/%d/change/" % Model.objects.first().pk]
    for provider in everything:
        pages += [reverse("gateways:provider_edit", args=[provider.pk]),
                  f"/admin/gateways/provider/{provider.pk}/change/"]
    ciphertexts = [p.api_key_encrypted for p in everything if p.api_key_encrypted]
    for url in pages:
        response = staff_client.get(url)
        assert response.status_code == 200, url
        _assert_clean(response.content.decode(), url)
        assert not [c for c in ciphertexts if c in response.content.decode()], f"a stored key's ciphertext in {url}"
    for provider in everything:  # every action, and the pages they lead to
        for name in ("gateways:provider_test", "gateways:provider_discover"):
            response = staff_client.post(reverse(name, args=[provider.pk]), follow=True)
            _assert_clean(response.content.decode(), name)
    # A form sent back with an error does not echo the key typed into it.
    response = staff_client.post(reverse("gateways:provider_edit", args=[crazy.pk]),
                                 {"name": "", "api_key": NEW_KEY, "kind": "crazyrouter"})
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    _assert_clean(response.content.decode(), "a form with errors")
    response = staff_client.post(f"/admin/gateways/provider/{crazy.pk}/change/", {"name": "", "api_key": NEW_KEY})
    _assert_clean(response.content.decode(), "the admin form with errors")
    for url in ("/api/models/", "/api/conversations/", "/api/openapi.json"):
        response = logged_in.get(url)
        _assert_clean(response.content.decode(), url)
    _assert_clean("\n".join(r.getMessage() + repr(r.args) for r in caplog.records), "the logs")
    _assert_clean(caplog.text, "the logs")


async def test_keys_appear_in_no_websocket_frame(everything, user, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    socket = await open_socket(user)
    for text in ("hello [[tokens=20]]", "again [[fault:bad_key]]", "and [[fault:401]]"):
        created = await socket.chat(text, model="grok-4-1-fast-non-reasoning")
        reply = created["assistant_message"]["id"]
        while True:
            frame = await socket.recv()
            if frame["type"] in ("message.done", "message.error") and frame["message"] == reply:
                break
    await socket.send({"type": "subscribe", "conversation": created["conversation"]})
    await socket.until("conversation.snapshot")
    await socket.close()
    _assert_clean(repr(socket.seen), "websocket frames")
    _assert_clean(caplog.text, "the logs")
    stored = await database_sync_to_async(lambda: repr(list(Provider.objects.values())))()
    _assert_clean(stored, "the database (plaintext)")
