"""What the emulated gateway answers to a request: pure, deterministic planning.

The ASGI app in `app.py` only does timing and I/O; everything a test
asserts on (text, reasoning, usage per convention, faults, error bodies)
is decided here from the request alone.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import re
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateways import catalog

from . import images

FLAVOURS = ("xai", "aimlapi", "openai")
TOKENS_MARKER = re.compile(r"\[\[tokens=(\d{1,6})\]\]")
FAULT_MARKER = re.compile(r"\[\[fault:([A-Za-z0-9_:.\-]+)\]\]")
# Timing asked for by the request (benchmarks: a fixed profile whatever the model), not scaled by delay_scale.
TTFT_MARKER = re.compile(r"\[\[ttft_ms=(\d{1,6})\]\]")
TPS_MARKER = re.compile(r"\[\[tps=([1-9]\d{0,5})\]\]")
# Answer tokens " w1", " w2", ...: a benchmark can check every relayed token's order and presence.
NUMBERED_MARKER = re.compile(r"\[\[numbered\]\]")
# Where usage goes in a stream (UPSTREAM.md: it varies by gateway): a last `choices: []` chunk (xAI, OpenAI),
# the finishing chunk (AI/ML API), a running total on every chunk whether asked or not (older xAI), or never.
USAGE_MARKER = re.compile(r"\[\[usage=(last|finish|every|none)\]\]")
MAX_TOKENS = 200_000

_WORDS = """
Grok orbit signal model answer token stream latency context window cache reasoning gateway usage
ledger cost team chat prompt reply mars rocket galaxy photon vector matrix lattice river harbor
lantern compass meadow canyon glacier ember prism
""".split()
_CODE = ["\n\n```python\n", "def", " answer", "(question", ":", " str", ")", " ->", " str", ":\n",
         "    ", "return", " \"", "42", "\"", "\n```\n\n"]
_SUMMARY = ["Plan", "ning", " a", " concise", " answer", " for", " the", " user", " request", " now", ".", ""]


@dataclass(frozen=True)
class Fault:
    kind: str  # bad_key, 401, 403_policy, 403_credits, 404, 429, 500, 503, stream_error, drop, stall, unstorable
    arg: int = 0


@dataclass(frozen=True)
class Reply:
    """A successful answer: the pieces to stream and the usage to report."""

    model: str  # the resolved id the gateway echoes
    reasoning_style: str
    think_s: float  # silent pause (or trace) before the first answer token
    token_interval_s: float
    reasoning_tokens: list[str]  # streamed as reasoning_content (trace or summary)
    tokens: list[str]  # one answer token per chunk
    prompt_tokens: int
    cached_tokens: int
    reasoning_count: int  # billed reasoning tokens
    price: tuple[Decimal, Decimal, Decimal]
    finish: str = "stop"  # "length" when max_tokens cut the answer short, as real gateways say
    image_tokens: int = 0  # the part of prompt_tokens that images cost
    usage_at: str = ""  # USAGE_MARKER's choice; "" for the flavour's own habit


def fault_from(text: str, header: str | None, counters: dict[str, int]) -> Fault | None:
    """The fault a request asks for: the X-Emulator-Fault header wins over a marker."""
    spec = header
    if not spec:
        match = FAULT_MARKER.search(text)
        spec = match.group(1) if match else None
    if not spec:
        return None
    parts = spec.split(":")
    if parts[0] == "fail_first":  # fail_first:K:<fault...>:<unique key>
        if len(parts) < 4:
            return None
        times, inner, key = int(parts[1]) if parts[1].isdigit() else 1, ":".join(parts[2:-1]), parts[-1]
        seen = counters.get(key, 0)
        counters[key] = seen + 1
        return fault_from("", inner, counters) if seen < times else None
    arg = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return Fault(parts[0], arg)


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def image_tokens(messages: list[dict[str, Any]]) -> int:
    """What the images cost, as xAI bills them: (448 px tiles + 1) x 256 each (emulator.images)."""
    return sum(images.tokens_of(m.get("content")) for m in messages if isinstance(m, dict))


def prompt_tokens(messages: list[dict[str, Any]]) -> tuple[int, int]:
    """(prompt tokens, cached tokens): about 4 characters a token, images by their tiles, earlier turns cached."""
    counts = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        counts.append(3 + math.ceil(len(content_text(content)) / 4) + images.tokens_of(content))
    total = 3 + sum(counts)
    cached = (sum(counts[:-1]) // 64) * 64 if len(counts) > 1 else 0  # caches hold whole blocks
    return total, min(cached, total)


def _seen_prefix(messages: list[dict[str, Any]]) -> list[str]:
    """A reply to images says what it saw, so a test (or a person) knows they arrived."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            seen = []
            for part in images.image_parts(message.get("content")):
                try:
                    seen.append(images.read(part))
                except images.BadImagePart:
                    continue
            if not seen:
                return []
            sizes = ", ".join(f"{s.width}x{s.height}" for s in seen)
            noun = "image" if len(seen) == 1 else "images"
            return ["I", " see", f" {len(seen)}", f" {noun}", f" ({sizes}).", " "]
    return []


