"""A websocket handshake reads the session and the user, and nothing else (accounts.socket_auth)."""
from __future__ import annotations

import pytest
from django.test import Client

from accounts.socket_auth import user_of


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
