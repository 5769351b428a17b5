"""What the usage pages share with My usage (accounts.my_usage): the range a page shows, its links."""
from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest

from . import reports
from .dates import PRESETS, parse_range, preset_range

REPORT_TABLES = ("user", "model", "provider", "day", "user_model")
ME_TABLES = ("day", "model")


def range_from(request: HttpRequest) -> tuple[dt.date, dt.date, str, str]:
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


def query(first: dt.date, last: dt.date, **extra: Any) -> str:
    return urlencode({"from": first.isoformat(), "to": last.isoformat(), **extra})


def presets(current: str) -> list[dict[str, Any]]:
    return [{"key": key, "label": label, "active": key == current, "query": urlencode({"preset": key})}
            for key, label in PRESETS.items()]
