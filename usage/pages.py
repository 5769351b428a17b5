"""What the usage pages share with My usage (accounts.my_usage): the range a page shows, its links."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest

from . import reports
from .dates import PRESETS, parse_range, preset_range
from .models import Source

REPORT_TABLES = ("user", "model", "provider", "day", "user_model", "source", "token")
ME_TABLES = ("day", "model", "source", "token")


@dataclass(frozen=True)
class Filters:
    """?source= and ?token= of a usage page, CSV or API call: what its reports are narrowed to."""

    source: str | None = None
    token_id: uuid.UUID | str | None = None  # a token's id, or reports.NO_TOKEN

    def report_kwargs(self) -> dict[str, Any]:
        return {"source": self.source, "token_id": self.token_id}

    def query(self) -> dict[str, str]:
        """The filters as query parameters, for the page's links."""
        found = {"source": self.source or "", "token": str(self.token_id or "")}
        return {k: v for k, v in found.items() if v}


def parse_filters(source: str | None, token: str | None) -> Filters:
    """The filters from their query values; ValueError says what is wrong with one."""
    source = source or None
    if source is not None and source not in Source.values:
        raise ValueError(f"source must be one of: {', '.join(Source.values)}.")
    if token == reports.NO_TOKEN:
        return Filters(source, token)
    try:
        token_id = uuid.UUID(token) if token else None
    except ValueError:
        raise ValueError(f"token must be a token id (a UUID) or {reports.NO_TOKEN!r} (no token).") from None
    return Filters(source, token_id)


def filters_from(request: HttpRequest) -> tuple[Filters, str]:
    """(filters, error): a bad filter is dropped and said, like a bad range."""
    try:
        return parse_filters(request.GET.get("source"), request.GET.get("token")), ""
    except ValueError as exc:
        return Filters(), str(exc)


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
