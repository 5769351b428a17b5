"""Conversation titles, written by a cheap model after the first reply."""
from __future__ import annotations

import logging
import re
from typing import Any
from uuid import UUID

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from accounts.access import model_for
from accounts.budgets import budget_status
from gateways import catalog
from gateways.failover import RouteChoice
from gateways.models import Model
from gateways.routes import usable_routes
from gateways.wire.client import ChatRequest, UpstreamClient
from gateways.wire.codes import ChatError
from gateways.wire.errors import UpstreamError
from gateways.wire.events import ContentDelta, Usage
from gateways.wire.usage import estimate, normalize, stored_usage
from usage.ledger import ledger_row
from usage.models import UsageRecord

from .groups import FRAME, user_group
from .models import Conversation, Message
from .selectors import visible_branch

log = logging.getLogger(__name__)
INSTRUCTION = (
    "Write a title of at most six words for the conversation below. "
    "Answer with the title only: no quotes, no punctuation at the end."
)
MAX_TITLE = 60


def clean_title(text: str, fallback: str) -> str:
    """First line, no markdown or quotes, cut at a word boundary."""
    line = next((part for part in text.strip().splitlines() if part.strip()), "")
    line = re.sub(r"[#*_`\"“”]+", "", line).strip().rstrip(".:;,!")
    if not line:
        line = " ".join(fallback.split())
    if len(line) > MAX_TITLE:
        line = line[:MAX_TITLE].rsplit(" ", 1)[0].rstrip(".,;:") + "…"
    return line or "New chat"


def _title_model(conversation: Conversation) -> Model | None:
    return model_for(conversation.owner, catalog.TITLE_MODEL) or conversation.model


async def _ask(model: Model, route: RouteChoice, messages: list[dict[str, Any]]) -> tuple[str, Usage | None]:
    request = ChatRequest(model=route.upstream_id, messages=messages, params={"max_tokens": 24},
                          accepts_reasoning_effort=False, accepts_penalties=not model.reasons)
    async with UpstreamClient() as client:  # a short-lived client: this may run in a Celery worker
        events = await client.complete(route.endpoint, request)
    text = "".join(e.text for e in events if isinstance(e, ContentDelta))
    usage = next((e for e in reversed(events) if isinstance(e, Usage)), None)
    return text, usage


def write_title(conversation_id: UUID) -> str | None:
    """Title an untitled conversation, record the call in the ledger, tell the user's tabs."""
    conversation = Conversation.objects.select_related("owner", "model").filter(id=conversation_id).first()
    if conversation is None or conversation.title:
        return None
    branch = [m for m in visible_branch(conversation) if m.content]
    first_user = next((m.content for m in branch if m.role == Message.Role.USER), "")
    model = _title_model(conversation)
    if model is None or not first_user:
        return None
    excerpt = "\n\n".join(f"{m.role}: {m.content[:1000]}" for m in branch[:2])
    messages = [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": excerpt}]
    status = budget_status(conversation.owner)
    if status is not None and status.exceeded:
        # Budgets are checked before every upstream call: over the limit the chat is named by its first words.
        return _set_title(conversation, clean_title("", first_user))
    try:
        # The model's first usable route (resting ones skipped); a title is not worth a failover.
        route = usable_routes(model)[0]
    except ChatError as exc:  # every route resting, or no key that decrypts: try again with the next reply
        log.warning("no route for the title of %s: %s", conversation_id, exc.code)
        return None
    try:
        text, usage_event = async_to_sync(_ask)(model, route, messages)
        if usage_event is not None:  # read as the route's gateway counts, like a reply's usage
            usage = normalize(usage_event.raw, usage_event.meta, route.endpoint.usage_convention)
            raw = stored_usage(usage_event.raw, usage_event.meta)
        else:
            usage, raw = estimate(len(excerpt), text), None
        outcome = "complete"
    except UpstreamError as exc:
        log.warning("title for %s failed: %s", conversation_id, exc.code)
        text, usage, raw, outcome = "", estimate(len(excerpt) + len(INSTRUCTION), ""), None, "error"
    ledger_row(conversation.owner_id, model, usage, conversation=conversation, purpose=UsageRecord.Purpose.TITLE,
               provider_id=route.provider_id, route_id=route.route_id, upstream_model=route.upstream_id,
               outcome=outcome, raw_usage=raw)
    return _set_title(conversation, clean_title(text, first_user))


def _set_title(conversation: Conversation, title: str) -> str:
    """Name the chat unless someone named it meanwhile, and tell the user's tabs."""
    updated = Conversation.objects.filter(id=conversation.id, title="").update(title=title)
    if updated:
        frame = {"type": "conversation.updated", "conversation": {"id": str(conversation.id), "title": title}}
        group = user_group(conversation.owner_id)
        async_to_sync(get_channel_layer().group_send)(group, {"type": FRAME, "frame": frame})
    return title
