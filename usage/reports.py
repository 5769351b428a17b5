"""Usage reports: rollups for what is rolled up, the ledger for the rest, so always exact.

A report over [first, last] (days in the server's time zone) sums
  - UsageDaily rows of the closed days (before today), which hold the ledger
    rows up to the rollup watermark, and
  - ledger rows of the range that are from today or past the watermark.
Each part is one grouped query, whatever the range: a report costs a
constant number of queries. `raw_rows` aggregates the ledger alone (for
checking and for the benchmark).

A report may be narrowed to one user, one source (chat, api) and one personal
access token; grouped or narrowed by source or token it reads the finest rollup,
which has both keys.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from gateways.models import Provider

from .aggregates import COLUMNS, as_ints, day_span, day_start, ledger_sums, rollup_sums
from .models import Sums, UsageDaily, UsageDailyModel, UsageDailyUser, UsageRecord
from .money import format_usd
from .rollups import watermark

GROUPS = ("user", "model", "provider", "day", "user_model", "day_model", "purpose", "source", "token")
SOURCE_LABELS = {"chat": "Chat", "api": "Team API"}
NO_TOKEN = "-"  # the key of calls made without a token (the web chat) when grouping by token
MAX_DAYS = 366

# group -> the values a report groups by. Ids only, no joins: names are read once afterwards
# (_names), which keeps the grouped queries narrow (about a fifth faster on today's ledger rows).
_ROLLUP_KEYS: dict[str | None, tuple[str, ...]] = {
    None: (),
    "user": ("user_id",),
    "model": ("model_slug",),
    "provider": ("provider_id",),
    "day": ("day",),
    "user_model": ("user_id", "model_slug"),
    "day_model": ("day", "model_slug"),
    "purpose": ("purpose",),
    "source": ("source",),
    "token": ("token_id",),
}


@dataclass(frozen=True)
class Scope:
    """What a report is narrowed to (None: everything)."""

    user_id: int | None = None
    source: str | None = None
    token_id: Any = None  # an accounts.ApiToken id (a UUID), or NO_TOKEN: the calls made without one

    @property
    def narrowed(self) -> bool:
        """Narrowed by a key only the finest rollup has."""
        return self.source is not None or self.token_id is not None


@dataclass
class Row:
    """Sums for one key of a report (or its totals)."""

    key: str
    label: str
    sums: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLUMNS, 0))
    user_id: int | None = None
    model_slug: str = ""

    def add(self, values: dict[str, int]) -> None:
        for name in COLUMNS:
            self.sums[name] += values[name]

    def __getattr__(self, name: str) -> int:
        sums = self.__dict__.get("sums")
        if sums is not None and name in sums:
            return sums[name]
        raise AttributeError(name)

    @property
    def saved_ticks(self) -> int:
        """Money cached prompt tokens saved, in ticks (pico-USD / 100, rounded half up)."""
        return (self.sums["cached_saving_pusd"] + 50) // 100

    @property
    def stated_difference_ticks(self) -> int:
        """Gateway-stated cost minus our cost, over the calls where the gateway stated one."""
        return self.sums["stated_cost_ticks"] - self.sums["cost_ticks_of_stated"]

    def api(self) -> dict[str, Any]:
        """PROTOCOL.md's report row, plus additions."""
        s = self.sums
        return {
            "key": self.key, "label": self.label, "requests": s["calls"], "prompt_tokens": s["prompt_tokens"],
            "cached_tokens": s["cached_tokens"], "completion_tokens": s["completion_tokens"],
            "reasoning_tokens": s["reasoning_tokens"], "total_tokens": s["total_tokens"],
            "cost_usd": format_usd(s["cost_ticks"]),
            "estimated_requests": s["estimated_calls"], "unreconciled_requests": s["unreconciled_calls"],
            "failed_requests": s["failed_calls"], "saved_usd": format_usd(self.saved_ticks),
            "stated_cost_usd": format_usd(s["stated_cost_ticks"]) if s["stated_calls"] else None,
            "stated_difference_usd": format_usd(self.stated_difference_ticks) if s["stated_calls"] else None,
        }


