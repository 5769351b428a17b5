"""Write paths shared by the websocket and HTTP: sync, one transaction each.

The async side calls these through `database_sync_to_async`; none of them
talks to the upstream.
"""
from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import gate
from accounts.access import model_for, models_for
from gateways import catalog, parameters
from gateways.attempts import Attempted, attempt_rows, record_attempts
from gateways.models import Model
from gateways.routes import usable_routes
from gateways.tariffs import rate_on
from gateways.wire.client import ChatRequest
from gateways.wire.codes import ChatError, is_retryable
from gateways.wire.text import mend
from gateways.wire.usage import CHARS_PER_TOKEN, NormalizedUsage, estimate, prompt_tokens_for
from usage.ledger import ledger_record, ledger_row
from usage.models import UsageRecord

from . import presets, rows, uploads
from .models import Attachment, Conversation, Message
from .prompting import prompt_chars, upstream_messages
from .selectors import conversation_for, message_for, usage_dict, visible_branch

log = logging.getLogger(__name__)
ALLOWED_PARAMS = {"temperature", "top_p", "max_tokens", "reasoning_effort"}


@dataclass(frozen=True)
class Started:
    """What `send` created (or found, for a repeated request_id)."""

    conversation: Conversation
    user_message: Message | None
    assistant_message: Message
    new_conversation: bool
    duplicate: bool
    held: gate.Hold | None = None  # what admission reserved (None for a repeated request_id)


def _limits() -> dict[str, Any]:
    return settings.GROKWEB


def _clean_params(params: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (params or {}).items() if k in ALLOWED_PARAMS and v is not None}


def _existing(user: Any, request_id: UUID) -> Started | None:
    """A repeated request_id returns what the first one started, never a second reply."""
    first = Message.objects.select_related("conversation").filter(request_id=request_id).first()
    if first is None:
        return None
    if first.conversation.owner_id != user.pk:
        raise ChatError("bad_request", "request_id is already used.")
    if first.role == Message.Role.ASSISTANT:
        return Started(first.conversation, None, first, False, True)
    reply = first.children.filter(role=Message.Role.ASSISTANT).order_by("created_at").first()
    if reply is None:  # cannot happen: both rows are written in one transaction
        raise ChatError("internal", "The earlier request left no reply.")
    return Started(first.conversation, first, reply, False, True)


def _once(user: Any, request_id: UUID, start: Callable[[], Started]) -> Started:
    """Run `start`, unless this request_id already started a reply: then answer with that one.

    The unique request_id decides (a second insert fails), so a first send costs no lookup;
    the first request's rows are read only when the repeat fails, on the constraint or earlier
    (a repeat may be refused by a limit the first reply itself now fills). A repeat does count
    once more against the per-minute message limit.
    """
    try:
        return start()
    except (IntegrityError, ChatError):
        if found := _existing(user, request_id):
            return found
        raise


def _reply_to(parent: Message, conversation: Conversation, model: Model, runner: str,
              request_id: UUID | None = None) -> Message:
    """A new streaming reply under `parent`, not stored yet (its id is known: admission holds its slot)."""
    return Message(
        conversation=conversation, parent=parent, role=Message.Role.ASSISTANT, status=Message.Status.STREAMING,
        model=model, model_slug=model.slug, request_id=request_id, runner=runner,
    )


def _store_reply(conversation: Conversation, reply: Message, new_parent: Message | None = None) -> None:
    """Store the reply (and its parent, when that is new too: one INSERT) and make it the conversation's leaf.

    Plain SQL built once per process (chat.rows): this runs before every reply's upstream call.
    """
    rows.insert(*((new_parent, reply) if new_parent is not None else (reply,)))
    conversation.current_leaf = reply
    conversation.model = reply.model
    rows.update(conversation, "current_leaf", "model", "updated_at")


def _admit_and_hold(user: Any, model: Model, tokens: Any, limits: Any, params: dict[str, Any],
                    reply_id: UUID) -> gate.Hold:
    """Inside the send's transaction: admission under the user's lock, and the reply's slot.

    Where no budget can apply, in plain SQL (gate.admit_unbudgeted); else the ORM way, which decides budgets.
    """
    if not gate.budget_possible(limits) and gate.admit_unbudgeted(user.pk, limits, reply_id):
        return gate.Hold()
    held = _admit(user, model, tokens, limits, params)
    gate.hold(user, held, reply_id)
    return held


