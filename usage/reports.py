"""Usage reports: rollups for what is rolled up, the ledger for the rest, so always exact.

A report over [first, last] (days in the server's time zone) sums
  - UsageDaily rows of the closed days (before today), which hold the ledger
    rows up to the rollup watermark, and
  - ledger rows of the range that are from today or past the watermark.
Each part is one grouped query, whatever the range: a report costs a
constant number of queries (the ledger part is skipped for a range before
today while no ledger row is past the watermark: nothing of it can be missing
from the rollups then). `reports` makes several reports of one range with
one read per rollup table (the staff page's by-model, by-provider, by-day and
day-by-model tables are one read of day x provider x model, not four).
`raw_rows` aggregates the ledger alone (for checking and for the benchmark).

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

from .aggregates import COLUMNS, as_tuple, day_span, day_start, ledger_sums, rollup_sums
from .models import Sums, UsageDaily, UsageDailyModel, UsageDailySource, UsageDailyUser, UsageRecord
from .money import format_usd
from .rollups import watermark_status

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


# A grouped row as read: its key values and its sums as ints (COLUMNS order).
Grouped = tuple[dict[str, Any], tuple[int, ...]]
Names = dict[str, dict[Any, Any]]


def _keys_of(groups: Iterable[str | None]) -> tuple[str, ...]:
    """Every key the reports group by, in a stable order: what one read must group by."""
    return tuple(dict.fromkeys(key for group in groups for key in _ROLLUP_KEYS[group]))


def _ledger_annotations(keys: tuple[str, ...]) -> dict[str, Any]:
    return {"day": TruncDate("created_at")} if "day" in keys else {}


def _ids(read: list[Grouped], key: str) -> set[Any]:
    return {values.get(key) for values, _ in read} - {None}


def _names(keys: tuple[str, ...], read: list[Grouped]) -> Names:
    """Usernames, provider and token names of the ids in the grouped rows: a query each, whatever the range."""
    names: Names = {}
    if "user_id" in keys:
        names["user_id"] = dict(get_user_model().objects.filter(pk__in=_ids(read, "user_id"))
                                .values_list("pk", "username"))
    if "provider_id" in keys:
        names["provider_id"] = {None: "(removed provider)",
                                **dict(Provider.objects.filter(pk__in=_ids(read, "provider_id"))
                                       .values_list("pk", "name"))}
    if "token_id" in keys:
        # Through the ledger's foreign key: usage never imports accounts.
        tokens = UsageRecord._meta.get_field("token").related_model._default_manager  # type: ignore[union-attr]
        names["token_id"] = {pk: (name, owner) for pk, name, owner in tokens.filter(pk__in=_ids(read, "token_id"))
                             .values_list("pk", "name", "user__username")}
    return names


def _key_of(group_by: str | None, values: dict[str, Any], names: Names, scope: Scope) -> \
        tuple[str, str, int | None, str]:
    """(key, label, user id, model slug) of one grouped row (which may carry more keys than the group's)."""
    if group_by is None:
        return "total", "Total", None, ""
    if group_by == "source":
        return values["source"], SOURCE_LABELS.get(values["source"], values["source"]), None, ""
    if group_by == "token":  # keyed by the token's UUID; labelled with its owner unless the report is theirs
        if values["token_id"] is None:
            return NO_TOKEN, "No token (the chat)", None, ""
        name, owner = names["token_id"].get(values["token_id"], ("(removed token)", ""))
        label = name if scope.user_id is not None or not owner else f"{owner} · {name}"
        return str(values["token_id"]), label, None, ""
    if group_by == "user":  # keyed by username: sequential ids are never exposed
        name = names["user_id"].get(values["user_id"], "(removed user)")
        return name, name, values["user_id"], ""
    if group_by == "provider":
        name = names["provider_id"].get(values["provider_id"], "(removed provider)")
        return name, name, None, ""
    if group_by == "day":
        return values["day"].isoformat(), values["day"].isoformat(), None, ""
    if group_by == "day_model":
        day = values["day"].isoformat()
        return f"{day}/{values['model_slug']}", day, None, values["model_slug"]
    if group_by == "user_model":
        name = names["user_id"].get(values["user_id"], "(removed user)")
        return f"{name}/{values['model_slug']}", f"{name} · {values['model_slug']}", values["user_id"], \
            values["model_slug"]
    name = values[_ROLLUP_KEYS[group_by][0]]
    return name, name, None, name if group_by == "model" else ""


def _column_sums(parts: list[tuple[int, ...]]) -> dict[str, int]:
    """Sums of several rows, column by column (zip and sum run in C: a month has hundreds of rows a report)."""
    if len(parts) == 1:  # most rows of a report: one user, or one day and model, read once
        return dict(zip(COLUMNS, parts[0], strict=True))
    if not parts:
        return dict.fromkeys(COLUMNS, 0)
    return dict(zip(COLUMNS, map(sum, zip(*parts, strict=True)), strict=True))


def _merge(group_by: str | None, read: list[Grouped], names: Names, scope: Scope) -> list[Row]:
    found: dict[str, tuple[Row, list[tuple[int, ...]]]] = {}
    for values, sums in read:
        key, label, user_id, model_slug = _key_of(group_by, values, names, scope)
        entry = found.get(key)
        if entry is None:
            entry = found[key] = (Row(key, label, user_id=user_id, model_slug=model_slug), [])
        entry[1].append(sums)
    for row, parts in found.values():
        row.sums = _column_sums(parts)
    return [row for row, _ in found.values()]


def _read(parts: Iterable[Iterable[dict[str, Any]]]) -> list[Grouped]:
    return [(values, as_tuple(values)) for part in parts for values in part]


def _reports(first: dt.date, last: dt.date, reads: list[tuple[tuple[str | None, ...], list[Grouped]]],
             keys: tuple[str, ...], scope: Scope) -> dict[str | None, Report]:
    """Each group's report from the rows read for it (rows that may carry more keys than the group's)."""
    names = _names(keys, [row for _, read in reads for row in read])
    found = {}
    for groups, read in reads:
        totals = _column_sums([sums for _, sums in read])
        for group in groups:
            found[group] = Report(first, last, group, _order(group, _merge(group, read, names, scope)),
                                  Row("total", "Total", dict(totals)))
    return found


def _order(group_by: str | None, rows: list[Row]) -> list[Row]:
    if group_by in ("day", "day_model"):
        return sorted(rows, key=lambda r: r.key)
    if group_by == "user_model":
        return sorted(rows, key=lambda r: (r.key.split("/", 1)[0].lower(), -r.sums["cost_ticks"],
                                           -r.sums["calls"], r.model_slug))
    return sorted(rows, key=lambda r: (-r.sums["cost_ticks"], -r.sums["calls"], r.label))


def _rollup_table(keys: tuple[str, ...], scope: Scope) -> type[Sums]:
    """The narrowest rollup that has the keys and the scope's: fewer rows to sum, same numbers."""
    wanted = set(keys)
    if scope.user_id is not None:
        return UsageDailyUser if wanted <= {"day"} and not scope.narrowed else UsageDaily
    if wanted <= {"day", "provider_id", "model_slug", "purpose"} and not scope.narrowed:
        return UsageDailyModel
    if wanted <= {"day", "source", "token_id"}:  # narrowed to a source or a token too
        return UsageDailySource
    if wanted <= {"day", "user_id"} and not scope.narrowed:
        return UsageDailyUser
    return UsageDaily


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
    return reports(first, last, (group_by,), user_id=user_id, source=source, token_id=token_id)[group_by]


def reports(first: dt.date, last: dt.date, groups: Iterable[str | None], *, user_id: int | None = None,
            source: str | None = None, token_id: Any = None) -> dict[str | None, Report]:
    """Several reports of [first, last], the same numbers as one `report` per group, for fewer queries.

    Groups whose narrowest rollup is the same table are read together, grouped by all
    their keys, and summed per report here: by model, by provider, by day and day by model
    are one read of day x provider x model (a few hundred rows a month). Groups of another
    table (by user) get their own read, so no read grows to users x models. The watermark
    and the names are read once for all.
    """
    check_range(first, last)
    scope = Scope(user_id, source, token_id)
    groups = tuple(dict.fromkeys(groups))
    for group in groups:
        if group not in _ROLLUP_KEYS:
            raise ValueError(f"group_by must be one of: {', '.join(GROUPS)}.")
    by_table: dict[type[Sums], tuple[str | None, ...]] = {}
    for group in groups:
        table = _rollup_table(_ROLLUP_KEYS[group], scope)
        by_table[table] = (*by_table.get(table, ()), group)
    today = timezone.localdate()
    mark, behind = watermark_status()
    closed_last = min(last, today - dt.timedelta(days=1))
    start, end = day_span(first, last)
    unrolled = Q(id__gt=mark)
    if last >= today:
        unrolled |= Q(created_at__gte=day_start(today))
    fresh = _scoped(UsageRecord.objects.filter(created_at__gte=start, created_at__lt=end).filter(unrolled), scope)
    reads = []
    for table, members in by_table.items():
        keys = _keys_of(members)
        parts: list[Iterable[dict[str, Any]]] = []
        if first <= closed_last:
            rolled = table.objects.filter(day__gte=first, day__lte=closed_last)
            parts.append(_grouped(_scoped(rolled, scope), keys, {}, rollup_sums()))
        if behind or last >= today:  # else no ledger row of the range can be missing from the rollups
            parts.append(_grouped(fresh, keys, _ledger_annotations(keys), ledger_sums()))
        reads.append((members, _read(parts)))
    return _reports(first, last, reads, _keys_of(groups), scope)


def raw_rows(first: dt.date, last: dt.date, group_by: str | None = None, *, user_id: int | None = None,
             source: str | None = None, token_id: Any = None) -> Report:
    """The same report from the ledger alone: the reference a rollup report must equal."""
    check_range(first, last)
    scope = Scope(user_id, source, token_id)
    keys = _ROLLUP_KEYS[group_by]
    start, end = day_span(first, last)
    qs = _scoped(UsageRecord.objects.filter(created_at__gte=start, created_at__lt=end), scope)
    read = _read([_grouped(qs, keys, _ledger_annotations(keys), ledger_sums())])
    return _reports(first, last, [((group_by,), read)], keys, scope)[group_by]


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
