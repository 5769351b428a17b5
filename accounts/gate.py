"""Admission of a new reply: rate limits, concurrent replies and budgets, in one place.

The chat calls `before` ahead of its transaction (the per-minute counter, in the shared
cache), `admit` and `hold` inside the transaction that creates the streaming reply, and
`release` in the transaction that ends it. `admit` locks the user's row (and the budgeted
groups' policy rows), so concurrent sends are decided one after another: each sees the
replies the earlier ones started and what they reserved.

Every live reply holds one Reservation: it is the reply's slot (the concurrent-reply limit
counts them) and its reserved cost (budgets subtract it until the ledger row counts instead).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from gateways.tariffs import rate_on
from gateways.wire.codes import ChatError
from usage.money import format_usd

from . import budgets, limits
from .models import Reservation, User
from .status import MESSAGES, refusal


@dataclass(frozen=True)
class Hold:
    ticks: int = 0
    tokens: int = 0


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
    refused = budgets.refusal(applicable, need_ticks, need_tokens)
    if refused is not None:
        status, detail = refused
        raise ChatError(
            "budget_exceeded", detail,
            remaining_usd=format_usd(status.remaining_ticks) if status.remaining_ticks is not None else None,
            remaining_tokens=status.remaining_tokens, budget=status.source,
        )
    return Hold(need_ticks, need_tokens)


def hold(user: Any, held: Hold, reply_id: UUID) -> None:
    """The new reply takes its slot and reserves its estimated prompt cost while it streams."""
    Reservation.objects.create(message_id=reply_id, user_id=user.pk, ticks=held.ticks, tokens=held.tokens)


def release(*reply_ids: UUID) -> None:
    """The replies ended (however they ended, or were deleted): their slots are free, their ledger rows count."""
    Reservation.objects.filter(message_id__in=reply_ids).delete()