def _history(conversation: Conversation | None, leaf_id: Any | None) -> list[Any]:
    if conversation is None or leaf_id is None:
        return []
    view = copy.copy(conversation)
    view.current_leaf_id = leaf_id
    return visible_branch(view, for_prompt=True)


def _refs(history: Sequence[Any]) -> list[dict[str, Any]]:
    return [p for turn in history for p in (turn.parts or []) if isinstance(p, dict) and p.get("type") == "attachment"]


def prompt_tokens(conversation: Conversation | None, leaf_id: Any | None, new_text: str = "",
                  system_prompt: str = "", attachment_tokens: int = 0) -> int:
    """Estimated tokens of the upstream prompt: the branch up to `leaf_id`, plus a new message (for budgets).

    Attachments count by their own estimates (a file's text; an image as xAI bills it), the new
    message's (`attachment_tokens`) and those earlier on the branch (kept in each message's parts).
    """
    history = _history(conversation, leaf_id)
    prompt = conversation.system_prompt if conversation is not None else system_prompt
    messages = upstream_messages(prompt or "", history)
    if new_text:
        messages.append({"role": "user", "content": new_text})
    earlier = sum(int(ref.get("tokens") or 0) for ref in _refs(history))
    return prompt_tokens_for(messages) + attachment_tokens + earlier


def _has_attachments(conversation: Conversation | None) -> bool:
    """Cheap: most conversations have none, and then the branch need not be read before admission."""
    return conversation is not None and rows.has_attachments(conversation.id)


def vision_models(user: Any) -> list[str]:
    return list(models_for(user).filter(vision=True).order_by("-is_default", "slug").values_list("slug", flat=True))


def check_attachments(user: Any, model: Model, history: Sequence[Any], new: Sequence[dict[str, Any]] = (),
                      new_text: str = "") -> None:
    """Before anything is stored or sent: images need a vision model, and the prompt must fit the context.

    Never a silent cut: a file bigger than the model reads is refused with its size.
    """
    old = _refs(history)
    if not old and not new:
        return
    images = [ref for ref in [*old, *new] if ref.get("kind") == Attachment.Kind.IMAGE]
    if images and not model.vision:
        can = vision_models(user)
        hint = f" Models that read images: {', '.join(can)}." if can else " No model you may use reads images."
        raise ChatError("bad_request", f"{model.name} cannot read images ({images[0].get('name')} is attached)."
                        + hint, vision_models=can)
    window = model.context_window
    if not window:
        return
    for ref in new:
        if int(ref.get("tokens") or 0) > window:
            raise ChatError("context_too_long", f"{ref.get('name')} is about {int(ref['tokens']):,} tokens, more than "
                            f"{model.name} reads ({window:,}). Attach a part of it, or pick a model with a longer "
                            "context.")
    text = len(new_text) + sum(len(turn.content or "") for turn in history)
    total = math.ceil(text / CHARS_PER_TOKEN) + sum(int(ref.get("tokens") or 0) for ref in [*old, *new])
    if total > window:
        raise ChatError("context_too_long", f"This conversation with its attachments is about {total:,} tokens, more "
                        f"than {model.name} reads ({window:,}). Start a new chat or pick a model with a longer "
                        "context.")


def _route_provider(model: Model) -> int | None:
    """The provider of the route that will serve a call (its price is the one billed), if any is usable."""
    try:
        routes = usable_routes(model)
    except ChatError:
        return None
    return routes[0].provider_id if routes else None


def _admit(user: Any, model: Model, tokens: Any, limits: Any, params: dict[str, Any]) -> gate.Hold:
    max_tokens = params.get("max_tokens")
    return gate.admit(user, model, tokens, limits, max_tokens=max_tokens if isinstance(max_tokens, int) else None,
                      provider=lambda: _route_provider(model))


def send(
    user: Any,
    *,
    request_id: UUID,
    conversation_id: UUID | None,
    content: str,
    model_slug: str | None = None,
    params: dict[str, Any] | None = None,
    system_prompt: str | None = None,
    runner: str = "",
    attachments: Sequence[UUID] = (),
) -> Started:
    """Store the user's message and an empty streaming reply, in one transaction.

    Attachments (ids from POST /api/attachments/) are bound to the new message.
    """
    return _once(user, request_id, lambda: _send(user, request_id, conversation_id, content, model_slug, params,
                                                 system_prompt, runner, attachments))


