"""Start-up from the environment never overwrites what an admin changed by hand, unless told to."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from gateways.models import AuditEntry, Provider, Route

from .conftest import KEYS

pytestmark = pytest.mark.django_db


@pytest.fixture
def env(monkeypatch, gateways):  # type: ignore[no-untyped-def]
    for var in ("AIMLAPI_API_KEY", "MAXTOKEN_API_KEY", "CRAZYROUTER_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XAI_API_KEY", KEYS["xai"])
    monkeypatch.setenv("XAI_BASE_URL", gateways["xai"].url)
    return monkeypatch


def _bootstrap(*args: str) -> None:
    call_command("bootstrap", *args, stdout=StringIO())


def test_the_environment_creates_the_provider_and_discovers_its_routes(env) -> None:
    _bootstrap()
    xai = Provider.objects.get(kind="xai")
    assert xai.from_env and not xai.edited_by_hand and Route.objects.filter(provider=xai).count() == 9
    assert AuditEntry.objects.filter(provider=xai, action="created", actor_name="").exists()
    _bootstrap()  # nothing changed: nothing audited
    assert AuditEntry.objects.filter(provider=xai).count() == 1


def test_a_hand_edit_survives_restarts_until_env_wins(env, staff_client, gateways) -> None:
    _bootstrap()
    xai = Provider.objects.get(kind="xai")
    staff_client.post(reverse("gateways:provider_edit", args=[xai.pk]), {
        "name": "xAI", "kind": "xai", "base_url": gateways["xai"].url, "api_key": "", "enabled": "on",
        "include_usage": "on", "usage_convention": "auto", "connect_timeout": 5, "first_token_timeout": 30,
        "idle_timeout": 60, "max_retries": 2, "headers": '{"X-Title": "Grokweb"}'})
    env.setenv("XAI_API_KEY", "xai-another-key-from-the-environment")
    _bootstrap()
    xai.refresh_from_db()
    assert xai.first_token_timeout == 30 and xai.headers == {"X-Title": "Grokweb"}
    assert xai.endpoint().api_key == KEYS["xai"]  # the environment's new key did not win
    _bootstrap("--env-wins")
    xai.refresh_from_db()
    assert xai.endpoint().api_key == "xai-another-key-from-the-environment" and not xai.edited_by_hand
    assert AuditEntry.objects.filter(provider=xai, action="from environment", fields=["api_key"]).exists()


def test_a_provider_disabled_by_hand_stays_disabled_and_the_emulator_stays_off(env, staff_client) -> None:
    _bootstrap()
    xai = Provider.objects.get(kind="xai")
    staff_client.post(reverse("gateways:provider_toggle", args=[xai.pk]))
    _bootstrap()
    xai.refresh_from_db()
    assert not xai.enabled
    assert not Provider.objects.filter(kind="emulator", enabled=True).exists()


def test_providers_env_wins_in_the_settings_does_what_the_flag_does(env, staff_client, settings) -> None:
    _bootstrap()
    xai = Provider.objects.get(kind="xai")
    staff_client.post(reverse("gateways:provider_toggle", args=[xai.pk]))
    settings.PROVIDERS_ENV_WINS = True  # PROVIDERS_ENV_WINS=true in the environment (docker compose)
    _bootstrap()
    xai.refresh_from_db()
    assert xai.enabled and not xai.edited_by_hand


def test_renaming_a_provider_from_the_environment_does_not_make_a_second_one(env, staff_client, gateways) -> None:
    _bootstrap()
    xai = Provider.objects.get(kind="xai")
    staff_client.post(reverse("gateways:provider_edit", args=[xai.pk]), {
        "name": "xAI (team account)", "kind": "xai", "base_url": gateways["xai"].url, "api_key": "", "enabled": "on",
        "include_usage": "on", "usage_convention": "auto", "connect_timeout": 10, "first_token_timeout": 120,
        "idle_timeout": 60, "max_retries": 2, "headers": ""})
    _bootstrap()
    _bootstrap("--env-wins")
    assert list(Provider.objects.filter(kind="xai").values_list("name", flat=True)) == ["xAI (team account)"]
