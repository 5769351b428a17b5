"""Budgets and rate limits on the team stack: the concurrent-send race on PostgreSQL, counters shared in Redis."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections

from accounts import limits
from accounts.models import Reservation, User
from chat import services
from chat.errors import ChatError
from chat.models import Message

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
        "from chat.errors import ChatError\n"
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
