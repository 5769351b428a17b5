"""GET /api/usage/report (PROTOCOL.md, HTTP), mounted at /api/usage/ by grokweb.api.

/api/usage/me shows the budget too, so it is accounts.api's.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from ninja.errors import HttpError

from . import exports, reports
from .dates import parse_range
from .pages import Filters, parse_filters

router = Router(tags=["usage"])
API_GROUPS = ("user", "model", "day", "provider", "source", "token")


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


def parse_api_range(start: str | None, end: str | None) -> tuple[dt.date, dt.date]:
    try:
        first, last = parse_range(start, end)
        reports.check_range(first, last)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    return first, last


def parse_api_filters(source: str | None, token: str | None) -> Filters:
    try:
        return parse_filters(source, token)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None


@router.get("/report", response=list[UsageRowOut], summary="Staff: usage of everyone, grouped",
            description="Rows of {key, requests, prompt_tokens, ...} (PROTOCOL.md), most expensive first (days in "
                        "order); the key is a username, a model slug, a YYYY-MM-DD day, a provider name, a source "
                        "(chat, api) or a token id. `source` and `token` narrow the rows. "
                        "`format=csv` answers the same rows as CSV.")
def usage_report(
    request: HttpRequest, start: str | None = Query(None, alias="from"), end: str | None = Query(None, alias="to"),
    group_by: str = "user", format: str = "json", source: str | None = None, token: str | None = None,
) -> Any:
    if not request.user.is_staff:
        raise HttpError(403, "Only staff can read the usage report.")
    if group_by not in API_GROUPS:
        raise HttpError(400, f"group_by must be one of: {', '.join(API_GROUPS)}.")
    if format not in ("json", "csv"):
        raise HttpError(400, "format must be json or csv.")
    first, last = parse_api_range(start, end)
    filters = parse_api_filters(source, token)
    result = reports.report(first, last, group_by, **filters.report_kwargs())
    if format == "csv":
        response: HttpResponse = exports.report_csv(request, result, f"by-{group_by}")  # type: ignore[assignment]
        return response
    return [r.api() for r in result.rows]
