"""Which sampling parameters a model takes, within which limits, and the check of a request's values.

One source for the chat's parameters panel (GET /api/models/, `params`), the websocket `send`, the
conversation PATCH and presets: a value a model cannot take is refused with a sentence, never sent
upstream to come back as a gateway's 400 (UPSTREAM.md: reasoning_effort only where accepted).
"""
from __future__ import annotations

from typing import Any, Protocol

from gateways.wire.codes import ChatError

from . import catalog

NAMES = ("temperature", "top_p", "max_tokens", "reasoning_effort")
EFFORTS = ("low", "high")  # what the models that take reasoning_effort accept (grok-3-mini; UPSTREAM.md)


class Capable(Protocol):
    slug: str
    name: str
    upstream_id: str
    context_window: int
    accepts_reasoning_effort: bool


def efforts(model: Capable) -> tuple[str, ...]:
    """The reasoning_effort values this model takes (empty: it takes none)."""
    if not model.accepts_reasoning_effort:
        return ()
    entry = catalog.lookup(model.slug) or catalog.lookup(model.upstream_id)
    return entry.reasoning_efforts if entry is not None else EFFORTS


def accepted(model: Capable) -> dict[str, dict[str, Any]]:
    """The parameters this model takes and their limits (the wire shape of `params` in GET /api/models/)."""
    spec: dict[str, dict[str, Any]] = {
        "temperature": {"min": 0, "max": 2, "step": 0.1},
        "top_p": {"min": 0.01, "max": 1, "step": 0.01},
        "max_tokens": {"min": 1, "max": model.context_window, "step": 1},
    }
    choices = efforts(model)
    if choices:
        spec["reasoning_effort"] = {"choices": list(choices)}
    return spec


def check(model: Capable, params: dict[str, Any] | None, *, strict: bool = True) -> dict[str, Any]:
    """The values to keep (None and unknown names dropped), or ChatError `bad_request` naming what is wrong.

    `strict=False` (values stored before a model change) drops what the model does not take instead
    of refusing it; values out of range are refused either way.
    """
    spec = accepted(model)
    kept: dict[str, Any] = {}
    for name, value in (params or {}).items():
        if value is None:
            continue
        if name not in NAMES:
            raise ChatError("bad_request", f"Unknown parameter {name!r}: one of {', '.join(NAMES)}.")
        if name not in spec:
            if strict:
                raise ChatError("bad_request", f"{model.name} does not take {name}.")
            continue
        kept[name] = _value(name, value, spec[name])
    return kept


def _value(name: str, value: Any, limits: dict[str, Any]) -> Any:
    if "choices" in limits:
        if value not in limits["choices"]:
            raise ChatError("bad_request", f"{name} must be one of: {', '.join(limits['choices'])}.")
        return value
    integral = name == "max_tokens"
    if isinstance(value, bool) or not isinstance(value, int | float) or (integral and not float(value).is_integer()):
        kind = "a whole number" if integral else "a number"
        raise ChatError("bad_request", f"{name} must be {kind}.")
    low, high = limits["min"], limits["max"]
    if not low <= value <= high:
        raise ChatError("bad_request", f"{name} must be between {low:,} and {high:,}.")
    return int(value) if integral else float(value)
