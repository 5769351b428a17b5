"""Whether a call may be admitted while its upstream request is already under way.

Admission (accounts.gate: the live-call limit and budgets under the owner's lock, and the call's
Reservation) is a transaction in a worker thread: a few milliseconds before the first byte goes
upstream. Run alongside the upstream request instead, it costs the call nothing it can see; the
first token still waits for it, so a refused call relays nothing, and its upstream request is
stopped as soon as the refusal is known.

That is done only where a refusal is all but impossible, so a gateway is almost never asked for a
call that is then refused: no budget applies to the owner (a budget changes the request itself:
its max_tokens), none of the owner's calls was refused in this process in the last
`REFUSED_MEMORY_S`, and the owner's live calls in this process leave at least one more slot than
this call needs (other processes and the chat may hold the rest). Otherwise admission comes
first, as for a chat reply. The per-minute counter is always counted before the upstream request.
"""
from __future__ import annotations

import time
from collections import Counter

REFUSED_MEMORY_S = 60.0

_live: Counter[int] = Counter()  # user id -> calls this process is relaying for them
_refused: dict[int, float] = {}  # user id -> when a call of theirs was last refused here (monotonic)


def alongside(user_id: int, budgeted: bool, max_live: int, now: float | None = None) -> bool:
    """Whether this user's next call may be admitted while its upstream request runs."""
    if budgeted:
        return False
    refused_at = _refused.get(user_id)
    now = time.monotonic() if now is None else now
    if refused_at is not None:
        if now - refused_at < REFUSED_MEMORY_S:
            return False
        _refused.pop(user_id, None)
    return _live[user_id] + 1 < max_live


def started(user_id: int) -> None:
    _live[user_id] += 1


def ended(user_id: int) -> None:
    _live[user_id] -= 1
    if _live[user_id] <= 0:
        del _live[user_id]


def refused(user_id: int, now: float | None = None) -> None:
    """A call of this user was refused: admit their next ones before asking a gateway."""
    _refused[user_id] = time.monotonic() if now is None else now


def forget() -> None:
    """Tests."""
    _live.clear()
    _refused.clear()
