"""Monthly budgets, in USD and/or tokens, per user and per group.

Rules (documented in docs/operations.md, "Budgets"):
- A month is a calendar month in settings.TIME_ZONE.
- Spend is the ledger (usage.UsageRecord: cost_ticks, total_tokens) of the
  month; a staff "reset" moves a user's counting start to that moment.
- A per-user override (User.budget_usd / budget_tokens) wins: when set, the
  user's group budgets do not apply to them.
- Otherwise every group budget of the user's groups applies; a group budget is
  a pool shared by the group's members, and a send needs room in *all* of
  them (the strictest wins). `budget_status` reports the one closest to its limit.
- A member with their own budget is outside their groups' pools: their spend
  counts against their own budget only, never against a pool they are not held to.
- Before each upstream call the estimated prompt cost must fit in what is
  left after replies still streaming (their reservations). A new reply reserves
  the worst case it can cost (prompt + max_tokens, or RESERVE_OUTPUT_TOKENS) or,
  when less is left, all that is left; such a reply is cut when its running cost
  reaches its reservation (accounts.gate), and the next send is refused.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import F, Q, Sum
from django.utils import timezone

from gateways.wire.usage import TICKS_PER_USD
from usage.models import UsageRecord
from usage.money import format_usd, money

from .models import GroupPolicy, Reservation

WARNING_FRACTION = 0.8


@dataclass(frozen=True)
class Budget:
    """One limit that applies to a user: whose spend counts, and how much is allowed."""

    source: str  # "user" or "group:<name>"
    limit_ticks: int | None
    limit_tokens: int | None
    user_id: int | None = None  # a per-user budget
    group_id: int | None = None  # a pooled group budget


@dataclass(frozen=True)
class BudgetStatus:
    limit_ticks: int | None
    spent_ticks: int
    limit_tokens: int | None
    spent_tokens: int
    remaining_ticks: int | None
    remaining_tokens: int | None
    fraction: float  # the highest of the used fractions (USD, tokens)
    warning: bool  # fraction >= 0.8
    exceeded: bool
    source: str
    reserved_ticks: int = 0
    reserved_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The wire shape (GET /api/me/budget/): USD as decimal strings."""
        return {
            "source": self.source,
            "limit_usd": format_usd(self.limit_ticks) if self.limit_ticks is not None else None,
            "spent_usd": format_usd(self.spent_ticks),
            "remaining_usd": format_usd(self.remaining_ticks) if self.remaining_ticks is not None else None,
            "limit_tokens": self.limit_tokens,
            "spent_tokens": self.spent_tokens,
            "remaining_tokens": self.remaining_tokens,
            "fraction": round(self.fraction, 4),
            "warning": self.warning,
            "exceeded": self.exceeded,
            "resets_at": next_month_start().isoformat(),
        }


def usd_to_ticks(usd: Decimal | None) -> int | None:
    return None if usd is None else int(Decimal(usd) * TICKS_PER_USD)


def month_start(now: datetime | None = None) -> datetime:
    local = (now or timezone.now()).astimezone(ZoneInfo(settings.TIME_ZONE))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(now: datetime | None = None) -> datetime:
    """When this month's budgets start afresh."""
    start = month_start(now)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def resets_text(now: datetime | None = None) -> str:
    """Like "1 December" for people (the year added when it is not this year's)."""
    when = next_month_start(now)
    this_year = month_start(now).year
    return f"{when.day} {when:%B}" + (f" {when.year}" if when.year != this_year else "")


def budgets_for(user: Any, policies: Iterable[GroupPolicy] | None = None) -> list[Budget]:
    """The budgets that apply to this user (see the module's rules).

    `policies`: the user's group policies when the caller has read them already (accounts.limits).
    """
    if user.has_budget_override:
        return [Budget("user", usd_to_ticks(user.budget_usd), user.budget_tokens, user_id=user.pk)]
    if policies is None:
        policies = GroupPolicy.objects.filter(group__user=user).select_related("group").order_by("group_id")
    return [
        Budget(f"group:{p.group.name}", usd_to_ticks(p.budget_usd), p.budget_tokens, group_id=p.group_id)
        for p in policies if p.has_budget
    ]


def _members(budget: Budget) -> Q:
    """Whose spend counts: the user, or the group's members without their own budget."""
    if budget.group_id is not None:
        return Q(user__groups=budget.group_id, user__budget_usd__isnull=True, user__budget_tokens__isnull=True)
    return Q(user_id=budget.user_id)


def spent(budget: Budget, now: datetime | None = None) -> tuple[int, int]:
    """(ticks, tokens) spent this month by the budget's user or group members, after their resets."""
    counted = UsageRecord.objects.filter(_members(budget), created_at__gte=month_start(now)).filter(
        Q(user__budget_reset_at__isnull=True) | Q(created_at__gte=F("user__budget_reset_at"))
    )
    totals = counted.aggregate(ticks=Sum("cost_ticks"), tokens=Sum("total_tokens"))
    return int(totals["ticks"] or 0), int(totals["tokens"] or 0)


def reserved(budget: Budget) -> tuple[int, int]:
    """(ticks, tokens) held by replies still streaming (a reservation lives as long as its reply: accounts.gate)."""
    held = Reservation.objects.filter(_members(budget))
    totals = held.aggregate(ticks=Sum("ticks"), tokens=Sum("tokens"))
    return int(totals["ticks"] or 0), int(totals["tokens"] or 0)