def _send(user: Any, request_id: UUID, conversation_id: UUID | None, content: str, model_slug: str | None,
          params: dict[str, Any] | None, system_prompt: str | None, runner: str,
          attachments: Sequence[UUID]) -> Started:
    content = content.strip()
    attached = uploads.unsent(user, attachments) if attachments else []
    if not content and not attached:
        raise ChatError("bad_request", "The message is empty.")
    if len(content) > _limits()["MAX_MESSAGE_CHARS"]:
        raise ChatError("too_large", f"Messages are limited to {_limits()['MAX_MESSAGE_CHARS']:,} characters.")
    conversation = None
    if conversation_id is not None:
        conversation = conversation_for(user, conversation_id, cached_model=True)
        if conversation is None:
            raise ChatError("not_found", "That conversation does not exist.")
    model = model_for(user, model_slug or (conversation.model.slug if conversation and conversation.model else None))
    if model is None:
        raise ChatError("model_unavailable", f"The model {model_slug!r} is not available.")
    asked = parameters.check(model, params)  # refused with a sentence before anything is stored
    merged = asked if conversation is None else {
        **parameters.check(model, conversation.params, strict=False), **asked}
    first_prompt = presets.first_system_prompt(user, presets.check_prompt(system_prompt)) if conversation is None \
        else ""
    leaf_id = conversation.current_leaf_id if conversation is not None else None
    parts = uploads.refs(attached)
    if parts or _has_attachments(conversation):
        check_attachments(user, model, _history(conversation, leaf_id), parts, content)
    attached_tokens = sum(a.tokens for a in attached)
    limits = gate.before(user)
    new = conversation is None
    if conversation is None:
        conversation = Conversation(owner=user, model=model, system_prompt=first_prompt, params=merged)
    user_message = Message(
        conversation=conversation, parent_id=conversation.current_leaf_id, role=Message.Role.USER,
        content=content, parts=parts, request_id=request_id,
    )
    reply = _reply_to(user_message, conversation, model, runner)
    with transaction.atomic():
        held = _admit_and_hold(user, model, lambda: prompt_tokens(None if new else conversation, leaf_id, content,
                                                                  first_prompt, attached_tokens),
                               limits, merged, reply.id)
        if new:
            conversation.save(force_insert=True)
        elif asked:
            conversation.params = {**conversation.params, **asked}
            conversation.save(update_fields=["params", "updated_at"])
        _store_reply(conversation, reply, user_message)
        if attached:
            uploads.bind(attached, user_message)
    return Started(conversation, user_message, reply, new, False, held)


def regenerate(user: Any, *, request_id: UUID, message_id: UUID, model_slug: str | None, runner: str) -> Started:
    """A new reply to the same user message, as a sibling of the old one."""
    return _once(user, request_id, lambda: _regenerate(user, request_id, message_id, model_slug, runner))


def _regenerate(user: Any, request_id: UUID, message_id: UUID, model_slug: str | None, runner: str) -> Started:
    old = message_for(user, message_id)
    if old is None or old.role != Message.Role.ASSISTANT or old.parent_id is None:
        raise ChatError("not_found", "That reply does not exist.")
    if old.status == Message.Status.STREAMING:
        raise ChatError("bad_request", "That reply is still being written; stop it first.")
    conversation = old.conversation
    model = model_for(user, model_slug or old.model_slug)
    if model is None:
        raise ChatError("model_unavailable", f"The model {model_slug or old.model_slug!r} is not available.")
    if _has_attachments(conversation):
        check_attachments(user, model, _history(conversation, old.parent_id))
    limits = gate.before(user)
    with transaction.atomic():
        reply = _reply_to(old.parent, conversation, model, runner, request_id=request_id)
        held = _admit_and_hold(user, model, lambda: prompt_tokens(conversation, old.parent_id), limits,
                               conversation.params, reply.id)
        _store_reply(conversation, reply)
    return Started(conversation, None, reply, False, False, held)


