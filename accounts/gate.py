"""Admission of a new reply: rate limits, concurrent generations and budgets, in one place.

chat.services calls `before` ahead of its transaction (the per-minute counter,
in the shared cache) and `admit` / `hold` inside the transaction that creates
the streaming reply. `admit` locks the user's row (and the budgeted groups'
policy rows), so concurrent sends are decided one after another: each sees the
replies the earlier ones started, and their reserved prompt cost.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chat.errors import ChatError
from chat.models import Message
from chat.pricing import format_usd
from chat.prompting import prompt_chars, upstream_messages
from chat.selectors import visible_branch
from usage.prices import rate_on

from . import budgets, limits
from .models import Reservation, User
from .status import MESSAGES, refusal


@dataclass(frozen=True)
class Hold:
    ticks: int
    tokens: int


def before(user: Any) -> limits.Limits:
    """Outside the transaction: the per-minute message counter (Redis when REDIS_URL is set).

    Returns the user's limits, so `admit` does not read the group policies a second time.
    """
    found = limits.limits_for(user)
    limits.hit(user, found)
    return found


def admit(user: Any, model: Any, chars: Callable[[], int], user_limits: limits.Limits | None = None) -> Hold | None:
    """Inside the reply's transaction: lock, then check live generations and budgets.

    `chars` computes the prompt's size; it runs only when a budget applies.
    Returns what the new reply must reserve (None when no budget applies).
    """
    # Fresh (the socket's user may be minutes old) and locked: concurrent sends queue here.
    fresh = User.objects.select_for_update().get(pk=user.pk)
    reason = refusal(fresh)
    if reason is not None:
        raise ChatError("bad_request", MESSAGES[reason])
    applicable = budgets.budgets_for(fresh)
    budgets.lock_groups(applicable)
    live = Message.objects.filter(conversation__owner_id=user.pk, role=Message.Role.ASSISTANT,
                                  status=Message.Status.STREAMING).count()
    limits.check_live(fresh, live, user_limits or limits.limits_for(fresh))
    if not applicable:
        return None
    budgets.forget_finished(fresh)
    # At the price the call will be billed at (the first route's dated price), not the catalog's.
    need_ticks, need_tokens = budgets.prompt_estimate(chars(), rate_on(model.provider_id, model).input)
    refused = budgets.refusal(applicable, need_ticks, need_tokens)
    if refused is not None:
        status, detail = refused
        raise ChatError(
            "budget_exceeded", detail,
            remaining_usd=format_usd(status.remaining_ticks) if status.remaining_ticks is not None else None,
            remaining_tokens=status.remaining_tokens, budget=status.source,
        )
    return Hold(need_ticks, need_tokens)


def hold(user: Any, held: Hold | None, reply: Any) -> None:
    """Reserve the estimated prompt cost for the reply while it streams."""
    if held is not None:
        Reservation.objects.create(message_id=reply.id, user_id=user.pk, ticks=held.ticks, tokens=held.tokens)


def prompt_size(conversation: Any | None, leaf_id: Any | None, new_text: str = "", system_prompt: str = "") -> int:
    """Characters the upstream prompt will have: the branch up to `leaf_id`, plus a new message."""
    history: list[Any] = []
    if conversation is not None and leaf_id is not None:
        view = copy.copy(conversation)
        view.current_leaf_id = leaf_id
        history = visible_branch(view, for_prompt=True)
    prompt = conversation.system_prompt if conversation is not None else system_prompt
    return prompt_chars(upstream_messages(prompt or "", history)) + len(new_text)
