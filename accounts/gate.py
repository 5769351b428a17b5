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

from django.conf import settings
from django.core.cache import cache
from django.db import connection
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
    """What a new reply reserves while it streams.

    Where a budget applies, the reservation is the worst case the reply can cost: its estimated
    prompt plus `max_output` tokens of output (the request's max_tokens, or RESERVE_OUTPUT_TOKENS),
    at the price of the route that will serve it; or, when the budget has less left than that,
    all that is left (`limited`): such a reply is cut (budget_exceeded) once its running cost
    reaches its reservation. None of `max_output` where no budget applies (nothing is reserved).
    """

    ticks: int = 0
    tokens: int = 0
    prompt_tokens: int = 0
    max_output: int | None = None  # sent upstream as max_tokens where a budget applies
    limited: bool = False  # the budget left less than the worst case: the reply must stop at its reservation

    @property
    def budgeted(self) -> bool:
        return self.max_output is not None


def before(user: Any) -> limits.Limits:
    """Outside the transaction: the per-minute message counter (Redis when REDIS_URL is set).

    Returns the user's limits, so `admit` does not read the group policies a second time.
    """
    found = limits.limits_for(user)
    limits.hit(user, found)
    return found


def admit(user: Any, model: Any, prompt_tokens: Callable[[], int], user_limits: limits.Limits | None = None, *,
          max_tokens: int | None = None, provider: Callable[[], int | None] | None = None) -> Hold:
    """Inside the reply's transaction: lock, then check live replies and budgets.

    `prompt_tokens` estimates the prompt (gateways.wire.usage.prompt_tokens_for); it runs only when
    a budget applies. `max_tokens` is the request's own limit, if any; `provider` names the provider of
    the route that will serve the call (default: the model's), asked only when a budget applies.
    Returns what the new reply must reserve.
    """
    # Fresh (the socket's user may be minutes old) and locked: concurrent sends queue here.
    fresh = User.objects.select_for_update().get(pk=user.pk)
    reason = refusal(fresh)
    if reason is not None:
        raise ChatError("bad_request", MESSAGES[reason])
    applicable = budgets.budgets_for(fresh, user_limits.policies if user_limits is not None else None)
    budgets.lock_groups(applicable)
    live = Reservation.objects.filter(user_id=fresh.pk).count()
    limits.check_live(fresh, live, user_limits or limits.limits_for(fresh))
    if not applicable:
        return Hold()
    # At the price the call will be billed at (the route's dated price), not the catalog's.
    provider_id = provider() if provider is not None else None
    rate = rate_on(model.provider_id if provider_id is None else provider_id, model)
    prompt = max(1, prompt_tokens())
    need_ticks = budgets.tokens_cost(prompt, rate.input)
    measured = budgets.statuses(applicable)
    refused = budgets.refusal(applicable, need_ticks, prompt, measured)
    if refused is not None:
        status, detail = refused
        raise ChatError(
            "budget_exceeded", detail,
            remaining_usd=format_usd(status.remaining_ticks) if status.remaining_ticks is not None else None,
            remaining_tokens=status.remaining_tokens, budget=status.source,
        )
    output = max_tokens if max_tokens else reserve_output_tokens()
    worst_ticks = need_ticks + budgets.tokens_cost(output, rate.output)
    worst_tokens = prompt + output
    room_ticks, room_tokens = budgets.room(measured)
    ticks = worst_ticks if room_ticks is None else min(worst_ticks, room_ticks)
    tokens = worst_tokens if room_tokens is None else min(worst_tokens, room_tokens)
    limited = ticks < worst_ticks or tokens < worst_tokens
    return Hold(ticks, tokens, prompt, output, limited)


def budget_possible(user_limits: limits.Limits) -> bool:
    """Whether a group budget may apply (or the policies are not in hand): then only `admit` decides."""
    policies = user_limits.policies
    return policies is None or any(p.has_budget for p in policies)


