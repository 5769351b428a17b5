"""The built-in Grok gateway emulator: an ASGI app that answers like xAI, AI/ML API or a reseller.

Used by `make run` without an API key, by the tests and by the benchmarks.
What to answer is decided in `emulation.py`; this module does the HTTP, SSE
framing and timing. Standalone: `python -m emulator.app --port 8100`.
"""
from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from gateways import catalog

from . import emulation as em

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
MAX_BODY = 25 * 1024 * 1024


class Emulator:
    """One emulated gateway. State: the fail_first counters, and what `GET /models` lists.

    `listing` names a gateway whose model list to imitate (xai, aimlapi, maxtoken,
    crazyrouter); `listed` replaces the list outright (a gateway dropping a model).
    """

    def __init__(self, flavour: str = "xai", delay_scale: float = 1.0, listing: str | None = None,
                 api_key: str | None = None) -> None:
        if flavour not in em.FLAVOURS:
            raise ValueError(f"unknown flavour {flavour!r}; choose one of {', '.join(em.FLAVOURS)}")
        if listing is not None and listing not in em.LISTINGS:
            raise ValueError(f"unknown listing {listing!r}; choose one of {', '.join(em.LISTINGS)}")
        self.flavour = flavour
        self.delay_scale = max(0.0, delay_scale)
        self.counters: dict[str, int] = {}
        self.listed: list[str] = em.gateway_ids(listing) if listing else em.listed_ids(flavour)
        self.api_key = api_key  # when set, only this key is accepted (like a real gateway)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"].rstrip("/")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if path.endswith("/models") and scope["method"] == "GET":
            await self._models(path, headers, send)
        elif path.endswith("/chat/completions") and scope["method"] == "POST":
            await self._completions(path, headers, receive, send, asyncio.get_running_loop().time())
        else:
            await self._error(send, 404, "Not found", f"No route for {scope['method']} {scope['path']}.", path)

    def _key_ok(self, headers: dict[str, str]) -> bool:
        if self.api_key is None:
            return _has_key(headers)
        return hmac.compare_digest(headers.get("authorization", "").encode(), f"Bearer {self.api_key}".encode())

    async def _models(self, path: str, headers: dict[str, str], send: Send) -> None:
        if not self._key_ok(headers):
            await self._error(send, 401, "Unauthenticated", "This request requires a valid API key.", path)
            return
        created = 1_735_689_600
        ids = self.listed
        data = [{"id": i, "object": "model", "created": created, "owned_by": "xai"} for i in ids]
        await _json(send, 200, {"object": "list", "data": data})

    async def _completions(self, path: str, headers: dict[str, str], receive: Receive, send: Send,
                           arrived: float) -> None:
        """`arrived`: the loop's time when the request came in, which the reply's schedule counts from."""
        raw = await _body(receive)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if not self._key_ok(headers):
            await self._error(send, 401, "Unauthenticated", "This request requires a valid API key.", path)
            return
        model_id = str(body.get("model", "")) if isinstance(body, dict) else ""
        entry = catalog.lookup(model_id) if model_id else None
        problem = em.request_problem(body, entry, model_id)
        if problem is not None:
            await self._error(send, problem[0], problem[1], problem[2], path)
            return
        assert isinstance(body, dict) and entry is not None
        text = em.last_user_text(body["messages"])
        fault = em.fault_from(text, headers.get("x-emulator-fault"), self.counters)
        if fault is not None and (status := em.fault_status(fault, self.flavour)) is not None:
            code, message = em.fault_message(fault, model_id)
            extra = [(b"retry-after", str(fault.arg).encode())] if fault.kind == "429" else []
            await self._error(send, status, code, message, path, extra)
            return
        reply = em.plan_reply(body, entry, self.delay_scale)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            await self._stream(reply, model_id, include_usage, fault, receive, send, arrived)
        else:
            await _sleep_until(arrived + reply.think_s + reply.token_interval_s * len(reply.tokens))
            await _json(send, 200, self._completion(reply, model_id))

    # Streaming -------------------------------------------------------------

    async def _stream(self, reply: em.Reply, model_id: str, include_usage: bool, fault: em.Fault | None,
                      receive: Receive, send: Send, arrived: float) -> None:
        """A gateway's clock: the first token `think_s` after the request arrived, then one every
        interval from there, whatever reading the body, planning and writing took in between."""
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]})
        frame = _Framer(self.flavour, reply.model if self.flavour == "xai" else model_id)
        if self.flavour == "openai":
            await _event(send, frame.chunk({"role": "assistant", "content": ""}, finish=None))
        cut = fault.arg if fault is not None and fault.kind in ("stream_error", "drop", "stall") else None
        due = arrived
        if reply.reasoning_style == catalog.HIDDEN or not reply.reasoning_tokens:
            due += reply.think_s
            await _sleep_until(due)  # silent thinking: nothing on the wire
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            if await self._pieces(reply, frame, cut, fault, gone, send, due):
                await self._finish(reply, frame, include_usage, send)
        finally:
            gone.cancel()

    async def _pieces(self, reply: em.Reply, frame: _Framer, cut: int | None, fault: em.Fault | None,
                      gone: asyncio.Future[None], send: Send, due: float) -> bool:
        """Stream reasoning and answer tokens; False when a fault or the client ended the stream.

        `due`: when the first piece is due on the loop's clock; piece k is due k intervals later.
        """
        sent = 0
        pieces = [("reasoning_content", t) for t in reply.reasoning_tokens] + [("content", t) for t in reply.tokens]
        gap = reply.token_interval_s
        gap_summary = reply.think_s / max(len(reply.reasoning_tokens), 1)
        # A gateway keeps its rate: a late wake-up shortens the next pause, never adds up.
        for index, (field, token) in enumerate(pieces):
            if gone.done():
                return False  # the client went away: stop writing, as a real gateway does
            if cut is not None and sent >= cut:
                await self._fault_midway(fault, send, gone)  # type: ignore[arg-type]
                return False
            if fault is not None and fault.kind == "unstorable" and field == "content" and sent == fault.arg:
                await _unstorable(send, frame)
            if field == "content":
                sent += 1
            if frame.first or reply.usage_at == "every":
                delta: dict[str, Any] = {field: token}
                if frame.first:
                    delta["role"] = "assistant"
                chunk = frame.chunk(delta)
                if reply.usage_at == "every":  # a running total on every chunk (older xAI), asked for or not
                    chunk["usage"] = em.usage(reply, self.flavour, sent)
                await _event(send, chunk)
            else:  # the common event, cheap: 50 streams at 200 tok/s are 10,000 a second
                await send({"type": "http.response.body", "body": frame.piece(field, token), "more_body": True})
            delay = gap_summary if field == "reasoning_content" and reply.reasoning_style == catalog.SUMMARY else gap
            if delay > 0:
                due += delay
                await _sleep_until(due)  # behind: still one event per token
            elif index % 64 == 63:
                await asyncio.sleep(0)  # zero delay: still let the loop breathe
        return True

    async def _finish(self, reply: em.Reply, frame: _Framer, include_usage: bool, send: Send) -> None:
        completion = len(reply.tokens)
        usage = em.usage(reply, self.flavour, completion)
        at = reply.usage_at or ("finish" if self.flavour == "aimlapi" else "last")
        if at == "every" or (at == "finish" and include_usage):  # usage rides on the finishing chunk
            chunk = frame.chunk({}, finish=reply.finish)
            chunk["usage"] = usage
            if self.flavour == "aimlapi":
                chunk["meta"] = em.meta(reply, completion)
            await _event(send, chunk)
        elif at in ("finish", "none"):
            await _event(send, frame.chunk({}, finish=reply.finish))
        else:
            await _event(send, frame.chunk({}, finish=reply.finish))
            if include_usage:
                await _event(send, {**frame.base(), "choices": [], "usage": usage})
        await _last(send, b"data: [DONE]\n\n")

    async def _fault_midway(self, fault: em.Fault, send: Send, gone: asyncio.Future[None]) -> None:
        if fault.kind == "stream_error":
            await _last(send, b"data: " + json.dumps(em.stream_error_body(self.flavour)).encode() + b"\n\n")
        elif fault.kind == "drop":
            await _last(send, b"")  # the connection ends with no finish and no [DONE]
        else:  # stall: say nothing until the client gives up
            await gone

    def _completion(self, reply: em.Reply, model_id: str) -> dict[str, Any]:
        completion = len(reply.tokens)
        message: dict[str, Any] = {"role": "assistant", "content": "".join(reply.tokens), "refusal": None}
        if reply.reasoning_tokens:
            message["reasoning_content"] = "".join(reply.reasoning_tokens)
        out = {"id": str(uuid.uuid4()), "object": "chat.completion", "created": int(time.time()),
               "model": reply.model if self.flavour == "xai" else model_id,
               "choices": [{"index": 0, "message": message, "finish_reason": reply.finish}],
               "usage": em.usage(reply, self.flavour, completion), "system_fingerprint": "fp_emulated"}
        if self.flavour == "aimlapi":
            out["meta"] = em.meta(reply, completion)
        return out

    async def _error(self, send: Send, status: int, code: str, message: str, path: str,
                     extra: list[tuple[bytes, bytes]] | None = None) -> None:
        await _json(send, status, em.error_body(self.flavour, status, code, message, path), extra)


