"""The circuit breaker is shared through Redis: what one process opens, every other process skips."""
from __future__ import annotations

import dataclasses
import json
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
from gateways.breaker import Breaker, route_key
from gateways.discovery import discover
from gateways.health import route_states
from gateways.models import Attempt, Route
from gateways.routes import usable_routes
from tests.chat.wsclient import open_socket
from tests.gateways.conftest import _default_listings, gateways, make_provider  # noqa: F401  (fixtures)
from usage.models import UsageRecord

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


REPLIES_IN_ANOTHER_PROCESS = """
import asyncio, dataclasses, json, os, django
django.setup()
from gateways.wire.client import ChatRequest, Endpoint, UpstreamClient
from gateways.breaker import Breaker
from gateways.failover import FailoverStream, RouteChoice

async def main():
    choices = []
    for spec in json.loads(os.environ["GW_ROUTES"]):
        spec["endpoint"] = Endpoint(**spec["endpoint"])
        choices.append(RouteChoice(**spec))
    served = []
    async with UpstreamClient() as client:
        for n in range(3):
            stream = FailoverStream(client, choices, ChatRequest("", [{"role": "user", "content": f"hi {n}"}]))
            text = [e async for e in stream]
            served.append(stream.served.provider_name if text else "nothing")
    print(json.dumps({"served": served, "open": Breaker().is_open(choices[0].key)}))

asyncio.run(main())
"""


def _replies_elsewhere(choices: list) -> dict:  # type: ignore[type-arg]
    """Three real replies over these routes in a separate Python process (another web process)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "grokweb.settings",
           "GW_ROUTES": json.dumps([dataclasses.asdict(c) for c in choices])}  # keys via the environment only
    done = subprocess.run([sys.executable, "-c", REPLIES_IN_ANOTHER_PROCESS], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


async def test_failures_seen_by_another_process_rest_the_route_here(user, make_provider) -> None:  # noqa: F811
    """Another web process fails over from a 503-ing gateway three times; this one then skips that gateway."""
    def setup() -> tuple[Route, Route, list]:  # type: ignore[type-arg]
        first, second = make_provider("xai", headers={"X-Emulator-Fault": "503"}), make_provider("aimlapi")
        discover(first)
        discover(second)
        routes = list(Route.objects.filter(model__slug="grok-3-mini").order_by("priority"))
        return routes[0], routes[1], usable_routes(routes[0].model)

    first, second, choices = await database_sync_to_async(setup)()
    elsewhere = await database_sync_to_async(_replies_elsewhere)(choices)
    assert elsewhere == {"served": ["AI/ML API"] * 3, "open": True}
    assert Breaker().is_open(route_key(first.id, first.provider_id, first.upstream_id))
    socket = await open_socket(user)
    created = await socket.chat("Which way? [[tokens=30]]", model="grok-3-mini")
    done = await socket.until("message.done", message=created["assistant_message"]["id"])
    assert done["content"]
    record = await database_sync_to_async(UsageRecord.objects.get)(message_id=created["assistant_message"]["id"])
    assert record.route_id == second.id
    attempts = await database_sync_to_async(lambda: list(Attempt.objects.values_list("route_id", flat=True)))()
    assert attempts == [second.id]  # this process never called the resting gateway
    await socket.close()
    plan_routes = await database_sync_to_async(lambda: services.prepare(created["assistant_message"]["id"]).routes)()
    assert [r.route_id for r in plan_routes] == [second.id]
    states = await database_sync_to_async(route_states)()
    resting = next(s for s in states if s.route.pk == first.pk)
    assert resting.open_for_s is not None and 0 < resting.open_for_s <= 61
