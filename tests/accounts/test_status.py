"""Pending and disabled users: no websocket (distinct close codes), no API, no pages."""
from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from accounts.status import CLOSE_ANONYMOUS, CLOSE_DISABLED, CLOSE_PENDING
from tests.chat.wsclient import open_socket, refused_with

db = database_sync_to_async


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("status", "code"), [("disabled", CLOSE_DISABLED), ("pending", CLOSE_PENDING)])
async def test_the_websocket_refuses_inactive_users_with_their_own_close_code(user, status, code) -> None:
    await db(User.objects.filter(pk=user.pk).update)(status=status, is_active=False)
    assert await refused_with(user) == code
    assert await refused_with(None) == CLOSE_ANONYMOUS


@pytest.mark.django_db(transaction=True)
async def test_a_user_disabled_while_connected_cannot_start_replies(user, emulator_provider) -> None:
    socket = await open_socket(user)
    await db(User.objects.filter(pk=user.pk).update)(status="disabled", is_active=False)
    await socket.send({"type": "send", "request_id": "6f2c1d44-8d1e-4d55-9f43-8f5b8c3c1a01", "conversation": None,
                       "content": "hello"})
    frame = await socket.until("error")
    assert "disabled" in frame["detail"]
    await socket.close()


@pytest.mark.django_db(transaction=True)
async def test_disabling_someone_closes_their_open_tabs_at_once(user, make_user) -> None:
    staff = await db(make_user)("root", is_staff=True)
    tabs = [await open_socket(user) for _ in range(2)]
    bystander = await open_socket(staff)
    admin = Client()
    await db(admin.force_login)(staff)
    answer = await db(admin.post)(f"/team/people/{user.pk}/disable/")
    assert answer.status_code == 302
    for tab in tabs:
        closed = await tab.ws.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": CLOSE_DISABLED}
        await tab.close()
    await bystander.send({"type": "ping"})
    assert (await bystander.recv())["type"] == "pong"  # only that user's sockets
    await bystander.close()


@pytest.mark.django_db(transaction=True)
async def test_disabling_outside_the_people_page_closes_their_tabs_too(user) -> None:
    """Admin → Users and scripts save the user; the tabs close all the same."""
    tab = await open_socket(user)

    def disable() -> None:
        person = User.objects.get(pk=user.pk)
        person.status = User.Status.DISABLED
        person.save()

    await db(disable)()
    assert await tab.ws.receive_output(timeout=5) == {"type": "websocket.close", "code": CLOSE_DISABLED}
    await tab.close()


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["disabled", "pending"])
def test_the_api_answers_403_to_inactive_users(user, status) -> None:
    client = Client()
    client.force_login(user)
    User.objects.filter(pk=user.pk).update(status=status, is_active=False)
    answer = client.get("/api/models/")
    assert answer.status_code == 403 and answer.json()["code"] == f"account_{status}"
    assert Client().get("/api/models/").status_code == 401


@pytest.mark.django_db
def test_pages_sign_a_disabled_user_out_and_say_why(user) -> None:
    client = Client()
    client.force_login(user)
    User.objects.filter(pk=user.pk).update(status="disabled", is_active=False)
    answer = client.get("/", follow=True)
    assert answer.redirect_chain[0][0] == "/accounts/login/" and b"has been disabled" in answer.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_bootstrap_makes_an_active_first_admin(capsys, emulator_url, monkeypatch) -> None:
    monkeypatch.setenv("EMULATOR_URL", emulator_url)
    call_command("bootstrap")
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.status == "active" and admin.is_active


@pytest.mark.django_db
def test_createsuperuser_noinput_makes_an_active_admin(monkeypatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long secret 42!")
    call_command("createsuperuser", "--noinput", username="chief", email="chief@example.com")
    chief = User.objects.get(username="chief")
    assert chief.status == "active" and chief.is_active and chief.is_staff