class _Framer:
    """Chunk envelopes: same id through a stream, `finish_reason` absent (xAI) or null (others)."""

    def __init__(self, flavour: str, model: str) -> None:
        self.flavour, self.model, self.first = flavour, model, True
        self.id = str(uuid.uuid4())
        self._second, self._head = -1, b""
        self._tail = b"}" + (b"" if flavour == "xai" else b',"finish_reason":null') + b"}]}\n\n"

    def piece(self, field: str, token: str) -> bytes:
        """The event of one token, `{field: token}`, as `_event(frame.chunk(...))` writes it, byte for byte.

        A gateway at 200 tok/s over 50 streams writes 10,000 events a second: the envelope, the
        same through a second, is encoded once a second, and only the token per event.
        """
        created = int(time.time())
        if created != self._second:
            envelope = json.dumps({**self.base(), "choices": None}, separators=(",", ":"))
            self._second, self._head = created, b"data: " + envelope[:-5].encode() + b'[{"index":0,"delta":{'
        self.first = False
        return (self._head + json.dumps(field).encode() + b":" + json.dumps(token, ensure_ascii=False).encode()
                + self._tail)

    def base(self) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": int(time.time()), "model": self.model,
                "system_fingerprint": "fp_emulated"}

    def chunk(self, delta: dict[str, Any], finish: str | None = "") -> dict[str, Any]:
        self.first = False
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        if finish or self.flavour != "xai":
            choice["finish_reason"] = finish or None
        return {**self.base(), "choices": [choice]}


