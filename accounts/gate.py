"""Admission of a new reply: rate limits, concurrent replies and budgets, in one place.

The chat calls `before` ahead of its transaction (the per-minute counter, in the shared
cache), `admit` and `hold` inside the transaction that creates the streaming reply, and
`release` in the transaction that ends it. `admit` locks the user's row (and the budgeted
groups' policy rows), so concurrent sends are decided one after another: each sees the
replies the earlier ones started and what they reserved.

Every live reply holds one Reservation: it is the reply's slot (the concurrent-reply limit
counts them) and its reserved cost (budgets subtract it until the ledger row counts instead).
A Team API call (teamapi) is admitted the same way, keyed by an id of its own, and holds its
Reservation in the name of its web process (`holder`), so a process that dies mid-call frees it
(`release_orphans`).

While a reply streams, `output_room` tells how many more output tokens it may produce before
the budget it was admitted under is used up; the caller cuts the reply there (budget_exceeded).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.core.cache import cache
from django.utils import timezone

from gateways.tariffs import Rate, rate_on
from gateways.wire.codes import ChatError
from gateways.wire.usage import CHARS_PER_TOKEN, TICKS_PER_USD
from usage.money import format_usd

from . import budgets, limits
from .models import Reservation, User
from .status import MESSAGES, refusal


@dataclass(frozen=True)
class Hold:
    """What a new reply reserves, and the room it was admitted with.

    `room_ticks` / `room_tokens`: what the reply may cost in all (its prompt included), measured at
    admission: the strictest applicable budget's remainder after the other live replies' reservations.
    None where no budget limits it.
    """

    ticks: int = 0
    tokens: int = 0
    room_ticks: int | None = None
    room_tokens: int | None = None


def before(user: Any) -> limits.Limits:
    """Outside the transaction: the per-minute message counter (Redis when REDIS_URL is set).

    Returns the user's limits, so `admit` does not read the group policies a second time.
    """
    found = limits.limits_for(user)
    limits.hit(user, found)
    return found


def admit(user: Any, model: Any, chars: Callable[[], int], user_limits: limits.Limits | None = None) -> Hold:
    """Inside the reply's transaction: lock, then check live replies and budgets.

    `chars` computes the prompt's size; it runs only when a budget applies.
    Returns what the new reply must reserve.
    """
    # Fresh (the socket's user may be minutes old) and locked: concurrent sends queue here.
    fresh = User.objects.select_for_update().get(pk=user.pk)
    reason = refusal(fresh)
    if reason is not None:
        raise ChatError("bad_request", MESSAGES[reason])
    applicable = budgets.budgets_for(fresh)
    budgets.lock_groups(applicable)
    live = Reservation.objects.filter(user_id=fresh.pk).count()
    limits.check_live(fresh, live, user_limits or limits.limits_for(fresh))
    if not applicable:
        return Hold()
    # At the price the call will be billed at (the first route's dated price), not the catalog's.
    need_ticks, need_tokens = budgets.prompt_estimate(chars(), rate_on(model.provider_id, model).input)
    measured = budgets.statuses(applicable)
    refused = budgets.refusal(applicable, need_ticks, need_tokens, measured)
    if refused is not None:
        status, detail = refused
        raise ChatError(
            "budget_exceeded", detail,
            remaining_usd=format_usd(status.remaining_ticks) if status.remaining_ticks is not None else None,
            remaining_tokens=status.remaining_tokens, budget=status.source,
        )
    room_ticks, room_tokens = budgets.room(measured)
    return Hold(need_ticks, need_tokens, room_ticks, room_tokens)


def hold(user: Any, held: Hold, reply_id: UUID, holder: str = "") -> None:
    """The new reply takes its slot and reserves its estimated prompt cost while it streams.

    `holder` names the web process of a call that has no row of its own (see release_orphans).
    """
    Reservation.objects.create(message_id=reply_id, user_id=user.pk, ticks=held.ticks, tokens=held.tokens,
                               holder=holder)


def release(*reply_ids: UUID) -> None:
    """The replies ended (however they ended, or were deleted): their slots are free, their ledger rows count."""
    Reservation.objects.filter(message_id__in=reply_ids).delete()


def output_room(held: Hold, rate: Rate, prompt_chars: int) -> int | None:
    """How many output tokens (answer and reasoning) a live reply may still produce before its budget is used up.

    None when no budget applies. The prompt's estimated cost (at `rate`, the price of the route
    serving the reply) comes off the room first. A streaming loop counts what it has relayed
    (`tokens_so_far`) and ends the reply once that reaches the room: no database read per token.
    """
    rooms: list[int] = []
    prompt_tokens = max(1, math.ceil(prompt_chars / CHARS_PER_TOKEN))
    if held.room_tokens is not None:
        rooms.append(held.room_tokens - prompt_tokens)
    if held.room_ticks is not None:
        per_million = Decimal(TICKS_PER_USD) / Decimal(1_000_000)
        prompt_ticks = Decimal(prompt_tokens) * rate.input * per_million
        per_token = rate.output * per_million
        if per_token > 0:
            rooms.append(int((Decimal(held.room_ticks) - prompt_ticks) / per_token))
    return max(0, min(rooms)) if rooms else None


def tokens_so_far(chars: int) -> int:
    """Output tokens a reply has produced, estimated from its characters as usage estimates are."""
    return math.ceil(chars / CHARS_PER_TOKEN)


HOLDER_TTL_S = 30  # a holder that has not said it is alive for this long is dead


def _holder_key(holder: str) -> str:
    return f"grokweb:holder:{holder}"


async def mark_alive(holder: str) -> None:
    """A process holding calls says it is alive (every few seconds: teamapi.liveness)."""
    await cache.aset(_holder_key(holder), 1, HOLDER_TTL_S)


def holder_alive(holder: str) -> bool:
    return cache.get(_holder_key(holder)) is not None


def release_orphans(is_alive: Callable[[str], bool] = holder_alive, grace_s: float = 30.0) -> int:
    """Free the reservations of calls whose web process died (a Team API call has no row to end).

    A reservation younger than `grace_s` is left alone: its process may be starting its heartbeat.
    Run every minute (accounts.tasks) and by each process when it starts serving the API.
    Returns how many were freed.
    """
    cutoff = timezone.now() - timedelta(seconds=grace_s)
    holders = set(Reservation.objects.exclude(holder="").filter(created_at__lt=cutoff)
                  .values_list("holder", flat=True).distinct())
    dead = [holder for holder in holders if not is_alive(holder)]
    if not dead:
        return 0
    freed, _ = Reservation.objects.filter(holder__in=dead, created_at__lt=cutoff).delete()
    return int(freed)
