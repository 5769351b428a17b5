"""Server-rendered SVG charts (no JavaScript): cost per day stacked by model, and top users.

Pure functions from report rows to SVG markup; colours are CSS classes
(`chart-c0`..`chart-c7`, pages.css) so light and dark mode both work.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .money import format_usd
from .reports import Row
from .templatetags.usage_format import usd

COLOURS = 8
W, H = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 28


def _nice_max(value: int) -> int:
    """A round axis maximum at or above `value` (ticks): 1, 2 or 5 x 10^n."""
    if value <= 0:
        return 1
    step = 1
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if factor * step >= value:
            return factor * step
    return 10 * step


def _usd_label(ticks: int) -> str:
    usd = Decimal(ticks) / Decimal(10**10)
    if usd >= 100:
        return f"${usd:,.0f}"
    if usd >= 1:
        return f"${usd:,.2f}"
    return f"${format_usd(ticks)}"


def model_colours(slugs: list[str]) -> dict[str, int]:
    return {slug: i % COLOURS for i, slug in enumerate(slugs)}


def cost_per_day(cells: list[Row], first: dt.date, last: dt.date, colours: dict[str, int]) -> SafeString:
    """Stacked columns: one per day of [first, last], one segment per model, height = cost."""
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    by_day: dict[str, list[Row]] = {}
    for cell in cells:
        by_day.setdefault(cell.label, []).append(cell)
    totals = {d: sum(c.sums["cost_ticks"] for c in by_day.get(d.isoformat(), [])) for d in days}
    top = _nice_max(max(totals.values(), default=0))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar = max(min(slot * 0.7, 36), 1.5)
    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="Cost per day, stacked by model">']
    for i in range(5):
        value = top * i // 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(f'<line class="chart-grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="chart-axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{escape(_usd_label(value))}</text>')
    label_every = max(1, round(len(days) / 10))
    for index, day in enumerate(days):
        x = LEFT + slot * index + (slot - bar) / 2
        y = TOP + plot_h
        for cell in sorted(by_day.get(day.isoformat(), []), key=lambda c: c.model_slug):
            height = plot_h * cell.sums["cost_ticks"] / top
            if height <= 0:
                continue
            y -= height
            title = f"{day.isoformat()} · {cell.model_slug}: ${format_usd(cell.sums['cost_ticks'])}"
            parts.append(f'<rect class="chart-c{colours.get(cell.model_slug, 0)}" x="{x:.1f}" y="{y:.1f}" '
                         f'width="{bar:.1f}" height="{height:.1f}"><title>{escape(title)}</title></rect>')
        if index % label_every == 0:
            parts.append(f'<text class="chart-axis" x="{x + bar / 2:.1f}" y="{H - 8}" text-anchor="middle">'
                         f'{day.strftime("%b %-d")}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def top_users(rows: list[Row], limit: int = 10) -> SafeString:
    """Horizontal bars: the users who cost most, largest first."""
    shown = [r for r in rows if r.sums["cost_ticks"] > 0][:limit]
    line, name_w, value_w = 26, 150, 110
    height = max(len(shown), 1) * line + 8
    top = _nice_max(max((r.sums["cost_ticks"] for r in shown), default=0))
    plot_w = W - name_w - value_w
    parts = [f'<svg class="chart" viewBox="0 0 {W} {height}" role="img" aria-label="Top users by cost">']
    for i, row in enumerate(shown):
        y = 4 + i * line
        width = max(plot_w * row.sums["cost_ticks"] / top, 1)
        parts.append(f'<text class="chart-label" x="{name_w - 8}" y="{y + 16}" text-anchor="end">'
                     f'{escape(row.label[:22])}</text>')
        parts.append(f'<rect class="chart-c0" x="{name_w}" y="{y + 3}" width="{width:.1f}" height="{line - 8}" rx="3">'
                     f'<title>{escape(row.label)}: ${format_usd(row.sums["cost_ticks"])}</title></rect>')
        parts.append(f'<text class="chart-value" x="{name_w + width + 6:.1f}" y="{y + 16}">'
                     f'{escape(usd(row.sums["cost_ticks"]))}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
