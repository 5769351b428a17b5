"""The Team API's database side: sync, called from the async views through one thread hop each.

Before the upstream call: `plan` (the body, the model, its routes: from per-process caches when
warm), `count` (the per-minute counter), then `admit`, the chat's own admission (accounts.gate:
the live-call limit and budgets under the user's lock) and the call's Reservation. `close_call`
writes the call's one ledger row, its attempts and frees the Reservation in one transaction,
however the call ended.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from accounts import gate, limits, tokens
from accounts.access import model_for, models_for
from gateways import catalog
from gateways.attempts import Attempted, record_attempts
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
from .grants import Grant
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


@dataclass(frozen=True)
class Planned:
    """A call whose token, body, model and routes are checked, not yet admitted."""

    grant: Grant
    parsed: ApiRequest
    model: Model
    routes: tuple[RouteChoice, ...]

    @property
    def user(self) -> Any:
        return self.grant.user


def plan(grant: Grant, parsed: ApiRequest | BadRequest) -> Planned:
    """The body, the model and its routes for a checked token; ApiError when the call cannot be made.

    Reads the database only for what the per-process caches lack (gateways.plans): a warm call
    runs in the event loop, and a cold one raises SynchronousOnlyOperation there before it has
    changed anything (the caller runs it again in a thread). The routes come last: a resting
    route's trial call, once claimed, belongs to the call (its stream, or `end_trials`).
    """
    if isinstance(parsed, BadRequest):
        raise from_bad_request(parsed)
    model = _model(grant.token, parsed.model)
    if parsed.images and not model.vision:
        raise ApiError(400, f"{model.name} does not accept images; GET /v1/models says which models do "
                            "(`vision`).", "bad_request", param="messages")
    _check_limit(model, parsed)
    try:
        routes = usable_routes(model, trial=True)  # the failover stream ends a trial it is given
    except ChatError as exc:
        raise from_chat(exc) from None
    return Planned(grant, parsed, model, tuple(routes))


def _check_limit(model: Model, parsed: ApiRequest) -> None:
    """An output limit past the model's context window is refused here, as OpenAI does, not sent on.

    The chat bounds it the same way (gateways.parameters); /v1/models says each model's window.
    """
    limit, window = parsed.params.get("max_tokens"), model.context_window
    if limit is not None and window and limit > window:
        raise ApiError(400, f"`{parsed.limit_name}` is {limit:,}; {model.name} writes at most {window:,} tokens "
                            "(its context window, `context_window` in GET /v1/models).", "bad_request",
                       param=parsed.limit_name)


def end_trials(planned: Planned) -> None:
    """The call was refused before its stream started: give back a resting route's trial it claimed."""
    for route in planned.routes:
        if route.trial:
            Breaker().end_trial(route.key)


def count(planned: Planned) -> None:
    """The per-minute counter (the shared cache, no database): only calls that reached admission count."""
    try:
        limits.hit(planned.user, planned.grant.limits)
    except ChatError as exc:
        end_trials(planned)
        raise from_chat(exc) from None


def admit(planned: Planned, call_id: uuid.UUID, holder: str) -> Call:
    """Live calls and budgets under the owner's lock, and the call's Reservation, in one transaction.

    A refusal raises ApiError and leaves nothing behind (no Reservation, no ledger row).
    """
    parsed = planned.parsed
    try:
        with transaction.atomic():
            if not planned.grant.budgeted and gate.admit_unbudgeted(planned.user.pk, planned.grant.limits, call_id,
                                                                    holder):
                return make_call(planned, call_id, gate.Hold())
            held = gate.admit(planned.user, planned.model, _tokens(parsed), planned.grant.limits,
                              max_tokens=parsed.params.get("max_tokens"),
                              provider=lambda: planned.routes[0].provider_id)
            gate.hold(planned.user, held, call_id, holder=holder)
    except ChatError as exc:
        raise from_chat(exc) from None
    return make_call(planned, call_id, held)


def make_call(planned: Planned, call_id: uuid.UUID, held: gate.Hold | None = None) -> Call:
    """The call as its relay needs it. Without `held` (no budget applies): what `admit` will make of it."""
    model, routes, params = planned.model, planned.routes, planned.parsed.params
    room = None
    if held is not None:
        room = gate.output_room(held, rate_on(routes[0].provider_id, model)) if held.limited else None
        if held.max_output is not None:  # the gateway stops it too, by its own count (as chat.services.plan)
            params = {**params,
                      "max_tokens": held.max_output if room is None else max(1, min(held.max_output, room))}
    request = ChatRequest(model=routes[0].upstream_id, messages=planned.parsed.messages, params=params,
                          accepts_reasoning_effort=model.accepts_reasoning_effort, accepts_penalties=not model.reasons)
    entry = catalog.lookup(model.upstream_id) or catalog.lookup(model.slug)
    hidden = entry.timing.tokens_per_s if entry and model.reasoning == Model.Reasoning.HIDDEN else 0.0
    return Call(call_id, planned.user.pk, planned.grant.token.pk, model, routes, request, planned.parsed.prompt_chars,
                hidden, room)


def _tokens(parsed: ApiRequest) -> Callable[[], int]:
    return lambda: prompt_tokens_for(parsed.messages)


def close_call(call: Call, ending: Ending, attempts: Sequence[Attempted] = ()) -> UsageRecord | None:
    """The call's ledger row, its attempts-log rows and the end of its Reservation, together;
    the Reservation goes even if the rows fail."""
    try:
        with transaction.atomic():
            record_attempts(list(attempts))
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
