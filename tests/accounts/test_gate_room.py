"""What admission hands a live reply: the room its budget leaves (for a cut mid-stream), and the sweep of
reservations whose web process died."""
from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from accounts import gate
from accounts.models import Reservation
from gateways.models import Model
from gateways.tariffs import Rate

pytestmark = pytest.mark.django_db
RATE = Rate(Decimal("1.00"), Decimal("0.10"), Decimal("2.00"))  # USD per million tokens


def _admit(user, model, chars=400):  # type: ignore[no-untyped-def]
    with transaction.atomic():
        return gate.admit(user, model, lambda: chars)


def test_no_budget_no_room_and_no_cut(user, emulator_provider) -> None:
    held = _admit(user, Model.objects.first())
    assert (held.room_ticks, held.room_tokens) == (None, None) and gate.output_room(held, RATE, 400) is None


def test_the_room_is_what_the_strictest_budget_leaves_after_the_prompt(user, emulator_provider) -> None:
    user.budget_tokens = 1000
    user.save()
    model = Model.objects.first()
    other = uuid.uuid4()
    Reservation.objects.create(message_id=other, user=user, ticks=0, tokens=300)  # a reply still streaming
    held = _admit(user, model)
    assert held.room_tokens == 700 and held.tokens == 100
    assert gate.output_room(held, RATE, 400) == 600  # 700 left, the 100-token prompt first
    assert gate.tokens_so_far(2399) == 600 and gate.tokens_so_far(2400) == 600 and gate.tokens_so_far(2401) == 601


def test_a_usd_budget_turns_into_output_tokens_at_the_routes_price(user, emulator_provider) -> None:
    user.budget_usd = Decimal("0.001")  # 10,000,000 ticks
    user.save()
    held = _admit(user, Model.objects.first())
    room = gate.output_room(held, RATE, 400)
    # (0.001 USD - 100 prompt tokens at $1/M) / $2/M per output token
    assert held.room_ticks == 10_000_000 and room == (10_000_000 - 1_000_000) // 20_000 == 450


def test_orphaned_reservations_are_freed_once_their_process_is_gone(user) -> None:
    asyncio.run(gate.mark_alive("api:alive"))
    long_ago = timezone.now() - dt.timedelta(minutes=5)
    for holder in ("api:dead", "api:alive", ""):  # "" is a chat reply's: its message ends it
        Reservation.objects.create(message_id=uuid.uuid4(), user=user, holder=holder)
    young = Reservation.objects.create(message_id=uuid.uuid4(), user=user, holder="api:starting")
    Reservation.objects.exclude(pk=young.pk).update(created_at=long_ago)
    assert gate.release_orphans() == 1
    assert sorted(Reservation.objects.values_list("holder", flat=True)) == ["", "api:alive", "api:starting"]
