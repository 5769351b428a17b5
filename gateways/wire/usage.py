"""Usage objects from any gateway, normalized to one shape (UPSTREAM.md, three conventions).

Pure functions. `normalize` never raises on odd numbers: it flags them
(`reconciles=False`) and keeps what the gateway said it charged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

TICKS_PER_USD = 10_000_000_000
CREDITS_PER_USD = 2_000_000  # AI/ML API credits
CHARS_PER_TOKEN = 4  # the usual rule of thumb for English text


@dataclass(frozen=True, slots=True)
class NormalizedUsage:
    prompt: int  # all prompt tokens, cached included
    cached: int  # the cached part of `prompt`
    image: int  # the image part of `prompt`
    visible_output: int  # answer tokens the user sees
    reasoning: int  # reasoning tokens, billed as output
    billable_output: int  # visible + reasoning
    total: int
    reconciles: bool  # False when the gateway's numbers contradict each other
    convention: str  # "A", "B", "C" (does not reconcile) or "estimate"
    estimated: bool = False
    stated_cost_ticks: int | None = None  # what the gateway says it charged, USD x 1e10


MAX_TOKENS = 100_000_000  # per count of one call: far above any model's window, well inside the ledger's columns
MAX_TICKS = 10**15  # a stated cost of one call: USD 100,000


def _int(value: Any, cap: int = MAX_TOKENS) -> int:
    """A count as a gateway wrote it: an int, a float (`12.0`), a string (`"12"`, `"12.0"`); nonsense is 0.

    Bounded: a count past MAX_TOKENS (or an infinity) would overflow the ledger's columns, and the reply's
    ending would fail to store."""
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            return 0
    try:
        return min(max(0, int(value)), cap)
    except (TypeError, ValueError, OverflowError, InvalidOperation):
        return 0


def _details(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def stated_cost_ticks(raw: dict[str, Any], meta: dict[str, Any] | None = None) -> int | None:
    """The charge a gateway states: xAI's cost_in_usd_ticks, AI/ML API's meta, or a USD `cost`."""
    if raw.get("cost_in_usd_ticks") is not None:
        return _int(raw["cost_in_usd_ticks"], MAX_TICKS)
    meta_usage = _details(meta or {}, "usage")
    for key, per_usd in (("usd_spent", 1), ("credits_used", CREDITS_PER_USD)):
        if meta_usage.get(key) is not None:
            return _usd_to_ticks(meta_usage[key], per_usd)
    if raw.get("cost") is not None:
        return _usd_to_ticks(raw["cost"], 1)
    return None


def _usd_to_ticks(value: Any, units_per_usd: int) -> int | None:
    try:
        ticks = int((Decimal(str(value).strip()) * TICKS_PER_USD / units_per_usd).to_integral_value())
    except (InvalidOperation, ValueError, OverflowError):
        return None
    return min(max(ticks, 0), MAX_TICKS)


def _convention(prompt: int, completion: int, reasoning: int, total: int | None, wanted: str) -> str:
    if wanted in ("A", "B"):
        return wanted
    if total is None or total == prompt + completion + reasoning:
        return "A"  # xAI's own rule; with no reasoning A and B agree
    if total == prompt + completion and reasoning <= completion:
        return "B"
    return "C"


def normalize(raw: dict[str, Any], meta: dict[str, Any] | None = None, convention: str = "auto") -> NormalizedUsage:
    """One usage object as prompt / cached / visible / reasoning / billable / total.

    Chat Completions' names (`prompt_tokens`, `completion_tokens`, their `*_details`), or the Responses
    API's (`input_tokens`, `output_tokens`, theirs) that some proxies pass through: read as zero, a whole
    reply went unbilled."""
    prompt_details = _details(raw, "prompt_tokens_details") or _details(raw, "input_tokens_details")
    completion_details = _details(raw, "completion_tokens_details") or _details(raw, "output_tokens_details")
    prompt = _int(_either(raw, "prompt_tokens", "input_tokens"))
    completion = _int(_either(raw, "completion_tokens", "output_tokens"))
    reasoning = _int(completion_details.get("reasoning_tokens", raw.get("reasoning_tokens")))
    cached = _int(prompt_details.get("cached_tokens", raw.get("cached_tokens")))
    image = _int(prompt_details.get("image_tokens"))
    text = prompt_details.get("text_tokens")
    total = _int(raw["total_tokens"]) if raw.get("total_tokens") is not None else None

    kind = _convention(prompt, completion, reasoning, total, convention)
    if kind == "B":
        visible, billable = max(completion - reasoning, 0), completion
        expected_total = prompt + completion
        sane = reasoning <= completion
    else:  # A, and C read as A: reasoning is billed on top of what is shown
        visible, billable = completion, completion + reasoning
        expected_total = prompt + completion + reasoning
        sane = kind == "A"
    reconciles = (
        sane
        and (total is None or total == expected_total)
        and cached <= prompt
        and image <= prompt
        and (text is None or _int(text) <= prompt)
    )
    return NormalizedUsage(
        prompt=prompt,
        cached=min(cached, prompt),
        image=min(image, prompt),
        visible_output=visible,
        reasoning=reasoning,
        billable_output=billable,
        total=prompt + visible + reasoning,
        reconciles=reconciles,
        convention=kind,
        stated_cost_ticks=stated_cost_ticks(raw, meta),
    )


def _either(raw: dict[str, Any], name: str, other: str) -> Any:
    value = raw.get(name)
    return raw.get(other) if value is None else value


def has_counts(raw: dict[str, Any]) -> bool:
    """Whether a usage object counts any tokens at all. One that counts none (`{"prompt_tokens": 0, ...}` on
    every chunk, or only fields we do not know) is no usage: the reply is estimated, never billed zero."""
    return any(_int(raw.get(k)) for k in ("prompt_tokens", "completion_tokens", "total_tokens", "input_tokens",
                                          "output_tokens"))


def stored_usage(raw: dict[str, Any], meta: dict[str, Any] | None) -> dict[str, Any]:
    """What the ledger keeps as raw usage: the gateway's own words, its `meta` beside them when it sent one."""
    return {"usage": raw, "meta": meta} if meta else raw


