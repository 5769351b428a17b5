"""Gateway JSON (stream chunks and whole completions) -> typed events. Pure.

Accepts every shape UPSTREAM.md lists: role on the first content chunk or on
a role-only chunk, `finish_reason` absent or null, usage on the finishing
chunk, on a final `choices: []` chunk or as a running total, AI/ML API's
top-level `meta`, and `error` events inside a 200 stream.
"""
from __future__ import annotations

import json
import logging
from typing import Any

import orjson

from .errors import UpstreamError, classify_stream_error
from .events import ContentDelta, Finish, ReasoningDelta, UpstreamEvent, Usage
from .text import EventMender

log = logging.getLogger(__name__)
DONE = "[DONE]"


def parse_data(data: str) -> list[UpstreamEvent]:
    """One SSE `data` payload as events; raises UpstreamError for an in-stream error.

    orjson: every token of every reply passes here, and it parses a chunk several times faster.
    """
    if data.strip() == DONE:
        return []
    try:
        chunk = orjson.loads(data)
    except ValueError:  # orjson.JSONDecodeError is a ValueError
        try:  # orjson refuses a lone surrogate escape (half a pair split across chunks); json takes it
            chunk = json.loads(data)
        except ValueError:
            log.warning("ignored a stream event that is not JSON (%d chars)", len(data))
            return []
    if not isinstance(chunk, dict):
        return []
    return _events(chunk, "delta")


def parse_run(payloads: list[str]) -> tuple[list[UpstreamEvent], UpstreamError | None]:
    """The events of several SSE `data` payloads (one read's), each run of answer text as one delta.

    The same events as `parse_data` on each payload, with adjacent answer texts joined. A payload
    that is a plain answer token (one choice, index 0, a `content` string, nothing else that makes
    an event) costs a parse and a few lookups; any other is read by `parse_data`'s rules. An error
    event ends the list: the events before it and the error are returned.
    """
    events: list[UpstreamEvent] = []
    run: list[str] = []
    for data in payloads:
        chunk: Any = None
        if data.startswith("{"):
            try:
                chunk = orjson.loads(data)
            except ValueError:
                chunk = None
        token = _answer_token(chunk)
        if token is not None:
            if token:
                run.append(token)
            continue
        try:
            more = _events(chunk, "delta") if type(chunk) is dict else parse_data(data)
        except UpstreamError as exc:
            if run:
                events.append(ContentDelta("".join(run)))
            return events, exc
        for event in more:
            if type(event) is ContentDelta:
                run.append(event.text)
                continue
            if run:
                events.append(ContentDelta("".join(run)))
                run = []
            events.append(event)
    if run:
        events.append(ContentDelta("".join(run)))
    return events, None


def _answer_token(chunk: Any) -> str | None:
    """The answer text of a plain token chunk (one choice, index 0, a `content` string, nothing else that
    makes an event: no error, usage, finish or reasoning), "" for an empty one; None for any other chunk."""
    if type(chunk) is not dict or chunk.get("error") or chunk.get("usage"):
        return None
    choices = chunk.get("choices")
    if type(choices) is not list or len(choices) != 1:
        return None
    choice = choices[0]
    if type(choice) is not dict or choice.get("index", 0) != 0 or choice.get("finish_reason"):
        return None
    delta = choice.get("delta") or {}
    if type(delta) is not dict or delta.get("reasoning_content") or delta.get("reasoning"):
        return None
    content = delta.get("content") or ""
    return content if type(content) is str else None


def parse_completion(body: dict[str, Any]) -> list[UpstreamEvent]:
    """A non-streaming `chat.completion` as the same events a stream would give (texts mended)."""
    mender = EventMender()
    return mender.mend(_events(body, "message")) + mender.flush()


def _events(body: dict[str, Any], text_key: str) -> list[UpstreamEvent]:
    """Texts (under `delta` in a chunk, `message` in a completion), finish and usage."""
    if body.get("error"):
        raise classify_stream_error(body)
    events: list[UpstreamEvent] = []
    for choice in _first_choice(body):
        events.extend(_texts(choice.get(text_key) or {}))
        if choice.get("finish_reason"):
            events.append(Finish(str(choice["finish_reason"])))
    usage = _usage(body)
    if usage is not None:
        events.append(usage)
    return events


def _first_choice(chunk: dict[str, Any]) -> list[dict[str, Any]]:
    """We ask for one choice (n=1); ignore any others a gateway might add."""
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        return []
    return [c for c in choices if isinstance(c, dict) and c.get("index", 0) == 0][:1]


def _texts(part: dict[str, Any]) -> list[UpstreamEvent]:
    out: list[UpstreamEvent] = []
    reasoning = part.get("reasoning_content") or part.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        out.append(ReasoningDelta(reasoning))
    content = part.get("content")
    if isinstance(content, str) and content:
        out.append(ContentDelta(content))
    return out


def _usage(chunk: dict[str, Any]) -> Usage | None:
    usage = chunk.get("usage")
    if not isinstance(usage, dict) or not usage:
        return None
    meta = chunk.get("meta") if isinstance(chunk.get("meta"), dict) else None
    return Usage(usage, meta)
