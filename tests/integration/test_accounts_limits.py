"""Budgets and rate limits on the team stack: the concurrent-send race on PostgreSQL, limits shared by two
web processes (the per-minute counter in Redis, live replies in PostgreSQL)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections
from websockets.sync.client import connect as ws_connect

from accounts import limits
from accounts.models import Reservation, User
from chat import services
from chat.models import Message
from gateways.wire.codes import ChatError

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
PROMPT = "x" * 400  # about 100 tokens


def _race(users: list[User], sends: int) -> tuple[list[object], list[ChatError]]:
    """`sends` threads call services.send at the same moment; returns what started and what was refused."""
    barrier = threading.Barrier(sends)
    started: list[object] = []
    refused: list[ChatError] = []
    lock = threading.Lock()

    def one(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            result = services.send(users[n % len(users)], request_id=uuid.uuid4(), conversation_id=None,
                                   content=PROMPT)
            with lock:
                started.append(result)
        except ChatError as exc:
            with lock:
                refused.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one, args=(n,)) for n in range(sends)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return started, refused


def test_ten_sends_at_once_with_room_for_one_start_exactly_one(user, emulator_provider, settings) -> None:
    assert connection.vendor == "postgresql"
    settings.GROKWEB = {**settings.GROKWEB, "MAX_LIVE_GENERATIONS": 50, "MESSAGES_PER_MINUTE": 100}
    User.objects.filter(pk=user.pk).update(budget_tokens=150)  # one ~100-token prompt fits, two do not
    started, refused = _race([user], 10)
    assert len(started) == 1 and len(refused) == 9
    assert {exc.code for exc in refused} == {"budget_exceeded"}
    assert Message.objects.filter(role="assistant", status="streaming").count() == 1
    assert Message.objects.filter(role="user").count() == 1  # the refused ones stored nothing
    assert Reservation.objects.count() == 1


def test_a_group_pool_shared_by_two_people_also_starts_exactly_one(user, make_user, emulator_provider,
                                                                   settings) -> None:
    from django.contrib.auth.models import Group

    from accounts.models import GroupPolicy

    settings.GROKWEB = {**settings.GROKWEB, "MAX_LIVE_GENERATIONS": 50, "MESSAGES_PER_MINUTE": 100}
    bob = make_user("bob")
    group = Group.objects.create(name="writers")
    GroupPolicy.objects.create(group=group, budget_tokens=150, budget_usd=Decimal("100"))
    for member in (user, bob):
        member.groups.add(group)
    started, refused = _race([user, bob], 10)
    assert len(started) == 1 and {exc.code for exc in refused} == {"budget_exceeded"} and len(refused) == 9


def test_concurrent_sends_respect_the_live_generation_limit(user, emulator_provider, settings) -> None:
    settings.GROKWEB = {**settings.GROKWEB, "MAX_LIVE_GENERATIONS": 2, "MESSAGES_PER_MINUTE": 100}
    started, refused = _race([user], 8)
    assert len(started) == 2 and {exc.code for exc in refused} == {"rate_limited"}


def test_two_processes_share_the_per_minute_counter_through_redis(user) -> None:
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    now = (time.time() // 60) * 60 + 1  # one fixed window for both processes
    script = (
        "import django; django.setup()\n"
        "from types import SimpleNamespace\n"
        "from accounts import limits\n"
        "from gateways.wire.codes import ChatError\n"
        "ok = 0\n"
        "for _ in range(10):\n"
        "    try:\n"
        f"        limits.hit(SimpleNamespace(pk={user.pk}), limits.Limits(10, 3), now={now})\n"
        "        ok += 1\n"
        "    except ChatError:\n"
        "        pass\n"
        "print(ok)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "grokweb.settings"}
    processes = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=60) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    admitted = [int(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert sum(admitted) == 10, admitted  # not 20: the counter is one, in Redis
    with pytest.raises(ChatError) as exc:
        limits.hit(user, limits.Limits(10, 3), now=now)  # and this process sees it too
    assert exc.value.code == "rate_limited" and exc.value.extra["retry_after"] == 59
    assert cache.get(f"grokweb:rate:{user.pk}:{int(now // 60)}") == 21


# Two real web processes (tests/integration/conftest.py: two_web_processes) ---------------------------


class Tab:
    """One browser tab's websocket on one web process."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @staticmethod
    def open(port: int, session: str) -> Any:
        """The signed-in socket (a context manager), as a browser on that process would open it."""
        return ws_connect(f"ws://127.0.0.1:{port}/ws/chat/", origin=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
                          additional_headers={"Cookie": f"sessionid={session}"}, proxy=None, open_timeout=10)

    def until(self, accept) -> dict:  # type: ignore[no-untyped-def,type-arg]
        while True:
            frame = json.loads(self.ws.recv(timeout=15))
            if accept(frame):
                return frame

    def send(self, content: str) -> dict:  # type: ignore[type-arg]
        """Send a message; the answer to it: `message.created` or an `error`."""
        request_id = str(uuid.uuid4())
        self.ws.send(json.dumps({"type": "send", "request_id": request_id, "conversation": None,
                                 "content": content}))
        return self.until(lambda f: f.get("request_id") == request_id and f["type"] in ("message.created", "error"))

    def done(self, created: dict) -> dict:  # type: ignore[type-arg]
        message = created["assistant_message"]["id"]
        return self.until(lambda f: f["type"] == "message.done" and f["message"] == message)


def test_two_web_processes_share_the_rate_limits(user, emulator_provider, two_web_processes) -> None:
    """4 messages a minute and 1 live reply, counted once across both processes (Redis, PostgreSQL)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    if time.time() % 60 > 40:  # keep the six sends inside one clock minute (the counter's window)
        time.sleep(61 - time.time() % 60)
    one, other = two_web_processes
    with Tab.open(one, session) as ws1, Tab.open(other, session) as ws2:
        _exercise(Tab(ws1), Tab(ws2))
    assert Message.objects.filter(role="assistant").count() == 3  # long + two quick: nothing else started


def _exercise(first: Tab, second: Tab) -> None:
    long = first.send("Write at length [[tokens=100000]]")
    assert long["type"] == "message.created"
    live = second.send("meanwhile [[tokens=3]]")  # the other process sees the reply streaming
    assert live["code"] == "rate_limited" and "being written" in live["detail"] and live["retry_after"] > 0
    first.ws.send(json.dumps({"type": "stop", "message": long["assistant_message"]["id"]}))
    assert first.done(long)["status"] == "cancelled"

    answers = []
    for tab in (first, second, first, second):  # messages 3..6 of this minute
        answer = tab.send("quick [[tokens=3]]")
        if answer["type"] == "message.created":
            tab.done(answer)
        answers.append(answer)
    assert [a["type"] for a in answers] == ["message.created", "message.created", "error", "error"]
    for refused in answers[2:]:
        assert refused["code"] == "rate_limited" and "4 messages a minute" in refused["detail"]
        assert 1 <= refused["retry_after"] <= 60