@dataclass
class Report:
    first: dt.date
    last: dt.date
    group_by: str | None
    rows: list[Row]
    totals: Row


def _ledger_keys(group_by: str | None) -> tuple[tuple[str, ...], dict[str, Any]]:
    if group_by in ("day", "day_model"):
        return _ROLLUP_KEYS[group_by], {"day": TruncDate("created_at")}
    return _ROLLUP_KEYS[group_by], {}


def _names(group_by: str | None, parts: list[list[dict[str, Any]]]) -> dict[Any, Any]:
    """Usernames, provider or token names of the ids in the grouped rows: one query, whatever the range."""
    if group_by == "token":
        ids = {values["token_id"] for part in parts for values in part} - {None}
        # Through the ledger's foreign key: usage never imports accounts.
        tokens = UsageRecord._meta.get_field("token").related_model._default_manager  # type: ignore[union-attr]
        return {pk: (name, owner) for pk, name, owner in
                tokens.filter(pk__in=ids).values_list("pk", "name", "user__username")}
    if group_by in ("user", "user_model"):
        ids = {values["user_id"] for part in parts for values in part}
        return dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
    if group_by == "provider":
        ids = {values["provider_id"] for part in parts for values in part} - {None}
        names: dict[int | None, str] = dict(Provider.objects.filter(pk__in=ids).values_list("pk", "name"))
        return {None: "(removed provider)", **names}
    return {}


def _key_of(group_by: str | None, values: dict[str, Any], names: dict[Any, Any], scope: Scope) -> \
        tuple[str, str, int | None, str]:
    """(key, label, user id, model slug) of one grouped row."""
    if group_by is None:
        return "total", "Total", None, ""
    if group_by == "source":
        return values["source"], SOURCE_LABELS.get(values["source"], values["source"]), None, ""
    if group_by == "token":  # keyed by the token's UUID; labelled with its owner unless the report is theirs
        if values["token_id"] is None:
            return NO_TOKEN, "No token (the chat)", None, ""
        name, owner = names.get(values["token_id"], ("(removed token)", ""))
        label = name if scope.user_id is not None or not owner else f"{owner} · {name}"
        return str(values["token_id"]), label, None, ""
    if group_by == "user":  # keyed by username: sequential ids are never exposed
        name = names.get(values["user_id"], "(removed user)")
        return name, name, values["user_id"], ""
    if group_by == "provider":
        name = names.get(values["provider_id"], "(removed provider)")
        return name, name, None, ""
    if group_by == "day":
        return values["day"].isoformat(), values["day"].isoformat(), None, ""
    if group_by == "day_model":
        day = values["day"].isoformat()
        return f"{day}/{values['model_slug']}", day, None, values["model_slug"]
    if group_by == "user_model":
        name = names.get(values["user_id"], "(removed user)")
        return f"{name}/{values['model_slug']}", f"{name} · {values['model_slug']}", values["user_id"], \
            values["model_slug"]
    name = values[_ROLLUP_KEYS[group_by][0]]
    return name, name, None, values.get("model_slug", "")


def _merge(group_by: str | None, parts: Iterable[Iterable[dict[str, Any]]], scope: Scope) -> dict[str, Row]:
    read = [list(part) for part in parts]
    names = _names(group_by, read)
    rows: dict[str, Row] = {}
    for part in read:
        for values in part:
            key, label, user_id, model_slug = _key_of(group_by, values, names, scope)
            row = rows.get(key)
            if row is None:
                row = rows[key] = Row(key, label, user_id=user_id, model_slug=model_slug)
            row.add(as_ints(values))
    return rows


def _order(group_by: str | None, rows: dict[str, Row]) -> list[Row]:
    if group_by in ("day", "day_model"):
        return sorted(rows.values(), key=lambda r: r.key)
    if group_by == "user_model":
        return sorted(rows.values(), key=lambda r: (r.key.split("/", 1)[0].lower(), -r.sums["cost_ticks"],
                                                    -r.sums["calls"], r.model_slug))
    return sorted(rows.values(), key=lambda r: (-r.sums["cost_ticks"], -r.sums["calls"], r.label))


