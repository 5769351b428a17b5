"""The staff People page's data: one row per user with status, groups, activity, spend and budget."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Max, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.timesince import timesince

from usage.money import format_usd, money

from .budgets import BudgetStatus, budget_status, month_start
from .models import User


@dataclass(frozen=True)
class Person:
    user: User
    groups: list[str]
    last_active: datetime | None
    spent_ticks: int
    spent_tokens: int
    budget: BudgetStatus | None

    @property
    def spent_usd(self) -> str:
        return format_usd(self.spent_ticks)

    @property
    def spent_text(self) -> str:
        return money(self.spent_ticks)

    @property
    def tokens_text(self) -> str:
        return f"{self.spent_tokens:,}"

    @property
    def last_active_text(self) -> str:
        if self.last_active is None:
            return "never"
        if timezone.now() - self.last_active < timedelta(minutes=1):
            return "just now"
        return f"{timesince(self.last_active).split(',')[0]} ago"

    @property
    def remaining(self) -> str:
        """Remaining budget for a person, e.g. "$4.2 · 120,000 tokens", or "" without a budget."""
        if self.budget is None:
            return ""
        parts = []
        if self.budget.remaining_ticks is not None:
            parts.append(money(self.budget.remaining_ticks))
        if self.budget.remaining_tokens is not None:
            parts.append(f"{self.budget.remaining_tokens:,} tokens")
        return " · ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.user.pk, "username": self.user.username, "email": self.user.email,
            "status": self.user.status, "staff": self.user.is_staff, "groups": self.groups,
            "last_active": self.last_active.isoformat() if self.last_active else None,
            "spent_usd": self.spent_usd, "spent_tokens": self.spent_tokens,
            "budget": self.budget.as_dict() if self.budget else None,
        }


def people(status: str = "") -> list[Person]:
    """Every user (optionally of one status), pending first, then by name; spend is this month's."""
    since = month_start()
    this_month = Q(usage__created_at__gte=since)
    users = (
        User.objects.prefetch_related("groups")
        .annotate(
            month_ticks=Coalesce(Sum("usage__cost_ticks", filter=this_month), 0),
            month_tokens=Coalesce(Sum("usage__total_tokens", filter=this_month), 0),
            last_used=Max("usage__created_at"),
        )
    )
    if status:
        users = users.filter(status=status)
    order = {User.Status.PENDING: 0, User.Status.ACTIVE: 1, User.Status.DISABLED: 2}
    measured: dict[Any, Any] = {}  # a group's pool is summed once for all its members
    rows = []
    for user in sorted(users, key=lambda u: (order.get(u.status, 3), u.username.lower())):
        stamps = [s for s in (user.last_login, user.last_used) if s is not None]
        rows.append(Person(
            user=user, groups=sorted(g.name for g in user.groups.all()), last_active=max(stamps) if stamps else None,
            spent_ticks=int(user.month_ticks), spent_tokens=int(user.month_tokens),
            budget=budget_status(user, measured),
        ))
    return rows
