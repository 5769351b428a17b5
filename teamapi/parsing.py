"""Pure: an OpenAI `POST /v1/chat/completions` body, checked and turned into what we send upstream.

Everything a client may send is either used, ignored on purpose (fields that change nothing
for one text answer: `user`, `metadata`, `store`, ...) or refused with a 400 that names the
field: tools, several choices, log probabilities, non-text output formats. Parameters are
checked here; which of them reach a model is decided later, per model (gateways.wire.client).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from gateways.wire import storable

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
EFFORTS = ("none", "minimal", "low", "medium", "high")
IMAGE_DETAILS = ("auto", "low", "high")
MAX_MESSAGES = 5000
REFUSED = {
    "tools": "Tools (function calling) are not supported by this endpoint.",
    "functions": "Function calling is not supported by this endpoint.",
    "tool_choice": "Tools (function calling) are not supported by this endpoint.",
    "function_call": "Function calling is not supported by this endpoint.",
    "audio": "Audio output is not supported.",
    "logit_bias": "logit_bias is not supported.",
}


class BadRequest(Exception):
    """A body we cannot serve: `param` names the field (OpenAI's error `param`)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True)
class ApiRequest:
    model: str
    messages: list[dict[str, Any]]  # upstream-ready: role and content only
    params: dict[str, Any] = field(default_factory=dict)  # gateways.wire.client.ChatRequest params
    stream: bool = False
    include_usage: bool = False
    prompt_chars: int = 0  # characters of text sent, for estimates (images are not counted)
    images: int = 0
    limit_name: str = "max_tokens"  # the name the output limit came under, for an error about it


def parse(body: bytes) -> ApiRequest:
    """The request, or BadRequest saying what is wrong with it."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not valid JSON.") from None
    except RecursionError:
        raise BadRequest("The body is nested too deeply.") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    if storable.ESCAPED.search(body) and (reason := storable.unstorable(data)):
        raise BadRequest(reason)
    for name, message in REFUSED.items():
        if data.get(name):
            raise BadRequest(message, name)
    _check_single_text_answer(data)
    model = data.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("`model` is required: one of the ids GET /v1/models lists.", "model")
    messages, chars, images = _messages(data.get("messages"))
    stream = _bool(data, "stream")
    options = data.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise BadRequest("`stream_options` must be an object.", "stream_options")
    include_usage = bool(stream and options and _bool(options, "include_usage", "stream_options.include_usage"))
    limit_name = "max_completion_tokens" if data.get("max_completion_tokens") is not None else "max_tokens"
    return ApiRequest(model.strip(), messages, _params(data), stream, include_usage, chars, images, limit_name)


def _check_single_text_answer(data: dict[str, Any]) -> None:
    n = data.get("n")
    if n is not None and n != 1:
        raise BadRequest("Only one choice per request is supported (`n` must be 1).", "n")
    if data.get("logprobs") or data.get("top_logprobs"):
        raise BadRequest("Log probabilities are not supported.", "logprobs")
    fmt = data.get("response_format")
    if fmt is not None and not (isinstance(fmt, dict) and fmt.get("type") == "text"):
        raise BadRequest("Only plain text answers are supported (`response_format` must be {\"type\": \"text\"}).",
                         "response_format")
    modalities = data.get("modalities")
    if modalities is not None and modalities != ["text"]:
        raise BadRequest("Only text output is supported (`modalities` must be [\"text\"]).", "modalities")


def _bool(data: dict[str, Any], name: str, param: str | None = None) -> bool:
    value = data.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest(f"`{param or name}` must be true or false.", param or name)
    return value


def _messages(raw: Any) -> tuple[list[dict[str, Any]], int, int]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest("`messages` must be a non-empty list.", "messages")
    if len(raw) > MAX_MESSAGES:
        raise BadRequest(f"At most {MAX_MESSAGES:,} messages per request.", "messages")
    out: list[dict[str, Any]] = []
    chars = images = 0
    for index, message in enumerate(raw):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise BadRequest(f"`{where}` must be an object.", where)
        role = message.get("role")
        if role in ("tool", "function"):
            raise BadRequest("Tool results are not supported by this endpoint.", f"{where}.role")
        if role not in ROLES:
            raise BadRequest(f"`{where}.role` must be system, developer, user or assistant.", f"{where}.role")
        if message.get("tool_calls") or message.get("function_call"):
            raise BadRequest("Tool calls are not supported by this endpoint.", f"{where}.tool_calls")
        content, text, pictures = _content(message.get("content"), role, where)
        chars += text
        images += pictures
        out.append({"role": ROLES[role], "content": content})
    return out, chars, images


def _content(raw: Any, role: str, where: str) -> tuple[Any, int, int]:
    """(content as sent upstream, characters of text, images)."""
    if raw is None and role == "assistant":
        return "", 0, 0
    if isinstance(raw, str):
        return raw, len(raw), 0
    if not isinstance(raw, list):
        raise BadRequest(f"`{where}.content` must be a string or a list of parts.", f"{where}.content")
    parts: list[dict[str, Any]] = []
    chars = images = 0
    for index, part in enumerate(raw):
        at = f"{where}.content[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):  # type: ignore[union-attr]
            parts.append({"type": "text", "text": part["text"]})  # type: ignore[index]
            chars += len(part["text"])  # type: ignore[index]
        elif kind == "image_url":
            if role != "user":
                raise BadRequest("Images can only be sent in user messages.", at)
            parts.append({"type": "image_url", "image_url": _image(part.get("image_url"), at)})  # type: ignore[union-attr]
            images += 1
        else:
            raise BadRequest(f"`{at}` must be a text part or an image_url part.", at)
    return parts, chars, images


def _image(raw: Any, at: str) -> dict[str, Any]:
    url = raw.get("url") if isinstance(raw, dict) else None
    if not isinstance(url, str) or not url.startswith(("data:image/", "https://", "http://")):
        raise BadRequest("An image part needs `image_url.url`: an http(s) URL or a data:image/... URL.",
                         f"{at}.image_url.url")
    image: dict[str, Any] = {"url": url}
    detail = raw.get("detail")  # type: ignore[union-attr]
    if detail is not None:
        if detail not in IMAGE_DETAILS:
            raise BadRequest("`image_url.detail` must be auto, low or high.", f"{at}.image_url.detail")
        image["detail"] = detail
    return image


def _number(data: dict[str, Any], name: str, low: float, high: float, *, low_open: bool = False) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"`{name}` must be a number.", name)
    if value > high or value < low or (low_open and value == low):
        bound = f"greater than {low:g}" if low_open else f"at least {low:g}"
        raise BadRequest(f"`{name}` must be {bound} and at most {high:g}.", name)
    return value


def _integer(data: dict[str, Any], name: str, low: int) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise BadRequest(f"`{name}` must be a whole number of at least {low}.", name)
    return value


def _params(data: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {
        "temperature": _number(data, "temperature", 0, 2),
        "top_p": _number(data, "top_p", 0, 1, low_open=True),
        "presence_penalty": _number(data, "presence_penalty", -2, 2),
        "frequency_penalty": _number(data, "frequency_penalty", -2, 2),
        "seed": _integer(data, "seed", -(2**63)),
    }
    limit = _integer(data, "max_completion_tokens", 1)
    params["max_tokens"] = limit if limit is not None else _integer(data, "max_tokens", 1)
    effort = data.get("reasoning_effort")
    if effort is not None and effort not in EFFORTS:
        raise BadRequest(f"`reasoning_effort` must be one of: {', '.join(EFFORTS)}.", "reasoning_effort")
    params["reasoning_effort"] = effort
    stop = data.get("stop")
    if stop is not None:
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(s, str) and s for s in stop):
            raise BadRequest("`stop` must be a string or a list of at most 4 strings.", "stop")
        if stop:
            params["stop"] = stop
    return {k: v for k, v in params.items() if v is not None}


def bearer_token(authorization: str) -> str:
    """The token of an `Authorization: Bearer <token>` header value ("" for any other scheme)."""
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""
