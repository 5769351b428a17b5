"""Schemathesis against /api/openapi.json with every check: each answer is one the schema documents.

Signed in as an administrator (every endpoint open to them), with the CSRF token writes
need; served by Django's WSGI handler in the test's own thread and transaction. Bounded (a
few examples an operation) so the suite stays quick; for a longer run against a server:
`st run --checks all http://127.0.0.1:8000/api/openapi.json` (docs/api.md).
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings

CSRF = "hardeningcsrftokenhardeningcsrf0"  # 32 characters: an unmasked secret Django accepts as is

# Loaded at collection: the schema view reads no database.
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


@pytest.fixture
def signed_in(staff, emulator_provider) -> Iterator[dict[str, str]]:  # type: ignore[no-untyped-def]
    from chat.models import Conversation, Message

    conversation = Conversation.objects.create(owner=staff, title="fuzzed")
    Message.objects.create(conversation=conversation, role="user", content="hello", status="complete")
    client = Client()
    client.force_login(staff)
    # As Django's test client does: the end of a request must not close the test's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield {"Cookie": f"sessionid={client.cookies['sessionid'].value}; csrftoken={CSRF}", "X-CSRFToken": CSRF}
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_answer_is_documented(case, signed_in) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(headers=signed_in)
