"""The usage pages: the staff report (usage:report) and its CSV, and the CSV of everyone's own usage.

The My usage page itself (usage:me) shows the budget too, so it lives in accounts.my_usage.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, user_passes_test
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse

from . import charts, exports, reports
from .models import Source
from .pages import ME_TABLES, REPORT_TABLES, filters_from, presets, query, range_from


def _staff(user: Any) -> bool:
    """Anonymous users sign in; members get the 403 page (templates/403.html)."""
    if user.is_authenticated and not user.is_staff:
        raise PermissionDenied("Administrators only")
    return bool(user.is_authenticated)


staff_required = user_passes_test(_staff)



def _person(request: HttpRequest) -> Any | None:
    """The user named by ?user=<username> (the report's user key), if any."""
    name = request.GET.get("user", "")
    return get_user_model().objects.filter(username=name).first() if name else None


@staff_required
def report(request: HttpRequest) -> HttpResponse:
    first, last, preset, error = range_from(request)
    filters, filter_error = filters_from(request)
    error = " ".join(e for e in (error, filter_error) if e)
    narrow = filters.report_kwargs()
    tables = {name: reports.report(first, last, name, **narrow)
              for name in ("user", "model", "provider", "day", "source", "token")}
    totals = tables["user"].totals
    cells = reports.report(first, last, "day_model", **narrow).rows
    colours = charts.model_colours([r.key for r in tables["model"].rows])
    kept = filters.query()  # every link and CSV keeps the page's filters
    drill = None
    person = _person(request)
    if person is not None:
        name = person.get_username()
        drill = {"user": person, "rows": reports.report(first, last, "model", user_id=person.pk, **narrow).rows,
                 "query": query(first, last, table="model", user=name, **kept),
                 "ledger_query": query(first, last, table="ledger", user=name, **kept)}
    context = {
        "first": first, "last": last, "preset": preset, "error": error, "presets": presets(preset),
        "totals": totals, "tables": tables, "drill": drill, "filters": filters, "sources": Source.choices,
        "day_chart": charts.cost_per_day(cells, first, last, colours) if totals.calls else None,
        "users_chart": charts.top_users(tables["user"].rows) if totals.cost_ticks else None,
        "legend": [{"slug": r.key, "colour": colours[r.key]} for r in tables["model"].rows],
        "query": query(first, last, **kept), "unfiltered_query": query(first, last),
        "csv": {t: query(first, last, table=t, **kept) for t in (*REPORT_TABLES, "ledger")},
        "report_csv_url": reverse("usage:report_csv"), "TIME_ZONE": settings.TIME_ZONE,
    }
    return render(request, "usage/report.html", context, status=400 if error else 200)


@staff_required
def report_csv(request: HttpRequest) -> HttpResponse:
    first, last, _, error = range_from(request)
    filters, filter_error = filters_from(request)
    if error or filter_error:
        return HttpResponseBadRequest(error or filter_error, content_type="text/plain")
    table = request.GET.get("table", "user")
    person = _person(request)
    if request.GET.get("user") and person is None:
        return HttpResponseBadRequest("No user has that username.", content_type="text/plain")
    user_id = person.pk if person is not None else None
    if table == "ledger":
        return exports.ledger_csv(request, first, last, user_id=user_id, model_slug=request.GET.get("model", ""),
                                  **filters.report_kwargs())
    if table not in (*REPORT_TABLES, "model"):
        return HttpResponseBadRequest(f"table must be one of: {', '.join((*REPORT_TABLES, 'ledger'))}.",
                                      content_type="text/plain")
    name = f"by-{table}" + (f"-{person.get_username()}" if person is not None else "")
    result = reports.report(first, last, table, user_id=user_id, **filters.report_kwargs())
    return exports.report_csv(request, result, name)


@login_required
def me_csv(request: HttpRequest) -> HttpResponse:
    first, last, _, error = range_from(request)
    filters, filter_error = filters_from(request)
    if error or filter_error:
        return HttpResponseBadRequest(error or filter_error, content_type="text/plain")
    table = request.GET.get("table", "day")
    if table == "ledger":
        return exports.ledger_csv(request, first, last, user_id=request.user.pk,
                                  model_slug=request.GET.get("model", ""), **filters.report_kwargs())
    if table not in ME_TABLES:
        return HttpResponseBadRequest(f"table must be one of: {', '.join((*ME_TABLES, 'ledger'))}.",
                                      content_type="text/plain")
    mine = reports.report(first, last, table, user_id=request.user.pk, **filters.report_kwargs())
    return exports.report_csv(request, mine, f"my-usage-by-{table}")
