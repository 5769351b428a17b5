"""The Team API under test: Grokweb's own ASGI app served by uvicorn on a loopback port, in this process.

The official `openai` SDK talks to it over TCP, as a script would; the server's threads use
this test run's database (tests need django_db(transaction=True) so they see committed rows).
The upstream is the emulator on its own port (tests/conftest.py: emulator_provider).
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.emulator_server import serving


@pytest.fixture(scope="session")
def grokweb_url() -> Iterator[str]:
    from grokweb.asgi import application

    with serving(application, "grokweb") as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_api_state() -> Iterator[None]:
    """The server runs in this process: each test starts with no kept token checks and no remembered refusals."""
    from accounts import token_cache
    from teamapi import admission

    token_cache.forget()
    admission.forget()
    yield


@pytest.fixture
def api_url(grokweb_url: str) -> str:
    return f"{grokweb_url}/v1"


@pytest.fixture
def make_token(db) -> Callable[..., str]:  # type: ignore[no-untyped-def]
    from accounts import tokens

    def make(user: Any, name: str = "script", **extra: Any) -> str:
        return tokens.create(user, name, **extra)[1]

    return make


@pytest.fixture
def sdk(api_url: str) -> Callable[[str], Any]:
    """An `openai.OpenAI` client for a token; no retries of its own, so each call is one request."""
    import openai

    def client(token: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=api_url, api_key=token, max_retries=0, timeout=60)

    return client


@pytest.fixture
def ledger_written() -> Iterator[Callable[[float], Any]]:
    """Wait for the next Team API ledger row to be committed (the server writes it in its own thread)."""
    from django.db import transaction
    from django.db.models.signals import post_save

    from usage.models import UsageRecord

    written = threading.Event()
    rows: list[Any] = []

    def saw(sender: Any, instance: UsageRecord, created: bool, **kwargs: Any) -> None:
        if created and instance.source == "api" and instance.message_id is None:
            transaction.on_commit(lambda: (rows.append(instance), written.set()))

    post_save.connect(saw, sender=UsageRecord, dispatch_uid="tests.teamapi.ledger_written")

    def wait(timeout: float = 30) -> Any:
        assert written.wait(timeout), "no ledger row was written"
        written.clear()
        return rows.pop(0)

    yield wait
    post_save.disconnect(sender=UsageRecord, dispatch_uid="tests.teamapi.ledger_written")
