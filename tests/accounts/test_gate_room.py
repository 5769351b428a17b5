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


def _admit(user, model, tokens=100, max_tokens=None):  # type: ignore[no-untyped-def]
    with transaction.atomic():
        return gate.admit(user, model, lambda: tokens, max_tokens=max_tokens)


def test_no_budget_no_reservation_and_no_cut(user, emulator_provider) -> None:
    held = _admit(user, Model.objects.first())
    assert (held.ticks, held.tokens, held.max_output) == (0, 0, None) and gate.output_room(held, RATE) is None


def test_a_reply_reserves_its_worst_case_when_the_budget_has_room_for_it(user, emulator_provider) -> None:
    user.budget_tokens = 10_000
    user.save()
    held = _admit(user, Model.objects.first(), max_tokens=500)
    assert (held.tokens, held.max_output, held.limited) == (600, 500, False)
    assert gate.output_room(held, RATE) is None  # the gateway stops it at max_tokens: nothing to watch


def test_without_max_tokens_the_configured_cap_is_reserved(user, emulator_provider, settings) -> None:
    settings.GROKWEB = {**settings.GROKWEB, "RESERVE_OUTPUT_TOKENS": 2000}
    user.budget_tokens = 10_000
    user.save()
    held = _admit(user, Model.objects.first())
    assert (held.tokens, held.max_output) == (2100, 2000)


def test_the_room_is_what_the_strictest_budget_leaves_after_the_others_and_the_prompt(user, emulator_provider) -> None:
    user.budget_tokens = 1000
    user.save()
    model = Model.objects.first()
    other = uuid.uuid4()
    Reservation.objects.create(message_id=other, user=user, ticks=0, tokens=300)  # a reply still streaming
    held = _admit(user, model, max_tokens=4000)
    assert held.limited and held.tokens == 700 and held.prompt_tokens == 100
    assert gate.output_room(held, RATE) == 600  # 700 left, the 100-token prompt first
    assert gate.tokens_so_far(2399) == 600 and gate.tokens_so_far(2400) == 600 and gate.tokens_so_far(2401) == 601


def test_a_usd_budget_turns_into_output_tokens_at_the_routes_price(user, emulator_provider) -> None:
    user.budget_usd = Decimal("0.001")  # 10,000,000 ticks
    user.save()
    held = _admit(user, Model.objects.first())
    room = gate.output_room(held, RATE)
    # (0.001 USD - 100 prompt tokens at $1/M) / $2/M per output token
    assert held.ticks == 10_000_000 and room == (10_000_000 - 1_000_000) // 20_000 == 450


def test_concurrent_replies_share_the_budget_by_their_reservations(user, emulator_provider) -> None:
    """The second reply gets only what the first one's worst case leaves; the third is refused."""
    from gateways.wire.codes import ChatError

    user.budget_tokens = 1000
    user.save()
    model = Model.objects.first()
    first = _admit(user, model, max_tokens=500)
    gate.hold(user, first, uuid.uuid4())
    second = _admit(user, model, max_tokens=500)
    gate.hold(user, second, uuid.uuid4())
    assert (first.tokens, first.limited) == (600, False) and (second.tokens, second.limited) == (400, True)
    with pytest.raises(ChatError) as refused:
        _admit(user, model, max_tokens=500)
    assert refused.value.code == "budget_exceeded" and "being written" in refused.value.detail


def test_orphaned_reservations_are_freed_once_their_process_is_gone(user) -> None:
    asyncio.run(gate.mark_alive("api:alive"))
    long_ago = timezone.now() - dt.timedelta(minutes=5)
    for holder in ("api:dead", "api:alive", ""):  # "" is a chat reply's: its message ends it
        Reservation.objects.create(message_id=uuid.uuid4(), user=user, holder=holder)
    young = Reservation.objects.create(message_id=uuid.uuid4(), user=user, holder="api:starting")
    Reservation.objects.exclude(pk=young.pk).update(created_at=long_ago)
    assert gate.release_orphans() == 1
    assert sorted(Reservation.objects.values_list("holder", flat=True)) == ["", "api:alive", "api:starting"]


# The Team API's plain-SQL admission for calls no budget applies to (gate.admit_unbudgeted) ------------------


def _admit_plain(user, live=5):  # type: ignore[no-untyped-def]
    from accounts.limits import Limits

    call = uuid.uuid4()
    with transaction.atomic():
        return gate.admit_unbudgeted(user.pk, Limits(100, live), call, holder="api:test"), call


def test_plain_admission_holds_the_same_reservation_as_admit_and_hold(user) -> None:
    admitted, call = _admit_plain(user)
    row = Reservation.objects.get()
    assert admitted and (row.message_id, row.user_id, row.ticks, row.tokens, row.holder) == (call, user.pk, 0, 0,
                                                                                             "api:test")
    assert row.created_at <= timezone.now()
    gate.release(call)
    assert not Reservation.objects.exists()


def test_plain_admission_refuses_at_the_live_limit_and_a_disabled_or_pending_owner(user, make_user) -> None:
    from gateways.wire.codes import ChatError

    _admit_plain(user, live=2)
    _admit_plain(user, live=2)
    with pytest.raises(ChatError) as full:
        _admit_plain(user, live=2)
    assert full.value.code == "rate_limited" and Reservation.objects.count() == 2
    for status, word in (("disabled", "disabled"), ("pending", "approval")):
        other = make_user(f"someone-{status}")
        other.status = status
        other.save()
        with pytest.raises(ChatError) as refused:
            _admit_plain(other)
        assert word in str(refused.value)
    assert Reservation.objects.count() == 2  # a refusal holds nothing


def test_plain_admission_leaves_an_owner_with_a_budget_of_their_own_to_admit(user) -> None:
    user.budget_tokens = 10_000
    user.save()
    admitted, _ = _admit_plain(user)
    assert not admitted and not Reservation.objects.exists()
