"""Two daphne processes on one Redis layer and one PostgreSQL database, as the team deployment runs them.

A reply written by one process reaches a tab on the other (through the layer) and a tab on
its own (directly, chat.fanout), each frame once and in order, and a tab that subscribes
midway gets a snapshot plus the later frames that make up exactly the stored text.
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import Client

from chat.models import Message
from tests.emulator_server import running_emulator

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
db = database_sync_to_async


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def paced_emulator() -> Iterator[str]:
    """Real pacing (a few hundred tokens take a second or two), so a tab can join mid-reply."""
    with running_emulator(flavour="xai", delay_scale=1.0) as url:
        yield url


@pytest.fixture
def paced_provider(db, paced_emulator):  # type: ignore[no-untyped-def]
    from gateways import catalog, offering
    from gateways.models import Provider

    provider = Provider(name="Built-in emulator", kind=Provider.Kind.EMULATOR, base_url=paced_emulator)
    provider.set_api_key("emulator")
    provider.save()
    offering.offer(provider, list(catalog.CATALOG))
    return provider


@pytest.fixture
def two_processes(paced_provider) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    database = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}:{database['PASSWORD'] or ''}@{database['HOST']}:"
                        f"{database['PORT'] or 5432}/{database['NAME']}",
        "REDIS_URL": settings.REDIS_URL, "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "SECRET_KEY": settings.SECRET_KEY, "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING",
    }
    ports = [_free_port(), _free_port()]
    procs = [subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                               "grokweb.asgi:application"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for port in ports]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url in urls:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"daphne at {url} did not come up")
                time.sleep(0.2)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # daphne grants its applications 10 s to close
                proc.kill()
                proc.wait()


class Tab:
    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, url: str, cookie: str) -> Tab:
        ws = await websockets.connect(url.replace("http", "ws", 1) + "/ws/chat/", open_timeout=30,
                                      additional_headers={"Cookie": f"sessionid={cookie}", "Origin": url})
        return cls(ws)

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def until(self, type_: str, **match: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The first frame of `type_` matching, and every frame before it."""
        seen = []
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if frame["type"] == type_ and all(frame.get(k) == v for k, v in match.items()):
                return frame, seen
            seen.append(frame)


def _cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _deltas(frames: list[dict[str, Any]], message: str) -> list[dict[str, Any]]:
    return [f for f in frames if f["type"] == "message.delta" and f["message"] == message]


async def test_a_reply_reaches_tabs_on_both_processes_in_order_and_once(user, two_processes) -> None:
    cookie = await db(_cookie)(user)
    here = await Tab.open(two_processes[0], cookie)  # the process that will write the reply
    there = await Tab.open(two_processes[1], cookie)
    await here.send({"type": "send", "request_id": str(uuid.uuid4()), "conversation": None,
                     "content": "Tell me a long story [[tokens=400]]"})
    created, _ = await here.until("message.created")
    reply = created["assistant_message"]["id"]
    first, _ = await here.until("message.delta", message=reply)  # the reply is under way: join it midway
    await there.send({"type": "subscribe", "conversation": created["conversation"]})
    snapshot, _ = await there.until("conversation.snapshot")
    (live,) = [item for item in snapshot["live"] if item["message"] == reply]

    done_here, before_here = await here.until("message.done", message=reply)
    done_there, before_there = await there.until("message.done", message=reply)

    # The writing process's own tab: every frame once, seq 1, 2, 3 ..., adding up to the stored text.
    deltas = [first, *_deltas(before_here, reply)]
    assert [f["seq"] for f in deltas] == list(range(1, len(deltas) + 1))
    assert "".join(f["content"] for f in deltas) == done_here["content"]
    # The other process's tab: the snapshot, then exactly the later frames, in order.
    later = _deltas(before_there, reply)
    assert [f["seq"] for f in later] == list(range(live["seq"] + 1, live["seq"] + 1 + len(later)))
    assert live["content"] + "".join(f["content"] for f in later) == done_there["content"]
    assert done_there["content"] == done_here["content"] and done_here["status"] == "complete"
    stored = await db(Message.objects.get)(id=reply)
    assert stored.content == done_here["content"] and len(stored.content) > 0

    # Exactly one end frame per tab: a ping round trip shows nothing else was queued behind it.
    for tab in (here, there):
        await tab.send({"type": "ping"})
        _, extra = await tab.until("pong")
        assert not [f for f in extra if f.get("message") == reply and f["type"] in ("message.done", "message.error")]
        await tab.ws.close()
