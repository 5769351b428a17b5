"""Gateway JSON (stream chunks and whole completions) -> typed events. Pure.

Accepts every shape UPSTREAM.md lists: role on the first content chunk or on
a role-only chunk, `finish_reason` absent or null, usage on the finishing
chunk, on a final `choices: []` chunk or as a running total, AI/ML API's
top-level `meta`, and `error` events inside a 200 stream. And what other
OpenAI-compatible gateways send (docs/operations.md, "What the client accepts"):
reasoning as `reasoning` or `reasoning_details` (OpenRouter), finish reasons
of other vendors (read as the protocol's three), a whole JSON answer to a
streamed request, OpenAI's `refusal` and completions-style `text` (as the
answer's text).
"""
from __future__ import annotations

import json
import logging
from typing import Any

import orjson

from .errors import UpstreamError, classify_stream_error, dropped_error, error_message, finish_error
from .events import ContentDelta, Finish, ReasoningDelta, UpstreamEvent, Usage
from .sse import SSEDecoder
from .text import EventMender
from .usage import has_counts

log = logging.getLogger(__name__)
DONE = "[DONE]"


class StreamDone(Exception):
    """[DONE], however spaced (`data: [DONE] `): the reply's end; nothing after it is the reply's text.

    Raised by `parse_payload` for a payload that is no JSON (so the check costs a chunk nothing), with
    `events`: those of the same payload before it (chunks joined with it in one event)."""

    def __init__(self, events: list[UpstreamEvent] | None = None) -> None:
        super().__init__(DONE)
        self.events = events or []


def parse_data(data: str) -> list[UpstreamEvent]:
    """One SSE `data` payload as events, [DONE] as none; raises UpstreamError for an in-stream error."""
    try:
        return parse_payload(data)
    except StreamDone as end:
        return end.events


def parse_payload(data: str) -> list[UpstreamEvent]:
    """One SSE `data` payload as events; raises UpstreamError for an in-stream error, StreamDone for [DONE]
    however spaced (a reader stops there: nothing after it is the reply's).

    orjson: every token of every reply passes here, and it parses a chunk several times faster.
    """
    try:
        chunk = orjson.loads(data)
    except ValueError:  # orjson.JSONDecodeError is a ValueError
        try:  # orjson refuses a lone surrogate escape (half a pair split across chunks); json takes it
            chunk = json.loads(data)
        except ValueError:
            if data.strip() == DONE:
                raise StreamDone() from None
            if "\n" in data:  # several chunks in one event (no blank line between their `data:` lines)
                return _each_line(data)
            if data.strip():  # an empty one is a keep-alive (`event: ping` + `data:`), perhaps every second
                log.warning("ignored a stream event that is not JSON (%d chars)", len(data))
            return []
    if not isinstance(chunk, dict):
        return []
    return _events(chunk, "delta")


def _each_line(data: str) -> list[UpstreamEvent]:
    """An event whose `data:` lines are each a whole chunk: a gateway that ends events with one newline, not
    two, so the SSE rules join them. Each line is read as its own event; a line that is no JSON is ignored."""
    events: list[UpstreamEvent] = []
    for line in data.split("\n"):
        if line.strip():
            try:
                events += parse_payload(line)
            except StreamDone:
                raise StreamDone(events) from None
    return events


def parse_answer_rest(payloads: list[str]) -> tuple[list[UpstreamEvent], bool]:
    """The events of the payloads left in an event the body ended without closing (SSEDecoder.flush_data):
    whole chunks of a gateway that never writes a blank line, or half a chunk of a cut body (no JSON: none);
    and whether [DONE] was among them (the body's last bytes, without their newline)."""
    events: list[UpstreamEvent] = []
    for data in payloads:
        try:
            events += parse_payload(data)
        except StreamDone as end:
            return events + end.events, True
    return events, False


def late_usage(payloads: list[str]) -> list[UpstreamEvent]:
    """The usage in what a gateway sent after [DONE] (one that counts once the stream is closed), the only
    thing read there: text or an error after the end is not the reply's."""
    found: list[UpstreamEvent] = []
    for data in payloads:
        try:
            found += [event for event in parse_payload(data) if type(event) is Usage]
        except StreamDone as end:
            found += [event for event in end.events if type(event) is Usage]
        except UpstreamError:
            continue
    return found


def parse_run(payloads: list[str]) -> tuple[list[UpstreamEvent], UpstreamError | StreamDone | None]:
    """The events of several SSE `data` payloads (one read's), each run of answer text as one delta.

    The same events as `parse_payload` on each payload, with adjacent answer texts joined. A payload
    that is a plain answer token (one choice, index 0, a `content` string, nothing else that makes
    an event) costs a parse and a few lookups; any other is read by `parse_payload`'s rules. An error
    event or [DONE] ends the list: the events before it and the error (or StreamDone) are returned.
    """
    events: list[UpstreamEvent] = []
    run: list[str] = []
    stop: UpstreamError | StreamDone | None = None
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
            more = _events(chunk, "delta") if type(chunk) is dict else parse_payload(data)
        except StreamDone as end:
            more, stop = end.events, end
        except UpstreamError as exc:
            more, stop = [], exc
        for event in more:
            if type(event) is ContentDelta:
                run.append(event.text)
                continue
            if run:
                events.append(ContentDelta("".join(run)))
                run = []
            events.append(event)
        if stop is not None:
            break
    if run:
        events.append(ContentDelta("".join(run)))
    return events, stop


