"""How long to wait before trying a gateway again. Pure."""
from __future__ import annotations

import random
from collections.abc import Callable

BASE_S = 0.5
CAP_S = 8.0
RETRY_AFTER_CAP_S = 30.0


def backoff_delay(
    attempt: int, retry_after: float | None = None, *, rand: Callable[[], float] = random.random
) -> float:
    """Honour the gateway's Retry-After; otherwise exponential backoff with jitter.

    `attempt` counts from 0. Jitter keeps a team's tabs from retrying in lockstep.
    """
    if retry_after is not None:
        return min(max(retry_after, 0.0), RETRY_AFTER_CAP_S)
    ceiling = min(CAP_S, BASE_S * (2 ** attempt))
    return ceiling * (0.5 + rand() / 2)