def _fraction(used: int, limit: int | None) -> float:
    if limit is None:
        return 0.0
    if limit <= 0:
        return 1.0
    return used / limit


def measure(budget: Budget, *, with_reserved: bool = False, now: datetime | None = None) -> BudgetStatus:
    ticks, tokens = spent(budget, now)
    held_ticks, held_tokens = reserved(budget) if with_reserved else (0, 0)
    used_ticks, used_tokens = ticks + held_ticks, tokens + held_tokens
    fraction = max(_fraction(ticks, budget.limit_ticks), _fraction(tokens, budget.limit_tokens))
    exceeded = (budget.limit_ticks is not None and ticks >= budget.limit_ticks) or (
        budget.limit_tokens is not None and tokens >= budget.limit_tokens)
    return BudgetStatus(
        limit_ticks=budget.limit_ticks, spent_ticks=ticks, limit_tokens=budget.limit_tokens, spent_tokens=tokens,
        remaining_ticks=None if budget.limit_ticks is None else max(budget.limit_ticks - used_ticks, 0),
        remaining_tokens=None if budget.limit_tokens is None else max(budget.limit_tokens - used_tokens, 0),
        fraction=fraction, warning=fraction >= WARNING_FRACTION, exceeded=exceeded, source=budget.source,
        reserved_ticks=held_ticks, reserved_tokens=held_tokens,
    )


def budget_status(user: Any, measured: dict[Budget, BudgetStatus] | None = None) -> BudgetStatus | None:
    """The budget closest to its limit for this user this month; None when no budget applies.

    `measured` (People: one dict for the whole page) keeps each budget's status once it is
    summed, so a group's pool is summed once, not once per member.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    statuses = []
    for budget in budgets_for(user):
        if measured is None:
            statuses.append(measure(budget))
        else:
            statuses.append(measured.get(budget) or measured.setdefault(budget, measure(budget)))
    if not statuses:
        return None
    return max(statuses, key=lambda s: (s.exceeded, s.fraction))


# Admission (called by accounts.gate inside the transaction that creates the reply) ----------


def tokens_cost(tokens: int, price_per_million: Decimal) -> int:
    """Ticks (USD x 1e10) these many tokens cost at this price, rounded up: a reservation never falls short."""
    exact = Decimal(tokens) * Decimal(price_per_million) * TICKS_PER_USD / Decimal(1_000_000)
    return int(exact.to_integral_value(rounding=ROUND_CEILING))


def statuses(budgets: list[Budget]) -> list[BudgetStatus]:
    """Each budget measured with what streaming replies reserve (admission reads them once)."""
    return [measure(budget, with_reserved=True) for budget in budgets]


def room(measured: list[BudgetStatus]) -> tuple[int | None, int | None]:
    """(ticks, tokens) left in the strictest of these budgets; None where none of them limits it."""
    ticks = [s.remaining_ticks for s in measured if s.remaining_ticks is not None]
    tokens = [s.remaining_tokens for s in measured if s.remaining_tokens is not None]
    return (min(ticks) if ticks else None), (min(tokens) if tokens else None)


def refusal(budgets: list[Budget], need_ticks: int, need_tokens: int,
            measured: list[BudgetStatus] | None = None) -> tuple[BudgetStatus, str] | None:
    """The first budget without room for this call (counting streaming replies), with a sentence for the user."""
    for budget, status in zip(budgets, measured if measured is not None else statuses(budgets), strict=True):
        short_usd = status.remaining_ticks is not None and (
            status.remaining_ticks <= 0 or status.remaining_ticks < need_ticks)
        short_tokens = status.remaining_tokens is not None and (
            status.remaining_tokens <= 0 or status.remaining_tokens < need_tokens)
        if not (short_usd or short_tokens):
            continue
        whose = "Your" if budget.source == "user" else f"The {budget.source.split(':', 1)[1]!r} group's"
        parts = []
        if status.remaining_ticks is not None:
            parts.append(f"{money(status.remaining_ticks)} of {money(status.limit_ticks)}")
        if status.remaining_tokens is not None:
            parts.append(f"{status.remaining_tokens:,} of {status.limit_tokens:,} tokens")
        detail = (f"{whose} monthly budget is used up: {' and '.join(parts)} left this month. "
                  f"It starts afresh on {resets_text()}.")
        if status.reserved_ticks or status.reserved_tokens:
            detail = (f"{whose} monthly budget has no room for this message while other replies are being "
                      f"written: they hold the rest of it ({' and '.join(parts)} free). Try again when they "
                      "finish, or give them a smaller max_tokens.")
        return status, detail
    return None


def lock_groups(budgets: list[Budget]) -> None:
    """Serialize admissions on shared budgets: the budgeted groups' policy rows, in a fixed order.

    The caller has already locked the user's row (accounts.gate.admit), so the order is
    always user, then groups. On PostgreSQL this is SELECT ... FOR UPDATE inside the
    caller's transaction; SQLite's IMMEDIATE transactions already serialize writers.
    """
    groups = sorted(b.group_id for b in budgets if b.group_id is not None)
    if groups:
        list(GroupPolicy.objects.select_for_update().filter(group_id__in=groups).order_by("group_id")
             .values_list("pk", flat=True))