def _answer_token(chunk: Any) -> str | None:
    """The answer text of a plain token chunk (one choice, index 0, a `content` string, nothing else that
    makes an event: no error, usage, finish or reasoning), "" for an empty one; None for any other chunk."""
    if type(chunk) is not dict or chunk.get("error") or chunk.get("usage"):
        return None
    choices = chunk.get("choices")
    if type(choices) is not list or len(choices) != 1:
        return None
    choice = choices[0]
    if type(choice) is not dict or choice.get("index") not in (0, None) or choice.get("finish_reason"):
        return None
    delta = choice.get("delta") or {}
    if type(delta) is not dict or delta.get("reasoning_content") or delta.get("reasoning") \
            or delta.get("reasoning_details"):
        return None
    content = delta.get("content") or ""
    if not content and (delta.get("refusal") or choice.get("text") or choice.get("message")):
        return None  # a refusal, a completions-style `text`, a chunk's text under `message`: read by `_events`
    return content if type(content) is str else None


def parse_completion(body: dict[str, Any], text_key: str = "message") -> list[UpstreamEvent]:
    """A non-streaming `chat.completion` as the same events a stream would give (texts mended)."""
    mender = EventMender()
    return mender.mend(_events(body, text_key)) + mender.flush()


def parse_whole(body: bytes) -> list[UpstreamEvent]:
    """A whole JSON answer to a streamed request (a gateway that ignores `stream: true`), as a stream's events.

    A completion gives its texts, a finish (`stop` if it named none: the answer is whole) and its usage;
    an error object, or JSON that is no completion (`{"detail": ...}`), raises the gateway's error, with
    the status it names or 200 (a refusal, like an error status: the reply is billed nothing).
    """
    try:
        answer = json.loads(body)
    except ValueError:
        raise dropped_error() from None  # JSON cut short: the connection closed mid-answer
    if isinstance(answer, list) and answer and isinstance(answer[0], dict):
        answer = answer[0]  # an error as a one-item list (Google's OpenAI-compatible endpoint)
    if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list):
        said: dict[str, Any] = answer if isinstance(answer, dict) else {"error": str(answer)[:300]}
        if not error_message(said):
            said = {"error": "the answer is JSON, but neither a chat completion nor an error"}
        raise classify_stream_error(said)  # status 200 if it names none: billed nothing, as an error status is
    choices = _first_choice(answer)
    key = "delta" if choices and "message" not in choices[0] else "message"  # a lone chunk, or a completion
    events = parse_completion(answer, key)
    if not any(isinstance(e, Finish) for e in events):
        events.insert(next((i for i, e in enumerate(events) if isinstance(e, Usage)), len(events)), Finish("stop"))
    return events


BLANKS = b"\xef\xbb\xbf \t\r\n"  # what may come before a body's first meaningful byte (a BOM, whitespace)


def is_json_answer(head: bytes) -> bool:
    """Whether a body that begins so is one JSON answer, not SSE: no SSE line starts with `{` or `[`."""
    return head.lstrip(BLANKS)[:1] in (b"{", b"[")


def json_lines(head: bytes | bytearray) -> bool | None:
    """Whether a body that opens with JSON is a JSON value per line (NDJSON): True when its first line is a
    whole JSON object and more follows it (one JSON answer cannot be so), False when its first line is not a
    whole object (a pretty-printed answer), None while the first line is not all there, or nothing follows."""
    first, newline, rest = head.lstrip(BLANKS).partition(b"\n")
    if not newline:
        return None
    try:
        whole = isinstance(orjson.loads(first), dict)
    except ValueError:
        return False
    return (True if rest.strip() else None) if whole else False


def parse_answer(body: bytes) -> list[UpstreamEvent]:
    """A whole answer to a request that did not ask to stream: JSON, or SSE (or NDJSON) from a gateway that
    streams anyway."""
    payloads: list[str]
    if is_json_answer(body):
        if not json_lines(body):
            return parse_whole(body)
        payloads = [line for line in (raw.strip() for raw in body.decode("utf-8", "replace").split("\n")) if line]
    else:
        decoder = SSEDecoder()
        payloads = decoder.feed_data(body) + decoder.flush_data()
    mender = EventMender()
    events: list[UpstreamEvent] = []
    for data in payloads:
        try:
            events += mender.mend(parse_payload(data))
        except StreamDone as end:
            events += mender.mend(end.events)
            break
        except UpstreamError as exc:
            if not any(type(e) is Finish for e in events):
                raise
            log.warning("gateway error after the answer's finish, ignored: %s: %s", exc.code, exc.detail)
            break
    events += mender.flush()
    if not events:
        raise dropped_error()  # neither JSON nor events: nothing of an answer
    return events


