"""`usage_rows`: the body rows of the usage tables (templates/usage/_table.html), as HTML built here.

A month's report page has a few hundred rows of nine figures each. Django's template
engine spends about 0.15 ms a row resolving and filtering those figures, which was a
third of the page's time over 2,000,000 ledger rows; building the same markup here
takes a few microseconds a row. Every value is escaped (`escape`) as the template did.
"""
from __future__ import annotations

from collections.abc import Iterable
from html import escape  # what django.utils.html.escape runs, without its lazy-string check per call
from urllib.parse import quote

from django import template
from django.utils.safestring import SafeString, mark_safe

from ..reports import Row
from .usage_format import num, usd, usd_exact

register = template.Library()

# (data-col, Row attribute) of the token and call columns, in the table's order.
COUNTS = (
    ("requests", "calls"), ("prompt_tokens", "prompt_tokens"), ("cached_tokens", "cached_tokens"),
    ("completion_tokens", "completion_tokens"), ("reasoning_tokens", "reasoning_tokens"),
    ("total_tokens", "total_tokens"),
)
ESTIMATED = ' <span class="badge badge-warn" title="Calls stopped, dropped or failed: their usage is estimated">'
UNRECONCILED = """ <span class="badge badge-bad" title="The gateway's numbers did not add up for these calls">"""


def _key_cell(row: Row, link: str) -> str:
    label = escape(row.label)
    if link:
        label = f'<a href="{escape(link + quote(row.key, safe="/"))}#drill">{label}</a>'
    badges = ""
    if row.sums["estimated_calls"]:
        badges += f'{ESTIMATED}{row.sums["estimated_calls"]} est.</span>'
    if row.sums["unreconciled_calls"]:
        badges += f'{UNRECONCILED}{row.sums["unreconciled_calls"]} unreconciled</span>'
    return f'<th scope="row" class="usage-key">{label}{badges}</th>'


def row_html(row: Row, link: str = "") -> str:
    """One <tr>: the key (a drill-down link when `link` is the URL prefix), calls, tokens, cost, saving."""
    cells = [f'<td class="num" data-col="{col}">{num(row.sums[name])}</td>' for col, name in COUNTS]
    cost, exact = usd(row.sums["cost_ticks"]), usd_exact(row.sums["cost_ticks"])
    cells.append(f'<td class="num" data-col="cost_usd" data-usd="{exact}" title="${exact}">{escape(cost)}</td>')
    saved = row.saved_ticks
    cells.append(f'<td class="num muted" data-col="saved_usd" title="${usd_exact(saved)}">{escape(usd(saved))}</td>')
    return f'<tr data-key="{escape(row.key)}">{_key_cell(row, link)}{"".join(cells)}</tr>'


@register.filter
def usage_rows(rows: Iterable[Row], link: str = "") -> SafeString:
    """`{{ rows|usage_rows:link }}`: every row of a usage table (each value escaped in `row_html`)."""
    return mark_safe("\n".join(row_html(row, link) for row in rows))