def admit_unbudgeted(user_id: int, user_limits: limits.Limits, reply_id: UUID, holder: str = "") -> bool:
    """`admit` and `hold` for a reply no budget applies to, in three plain SQL statements; inside the transaction.

    The same decisions as `admit` (the owner locked and fresh: disabled or pending refused; the
    live-reply limit counted under the lock) and the same Reservation as `hold`, without the ORM:
    its query building and model instances cost a Team API call about 1.3 ms of CPU more, in the
    worker thread whose answer the call's first token waits for. False, with nothing held,
    when the owner has a budget of their own after all (the caller then runs `admit`, which
    decides it); group budgets are the caller's to rule out (`user_limits.policies`).
    """
    quote = connection.ops.quote_name
    users, reservations = quote(User._meta.db_table), quote(Reservation._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT status, is_active, budget_usd, budget_tokens FROM {users} WHERE id = %s{lock}",
                       [user_id])
        row = cursor.fetchone()
        if row is None:
            raise User.DoesNotExist(user_id)
        status, is_active, budget_usd, budget_tokens = row
        if not (status == User.Status.ACTIVE and is_active):
            raise ChatError("bad_request", MESSAGES["pending" if status == User.Status.PENDING else "disabled"])
        if budget_usd is not None or budget_tokens is not None:
            return False
        cursor.execute(f"SELECT COUNT(*) FROM {reservations} WHERE user_id = %s", [user_id])
        limits.check_live(None, cursor.fetchone()[0], user_limits)
        fields = Reservation._meta
        cursor.execute(
            f"INSERT INTO {reservations} (message_id, user_id, ticks, tokens, holder, created_at) "
            "VALUES (%s, %s, 0, 0, %s, %s)",
            [fields.get_field("message_id").get_db_prep_value(reply_id, connection), user_id, holder,
             fields.get_field("created_at").get_db_prep_value(timezone.now(), connection)])
    return True


def reserve_output_tokens() -> int:
    """The output a budgeted reply without max_tokens is held to (and reserves): settings.GROKWEB."""
    return int(settings.GROKWEB.get("RESERVE_OUTPUT_TOKENS", 16_384))


def hold(user: Any, held: Hold, reply_id: UUID, holder: str = "") -> None:
    """The new reply takes its slot and reserves its estimated prompt cost while it streams.

    `holder` names the web process of a call that has no row of its own (see release_orphans).
    """
    Reservation.objects.create(message_id=reply_id, user_id=user.pk, ticks=held.ticks, tokens=held.tokens,
                               holder=holder)


def release(*reply_ids: UUID) -> None:
    """The replies ended (however they ended, or were deleted): their slots are free, their ledger rows count.

    Plain SQL, like `admit_unbudgeted`: every reply's ending runs it, and nothing hangs off a
    Reservation (no relation, no signal) that the ORM's delete would have to collect first.
    """
    if not reply_ids:
        return
    prep = Reservation._meta.get_field("message_id").get_db_prep_value
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(Reservation._meta.db_table)} WHERE message_id IN "
                       f"({', '.join(['%s'] * len(reply_ids))})", [prep(key, connection) for key in reply_ids])


def output_room(held: Hold, rate: Rate) -> int | None:
    """How many output tokens (answer and reasoning) a live reply may produce before it reaches its reservation.

    None when the reply need not be watched: no budget applies, or its reservation covers the worst
    case (the gateway stops it at `held.max_output`). For a `limited` reply, the prompt's estimated
    cost (at `rate`, the price of the route serving it) comes off the reservation first. A streaming
    loop counts what it has relayed (`tokens_so_far`) and ends the reply once that reaches the room:
    no database read per token.
    """
    if not held.limited:
        return None
    rooms = [held.tokens - held.prompt_tokens]
    per_token = Decimal(rate.output) * Decimal(TICKS_PER_USD) / Decimal(1_000_000)
    if per_token > 0:
        prompt_ticks = budgets.tokens_cost(held.prompt_tokens, rate.input)
        rooms.append(int((Decimal(held.ticks) - prompt_ticks) / per_token))
    return max(0, min(rooms))


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
