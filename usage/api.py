"""GET /api/usage/me and GET /api/usage/report (PROTOCOL.md, HTTP), registered on chat.api's NinjaAPI."""
from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from accounts.api import BudgetOut
from chat import selectors

from . import budgets, exports, reports
from .dates import parse_range

router = Router(tags=["usage"])
API_GROUPS = ("user", "model", "day", "provider")


class UsageRowOut(Schema):
    key: str
    label: str
    requests: int
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    total_tokens: int
    cost_usd: str
    estimated_requests: int
    unreconciled_requests: int
    failed_requests: int
    saved_usd: str
    stated_cost_usd: str | None
    stated_difference_usd: str | None


class MeOut(Schema):
    from_: dt.date = Field(..., alias="from")
    to: dt.date
    totals: UsageRowOut
    rows: list[UsageRowOut]  # per day (PROTOCOL.md: "totals and per-day rows")
    models: list[UsageRowOut]  # addition: per model
    budget: BudgetOut | None


def _range(start: str | None, end: str | None) -> tuple[dt.date, dt.date]:
    try:
        first, last = parse_range(start, end)
        reports.check_range(first, last)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    return first, last


@router.get("/me", response=MeOut, by_alias=True, summary="The signed-in user's own usage")
def usage_me(
    request: HttpRequest, start: str | None = Query(None, alias="from"), end: str | None = Query(None, alias="to")
) -> dict[str, Any]:
    first, last = _range(start, end)
    user_id = request.user.pk
    days = reports.report(first, last, "day", user_id=user_id)  # its totals are the range's totals
    return {
        "from": first, "to": last,
        "totals": days.totals.api(),
        "rows": [r.api() for r in days.rows],
        "models": [r.api() for r in reports.report(first, last, "model", user_id=user_id).rows],
        "budget": budgets.budget_of(request.user),
    }


@router.get("/report", response=list[UsageRowOut], summary="Staff: usage of everyone, grouped",
            description="Rows of {key, requests, prompt_tokens, ...} (PROTOCOL.md), most expensive first (days in "
                        "order); the key is a username, a model slug, a YYYY-MM-DD day or a provider name. "
                        "`format=csv` answers the same rows as CSV.")
def usage_report(
    request: HttpRequest, start: str | None = Query(None, alias="from"), end: str | None = Query(None, alias="to"),
    group_by: str = "user", format: str = "json",
) -> Any:
    if not request.user.is_staff:
        raise HttpError(403, "Only staff can read the usage report.")
    if group_by not in API_GROUPS:
        raise HttpError(400, f"group_by must be one of: {', '.join(API_GROUPS)}.")
    if format not in ("json", "csv"):
        raise HttpError(400, "format must be json or csv.")
    first, last = _range(start, end)
    result = reports.report(first, last, group_by)
    if format == "csv":
        response: HttpResponse = exports.report_csv(request, result, f"by-{group_by}")  # type: ignore[assignment]
        return response
    return [r.api() for r in result.rows]


class ConversationUsageOut(Schema):
    calls: int
    tokens: int
    cost_usd: str


@router.get("/conversations/{conversation_id}", response=ConversationUsageOut,
            summary="Totals of one of the user's own conversations (every branch and its title)")
def conversation_usage(request: HttpRequest, conversation_id: UUID) -> dict[str, Any]:
    conversation = selectors.conversation_for(request.user, conversation_id)
    if conversation is None:
        raise HttpError(404, "Not found.")
    return selectors.conversation_usage(conversation)