def edit(user: Any, *, request_id: UUID, message_id: UUID, content: str, runner: str) -> Started:
    """A changed user message as a sibling of the old one, then a new reply."""
    return _once(user, request_id, lambda: _edit(user, request_id, message_id, content, runner))


def _edit(user: Any, request_id: UUID, message_id: UUID, content: str, runner: str) -> Started:
    old = message_for(user, message_id)
    if old is None or old.role != Message.Role.USER:
        raise ChatError("not_found", "That message does not exist.")
    content = content.strip()
    if not content:
        raise ChatError("bad_request", "The message is empty.")
    if len(content) > _limits()["MAX_MESSAGE_CHARS"]:
        raise ChatError("too_large", f"Messages are limited to {_limits()['MAX_MESSAGE_CHARS']:,} characters.")
    conversation = old.conversation
    model = model_for(user, conversation.model.slug if conversation.model else None)
    if model is None:
        raise ChatError("model_unavailable", "The conversation's model is not available.")
    if _has_attachments(conversation):
        check_attachments(user, model, _history(conversation, old.parent_id), _refs([old]), content)
    limits = gate.before(user)
    with transaction.atomic():
        kept = sum(int(ref.get("tokens") or 0) for ref in _refs([old]))  # the edit keeps the attachments
        user_message = Message(conversation=conversation, parent=old.parent, role=Message.Role.USER,
                               content=content, parts=old.parts, request_id=request_id)
        reply = _reply_to(user_message, conversation, model, runner)
        held = _admit_and_hold(user, model, lambda: prompt_tokens(conversation, old.parent_id, content,
                                                                  attachment_tokens=kept),
                               limits, conversation.params, reply.id)
        _store_reply(conversation, reply, user_message)
    return Started(conversation, user_message, reply, False, False, held)


def fail_to_start(message_id: UUID, code: str, detail: str) -> None:
    """A reply that could not even be sent upstream: end it, never leave it streaming.

    No upstream call was made, so it gets no ledger row (one row per upstream call;
    a call the gateway refused does get one, with zero usage: see generation.Runner).
    """
    with transaction.atomic():
        now = timezone.now()
        ended = Message.objects.filter(id=message_id, status=Message.Status.STREAMING).update(
            status=Message.Status.ERROR, content="", reasoning="", error_code=code, error_detail=detail, updated_at=now)
        if ended:
            Conversation.objects.filter(messages__id=message_id).update(updated_at=now)
        gate.release(message_id)


def stoppable(user: Any, message_id: Any) -> Message:
    message = message_for(user, message_id)
    if message is None or message.role != Message.Role.ASSISTANT:
        raise ChatError("not_found", "That message does not exist.")
    return message


def checkpoint(message_id: UUID, content: str, reasoning: str, seq: int) -> bool:
    """Save partial text so a crash loses at most a few seconds of a reply.

    False when the reply is no longer streaming (ended by another process's orphan sweep, or
    deleted): its runner should stop, as its tabs were told it ended.
    """
    return bool(Message.objects.filter(id=message_id, status=Message.Status.STREAMING).update(
        content=content, reasoning=reasoning, live_seq=seq, updated_at=timezone.now()
    ))


@dataclass(frozen=True)
class Ending:
    """How a generation ended, as the runner saw it."""

    status: str
    content: str
    reasoning: str
    finish_reason: str
    usage: NormalizedUsage
    raw_usage: dict[str, Any] | None
    upstream_model: str = ""
    error_code: str = ""
    error_detail: str = ""
    ttft_ms: int | None = None
    duration_ms: int | None = None
    route_id: int | None = None  # the route that served the reply (None: the model's own provider)
    provider_id: int | None = None


ENDING_FIELDS = ["status", "content", "reasoning", "finish_reason", "error_code", "error_detail", "ttft_ms",
                 "duration_ms", "updated_at"]


def finish(message_id: UUID, ending: Ending, attempts: tuple[Attempted, ...] = ()) -> tuple[Message, UsageRecord]:
    """Store the final text, the ledger row and the reply's upstream attempts together; idempotent per message."""
    message, record, _ = finish_once(message_id, ending, attempts)
    return message, record


