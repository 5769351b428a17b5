"""Budgets hold under a crowd: 30 sends at once, from two web processes, against one $0.01 budget.

Each admitted reply reserves the worst case it can cost (accounts.gate), so the replies that start
together can never promise more than the budget holds; the last one admitted gets what is left and
is cut there. The ledger may pass the limit by at most one coalescing interval of output tokens.
"""
from __future__ import annotations

import json
import math
import threading
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.db.models import Sum
from django.test import Client
from websockets.sync.client import connect as ws_connect

from accounts.models import Reservation, User
from chat.models import Message
from gateways.models import Model
from gateways.tariffs import rate_on
from gateways.wire.usage import TICKS_PER_USD
from usage.models import UsageRecord

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
SENDS = 30
TPS = 1000  # the emulator's pace for these replies ([[tps=...]])
MODEL = "grok-4-1-fast-non-reasoning"


def _one(port: int, session: str, barrier: threading.Barrier, outcomes: list[dict[str, Any]],
         lock: threading.Lock) -> None:
    """A tab: send at the barrier, then read until the reply ends (or the send is refused)."""
    with ws_connect(f"ws://127.0.0.1:{port}/ws/chat/", origin=f"http://127.0.0.1:{port}",  # type: ignore[arg-type]
                    additional_headers={"Cookie": f"sessionid={session}"}, proxy=None, open_timeout=20) as ws:
        request_id = str(uuid.uuid4())
        barrier.wait(timeout=60)
        ws.send(json.dumps({"type": "send", "request_id": request_id, "conversation": None, "model": MODEL,
                            "content": f"Write at length [[tokens=100000]] [[tps={TPS}]]",
                            "params": {"max_tokens": 1000}}))
        reply = None
        while True:
            frame = json.loads(ws.recv(timeout=60))
            if frame.get("request_id") == request_id and frame["type"] == "error":
                outcome = frame
                break
            if frame.get("request_id") == request_id and frame["type"] == "message.created":
                reply = frame["assistant_message"]["id"]
            elif frame["type"] in ("message.done", "message.error") and frame["message"] == reply:
                outcome = frame
                break
    with lock:
        outcomes.append(outcome)


@pytest.mark.web_env(MESSAGES_PER_MINUTE="100", MAX_LIVE_GENERATIONS="50")
def test_thirty_concurrent_sends_from_two_processes_stay_within_the_budget(user, emulator_provider,
                                                                          two_web_processes) -> None:
    limit = Decimal("0.01")
    User.objects.filter(pk=user.pk).update(budget_usd=limit)
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    barrier = threading.Barrier(SENDS)
    outcomes: list[dict[str, Any]] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=_one, args=(two_web_processes[n % 2], session, barrier, outcomes, lock))
               for n in range(SENDS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert len(outcomes) == SENDS, "every tab heard how its send ended"

    refused = [o for o in outcomes if o["type"] == "error"]
    done = [o for o in outcomes if o["type"] == "message.done"]
    cut = [o for o in outcomes if o["type"] == "message.error"]
    assert {o["code"] for o in refused} <= {"budget_exceeded"} and refused  # the crowd did not all fit
    assert done and all(o["status"] == "complete" for o in done)
    assert all(o["code"] == "budget_exceeded" and o["content"] for o in cut)  # cut, its text kept
    assert Message.objects.filter(status="streaming").count() == 0 and Reservation.objects.count() == 0

    # The bound: one coalescing interval of output tokens at the route's output price (and a tick of
    # rounding per ledger row).
    model = Model.objects.get(slug=MODEL)
    interval_tokens = math.ceil(TPS * settings.GROKWEB["DELTA_INTERVAL_S"])
    bound = Decimal(interval_tokens) * rate_on(emulator_provider.pk, model).output / Decimal(1_000_000)
    rows = UsageRecord.objects.filter(user=user)
    spent = Decimal(rows.aggregate(total=Sum("cost_ticks"))["total"] or 0) / TICKS_PER_USD
    assert spent <= limit + bound + Decimal(rows.count()) / TICKS_PER_USD, (spent, len(done), len(cut))
    assert rows.filter(purpose="chat", message__isnull=False).count() == len(done) + len(cut)
    print(f"\n{len(done)} complete, {len(cut)} cut, {len(refused)} refused; ledger ${spent} of ${limit}"
          f" (bound +${bound})")