def plan_reply(body: dict[str, Any], entry: catalog.CatalogEntry, delay_scale: float) -> Reply:
    messages = body.get("messages") or []
    text = last_user_text(messages)
    digest = hashlib.sha256(json.dumps(messages, sort_keys=True, default=str).encode()).digest()
    rng = random.Random(digest)
    marker = TOKENS_MARKER.search(text)
    count = int(marker.group(1)) if marker else rng.randint(40, 120)
    finish = "stop"
    if isinstance(body.get("max_tokens"), int) and 0 < body["max_tokens"] < count:
        count, finish = body["max_tokens"], "length"
    count = max(1, min(count, MAX_TOKENS))
    prompt, cached = prompt_tokens(messages)
    reasoning_tokens: list[str] = []
    reasoning_count = 0
    think = entry.timing.first_token_s
    if entry.reasoning == catalog.TRACE:
        reasoning_tokens = _prose(rng, rng.randint(30, 90), capital="Let me think.")
        reasoning_count = len(reasoning_tokens)
        think = 0.5
    elif entry.reasoning == catalog.SUMMARY:
        reasoning_tokens = [t for t in _SUMMARY if t]
        reasoning_count = rng.randint(150, 260)
    elif entry.reasoning == catalog.HIDDEN:
        reasoning_count = rng.randint(100, 400)
    if _asks_for_title(messages):
        tokens = _title(text)
    elif NUMBERED_MARKER.search(text):
        tokens = numbered_tokens(count)
    else:
        tokens = (_seen_prefix(messages) + _answer(rng, count))[:count]
    ttft, tps = TTFT_MARKER.search(text), TPS_MARKER.search(text)
    usage_at = USAGE_MARKER.search(text)
    return Reply(
        model=entry.slug,
        reasoning_style=entry.reasoning,
        think_s=int(ttft.group(1)) / 1000 if ttft else think * delay_scale,
        token_interval_s=1 / int(tps.group(1)) if tps else delay_scale / entry.timing.tokens_per_s,
        reasoning_tokens=reasoning_tokens,
        tokens=tokens,
        prompt_tokens=prompt,
        cached_tokens=cached,
        reasoning_count=reasoning_count,
        price=(entry.price_input, entry.price_cached, entry.price_output),
        finish=finish if not _asks_for_title(messages) else "stop",
        image_tokens=image_tokens(messages),
        usage_at=usage_at.group(1) if usage_at else "",
    )


def _asks_for_title(messages: list[dict[str, Any]]) -> bool:
    """Title requests (a system prompt asking for a title) get a title, so the sidebar reads well."""
    return any(isinstance(m, dict) and m.get("role") == "system" and "title" in content_text(m.get("content")).lower()
               for m in messages)


def _title(text: str) -> list[str]:
    """The first words of the user's message, as one token per word."""
    for marker in (TOKENS_MARKER, FAULT_MARKER, TTFT_MARKER, TPS_MARKER, NUMBERED_MARKER, USAGE_MARKER):
        text = marker.sub("", text)
    text = text.split("assistant:", 1)[0].replace("user:", " ")  # chat.titles: "user: ...\n\nassistant: ..."
    words = re.findall(r"[A-Za-z0-9][A-Za-z0-9'\-]*", text)[:5] or ["New", "chat"]
    words[0] = words[0][:1].upper() + words[0][1:]
    return [words[0], *(" " + w for w in words[1:])]


def numbered_tokens(count: int) -> list[str]:
    """The answer a `[[numbered]]` request gets, one token per chunk."""
    return [f" w{i}" for i in range(1, count + 1)]


