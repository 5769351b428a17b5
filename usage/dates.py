"""Date ranges for reports: presets and parsed custom ranges, in the server's time zone."""
from __future__ import annotations

import datetime as dt

from django.utils import timezone

PRESETS = {"today": "Today", "7d": "Last 7 days", "month": "This month", "last_month": "Last month"}


def preset_range(name: str, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    today = today or timezone.localdate()
    if name == "today":
        return today, today
    if name == "7d":
        return today - dt.timedelta(days=6), today
    if name == "last_month":
        last = today.replace(day=1) - dt.timedelta(days=1)
        return last.replace(day=1), last
    return today.replace(day=1), today  # "month", the default


# Reports add and subtract days around the range (the day after, the month before): a year
# at the edge of what datetime holds (9999-12-31) would overflow there. No usage is older
# than the project, and none lies centuries ahead.
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2999, 12, 31)


def parse_day(text: str, name: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"'{name}' must be a date as YYYY-MM-DD, not {text[:20]!r}.") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"'{name}' must be a date from {FIRST_DAY} to {LAST_DAY}.")
    return day


def parse_range(start: str | None, end: str | None, default: str = "month") -> tuple[dt.date, dt.date]:
    """A custom range from optional YYYY-MM-DD strings; a missing end is today, a missing start the preset's."""
    first, last = preset_range(default)
    if end:
        last = parse_day(end, "to")
    if start:
        first = parse_day(start, "from")
    elif end:
        first = min(first, last)
    return first, last
