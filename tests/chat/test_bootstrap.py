"""`manage.py bootstrap`: the emulator without keys, real providers with keys, the first admin."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from gateways.models import Model, Provider

pytestmark = pytest.mark.django_db

KEYS = ("XAI_API_KEY", "AIMLAPI_API_KEY", "MAXTOKEN_API_KEY", "CRAZYROUTER_API_KEY")


@pytest.fixture
def no_keys(monkeypatch):  # type: ignore[no-untyped-def]
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)


def _run() -> str:
    out = StringIO()
    call_command("bootstrap", stdout=out)
    return out.getvalue()


def test_without_keys_the_emulator_serves_the_whole_catalog(no_keys) -> None:
    _run()
    provider = Provider.objects.get()
    assert provider.simulated and provider.enabled
    assert Model.objects.filter(provider=provider).count() >= 9
    assert Model.objects.get(is_default=True).slug == "grok-4-1-fast-reasoning"


def test_first_run_creates_an_admin_and_prints_the_password_once(no_keys) -> None:
    first = _run()
    admin = User.objects.get()
    password = first.split("password: ")[1].split()[0]
    assert admin.is_superuser and admin.check_password(password) and "/accounts/login/" in first
    assert "password" not in _run()
    assert User.objects.count() == 1


def test_a_key_in_the_environment_makes_a_real_provider_with_the_key_encrypted(no_keys, monkeypatch,
                                                                               emulator_url) -> None:
    _run()
    monkeypatch.setenv("XAI_API_KEY", "xai-test-key-that-must-not-leak")
    monkeypatch.setenv("XAI_BASE_URL", emulator_url)  # the emulator stands in for api.x.ai
    output = _run()
    xai = Provider.objects.get(kind="xai")
    assert "xai-test-key-that-must-not-leak" not in xai.api_key_encrypted + output
    assert xai.endpoint().api_key == "xai-test-key-that-must-not-leak"
    assert not Provider.objects.get(kind="emulator").enabled
    offered = set(Model.objects.filter(enabled=True, provider=xai).values_list("slug", flat=True))
    assert {"grok-4-fast-reasoning", "grok-3-mini", "grok-4-0709"} <= offered
