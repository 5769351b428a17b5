"""Liveness and readiness probes for load balancers and compose health checks."""
from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


async def _layer_roundtrip() -> None:
    """A message to ourselves through the layer, within 3 s (a Redis that is away fails fast or times out)."""
    layer = get_channel_layer()

    async def roundtrip() -> None:
        name = await layer.new_channel()
        await layer.send(name, {"type": "readyz"})
        await layer.receive(name)

    await asyncio.wait_for(roundtrip(), timeout=3)


def _check(name: str, probe) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    try:
        probe()
        return name, "ok"
    except Exception as exc:  # a probe reports, it never raises
        return name, f"error: {type(exc).__name__}"


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _broker() -> None:
    from grokweb.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def readyz(request: HttpRequest) -> JsonResponse:
    checks = [_check("database", _database), _check("channel_layer", async_to_sync(_layer_roundtrip))]
    if settings.REDIS_URL:
        checks.append(_check("broker", _broker))
    ready = all(state == "ok" for _, state in checks)
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": dict(checks)},
                        status=200 if ready else 503)
