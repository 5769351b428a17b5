"""JSON endpoints of the accounts app, mounted on the project's API (chat.api): /api/me/budget/, /api/team/."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError

from . import people
from .budgets import budget_status

router = Router(tags=["accounts"])


class BudgetOut(Schema):
    source: str
    limit_usd: str | None
    spent_usd: str
    remaining_usd: str | None
    limit_tokens: int | None
    spent_tokens: int
    remaining_tokens: int | None
    fraction: float
    warning: bool
    exceeded: bool
    resets_at: datetime  # the start of next month (TIME_ZONE): when the budget starts afresh


class MyBudgetOut(Schema):
    budget: BudgetOut | None


@router.get("/me/budget/", response=MyBudgetOut)
def my_budget(request: HttpRequest) -> dict[str, Any]:
    """This month's budget for the signed-in user: null when no budget applies."""
    status = budget_status(request.user)
    return {"budget": status.as_dict() if status else None}


@router.get("/team/people/")
def team_people(request: HttpRequest) -> list[dict[str, Any]]:
    """Staff only: every user with status, groups, this month's spend and budget."""
    if not request.user.is_staff:
        raise HttpError(403, "Only administrators can list people.")
    return [p.as_dict() for p in people.people()]
