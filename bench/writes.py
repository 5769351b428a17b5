"""Database writes per reply, counted statement by statement.

    .venv/bin/python bench/writes.py

Runs `send` + the generation runner in-process (the same code daphne runs)
against the zero-delay emulator on loopback, with a fresh SQLite database, and
counts INSERT/UPDATE/DELETE statements on every connection the reply used.
"""
from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/writes.sqlite3"
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grokweb.settings")
os.environ.pop("REDIS_URL", None)

import django

django.setup()

from channels.db import database_sync_to_async
from django.core.management import call_command
from django.db.backends.signals import connection_created

WRITES = {"n": 0, "on": False}


def _count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
    if WRITES["on"] and sql.lstrip().split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
        WRITES["n"] += 1
        if os.environ.get("SHOW_SQL"):
            print(sql[:100])
    return execute(sql, params, many, context)


def _hook(sender, connection, **kwargs):  # type: ignore[no-untyped-def]
    if _count not in connection.execute_wrappers:  # a wrapper reconnects: count once
        connection.execute_wrappers.append(_count)


connection_created.connect(_hook)


async def one_reply(user, tokens: int, hub) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    from chat import services
    from chat.generation import Job, Pacing, Runner
    from chat.store import DjangoStore
    from gateways.wire.client import get_client

    WRITES["n"], WRITES["on"] = 0, True
    started = await database_sync_to_async(services.send)(
        user, request_id=uuid.uuid4(), conversation_id=None, content=f"count [[tokens={tokens}]]")
    plan = await database_sync_to_async(services.prepare)(started.assistant_message.id)

    async def publish(frame):  # type: ignore[no-untyped-def]
        return None

    runner = Runner(Job(plan.message_id, plan.prompt_chars), get_client().stream(plan.endpoint, plan.request),
                    publish, DjangoStore(), pacing=Pacing())
    ending = await runner.run()
    WRITES["on"] = False
    return WRITES["n"], f"{ending.status}, {ending.duration_ms} ms"


def main() -> None:
    """Zero-delay (no checkpoint is due) and real gateway timing (checkpoints every 2, 4, 8 ... s)."""
    from accounts.models import User
    from gateways import catalog, offering
    from gateways.models import Provider
    from tests.emulator_server import running_emulator

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench", "", "x")
    print("| emulator timing | reply length | writes per reply (send + checkpoints + finish) |\n|---|---|---|")
    for scale in (0.0, 1.0):
        with running_emulator(flavour="xai", delay_scale=scale) as url:
            provider = Provider.objects.filter(name="emulator").first() or Provider(name="emulator", kind="emulator")
            provider.base_url = url
            provider.set_api_key("emulator")
            provider.save()
            offering.offer(provider, list(catalog.CATALOG))
            for tokens in (100, 5000):
                writes, status = asyncio.run(one_reply(user, tokens, None))
                label = "zero delay" if scale == 0 else "real (250 tok/s)"
                print(f"| {label} | {tokens:,} tokens | {writes} ({status}) |", flush=True)


if __name__ == "__main__":
    main()
