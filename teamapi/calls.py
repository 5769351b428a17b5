"""The Team API's database side: sync, called from the async views through one thread hop each.

`open_call` does everything before the upstream call in one hop: the token, the model, the
routes, then the chat's own admission (accounts.gate: per-minute counter, then the live-call
limit and budgets under the user's lock) and the call's Reservation. `close_call` writes the
call's one ledger row and frees the Reservation in one transaction, however the call ended.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from accounts import gate, tokens
from accounts.access import model_for, models_for
from gateways import catalog
from gateways.breaker import Breaker
from gateways.failover import RouteChoice
from gateways.models import Model
from gateways.routes import usable_routes
from gateways.tariffs import rate_on
from gateways.wire.client import ChatRequest
from gateways.wire.codes import ChatError
from gateways.wire.usage import NormalizedUsage, prompt_tokens_for
from usage.ledger import ledger_row
from usage.models import Source, UsageRecord

from .errors import ApiError, from_bad_request, from_chat, from_token
from .parsing import ApiRequest, BadRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Call:
    """One admitted call: what the relay needs, read once before the upstream call."""

    id: uuid.UUID  # the Reservation's key
    user_id: int
    token_id: uuid.UUID
    model: Model
    routes: tuple[RouteChoice, ...]
    request: ChatRequest
    prompt_chars: int
    hidden_reasoning_rate: float  # tokens/s of silent thinking, for estimates
    output_room: int | None  # output tokens before the budget is used up (None: no budget applies)


@dataclass(frozen=True)
class Ending:
    """How a call ended, for its ledger row."""

    outcome: str  # complete, cancelled or error
    usage: NormalizedUsage
    raw_usage: dict[str, Any] | None
    upstream_model: str = ""
    route_id: int | None = None
    provider_id: int | None = None


def authenticate(raw: str, address: str | None) -> Any:
    """The token (its owner loaded) for this Authorization value, or ApiError 401/403."""
    try:
        token = tokens.authenticate(raw)
    except tokens.TokenRefused as exc:
        raise from_token(exc) from None
    tokens.touch(token, address)
    return token


def models_of(raw: str, address: str | None) -> list[Model]:
    """GET /v1/models: what this token may use (its owner's models, narrowed to the token's list)."""
    token = authenticate(raw, address)
    return [m for m in models_for(token.user) if tokens.allows(token, m.slug)]


def model_of(raw: str, address: str | None, slug: str) -> Model:
    token = authenticate(raw, address)
    return _model(token, slug)


def _model(token: Any, slug: str) -> Model:
    """The model if this token may use it: 404 when there is no such model, 403 when it is not theirs."""
    model = model_for(token.user, slug) if slug else None
    if model is not None and tokens.allows(token, model.slug):
        return model
    offered = Model.objects.filter(slug=slug, enabled=True, available=True, provider__enabled=True).exists()
    if not offered:
        raise ApiError(404, f"The model {slug!r} does not exist or is not offered; GET /v1/models lists the "
                            "models this token may use.", "model_not_found", param="model")
    whose = "this token" if model is not None else "your account"
    raise ApiError(403, f"The model {slug!r} is not available to {whose}.", "model_not_allowed", param="model")


def open_call(raw: str, address: str | None, parsed: ApiRequest | BadRequest, holder: str) -> Call:
    """Authenticate, check, admit and hold: one thread hop before the upstream call.

    A refusal raises ApiError and leaves nothing behind (no Reservation, no ledger row); the
    per-minute counter counts only requests that reached admission.
    """
    token = authenticate(raw, address)
    if isinstance(parsed, BadRequest):
        raise from_bad_request(parsed)
    model = _model(token, parsed.model)
    if parsed.images and not model.vision:
        raise ApiError(400, f"{model.name} does not accept images; GET /v1/models says which models do "
                            "(`vision`).", "bad_request", param="messages")
    user = token.user
    routes: list[RouteChoice] = []
    try:
        routes = usable_routes(model, trial=True)  # the failover stream ends a trial it is given
        limits = gate.before(user)
        call_id = uuid.uuid4()
        with transaction.atomic():
            held = gate.admit(user, model, _tokens(parsed), limits, max_tokens=parsed.params.get("max_tokens"),
                              provider=lambda: routes[0].provider_id)
            gate.hold(user, held, call_id, holder=holder)
    except ChatError as exc:
        for route in routes:  # refused after a resting route's trial was claimed: give it back
            if route.trial:
                Breaker().end_trial(route.key)
        raise from_chat(exc) from None
    room = gate.output_room(held, rate_on(routes[0].provider_id, model))
    params = parsed.params
    if held.max_output is not None:  # the gateway stops it too, by its own count (as chat.services.plan)
        params = {**params, "max_tokens": held.max_output if room is None else max(1, min(held.max_output, room))}
    request = ChatRequest(model=routes[0].upstream_id, messages=parsed.messages, params=params,
                          accepts_reasoning_effort=model.accepts_reasoning_effort, accepts_penalties=not model.reasons)
    entry = catalog.lookup(model.upstream_id) or catalog.lookup(model.slug)
    hidden = entry.timing.tokens_per_s if entry and model.reasoning == Model.Reasoning.HIDDEN else 0.0
    return Call(call_id, user.pk, token.pk, model, tuple(routes), request, parsed.prompt_chars, hidden, room)


def _tokens(parsed: ApiRequest) -> Callable[[], int]:
    return lambda: prompt_tokens_for(parsed.messages)


def close_call(call: Call, ending: Ending) -> UsageRecord | None:
    """The call's ledger row and the end of its Reservation, together; the Reservation goes even if the row fails."""
    try:
        with transaction.atomic():
            record = ledger_row(
                call.user_id, call.model, ending.usage, provider_id=ending.provider_id, route_id=ending.route_id,
                upstream_model=ending.upstream_model, purpose=UsageRecord.Purpose.CHAT, source=Source.API,
                token_id=call.token_id, outcome=ending.outcome, raw_usage=ending.raw_usage,
            )
            gate.release(call.id)
        return record
    except Exception:
        log.exception("the ledger row of Team API call %s could not be written", call.id)
        gate.release(call.id)
        return None