def finish_once(message_id: UUID, ending: Ending,
                attempts: tuple[Attempted, ...] = ()) -> tuple[Message, UsageRecord, bool]:
    """`finish`, and whether this ending is the one that ended the reply.

    A reply ended meanwhile keeps that ending (its tabs were told it) and its one ledger row; but
    when that was an orphan's ending (`end_orphan`, by a process that took this reply's runner for
    dead), the row's usage was guessed from the last checkpoint, so the runner's own (the gateway's
    figures, or an estimate from the whole text) takes its place in the same row's stead.
    """
    with transaction.atomic():
        locked = Message.objects.select_for_update(of=("self",))  # PostgreSQL: not the nullable model join
        message = locked.select_related("conversation", "model").get(id=message_id)
        # A streaming reply has no ledger row yet (the row is written with its ending): no lookup.
        existing = None if message.status == Message.Status.STREAMING else (
            UsageRecord.objects.filter(message=message).first())
        if existing is not None:
            if _orphaned(message, existing) and message.model is not None:
                existing.delete()  # one row per call: the runner's replaces the sweep's guess
                existing = _ledger(message, ending, outcome=message.status)
                record_attempts(attempts)
            return message, existing, False
        message.status = ending.status
        message.content = ending.content
        message.reasoning = ending.reasoning
        message.finish_reason = ending.finish_reason
        message.error_code = ending.error_code
        message.error_detail = ending.error_detail
        message.ttft_ms = ending.ttft_ms
        message.duration_ms = ending.duration_ms
        message.save(update_fields=ENDING_FIELDS)
        record = _ledger(message, ending, outcome=ending.status)
        Conversation.objects.filter(id=message.conversation_id).update(updated_at=timezone.now())
        gate.release(message.id)
        record_attempts(attempts)
    return message, record, True


def _ledger(message: Message, ending: Ending, *, outcome: str) -> UsageRecord:
    return ledger_row(
        message.conversation.owner_id, message.model, ending.usage,
        conversation=message.conversation, message=message, purpose=UsageRecord.Purpose.CHAT,
        upstream_model=ending.upstream_model, outcome=outcome, raw_usage=ending.raw_usage,
        provider_id=ending.provider_id, route_id=ending.route_id,
    )


def _orphaned(message: Message, record: UsageRecord) -> bool:
    """Whether the reply was ended by `end_orphan` (its usage a guess from the last checkpoint)."""
    return (message.status == Message.Status.ERROR and message.error_detail == ORPHAN_DETAIL
            and record.estimated and record.raw_usage is None)


@dataclass(frozen=True)
class Planned:
    """A reply's rows as its plan knew them: enough to end it without reading them first."""

    message_id: UUID
    owner_id: int
    conversation_id: UUID
    model: Model
    titled: bool  # the conversation had a title when the reply was planned


def finish_planned(reply: Planned, ending: Ending, attempts: tuple[Attempted, ...] = ()) -> UsageRecord:
    """`finish` for a reply its plan knew: one conditional UPDATE instead of a locked read and a save."""
    return finish_planned_once(reply, ending, attempts)[0]


def finish_planned_once(reply: Planned, ending: Ending,
                        attempts: tuple[Attempted, ...] = ()) -> tuple[UsageRecord, bool]:
    """`finish_planned`, and whether this ending is the one that ended the reply (see `finish_once`).

    The update takes the row's lock itself and applies only while the reply is streaming, so the
    ending stays exactly-once: a reply ended meanwhile (the orphan sweep) goes through `finish_once`,
    which finds its ledger row.
    """
    with transaction.atomic():
        now = timezone.now()
        # Plain SQL built once per process (chat.rows): every reply's ending runs these, and the
        # ORM's query building was most of this hop's CPU.
        ended = rows.update_where(Message, {
            "status": ending.status, "content": ending.content, "reasoning": ending.reasoning,
            "finish_reason": ending.finish_reason, "error_code": ending.error_code,
            "error_detail": ending.error_detail, "ttft_ms": ending.ttft_ms, "duration_ms": ending.duration_ms,
            "updated_at": now}, id=reply.message_id, status=Message.Status.STREAMING)
        if ended:
            record = ledger_record(
                reply.owner_id, reply.model, ending.usage,
                conversation_id=reply.conversation_id, message_id=reply.message_id,
                purpose=UsageRecord.Purpose.CHAT, upstream_model=ending.upstream_model, outcome=ending.status,
                raw_usage=ending.raw_usage, provider_id=ending.provider_id, route_id=ending.route_id,
            )
            rows.insert(record)
            rows.update_where(Conversation, {"updated_at": now}, id=reply.conversation_id)
            gate.release(reply.message_id)
            if attempts:
                rows.insert(*attempt_rows(attempts))
            return record, True
    _, record, ended_here = finish_once(reply.message_id, ending, attempts)
    return record, ended_here


