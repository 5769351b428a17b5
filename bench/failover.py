"""Time to first token: a healthy route alone vs. the same route after a failed first route.

    .venv/bin/python bench/failover.py

Two zero-delay emulators on loopback (one per gateway flavour); the first route fails
in each way a gateway can before its first token, the second answers. The breaker's
cache is cleared before every reply, so each one pays the failed attempt.
"""
from __future__ import annotations

import asyncio
import logging
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grokweb.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.pop("REDIS_URL", None)
import django

django.setup()
logging.getLogger("gateways").setLevel(logging.ERROR)  # one line per failed attempt otherwise
from django.core.cache import cache

from gateways.failover import FailoverStream, RouteChoice
from gateways.wire.client import ChatRequest, Endpoint, UpstreamClient
from gateways.wire.events import TEXT_EVENTS
from tests.emulator_server import free_port, running_emulator

N = 40


async def ttft(client, choices, request) -> float:
    cache.clear()
    started = time.perf_counter()
    stream = FailoverStream(client, choices, request)
    first = None
    async for event in stream:
        if first is None and isinstance(event, TEXT_EVENTS):
            first = time.perf_counter()
    return (first - started) * 1000


async def main(bad_url: str, good_url: str) -> None:
    request = ChatRequest("grok-4-1-fast-non-reasoning", [{"role": "user", "content": "hi [[tokens=20]]"}])
    good = RouteChoice(2, 2, "good", "grok-4-1-fast-non-reasoning", Endpoint(good_url, "k", max_retries=0), "good")
    cases = {"healthy route alone": None, "503": "503", "429 Retry-After": "429:5", "drop before 1st token": "drop:0",
             "connection refused": "refused"}
    async with UpstreamClient() as client:
        for _ in range(5):
            await ttft(client, [good], request)  # warm the pool
        for label, fault in cases.items():
            if fault is None:
                choices = [good]
            elif fault == "refused":
                choices = [RouteChoice(1, 1, "bad", "grok-4-1-fast-non-reasoning",
                                       Endpoint(f"http://127.0.0.1:{free_port()}/v1", "k"), "bad"), good]
            else:
                choices = [RouteChoice(1, 1, "bad", "grok-4-1-fast-non-reasoning",
                                       Endpoint(bad_url, "k", headers={"X-Emulator-Fault": fault}), "bad"), good]
            times = sorted([await ttft(client, choices, request) for _ in range(N)])
            p95 = times[int(0.95 * len(times)) - 1]
            print(f"{label:24s} TTFT median {statistics.median(times):6.1f} ms  p95 {p95:6.1f} ms  (n={N})")


with running_emulator("xai") as bad_url, running_emulator("aimlapi") as good_url:
    asyncio.run(main(bad_url, good_url))
