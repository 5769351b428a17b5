"""JSON endpoints for what a new chat starts with: custom instructions and presets (chat.presets).

Mounted on the chat API. A ChatError answers with its PROTOCOL.md code (grokweb.api).
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from pydantic import StrictBool

from accounts.access import models_for

from . import presets

router = Router(tags=["presets"])


class InstructionsIn(Schema):
    custom_instructions: str


class InstructionsOut(Schema):
    custom_instructions: str


class PresetIn(Schema):
    name: str
    model: str
    system_prompt: str = ""
    params: dict[str, Any] = {}
    team: StrictBool = False  # "false" is a body of the wrong type (400), not a bool


class PresetPatch(Schema):
    name: str | None = None
    model: str | None = None
    system_prompt: str | None = None
    params: dict[str, Any] | None = None
    team: StrictBool | None = None


class PresetOut(Schema):
    id: UUID
    name: str
    model: str | None
    system_prompt: str
    params: dict[str, Any]
    team: bool  # a team preset: everyone sees it, staff change it
    editable: bool  # this person may change or delete it
    available: bool  # its model is one this person may use


@router.get("/me/instructions/", response=InstructionsOut)
def get_instructions(request: HttpRequest) -> dict[str, Any]:
    """The signed-in person's custom instructions ("" when none)."""
    return {"custom_instructions": presets.instructions_of(request.user)}


@router.put("/me/instructions/", response=InstructionsOut)
def put_instructions(request: HttpRequest, body: InstructionsIn) -> dict[str, Any]:
    """Sent as the system message of every new chat from now on (earlier chats keep theirs)."""
    return {"custom_instructions": presets.set_instructions(request.user, body.custom_instructions)}


def _usable(request: HttpRequest) -> set[str]:
    return {m.slug for m in models_for(request.user)}


@router.get("/presets/", response=list[PresetOut])
def list_presets(request: HttpRequest) -> list[dict[str, Any]]:
    """The team's presets, then the person's own, each by name."""
    usable = _usable(request)
    return [presets.preset_dict(p, request.user, usable) for p in presets.presets_for(request.user)]


@router.post("/presets/", response={201: PresetOut})
def create_preset(request: HttpRequest, body: PresetIn) -> tuple[int, dict[str, Any]]:
    """A new preset of the person's own; staff may publish it to the team (`team: true`)."""
    try:
        preset = presets.create(request.user, body.dict())
    except presets.NotAllowed as exc:
        raise HttpError(403, str(exc)) from None
    return 201, presets.preset_dict(preset, request.user, _usable(request))


@router.patch("/presets/{preset_id}/", response=PresetOut)
def update_preset(request: HttpRequest, preset_id: UUID, patch: PresetPatch) -> dict[str, Any]:
    try:
        preset = presets.update(request.user, preset_id, patch.dict(exclude_unset=True))
    except presets.NotAllowed as exc:
        raise HttpError(403, str(exc)) from None
    return presets.preset_dict(preset, request.user, _usable(request))


@router.delete("/presets/{preset_id}/", response={204: None})
def delete_preset(request: HttpRequest, preset_id: UUID) -> tuple[int, None]:
    try:
        presets.delete(request.user, preset_id)
    except presets.NotAllowed as exc:
        raise HttpError(403, str(exc)) from None
    return 204, None