def _has_key(headers: dict[str, str]) -> bool:
    value = headers.get("authorization", "")
    return value.startswith("Bearer ") and len(value) > len("Bearer ")


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _sleep_until(when: float) -> None:
    """Sleep until the loop's clock reads `when` (at once when that has passed)."""
    await asyncio.sleep(max(0.0, when - asyncio.get_running_loop().time()))


async def _body(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY:
            chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _json(send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _event(send: Send, payload: dict[str, Any]) -> None:
    data = b"data: " + json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"
    await send({"type": "http.response.body", "body": data, "more_body": True})


async def _unstorable(send: Send, frame: _Framer) -> None:
    """Legal JSON that naive code cannot store: an emoji as two escapes in two chunks, then a NUL."""
    for escaped in (rb" \ud83d", rb"\ude00 ", rb"\u0000"):  # the JSON escapes themselves, as bytes
        data = b"data: " + json.dumps(frame.chunk({"content": "@"})).encode() + b"\n\n"
        await send({"type": "http.response.body", "body": data.replace(b'"@"', b'"' + escaped + b'"'),
                    "more_body": True})


async def _last(send: Send, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": False})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def make_emulator(flavour: str = "xai", delay_scale: float = 1.0, listing: str | None = None,
                  api_key: str | None = None) -> Emulator:
    """`api_key`: the only key accepted (None: any bearer token, for an emulator run alone on loopback)."""
    return Emulator(flavour, delay_scale, listing, api_key=api_key)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the Grok gateway emulator on a port.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--flavour", choices=em.FLAVOURS, default="xai")
    parser.add_argument("--delay-scale", type=float, default=1.0,
                        help="1 = measured gateway timings, 0 = as fast as possible")
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any bearer token)")
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.flavour, args.delay_scale, args.api_key)


def serve(host: str, port: int, flavour: str, delay_scale: float, api_key: str | None = None) -> None:
    import uvicorn

    print(f"Grok emulator ({flavour}, delay x{delay_scale:g}) on http://{host}:{port}/v1", flush=True)
    uvicorn.run(make_emulator(flavour, delay_scale, api_key=api_key), host=host, port=port, log_level="warning",
                lifespan="on", access_log=False)


if __name__ == "__main__":
    main()
