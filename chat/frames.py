"""Client-to-server websocket frames (PROTOCOL.md), validated by pydantic.

Unknown fields are ignored so newer clients keep working; known fields of the
wrong type, unknown types and missing fields are refused with `bad_request`.
"""
from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

__all__ = ["ClientFrame", "ValidationError", "parse_frame"]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Params(_Frame):
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    max_tokens: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    reasoning_effort: Literal["none", "low", "medium", "high"] | None = None


class Subscribe(_Frame):
    type: Literal["subscribe"]
    conversation: UUID


class Send(_Frame):
    type: Literal["send"]
    request_id: UUID
    conversation: UUID | None = None
    content: str
    attachments: list[UUID] = []
    model: str | None = None
    params: Params | None = None
    system_prompt: str | None = None


class Stop(_Frame):
    type: Literal["stop"]
    message: UUID


class Regenerate(_Frame):
    type: Literal["regenerate"]
    request_id: UUID
    message: UUID
    model: str | None = None


class Edit(_Frame):
    type: Literal["edit"]
    request_id: UUID
    message: UUID
    content: str


class Ping(_Frame):
    type: Literal["ping"]


ClientFrame = Annotated[Subscribe | Send | Stop | Regenerate | Edit | Ping, Field(discriminator="type")]
_adapter: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)


def parse_frame(data: object) -> ClientFrame:
    """Validate one decoded JSON frame; raises ValidationError."""
    return _adapter.validate_python(data)


def describe(error: ValidationError) -> str:
    """A short, human description of what was wrong with a frame."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"] if not str(p).startswith(("function", "tagged")))
    if first["type"] == "union_tag_invalid":
        return "Unknown frame type."
    if first["type"] == "union_tag_not_found":
        return "The frame has no type."
    return f"{where}: {first['msg']}" if where else first["msg"]