# Finish reasons of other APIs, as the protocol's three (docs/protocol.md: stop, length, content_filter).
_FINISH = {
    "stop": "stop", "length": "length", "content_filter": "content_filter",
    "max_tokens": "length", "max_output_tokens": "length", "model_length": "length", "max_length": "length",
    "safety": "content_filter", "recitation": "content_filter", "blocklist": "content_filter",
    "prohibited_content": "content_filter", "spii": "content_filter", "refusal": "content_filter",
    "content_filtered": "content_filter", "guardrail_intervened": "content_filter",
}


def finish_reason(value: Any) -> str | None:
    """A gateway's finish reason as `stop`, `length` or `content_filter`; raises for `error` (OpenRouter's
    finish of a reply its provider failed). Anything else that ends a reply (`end_turn`, `eos`, and
    `tool_calls`, as no tools are offered) is `stop`. Stored in a 20-character column: never longer.
    None for no finish written as a string (`"null"`, `"none"`): read as one, it ended the reply early."""
    reason = str(value).strip().lower()
    if reason == "error":
        raise finish_error()
    if reason in ("", "null", "none"):
        return None
    return _FINISH.get(reason, "stop")


def _events(body: dict[str, Any], text_key: str) -> list[UpstreamEvent]:
    """Texts (under `delta` in a chunk, `message` in a completion), finish and usage."""
    if body.get("error") or "choices" not in body and body.get("object") == "error":  # vLLM's: {"object": "error"}
        raise classify_stream_error(body)
    events: list[UpstreamEvent] = []
    inner = None  # usage inside the finishing choice (Moonshot's)
    for choice in _first_choice(body):
        part = choice.get(text_key)
        if part is None and text_key == "delta":
            part = choice.get("message")  # a chunk with its text under `message`, as a completion has it
        events.extend(_texts(part if isinstance(part, dict) else {}))
        if isinstance(choice.get("text"), str) and choice["text"]:  # a completions-style chunk or answer
            events.append(ContentDelta(choice["text"]))
        reason = finish_reason(choice["finish_reason"]) if choice.get("finish_reason") else None
        if reason is not None:
            events.append(Finish(reason))
            inner = choice.get("usage")
    usage = _usage(body, inner)
    if usage is not None:
        events.append(usage)
    return events


def _first_choice(chunk: dict[str, Any]) -> list[dict[str, Any]]:
    """We ask for one choice (n=1); ignore any others a gateway might add (an `index` of null or "0" is the one)."""
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        return []
    return [c for c in choices if isinstance(c, dict) and c.get("index") in (0, None, "0")][:1]


def _texts(part: dict[str, Any]) -> list[UpstreamEvent]:
    out: list[UpstreamEvent] = []
    reasoning = part.get("reasoning_content") or part.get("reasoning") or _detail_text(part.get("reasoning_details"))
    if isinstance(reasoning, str) and reasoning:
        out.append(ReasoningDelta(reasoning))
    content = part.get("content")
    if isinstance(content, list):  # content as parts, as a request's (or plain strings): their text
        content = "".join(p if isinstance(p, str) else p["text"] for p in content
                          if isinstance(p, str) or isinstance(p, dict) and isinstance(p.get("text"), str))
    if isinstance(content, str) and content:
        out.append(ContentDelta(content))
    elif isinstance(part.get("refusal"), str) and part["refusal"]:  # OpenAI's refusal: the answer the user sees
        out.append(ContentDelta(part["refusal"]))
    return out


def _detail_text(details: Any) -> str:
    """The readable text of OpenRouter's `reasoning_details` (text and summary items; encrypted ones have none).

    Read only when neither `reasoning_content` nor `reasoning` came: OpenRouter sends the same text in both."""
    if not isinstance(details, list):
        return ""
    texts = (d.get("text") or d.get("summary") for d in details if isinstance(d, dict))
    return "".join(t for t in texts if isinstance(t, str))


def _usage(chunk: dict[str, Any], inner: Any = None) -> Usage | None:
    """The chunk's usage, or Groq's under `x_groq`, or `inner`: the one in its finishing choice (Moonshot's)."""
    usage = chunk.get("usage")
    if usage is None:
        usage = inner
    if usage is None and isinstance(chunk.get("x_groq"), dict):
        usage = chunk["x_groq"].get("usage")  # Groq's, on its finishing chunk (never a plain token's: no fast path)
    if not isinstance(usage, dict) or not has_counts(usage):
        return None  # none, null, or counting nothing (a zero placeholder on every chunk): the reply is estimated
    meta = chunk.get("meta") if isinstance(chunk.get("meta"), dict) else None
    return Usage(usage, meta)
