"""What a new chat starts with: a person's custom instructions, and presets (model, system prompt, parameters).

A preset is a person's own, or a team preset: staff publish those, everyone sees and uses them, only
staff change them. Parameters are checked against the preset's model (gateways.parameters), as on
every send. Sync services; the JSON endpoints are chat.preset_routes.
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Q, QuerySet

from accounts.access import model_for
from gateways import parameters
from gateways.models import Model
from gateways.wire.codes import ChatError

from .models import Instructions, Preset

MAX_PROMPT_CHARS = 20_000  # a system prompt or custom instructions
MAX_NAME_CHARS = 80


class NotAllowed(Exception):
    """A member tried to change a team preset, or to publish one (403)."""


def instructions_of(user: Any) -> str:
    return Instructions.objects.filter(user_id=user.pk).values_list("text", flat=True).first() or ""


def set_instructions(user: Any, text: str) -> str:
    text = _prompt(text, "Custom instructions")
    Instructions.objects.update_or_create(user_id=user.pk, defaults={"text": text})
    return text


def first_system_prompt(user: Any, system_prompt: str | None) -> str:
    """A new chat's system prompt: the person's custom instructions, then the chat's own (a preset's)."""
    parts = [instructions_of(user), (system_prompt or "").strip()]
    return "\n\n".join(p for p in parts if p)


def check_prompt(text: str | None) -> str:
    return _prompt(text, "The system prompt")


def _prompt(text: str | None, what: str) -> str:
    text = (text or "").strip()
    if len(text) > MAX_PROMPT_CHARS:
        raise ChatError("too_large", f"{what} is limited to {MAX_PROMPT_CHARS:,} characters.")
    return text


def presets_for(user: Any) -> QuerySet[Preset]:
    """The person's own presets and the team's, team ones first, by name."""
    return Preset.objects.filter(Q(owner_id=user.pk) | Q(team=True)).select_related("model")


def preset_dict(preset: Preset, user: Any, usable: set[str] | None = None) -> dict[str, Any]:
    slug = preset.model.slug if preset.model is not None else None
    return {
        "id": str(preset.id), "name": preset.name, "model": slug, "system_prompt": preset.system_prompt,
        "params": preset.params, "team": preset.team,
        "editable": _may_change(preset, user),
        # A team preset's model may be one this person cannot use: the chat keeps its own model then.
        "available": slug is not None and (slug in usable if usable is not None else model_for(user, slug) is not None),
    }


def _may_change(preset: Preset, user: Any) -> bool:
    return bool(user.is_staff) if preset.team else preset.owner_id == user.pk


def _visible(user: Any, preset_id: UUID) -> Preset:
    preset = presets_for(user).filter(id=preset_id).first()
    if preset is None:
        raise ChatError("not_found", "That preset does not exist.")
    return preset


def _model(user: Any, slug: str | None) -> Model:
    model = model_for(user, slug) if slug else None
    if model is None:
        raise ChatError("model_unavailable", f"The model {slug!r} is not available.")
    return model


def _fields(user: Any, data: dict[str, Any], preset: Preset | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in data or preset is None:
        name = (data.get("name") or "").strip()
        if not name:
            raise ChatError("bad_request", "A preset needs a name.")
        if len(name) > MAX_NAME_CHARS:
            raise ChatError("too_large", f"Preset names are limited to {MAX_NAME_CHARS} characters.")
        out["name"] = name
    model = preset.model if preset is not None else None
    if "model" in data or preset is None:
        model = _model(user, data.get("model"))
        out["model"] = model
    if "system_prompt" in data:
        out["system_prompt"] = check_prompt(data["system_prompt"])
    if "params" in data or "model" in out:
        params = data["params"] if "params" in data else (preset.params if preset is not None else {})
        if model is None:
            raise ChatError("model_unavailable", "This preset's model is no longer offered; choose another.")
        out["params"] = parameters.check(model, params or {})
    if "team" in data:
        if data["team"] and not user.is_staff:
            raise NotAllowed("Only administrators can publish team presets.")
        out["team"] = bool(data["team"])
    return out


def create(user: Any, data: dict[str, Any]) -> Preset:
    return Preset.objects.create(owner_id=user.pk, **_fields(user, data))


def update(user: Any, preset_id: UUID, data: dict[str, Any]) -> Preset:
    preset = _visible(user, preset_id)
    if not _may_change(preset, user):
        raise NotAllowed("Only administrators can change team presets.")
    changes = _fields(user, data, preset)
    for name, value in changes.items():
        setattr(preset, name, value)
    if changes:
        preset.save(update_fields=[*changes, "updated_at"])
    return preset


def delete(user: Any, preset_id: UUID) -> None:
    preset = _visible(user, preset_id)
    if not _may_change(preset, user):
        raise NotAllowed("Only administrators can delete team presets.")
    preset.delete()
