"""The usage pages: the staff report (usage:report) and everyone's own usage (usage:me), with CSV exports."""
from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse

from accounts.staff import staff_required

from . import budgets, charts, exports, reports
from .dates import PRESETS, parse_range, preset_range

REPORT_TABLES = ("user", "model", "provider", "day", "user_model")
ME_TABLES = ("day", "model")


def _range_from(request: HttpRequest) -> tuple[dt.date, dt.date, str, str]:
    """(first, last, preset or "", error) from ?preset= or ?from=&to=; a bad range falls back to this month."""
    preset = request.GET.get("preset", "")
    start, end = request.GET.get("from", ""), request.GET.get("to", "")
    if preset in PRESETS and not (start or end):
        first, last = preset_range(preset)
        return first, last, preset, ""
    if not (start or end):
        first, last = preset_range("month")
        return first, last, "month", ""
    try:
        first, last = parse_range(start or None, end or None)
        reports.check_range(first, last)
    except ValueError as exc:
        first, last = preset_range("month")
        return first, last, "month", str(exc)
    return first, last, "", ""


def _query(first: dt.date, last: dt.date, **extra: Any) -> str:
    return urlencode({"from": first.isoformat(), "to": last.isoformat(), **extra})


def _presets(current: str) -> list[dict[str, Any]]:
    return [{"key": key, "label": label, "active": key == current, "query": urlencode({"preset": key})}
            for key, label in PRESETS.items()]


def _person(request: HttpRequest) -> Any | None:
    """The user named by ?user=<username> (the report's user key), if any."""
    name = request.GET.get("user", "")
    return get_user_model().objects.filter(username=name).first() if name else None


@staff_required
def report(request: HttpRequest) -> HttpResponse:
    first, last, preset, error = _range_from(request)
    # Two reads in all: users (their own rollup), and day x provider x model for the other tables and the chart.
    tables = reports.reports(first, last, ("model", "provider", "day", "day_model"))
    tables["user"] = reports.report(first, last, "user")
    totals = tables["user"].totals
    cells = tables["day_model"].rows
    colours = charts.model_colours([r.key for r in tables["model"].rows])
    drill = None
    person = _person(request)
    if person is not None:
        name = person.get_username()
        drill = {"user": person, "rows": reports.report(first, last, "model", user_id=person.pk).rows,
                 "query": _query(first, last, table="model", user=name),
                 "ledger_query": _query(first, last, table="ledger", user=name)}
    context = {
        "first": first, "last": last, "preset": preset, "error": error, "presets": _presets(preset),
        "totals": totals, "tables": tables, "drill": drill,
        "day_chart": charts.cost_per_day(cells, first, last, colours) if totals.calls else None,
        "users_chart": charts.top_users(tables["user"].rows) if totals.cost_ticks else None,
        "legend": [{"slug": r.key, "colour": colours[r.key]} for r in tables["model"].rows],
        "query": _query(first, last), "csv": {t: _query(first, last, table=t) for t in (*REPORT_TABLES, "ledger")},
        "report_csv_url": reverse("usage:report_csv"), "TIME_ZONE": settings.TIME_ZONE,
    }
    return render(request, "usage/report.html", context, status=400 if error else 200)


@staff_required
def report_csv(request: HttpRequest) -> HttpResponse:
    first, last, _, error = _range_from(request)
    if error:
        return HttpResponseBadRequest(error, content_type="text/plain")
    table = request.GET.get("table", "user")
    person = _person(request)
    if request.GET.get("user") and person is None:
        return HttpResponseBadRequest("No user has that username.", content_type="text/plain")
    user_id = person.pk if person is not None else None
    if table == "ledger":
        return exports.ledger_csv(request, first, last, user_id=user_id, model_slug=request.GET.get("model", ""))
    if table not in (*REPORT_TABLES, "model"):
        return HttpResponseBadRequest(f"table must be one of: {', '.join((*REPORT_TABLES, 'ledger'))}.",
                                      content_type="text/plain")
    name = f"by-{table}" + (f"-{person.get_username()}" if person is not None else "")
    return exports.report_csv(request, reports.report(first, last, table, user_id=user_id), name)


@login_required
def me(request: HttpRequest) -> HttpResponse:
    first, last, preset, error = _range_from(request)
    user_id = request.user.pk
    days = reports.report(first, last, "day", user_id=user_id)
    by_model = reports.report(first, last, "model", user_id=user_id)
    budget = budgets.budget_of(request.user)
    if budget is not None:
        budget["percent"] = min(round((budget["fraction"] or 0) * 100), 100)
    context = {
        "first": first, "last": last, "preset": preset, "error": error, "presets": _presets(preset),
        "totals": days.totals, "days": days.rows, "models": by_model.rows, "budget": budget,
        "csv": {t: _query(first, last, table=t) for t in (*ME_TABLES, "ledger")}, "me_csv_url": reverse("usage:me_csv"),
    }
    return render(request, "usage/me.html", context, status=400 if error else 200)


@login_required
def me_csv(request: HttpRequest) -> HttpResponse:
    first, last, _, error = _range_from(request)
    if error:
        return HttpResponseBadRequest(error, content_type="text/plain")
    table = request.GET.get("table", "day")
    if table == "ledger":
        return exports.ledger_csv(request, first, last, user_id=request.user.pk,
                                  model_slug=request.GET.get("model", ""))
    if table not in ME_TABLES:
        return HttpResponseBadRequest("table must be day, model or ledger.", content_type="text/plain")
    mine = reports.report(first, last, table, user_id=request.user.pk)
    return exports.report_csv(request, mine, f"my-usage-by-{table}")