def _prose(rng: random.Random, count: int, capital: str = "") -> list[str]:
    tokens = [capital] if capital else []
    tokens_at_break = 0
    while len(tokens) < count:
        word = rng.choice(_WORDS)
        starts = not tokens or tokens[-1].rstrip("\n").endswith(".")
        space = "" if not tokens or tokens[-1].endswith("\n") else " "
        tokens.append(space + (word.capitalize() if starts else word))
        if rng.random() < 0.12 and len(tokens) < count:
            words_since_break = len(tokens) - tokens_at_break
            tokens.append(".\n\n" if words_since_break > 60 else ".")  # paragraphs, as real answers have
            if words_since_break > 60:
                tokens_at_break = len(tokens)
    return tokens[:count]


def _answer(rng: random.Random, count: int) -> list[str]:
    """Markdown-shaped text of exactly `count` tokens: a heading, prose, some code."""
    if count < 40:
        tokens = _prose(rng, count)
        return tokens
    head = ["**", "Answer", "**", "\n\n"]
    body = _prose(rng, count - len(head) - len(_CODE))
    middle = len(body) // 2
    ends = [i + 1 for i, token in enumerate(body) if token.startswith(".")]  # cut after a sentence, never before a "."
    cut = min(ends, key=lambda i: abs(i - middle)) if ends else middle
    return head + body[:cut] + _CODE + body[cut:]


def cost_ticks(reply: Reply, completion: int) -> int:
    price_in, price_cached, price_out = reply.price
    uncached = reply.prompt_tokens - reply.cached_tokens
    usd = uncached * price_in + reply.cached_tokens * price_cached + (completion + reply.reasoning_count) * price_out
    return int(usd * 10_000)  # per million tokens x 1e10 ticks


def usage(reply: Reply, flavour: str, completion: int) -> dict[str, Any]:
    """The usage object in the flavour's convention (A for xAI and AI/ML API, B for resellers)."""
    reasoning = reply.reasoning_count
    if flavour == "openai":  # B: reasoning inside completion_tokens
        completion_field, total = completion + reasoning, reply.prompt_tokens + completion + reasoning
    else:  # A: reasoning outside
        completion_field, total = completion, reply.prompt_tokens + completion + reasoning
    out: dict[str, Any] = {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": completion_field,
        "total_tokens": total,
        "prompt_tokens_details": {"text_tokens": reply.prompt_tokens - reply.image_tokens, "audio_tokens": 0,
                                  "image_tokens": reply.image_tokens,
                                  "cached_tokens": reply.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }
    if flavour != "openai":
        out["num_sources_used"] = 0
    if flavour == "xai":
        out["cost_in_usd_ticks"] = cost_ticks(reply, completion)
    return out


def meta(reply: Reply, completion: int) -> dict[str, Any]:
    """AI/ML API's top-level `meta.usage` (credits = USD x 2,000,000)."""
    usd = Decimal(cost_ticks(reply, completion)) / Decimal(10_000_000_000)
    return {"usage": {"tokens_used": reply.prompt_tokens + completion + reply.reasoning_count,
                      "credits_used": int(usd * 2_000_000), "usd_spent": float(usd)}}


# Error bodies in the flavour's shape ---------------------------------------------

_FAULT_STATUS = {
    "bad_key": 400, "401": 401, "403_policy": 403, "403_credits": 403, "404": 404,
    "429": 429, "500": 500, "503": 503,
}


def fault_status(fault: Fault, flavour: str) -> int | None:
    if fault.kind == "bad_key" and flavour != "xai":
        return 401
    return _FAULT_STATUS.get(fault.kind)


def fault_message(fault: Fault, model: str) -> tuple[str, str]:
    """(xAI-style `code`, human message) for an HTTP fault."""
    return {
        "bad_key": ("Client specified an invalid argument",
                    "Incorrect API key provided: xa***ey. You can obtain an API key from https://console.x.ai."),
        "401": ("Unauthenticated", "This request requires a valid API key. Check the Authorization header."),
        "403_policy": ("The caller does not have permission to execute the specified operation",
                       "Content violates usage guidelines. Team: emulated, API key ID: emulated, Model: "
                       f"{model}, Failed check: SAFETY_CHECK_TYPE_BIO"),
        "403_credits": ("The caller does not have permission to execute the specified operation",
                        "Your team has either used all available credits or reached its monthly spending "
                        "limit. To continue making API requests, please purchase more credits."),
        "404": ("Some requested entity was not found",
                f"The model {model} does not exist or your team does not have access to it."),
        "429": ("Too many requests", "Rate limit reached for requests per minute. Please slow down."),
        "500": ("Internal error", "The service encountered an internal error."),
        "503": ("The service is currently unavailable", "Timed out waiting for first token"),
    }.get(fault.kind, ("Internal error", "Unknown fault."))


def error_body(flavour: str, status: int, code: str, message: str, path: str) -> dict[str, Any]:
    if flavour == "aimlapi":
        return {"message": message, "path": path, "requestId": str(uuid.uuid4()), "statusCode": str(status),
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())}
    if flavour == "openai":
        kind = "invalid_request_error" if status < 500 else "server_error"
        return {"error": {"message": message, "type": kind, "code": str(status)}}
    return {"code": code, "error": message}


