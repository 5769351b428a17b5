"""Client-to-server websocket frames (PROTOCOL.md), validated by pydantic.

Unknown fields are ignored so newer clients keep working; known fields of the
wrong type, unknown types and missing fields are refused with `bad_request`.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal
from uuid import UUID

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from gateways.wire import storable

__all__ = ["ClientFrame", "ValidationError", "parse_frame", "request_id_of", "too_deep"]

# No frame needs more than a few levels (a send's params are the deepest, at 2).
MAX_DEPTH = 32
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")


def too_deep(raw: str, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON text nests arrays/objects deeper than `limit`, told before it is parsed
    (a parser recurses once per level: a frame nested 1,000 deep would exhaust the stack)."""
    if raw.count("{") + raw.count("[") <= limit:  # cannot nest deeper than it opens: every send, at C speed
        return False
    depth = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", raw)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def request_id_of(raw: str) -> str | None:
    """The `request_id` of a frame refused before it is read (too large), so its `error` can name it.

    Daphne caps a frame at 1 MiB, and orjson refuses nesting past its own limit instead of recursing.
    """
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    found = data.get("request_id") if isinstance(data, dict) else None
    return found if isinstance(found, str) else None


def _storable(text: str) -> str:
    if reason := storable.problem(text):
        raise ValueError(reason)
    return text


# Any text a frame stores: PostgreSQL holds neither a NUL nor a lone surrogate.
Text = Annotated[str, AfterValidator(_storable)]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Params(_Frame):
    # Strict: a number in a string or a bool is a field of the wrong type (PROTOCOL.md), refused, not coerced.
    # (A JSON integer is still a float: strict floats take ints.)
    temperature: Annotated[float, Field(ge=0, le=2, strict=True)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1, strict=True)] | None = None
    # The model's context window is the real bound (gateways.parameters, as /api/models/ says); this one only
    # keeps the number a float can hold exactly (the range check reads it as one).
    max_tokens: Annotated[int, Field(ge=1, le=2**53, strict=True)] | None = None
    reasoning_effort: Literal["none", "low", "medium", "high"] | None = None


class Subscribe(_Frame):
    type: Literal["subscribe"]
    conversation: UUID


class Send(_Frame):
    type: Literal["send"]
    request_id: UUID
    conversation: UUID | None = None
    content: Text
    attachments: list[UUID] | None = None  # null, as absent: none (the optional fields all take null)
    model: Text | None = None
    params: Params | None = None
    system_prompt: Text | None = None


class Stop(_Frame):
    type: Literal["stop"]
    message: UUID


class Regenerate(_Frame):
    type: Literal["regenerate"]
    request_id: UUID
    message: UUID
    model: Text | None = None


class Edit(_Frame):
    type: Literal["edit"]
    request_id: UUID
    message: UUID
    content: Text


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