@dataclass(frozen=True)
class Plan:
    """Everything the runner needs for one reply, read once before streaming."""

    message_id: UUID
    conversation_id: UUID
    user_id: int
    endpoint: Any  # upstream.client.Endpoint (holds the decrypted key: never log it)
    request: Any  # upstream.client.ChatRequest
    prompt_chars: int
    hidden_reasoning_rate: float  # tokens/s of silent thinking, for estimates
    routes: tuple[Any, ...] = ()  # gateways.failover.RouteChoice, in the order to try (cooled-down ones left out)
    model_slug: str = ""
    show_route: bool = False  # staff see which route served a reply
    output_room: int | None = None  # output tokens before the reply reaches its budget reservation (accounts.gate)
    planned: Planned | None = None  # for ending it without reading its rows again (finish_planned)


def prepare(message_id: UUID) -> Plan:
    """Build the upstream request from the branch that leads to this reply (read from the database)."""
    reply = Message.objects.select_related("conversation__owner", "model__provider").get(id=message_id)
    return plan(reply, reply.conversation, reply.conversation.owner)


def plan(reply: Message, conversation: Conversation, owner: Any, held: gate.Hold | None = None) -> Plan:
    """The plan of a reply whose rows are in hand (`send` just wrote them): no need to read them again.

    `held`: what admission reserved. A budgeted reply asks the gateway for no more output than it
    reserved for (max_tokens), and one whose budget left less than that is cut at its reservation.
    """
    view = copy.copy(conversation)  # the branch that leads to this reply, whatever the conversation shows
    view.current_leaf_id = reply.parent_id
    history = visible_branch(view, for_prompt=True)
    refs = _refs(history)
    attached = uploads.attached(conversation.owner_id, [ref["id"] for ref in refs]) if refs else None
    messages = upstream_messages(conversation.system_prompt, history, attached)
    image_tokens = sum(a.tokens for a in (attached or {}).values() if a.kind == Attachment.Kind.IMAGE)
    model = reply.model
    if model is None:
        raise ChatError("model_unavailable", "The model of this reply was removed.")
    entry = catalog.lookup(model.upstream_id) or catalog.lookup(model.slug)
    rate = entry.timing.tokens_per_s if entry and model.reasoning == Model.Reasoning.HIDDEN else 0.0
    params = _clean_params(conversation.params)
    routes = usable_routes(model, trial=True)  # the failover stream ends a trial it is given
    first = routes[0]
    room = gate.output_room(held, rate_on(first.provider_id, model)) if held is not None else None
    if held is not None and held.max_output is not None:
        # The gateway stops it too, by its own count, at what the budget leaves it (gate.output_room).
        params["max_tokens"] = held.max_output if room is None else max(1, min(held.max_output, room))
    request = ChatRequest(
        model=model.upstream_id,
        messages=messages,
        params=params,
        accepts_reasoning_effort=model.accepts_reasoning_effort,
        accepts_penalties=not model.reasons,
    )
    request = replace(request, model=first.upstream_id)
    return Plan(reply.id, conversation.id, conversation.owner_id, first.endpoint, request,
                prompt_chars(messages) + image_tokens * CHARS_PER_TOKEN, rate, tuple(routes), model.slug,
                owner.is_staff, room,
                Planned(reply.id, conversation.owner_id, conversation.id, model, bool(conversation.title)))


UNSAVED_DETAIL = "This reply could not be saved as it was written; the text so far is kept."
ORPHAN_DETAIL = "The server process writing this reply stopped; the text so far is kept."


def unsaved(ending: Ending) -> Ending:
    """The ending to store when storing `ending` raised: an error, its text made storable, its usage kept."""
    return replace(ending, status=Message.Status.ERROR, finish_reason="", error_code="internal",
                   error_detail=UNSAVED_DETAIL, content=mend(ending.content), reasoning=mend(ending.reasoning))