def stream_error_body(flavour: str) -> dict[str, Any]:
    message = "Internal error while generating the response; the stream was interrupted."
    if flavour == "xai":
        return {"code": "Internal error", "error": message}
    return {"error": {"message": message, "type": "server_error", "code": 500}}


def request_problem(body: Any, entry: catalog.CatalogEntry | None, model_id: str) -> tuple[int, str, str] | None:
    """The 400/404 a real gateway gives for this body, or None when it is acceptable."""
    if not isinstance(body, dict):
        return 400, "Client specified an invalid argument", "The request body must be a JSON object."
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return 400, "Client specified an invalid argument", "`messages` must be a non-empty list."
    if entry is None:
        return 404, "Some requested entity was not found", (
            f"The model {model_id} does not exist or your team does not have access to it.")
    for message in messages:
        parts = images.image_parts(message.get("content") if isinstance(message, dict) else None)
        if parts and not entry.vision:
            return 400, "Client specified an invalid argument", f"Model {model_id} does not support image inputs."
        for part in parts:
            try:
                images.read(part)
            except images.BadImagePart as exc:
                return 400, "Client specified an invalid argument", str(exc)
    if body.get("reasoning_effort") is not None and not entry.accepts_reasoning_effort:
        return 400, "Client specified an invalid argument", (
            f"Model {model_id} does not support parameter reasoningEffort.")
    if entry.reasons:
        for name in ("presence_penalty", "frequency_penalty", "stop"):
            if body.get(name) is not None:
                return 400, "Client specified an invalid argument", (
                    f"Model {model_id} does not support parameter {name}.")
    return None


# How each gateway lists models (UPSTREAM.md, Model lists), with some of the other
# vendors' models a reseller's list carries (they stay unmapped in Grokweb).
LISTINGS = ("xai", "aimlapi", "maxtoken", "crazyrouter")
_OTHER_VENDORS = {
    "aimlapi": ["openai/gpt-4o", "anthropic/claude-sonnet-4", "x-ai/grok-imagine-image"],
    "maxtoken": ["gpt-4.1-mini", "deepseek-v3.2"],
    "crazyrouter": ["gpt-4o-mini", "claude-sonnet-4-5", "grok-imagine-video"],
}


def gateway_ids(listing: str) -> list[str]:
    """The ids a gateway of this kind lists: its own spelling of the catalog, plus other vendors' models."""
    if listing == "maxtoken":  # beta names for 4.20, plain ids otherwise
        ids = [entry.upstream_id("maxtoken") for entry in catalog.CATALOG]
    elif listing == "crazyrouter":  # short names, and aliases such as grok-4.1-thinking
        ids = []
        for entry in catalog.CATALOG:
            ids.append(entry.upstream_id("crazyrouter"))
            ids.extend(alias for alias in entry.aliases if alias in ("grok-4.1-thinking", "grok-4-fast"))
    else:
        ids = listed_ids(listing)
    return list(dict.fromkeys(ids + _OTHER_VENDORS.get(listing, [])))


def listed_ids(flavour: str) -> list[str]:
    """What `GET /models` lists for a flavour's key."""
    if flavour == "aimlapi":
        return [entry.upstream_id("aimlapi") for entry in catalog.CATALOG]
    if flavour == "openai":
        ids = []
        for entry in catalog.CATALOG:
            ids.extend([entry.upstream_id("crazyrouter"), entry.upstream_id("maxtoken")])
        return list(dict.fromkeys(ids))
    return [entry.slug for entry in catalog.CATALOG]