def _rollup_table(group_by: str | None, scope: Scope) -> type[Sums]:
    """The narrowest rollup that has the report's keys: fewer rows to sum, same numbers."""
    if scope.narrowed or group_by in ("source", "token"):
        return UsageDaily
    user_id = scope.user_id
    if user_id is not None:
        return UsageDailyUser if group_by in (None, "day") else UsageDaily
    if group_by == "user":
        return UsageDailyUser
    if group_by == "user_model":
        return UsageDaily
    return UsageDailyModel


def check_range(first: dt.date, last: dt.date) -> None:
    if first > last:
        raise ValueError("The start date is after the end date.")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValueError(f"A report covers at most {MAX_DAYS} days.")


def _scoped(qs: QuerySet[Any], scope: Scope) -> QuerySet[Any]:
    if scope.user_id is not None:
        qs = qs.filter(user_id=scope.user_id)
    if scope.source is not None:
        qs = qs.filter(source=scope.source)
    if scope.token_id == NO_TOKEN:
        qs = qs.filter(token__isnull=True)
    elif scope.token_id is not None:
        qs = qs.filter(token_id=scope.token_id)
    return qs


def report(first: dt.date, last: dt.date, group_by: str | None = None, *, user_id: int | None = None,
           source: str | None = None, token_id: Any = None) -> Report:
    """Sums per `group_by` key over [first, last]: rollups for closed days, the ledger for the rest.

    `user_id`, `source` and `token_id` narrow the report to one user, one source and one token.
    """
    check_range(first, last)
    scope = Scope(user_id, source, token_id)
    if group_by not in _ROLLUP_KEYS:
        raise ValueError(f"group_by must be one of: {', '.join(GROUPS)}.")
    today = timezone.localdate()
    mark = watermark()
    keys, annotations = _ledger_keys(group_by)
    parts: list[Iterable[dict[str, Any]]] = []
    closed_last = min(last, today - dt.timedelta(days=1))
    if first <= closed_last:
        rolled = _rollup_table(group_by, scope).objects.filter(day__gte=first, day__lte=closed_last)
        parts.append(_grouped(_scoped(rolled, scope), _ROLLUP_KEYS[group_by], {}, rollup_sums()))
    start, end = day_span(first, last)
    fresh = UsageRecord.objects.filter(created_at__gte=start, created_at__lt=end)
    unrolled = Q(id__gt=mark)
    if last >= today:
        unrolled |= Q(created_at__gte=day_start(today))
    fresh = fresh.filter(unrolled)
    parts.append(_grouped(_scoped(fresh, scope), keys, annotations, ledger_sums()))
    rows = _merge(group_by, parts, scope)
    return Report(first, last, group_by, _order(group_by, rows), _total(rows))


def raw_rows(first: dt.date, last: dt.date, group_by: str | None = None, *, user_id: int | None = None,
             source: str | None = None, token_id: Any = None) -> Report:
    """The same report from the ledger alone: the reference a rollup report must equal."""
    check_range(first, last)
    scope = Scope(user_id, source, token_id)
    keys, annotations = _ledger_keys(group_by)
    start, end = day_span(first, last)
    qs = _scoped(UsageRecord.objects.filter(created_at__gte=start, created_at__lt=end), scope)
    rows = _merge(group_by, [_grouped(qs, keys, annotations, ledger_sums())], scope)
    return Report(first, last, group_by, _order(group_by, rows), _total(rows))


def _grouped(
    qs: QuerySet[Any], keys: tuple[str, ...], annotations: dict[str, Any], sums: dict[str, Any]
) -> Iterable[dict[str, Any]]:
    """One grouped query (or one aggregate for the totals)."""
    qs = qs.order_by()
    if annotations:
        qs = qs.annotate(**annotations)
    if keys:
        return qs.values(*keys).annotate(**sums)
    return [qs.aggregate(**sums)]


def _total(rows: dict[str, Row]) -> Row:
    total = Row("total", "Total")
    for row in rows.values():
        total.add(row.sums)
    return total
