"""My usage: the user's own spend (usage's reports) against their budget (accounts'), as a page.

It lives here, above usage, because it shows both; grokweb.urls mounts it as `usage:me`
beside the usage app's own pages. The same figures as JSON are /api/usage/me (accounts.api).
"""
from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse

from usage import reports
from usage.models import Source
from usage.pages import ME_TABLES, filters_from, presets, query, range_from

from .budgets import budget_status

log = logging.getLogger(__name__)


def budget_of(user: Any) -> dict[str, Any] | None:
    """`BudgetStatus.as_dict()` for this month, or None when no budget applies.

    A budget bug must not take the usage page down with it: it is logged and the page
    is shown without the budget card.
    """
    try:
        status = budget_status(user)
    except Exception:
        log.exception("budget status of user %s failed", getattr(user, "pk", None))
        return None
    return status.as_dict() if status is not None else None


@login_required
def me(request: HttpRequest) -> HttpResponse:
    first, last, preset, error = range_from(request)
    filters, filter_error = filters_from(request)
    error = " ".join(e for e in (error, filter_error) if e)
    narrow = {"user_id": request.user.pk, **filters.report_kwargs()}
    tables = {name: reports.report(first, last, name, **narrow) for name in ("day", "model", "source", "token")}
    budget = budget_of(request.user)
    if budget is not None:
        budget["percent"] = min(round((budget["fraction"] or 0) * 100), 100)
    kept = filters.query()
    context = {
        "first": first, "last": last, "preset": preset, "error": error, "presets": presets(preset),
        "totals": tables["day"].totals, "days": tables["day"].rows, "models": tables["model"].rows,
        "by_source": tables["source"].rows, "by_token": tables["token"].rows, "budget": budget,
        "filters": filters, "sources": Source.choices, "query": query(first, last, **kept),
        "unfiltered_query": query(first, last),
        "csv": {t: query(first, last, table=t, **kept) for t in (*ME_TABLES, "ledger")},
        "me_csv_url": reverse("usage:me_csv"),
    }
    return render(request, "usage/me.html", context, status=400 if error else 200)


# Mounted by grokweb.urls under /usage/, in the `usage` namespace.
urlpatterns = [path("me/", me, name="me")]