def tokens_for(text: str) -> int:
    """A rough token count for text we saw but were not billed for yet."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


MESSAGE_OVERHEAD_TOKENS = 4  # role and framing per message (OpenAI counts 3; one more covers rounding per message)
PRIMING_TOKENS = 3  # every reply is primed with a few tokens
IMAGE_TOKENS_MAX = (6 + 1) * 256  # an image costs (tiles + 1) x 256 prompt tokens, at most 6 tiles (UPSTREAM.md)


def prompt_tokens_for(messages: list[dict[str, Any]]) -> int:
    """A prompt's tokens, estimated on the high side: what budgets reserve before the call.

    Text at CHARS_PER_TOKEN, the framing of each message, and each image at the most an image can cost.
    """
    total = PRIMING_TOKENS
    for message in messages:
        content = message.get("content")
        total += MESSAGE_OVERHEAD_TOKENS
        if isinstance(content, str):
            total += tokens_for(content)
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "image_url":
                    total += IMAGE_TOKENS_MAX
                else:
                    total += tokens_for(str(part.get("text", "")))
    return total


def estimate(
    prompt_chars: int, output_text: str, reasoning_text: str = "", hidden_reasoning_tokens: int = 0
) -> NormalizedUsage:
    """Usage for a call that ended without a usage object: flagged, and never zero."""
    prompt = max(1, math.ceil(prompt_chars / CHARS_PER_TOKEN))
    visible = tokens_for(output_text)
    reasoning = tokens_for(reasoning_text) + max(0, hidden_reasoning_tokens)
    return NormalizedUsage(
        prompt=prompt, cached=0, image=0, visible_output=visible, reasoning=reasoning,
        billable_output=visible + reasoning, total=prompt + visible + reasoning,
        reconciles=True, convention="estimate", estimated=True,
    )


def refused() -> NormalizedUsage:
    """Usage of a call the gateway refused outright (an HTTP error, no token): nothing, and exactly so."""
    return NormalizedUsage(prompt=0, cached=0, image=0, visible_output=0, reasoning=0, billable_output=0, total=0,
                           reconciles=True, convention="refused")
