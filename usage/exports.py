"""CSV exports, streamed: report tables (the same rows the page and the API show) and raw ledger rows.

Every cell goes through safe_cell: text from users (usernames, token names, model ids) never
runs as a formula in the spreadsheet that opens the file.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from itertools import islice
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from .aggregates import day_span
from .models import UsageRecord
from .money import format_usd
from .reports import NO_TOKEN, Report

REPORT_COLUMNS = (
    "key", "label", "requests", "prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens",
    "total_tokens", "cost_usd", "estimated_requests", "unreconciled_requests", "failed_requests", "saved_usd",
    "stated_cost_usd", "stated_difference_usd",
)
LEDGER_COLUMNS = (
    "id", "created_at", "user", "purpose", "provider", "model", "upstream_model", "outcome", "prompt_tokens",
    "cached_tokens", "image_tokens", "completion_tokens", "reasoning_tokens", "billable_output_tokens",
    "total_tokens", "estimated", "reconciles", "convention", "price_input", "price_cached_input", "price_output",
    "cost_usd", "stated_cost_usd", "conversation", "raw_usage", "source", "token",
)


class _Echo:
    """A file-like object whose write returns the line: csv.writer output, one row at a time."""

    def write(self, value: str) -> str:
        return value


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...) in a
# username or a title opens in the admin's spreadsheet): OWASP's CSV injection advice.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def safe_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as text: a string that would start a formula gets a leading `'`.
    Numbers stay numbers, a negative amount ("-0.0012") included."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


def _take(lines: Iterator[str], count: int) -> str:
    return "".join(islice(lines, count))


async def _async_lines(lines: Iterator[str], batch: int = 1000) -> AsyncIterator[str]:
    """The lines in batches, each read in the sync thread (the database cursor lives there).

    Under ASGI Django reads a sync iterator whole before sending a byte; an
    async one is sent as it is produced, so a large export streams.
    """
    while chunk := await sync_to_async(_take)(lines, batch):
        yield chunk


def _response(request: HttpRequest, lines: Iterator[str], filename: str) -> StreamingHttpResponse:
    content = _async_lines(lines) if isinstance(request, ASGIRequest) else lines
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def report_csv(request: HttpRequest, report: Report, name: str) -> StreamingHttpResponse:
    rows = ([("" if value is None else value) for value in map(row.api().get, REPORT_COLUMNS)]
            for row in report.rows)
    filename = f"usage-{name}-{report.first}-{report.last}.csv"
    return _response(request, _lines(REPORT_COLUMNS, rows), filename)


def ledger_csv(request: HttpRequest, first: dt.date, last: dt.date, *, user_id: int | None = None,
               model_slug: str = "", source: str | None = None, token_id: Any = None) -> StreamingHttpResponse:
    """Every ledger row of the range (optionally one user / model / source / token), read in chunks: any size
    streams. `source` and `token` (the token's name) are the last columns, after the contract's."""
    start, end = day_span(first, last)
    qs = UsageRecord.objects.filter(created_at__gte=start, created_at__lt=end)
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    if model_slug:
        qs = qs.filter(model_slug=model_slug)
    if source is not None:
        qs = qs.filter(source=source)
    if token_id == NO_TOKEN:
        qs = qs.filter(token__isnull=True)
    elif token_id is not None:
        qs = qs.filter(token_id=token_id)
    qs = qs.select_related("user", "provider", "token").order_by("created_at", "id")

    def rows() -> Iterator[list[Any]]:
        for r in qs.iterator(chunk_size=2000):
            yield [
                r.pk, timezone.localtime(r.created_at).isoformat(), r.user.get_username(), r.purpose,
                r.provider.name if r.provider else "", r.model_slug, r.upstream_model, r.outcome, r.prompt_tokens,
                r.cached_tokens, r.image_tokens, r.completion_tokens, r.reasoning_tokens, r.billable_output_tokens,
                r.total_tokens, r.estimated, r.reconciles, r.convention, r.price_input, r.price_cached_input,
                r.price_output, format_usd(r.cost_ticks),
                format_usd(r.stated_cost_ticks) if r.stated_cost_ticks is not None else "",
                r.conversation_id or "", json.dumps(r.raw_usage, separators=(",", ":")) if r.raw_usage else "",
                r.source, r.token.name if r.token else "",
            ]

    return _response(request, _lines(LEDGER_COLUMNS, rows()), f"usage-ledger-{first}-{last}.csv")
