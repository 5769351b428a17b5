"""Time to an error when gateways say nothing, with the shipped defaults (docs/operations.md, worst case).

    .venv/bin/python bench/silence.py

Emulated gateways on loopback that accept the request and then stay silent (`stall:0`),
or refuse it at once (503), as one, two or three routes of a model. Every timeout,
retry count and deadline is the default a fresh install has: the Provider model's
field defaults and REPLY_START_DEADLINE_S. One reply per case (the silent ones take
tens of seconds each): the figure is the time until the reply's error, and its code.
"""
from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grokweb.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.pop("REDIS_URL", None)
import django

django.setup()
logging.getLogger("gateways").setLevel(logging.ERROR)
from django.conf import settings
from django.core.cache import cache

from gateways.failover import FailoverStream, RouteChoice
from gateways.models import Provider
from gateways.wire.client import ChatRequest, Endpoint, UpstreamClient
from gateways.wire.errors import UpstreamError
from tests.emulator_server import running_emulator

MODEL = "grok-4-1-fast-non-reasoning"


def default(name: str) -> float:
    return float(Provider._meta.get_field(name).default)  # type: ignore[arg-type]


def route(n: int, url: str, fault: str) -> RouteChoice:
    endpoint = Endpoint(url, "k", connect_timeout=default("connect_timeout"),
                        first_token_timeout=default("first_token_timeout"), idle_timeout=default("idle_timeout"),
                        max_retries=int(default("max_retries")), headers={"X-Emulator-Fault": fault})
    return RouteChoice(n, n, f"gateway {n}", MODEL, endpoint, f"bench-silence-{n}")


async def time_to_error(client: UpstreamClient, choices: list[RouteChoice]) -> tuple[float, str]:
    cache.clear()
    request = ChatRequest(MODEL, [{"role": "user", "content": "hello?"}])
    stream = FailoverStream(client, choices, request, start_deadline_s=settings.GROKWEB["REPLY_START_DEADLINE_S"])
    started = time.perf_counter()
    try:
        async for _ in stream:
            pass
    except UpstreamError as exc:
        return time.perf_counter() - started, exc.code
    return time.perf_counter() - started, "answered"


async def main(url: str) -> None:
    print(f"defaults: connect {default('connect_timeout'):g} s, first token {default('first_token_timeout'):g} s, "
          f"max_retries {default('max_retries'):g}, REPLY_START_DEADLINE_S "
          f"{settings.GROKWEB['REPLY_START_DEADLINE_S']:g} s")
    cases = [("1 route, 503 at once", ["503"]), ("1 route, silent", ["stall:0"]),
             ("2 routes, both silent", ["stall:0"] * 2), ("3 routes, all silent", ["stall:0"] * 3),
             ("4 routes, all silent", ["stall:0"] * 4)]
    async with UpstreamClient() as client:
        for label, faults in cases:
            seconds, code = await time_to_error(client, [route(n, url, f) for n, f in enumerate(faults, 1)])
            print(f"{label:24s} error after {seconds:6.1f} s  ({code})", flush=True)


with running_emulator("xai") as emulator_url:
    asyncio.run(main(emulator_url))
