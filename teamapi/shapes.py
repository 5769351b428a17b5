"""Pure: OpenAI's shapes for what /v1/ answers: chunks, completions, usage, models, errors.

Usage follows OpenAI's convention, whatever the gateway's: `completion_tokens` counts the
answer *and* the reasoning tokens, `completion_tokens_details.reasoning_tokens` says how many
of them were reasoning, and `total_tokens` = prompt + completion. Additions: `cost_usd` (the
ledger row's exact cost, a decimal string) and `estimated` (the gateway sent no usage).
Reasoning text, when a model streams it, rides in `delta.reasoning_content` (xAI's name).
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any

from gateways.wire.usage import NormalizedUsage
from usage.money import format_usd

DONE = b"data: [DONE]\n\n"
OWNER = "grokweb"


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def usage_object(usage: NormalizedUsage, cost_ticks: int) -> dict[str, Any]:
    completion = usage.visible_output + usage.reasoning
    return {
        "prompt_tokens": usage.prompt,
        "completion_tokens": completion,
        "total_tokens": usage.prompt + completion,
        "prompt_tokens_details": {"cached_tokens": usage.cached, "image_tokens": usage.image},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning},
        "cost_usd": format_usd(cost_ticks),
        "estimated": usage.estimated,
    }


def error_body(message: str, type_: str, code: str, param: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code, **extra}}


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


class Chunks:
    """The SSE events of one streamed completion, as bytes.

    A text delta is the hot path (one per upstream token): its envelope is encoded once and
    only the text is JSON-encoded per chunk. Each choice carries OpenAI's `"logprobs": null`
    (constant bytes in that envelope: logprobs are refused, never sent).
    """

    def __init__(self, cid: str, model: str, created: int | None = None, *, include_usage: bool = False) -> None:
        """`include_usage`: every chunk but the usage one carries `"usage": null`, as OpenAI's do."""
        self.cid, self.model = cid, model
        self.created = int(time.time()) if created is None else created
        self._usage_null = include_usage
        head = json.dumps({"id": cid, "object": "chat.completion.chunk", "created": self.created, "model": model},
                          separators=(",", ":"))[:-1].encode()
        self._open = b"data: " + head + b',"choices":[{"index":0,"delta":{'
        usage_null = b',"usage":null' if include_usage else b""
        self._close = b'},"logprobs":null,"finish_reason":null}]' + usage_null + b"}\n\n"
        self._role = b'"role":"assistant",'

    def _delta(self, field: bytes, text: str) -> bytes:
        role, self._role = self._role, b""  # the first delta carries the role
        return self._open + role + field + json.dumps(text).encode() + self._close

    def content(self, text: str) -> bytes:
        return self._delta(b'"content":', text)

    def reasoning(self, text: str) -> bytes:
        return self._delta(b'"reasoning_content":', text)

    def base(self) -> dict[str, Any]:
        return {"id": self.cid, "object": "chat.completion.chunk", "created": self.created, "model": self.model}

    def finish(self, reason: str) -> bytes:
        delta = {"role": "assistant"} if self._role else {}
        self._role = b""
        chunk = {**self.base(), "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}]}
        if self._usage_null:
            chunk["usage"] = None
        return _event(chunk)

    def usage(self, usage: dict[str, Any]) -> bytes:
        return _event({**self.base(), "choices": [], "usage": usage})

    @staticmethod
    def error(body: dict[str, Any]) -> bytes:
        return _event(body)


def completion(cid: str, model: str, content: str, reasoning: str, finish_reason: str | None,
               usage: dict[str, Any], created: int | None = None) -> dict[str, Any]:
    """A whole `chat.completion` (stream: false)."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if reasoning:
        message["reasoning_content"] = reasoning
    return {
        "id": cid, "object": "chat.completion", "created": int(time.time()) if created is None else created,
        "model": model, "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
        "usage": usage,
    }


def model_object(model: Any) -> dict[str, Any]:
    """One gateways.Model as OpenAI lists it; additions say what it is and costs (USD per million tokens)."""
    return {
        "id": model.slug, "object": "model", "created": 0, "owned_by": OWNER,
        "name": model.name, "context_window": model.context_window, "vision": model.vision,
        "reasoning": model.reasoning, "reasoning_effort": model.accepts_reasoning_effort,
        "pricing": {"input": str(model.price_input), "cached_input": str(model.price_cached_input),
                    "output": str(model.price_output)},
    }


def model_list(models: list[Any]) -> dict[str, Any]:
    return {"object": "list", "data": [model_object(m) for m in models]}
