"""The circuit breaker is shared through Redis: what one process opens, every other process skips."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache.backends.redis import RedisCache

from chat import services
from chat.models import Route, UsageRecord
from gateways.breaker import Breaker, route_key
from gateways.discovery import discover
from gateways.models import Attempt
from tests.chat.wsclient import open_socket
from tests.gateways.conftest import _default_listings, gateways, make_provider  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
OPEN_IN_ANOTHER_PROCESS = """
import django, sys
django.setup()
from gateways.breaker import Breaker
breaker = Breaker()
for _ in range(3):
    breaker.failure(sys.argv[1])
print("open" if breaker.is_open(sys.argv[1]) else "closed")
"""


def _open_elsewhere(key: str) -> str:
    """Fail a route three times in a separate Python process (another web process or worker)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "grokweb.settings"}
    done = subprocess.run([sys.executable, "-c", OPEN_IN_ANOTHER_PROCESS, key], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip().splitlines()[-1]


def test_the_cache_is_redis() -> None:
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")


def test_two_independent_breakers_see_one_circuit() -> None:
    first = Breaker(cache=RedisCache(settings.REDIS_URL, {}))
    second = Breaker(cache=RedisCache(settings.REDIS_URL, {}))
    key = f"t{uuid.uuid4().hex}"
    for _ in range(3):
        first.failure(key)
    assert second.is_open(key)
    second.success(key)
    assert not first.is_open(key)


def test_a_circuit_opened_by_another_process_is_seen_here() -> None:
    key = f"t{uuid.uuid4().hex}"
    assert _open_elsewhere(key) == "open"
    assert Breaker().is_open(key)


async def test_a_route_opened_by_another_process_is_skipped_by_replies_here(user, make_provider) -> None:  # noqa: F811
    def setup() -> list[Route]:
        first, second = make_provider("xai"), make_provider("aimlapi")
        discover(first)
        discover(second)
        return list(Route.objects.filter(model__slug="grok-3-mini").order_by("priority"))

    first, second = await database_sync_to_async(setup)()
    key = route_key(first.id, first.provider_id, first.upstream_id)
    assert await database_sync_to_async(_open_elsewhere)(key) == "open"
    socket = await open_socket(user)
    created = await socket.chat("Which way? [[tokens=30]]", model="grok-3-mini")
    done = await socket.until("message.done", message=created["assistant_message"]["id"])
    assert done["content"]
    record = await database_sync_to_async(UsageRecord.objects.get)(message_id=created["assistant_message"]["id"])
    assert record.route_id == second.id
    attempts = await database_sync_to_async(lambda: list(Attempt.objects.values_list("route_id", flat=True)))()
    assert attempts == [second.id]
    await socket.close()
    plan_routes = await database_sync_to_async(lambda: services.prepare(created["assistant_message"]["id"]).routes)()
    assert [r.route_id for r in plan_routes] == [second.id]
