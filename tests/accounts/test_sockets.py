"""A websocket handshake reads the session and the user, and nothing else (accounts.socket_auth)."""
from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from django.test import Client

from accounts.socket_auth import READER_THREADS, authenticate, user_of


@pytest.mark.django_db
def test_the_handshake_reads_the_session_and_the_user_and_nothing_else(user, django_assert_num_queries) -> None:
    client = Client()
    client.force_login(user)
    with django_assert_num_queries(2):
        assert user_of(client.cookies["sessionid"].value) == user


@pytest.mark.django_db
def test_an_unknown_session_is_nobody(django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        assert not user_of("no-such-session-key-0123456789abcdef").is_authenticated


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_handshakes_reads_its_users_on_one_thread_of_its_own(make_user) -> None:
    """Each socket gets its own user (or nobody, without a cookie), read on the reader thread; the event
    loop's default executor, which a burst grew to cpu_count + 4 threads before, is not used."""
    users = [make_user(f"burst{n}") for n in range(12)]
    keys = []
    for user in users:
        client = Client()
        client.force_login(user)
        keys.append(client.cookies["sessionid"].value)
    scopes: list[dict[str, Any]] = [{"headers": [(b"cookie", f"sessionid={key}".encode())]} for key in keys]
    scopes.append({"headers": [(b"origin", b"http://testserver")]})

    async def burst() -> Any:
        await asyncio.gather(*(authenticate(scope) for scope in scopes))
        return asyncio.get_running_loop()._default_executor  # type: ignore[attr-defined]

    assert asyncio.run(burst()) is None
    assert [scope["user"] for scope in scopes[:-1]] == users
    assert not scopes[-1]["user"].is_authenticated
    assert all(scope["headers"] == () for scope in scopes)  # read once, then let go
    readers = [thread for thread in threading.enumerate() if thread.name.startswith("socket-auth")]
    assert 1 <= len(readers) <= READER_THREADS
