"""The emulator mounted at /emulator/v1 answers only callers holding the emulator provider's own key."""
from __future__ import annotations

from io import StringIO

import httpx
import pytest
from django.core.management import call_command

from gateways.models import Provider
from gateways.providers import emulator_key


async def _models(key: str | None) -> httpx.Response:
    from grokweb.asgi import application

    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver") as c:
        return await c.get("/emulator/v1/models", headers=headers)


@pytest.mark.parametrize("key", [None, "", "emulator", "anything-at-all", "own key and more"])
async def test_anyone_else_gets_a_401_in_the_gateways_error_shape(key) -> None:
    answer = await _models(emulator_key() + "x" if key == "own key and more" else key)
    assert answer.status_code == 401
    assert answer.json()["error"] and "data" not in answer.json()  # xAI's shape: {code, error}


async def test_the_emulator_providers_own_key_is_answered() -> None:
    answer = await _models(emulator_key())
    assert answer.status_code == 200 and answer.json()["data"]


@pytest.mark.django_db
def test_bootstrap_gives_the_emulator_provider_that_key_and_it_is_no_constant(monkeypatch, settings) -> None:
    for name in ("XAI_API_KEY", "AIMLAPI_API_KEY", "MAXTOKEN_API_KEY", "CRAZYROUTER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    call_command("bootstrap", stdout=StringIO())
    stored = Provider.objects.get(kind="emulator").endpoint().api_key
    assert stored == emulator_key() and len(stored) > 40 and stored not in StringIO().getvalue()
    settings.SECRET_KEY = "another-deployment-" + "y" * 40
    assert emulator_key() != stored  # every deployment has its own
    settings.EMULATOR_API_KEY = "set-by-the-operator"
    assert emulator_key() == "set-by-the-operator"
