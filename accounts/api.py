"""JSON endpoints of the accounts app, mounted by grokweb.api: /api/me/budget/, /api/team/people/, /api/usage/me.

/api/usage/me is here, not in usage, because it shows the user's budget beside their spend.
"""
from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from usage import reports
from usage.api import UsageRowOut, parse_api_filters, parse_api_range

from . import people
from .budgets import budget_status
from .my_usage import budget_of

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


class MeOut(Schema):
    from_: dt.date = Field(..., alias="from")
    to: dt.date
    totals: UsageRowOut
    rows: list[UsageRowOut]  # per day (PROTOCOL.md: "totals and per-day rows")
    models: list[UsageRowOut]  # addition: per model
    sources: list[UsageRowOut]  # addition: per source (chat, api)
    tokens: list[UsageRowOut]  # addition: per personal access token (key: its id; "-": no token)
    budget: BudgetOut | None


@router.get("/usage/me", response=MeOut, by_alias=True, summary="The signed-in user's own usage")
def usage_me(
    request: HttpRequest, start: str | None = Query(None, alias="from"), end: str | None = Query(None, alias="to"),
    source: str | None = None, token: str | None = None,
) -> dict[str, Any]:
    first, last = parse_api_range(start, end)
    narrow = {"user_id": request.user.pk, **parse_api_filters(source, token).report_kwargs()}
    days = reports.report(first, last, "day", **narrow)  # its totals are the range's totals
    return {
        "from": first, "to": last,
        "totals": days.totals.api(),
        "rows": [r.api() for r in days.rows],
        "models": [r.api() for r in reports.report(first, last, "model", **narrow).rows],
        "sources": [r.api() for r in reports.report(first, last, "source", **narrow).rows],
        "tokens": [r.api() for r in reports.report(first, last, "token", **narrow).rows],
        "budget": budget_of(request.user),
    }
