"""Health figures from the attempts log: calls, errors by code, time to first token p50/p95. Pure."""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .failover import OK


def percentile(values: list[int], pct: float) -> int | None:
    """Nearest-rank percentile of sorted-or-not values; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class HealthRow:
    provider: str
    model: str
    calls: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    ttfts: list[int] = field(default_factory=list)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def error_rate(self) -> float:
        return self.error_count / self.calls if self.calls else 0.0

    @property
    def p50(self) -> int | None:
        return percentile(self.ttfts, 50)

    @property
    def p95(self) -> int | None:
        return percentile(self.ttfts, 95)

    @property
    def errors_by_code(self) -> list[tuple[str, int]]:
        return sorted(self.errors.items(), key=lambda item: (-item[1], item[0]))


def summarize(rows: Iterable[tuple[str, str, str, int | None]]) -> list[HealthRow]:
    """(provider, model, outcome, ttft_ms) rows -> one HealthRow per provider and model, busiest first."""
    table: dict[tuple[str, str], HealthRow] = {}
    for provider, model, outcome, ttft in rows:
        row = table.setdefault((provider, model), HealthRow(provider, model))
        row.calls += 1
        if outcome != OK:
            row.errors[outcome] += 1
        elif ttft is not None:
            row.ttfts.append(ttft)
    return sorted(table.values(), key=lambda r: (r.provider.lower(), -r.calls, r.model))