def end_anyway(message_id: UUID, ending: Ending, attempts: tuple[Attempted, ...] = ()) -> UsageRecord | None:
    """Store an ending whatever else fails: with its ledger row if possible, else status and text alone.

    The reply's slot is freed either way. Raises only when the database cannot be written at all
    (the hub then tries again: chat.hub.Hub.unsaved).
    """
    try:
        return finish(message_id, ending, attempts)[1]
    except Message.DoesNotExist:  # deleted while it streamed: only its slot is left
        gate.release(message_id)
        return None
    except Exception:
        log.exception("reply %s: the ending could not be stored with its ledger row", message_id)
    with transaction.atomic():
        Message.objects.filter(id=message_id, status=Message.Status.STREAMING).update(
            status=ending.status, content=ending.content, reasoning=ending.reasoning, error_code=ending.error_code,
            error_detail=ending.error_detail, updated_at=timezone.now())
        gate.release(message_id)
    return None


def error_frame(message_id: UUID, ending: Ending, usage: dict[str, Any] | None) -> dict[str, Any]:
    """The `message.error` frame of an ended reply (PROTOCOL.md)."""
    return {"type": "message.error", "message": str(message_id), "code": ending.error_code,
            "detail": ending.error_detail, "retryable": is_retryable(ending.error_code),
            "content": ending.content, "usage": usage}


Ended = tuple[UUID, dict[str, Any]]  # (conversation id, the end frame its tabs must get)


def end_orphan(message_id: UUID) -> Ended | None:
    """End one reply nobody is writing, keeping its text; None if it had ended already.

    The row is locked and checked first, so whoever ends it (the survivor's sweep, start-up,
    a `stop`, a subscribe) is the only one who gets its end frame to broadcast.
    """
    with transaction.atomic():
        message = (Message.objects.select_for_update(of=("self",)).select_related("model", "conversation")
                   .filter(id=message_id, status=Message.Status.STREAMING).first())
        if message is None:
            return None
        # The prompt was sent whole: estimate it from the branch, never as 1 token (the runner, if it
        # was alive after all, puts its own usage in this row's place: finish_once).
        prompt = prompt_tokens(message.conversation, message.parent_id) if message.parent_id else 1
        ending = Ending(
            status=Message.Status.ERROR, content=mend(message.content), reasoning=mend(message.reasoning),
            finish_reason="", usage=estimate(prompt * CHARS_PER_TOKEN, message.content, message.reasoning),
            raw_usage=None,
            error_code="internal", error_detail=ORPHAN_DETAIL,
        )
        record = None
        if message.model is not None:
            record = finish(message.id, ending)[1]
        else:
            Message.objects.filter(id=message.id).update(status=ending.status, error_code=ending.error_code,
                                                         error_detail=ending.error_detail, updated_at=timezone.now())
            gate.release(message.id)
    return message.conversation_id, error_frame(message.id, ending, usage_dict(record))


def end_orphans(is_alive: Any, mine: str = "", running: frozenset[UUID] = frozenset(),
                grace_s: float = 30.0) -> list[Ended]:
    """End replies left `streaming` by a process that died; their text is kept. Returns the end frames to send.

    A reply whose runner is not alive is ended at once; one with no runner recorded only after a
    grace period (it may be starting right now). `mine` is the calling process's channel: its own
    replies that it no longer runs (`running`) are ended too, after the same grace.
    """
    cutoff = timezone.now() - timezone.timedelta(seconds=grace_s)
    alive: dict[str, bool] = {}  # asked once per process, not once per reply (a cache read each)
    orphans = []
    for message_id, runner, created_at in Message.objects.filter(status=Message.Status.STREAMING).values_list(
            "id", "runner", "created_at"):
        if mine and runner == mine:
            if message_id not in running and created_at < cutoff:
                orphans.append(message_id)
            continue
        if runner not in alive:
            alive[runner] = bool(is_alive(runner))
        if alive[runner] or (not runner and created_at > cutoff):
            continue
        orphans.append(message_id)
    ended = [found for message_id in orphans if (found := end_orphan(message_id)) is not None]
    if ended:
        log.warning("ended %d replies left streaming by a stopped process", len(ended))
    return ended
