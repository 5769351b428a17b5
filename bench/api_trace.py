"""Where the Team API's added time to first token goes: timestamps at each stage of one call.

    .venv/bin/python bench/api_trace.py            # 200 calls at zero delay, one at a time
    .venv/bin/python bench/api_trace.py --n 60 --realistic
    .venv/bin/python bench/api_trace.py --experiment raw-upstream   # what a change would buy (see _experiment)

The same stack as bench/api.py, with daphne started through this file (`--daphne`), which wraps
a few functions of daphne, Twisted, asyncio and our app with time.perf_counter_ns() stamps
(CLOCK_MONOTONIC: the same clock in the client and in daphne). Each prompt goes straight to the
emulator, then through /v1/chat/completions, one at a time; the stages of each call through
the API are printed as p50 / p95 of the time from the stage before, and the direct TTFT beside
them. The stamps cost a few µs each: the totals are a little above bench/api.py's.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Stage names, in the order a call passes them (c: the client, d: daphne, u: the upstream socket).
STAGES = [
    ("c.send", "client: request sent"),
    ("d.read", "daphne: first bytes read off the socket"),
    ("d.process", "daphne: request parsed (WebRequest.process)"),
    ("d.app", "our ASGI app called"),
    ("d.body", "request body received"),
    ("d.planned", "token, model, routes, counter done"),
    ("d.relay", "relay and failover stream made"),
    ("u.send", "request handed to httpx's transport"),
    ("u.write", "upstream request written (first write)"),
    ("u.read", "upstream: first bytes read"),
    ("u.headers", "upstream status and headers parsed"),
    ("d.event1", "first upstream text event parsed"),
    ("d.start", "response start handed to daphne"),
    ("d.body1", "first SSE chunk handed to daphne"),
    ("d.sock", "daphne: first socket write"),
    ("c.recv", "client: first bytes readable"),
    ("c.first", "client: first content chunk parsed"),
]
EXTRA = [("d.accept", "a new connection accepted"), ("d.complete", "completions.complete called"),
         ("d.parsed", "body parsed"), ("d.grant", "token checked (grants.cached)"),
         ("d.plan0", "calls.plan called"), ("d.plan1", "calls.plan done"),
         ("d.admit0", "admission started (thread)"), ("d.admit1", "admission done"),
         ("d.bread", "first body bytes decoded (gateways.wire.body)")]


# daphne side -----------------------------------------------------------------------------------

def _install(out: Path) -> None:
    """Wrap the stages' functions in the daphne process; each call's stamps go to `out` when it ends."""
    import asyncio.selector_events as se

    import daphne.server  # noqa: F401  # first: it installs Twisted's asyncio reactor
    from daphne import http_protocol
    from twisted.internet import tcp

    stamps: dict[str, int] = {}
    now = time.perf_counter_ns
    import asyncio.base_events as be

    turns = [0]  # event-loop iterations so far: each stage also says how many turns of the loop it took
    run_once = be.BaseEventLoop._run_once

    def counted(self: object) -> None:
        turns[0] += 1
        run_once(self)  # type: ignore[arg-type]

    be.BaseEventLoop._run_once = counted  # type: ignore[method-assign]

    def stamp(name: str) -> None:
        if name not in stamps:
            stamps[name] = now()
            stamps["#" + name] = turns[0]

    def wrap(owner: object, attr: str, name: str, after: bool = False) -> None:
        original = getattr(owner, attr)

        def wrapped(*args: object, **kwargs: object) -> object:
            if not after:
                stamp(name)
            result = original(*args, **kwargs)
            if after:
                stamp(name)
            return result

        setattr(owner, attr, wrapped)

    def wrap_async(owner: object, attr: str, name: str, after: bool = True) -> None:
        original = getattr(owner, attr)

        async def wrapped(*args: object, **kwargs: object) -> object:
            if not after:
                stamp(name)
            result = await original(*args, **kwargs)
            if after:
                stamp(name)
            return result

        setattr(owner, attr, wrapped)

    from twisted.web import http

    wrap(http.HTTPChannel, "dataReceived", "d.read")
    build = http_protocol.HTTPFactory.buildProtocol

    def built(self: object, addr: object) -> object:
        stamp("d.accept")
        return build(self, addr)

    http_protocol.HTTPFactory.buildProtocol = built  # type: ignore[method-assign]
    write_some = tcp.Connection.writeSomeData

    def written(self: object, data: bytes) -> object:
        if "d.body1" in stamps:
            stamp("d.sock")
        return write_some(self, data)  # type: ignore[arg-type]

    tcp.Connection.writeSomeData = written  # type: ignore[method-assign]
    wrap(se._SelectorSocketTransport, "write", "u.write")
    wrap(se._SelectorSocketTransport, "_read_ready", "u.read")
    process = http_protocol.WebRequest.process

    def processed(self: object) -> object:
        stamp("d.process")
        return process(self)

    http_protocol.WebRequest.process = processed  # type: ignore[method-assign]
    handle_reply = http_protocol.WebRequest.handle_reply

    def replied(self: object, message: dict[str, object]) -> object:
        stamp("d.start" if message["type"] == "http.response.start" else "d.body1")
        if message["type"] == "http.response.body":
            stamps["n.bodies"] = stamps.get("n.bodies", 0) + 1
            if "d.sock" not in stamps:  # sends before the first write
                stamps["n.early"] = stamps.get("n.early", 0) + 1
        return handle_reply(self, message)

    http_protocol.WebRequest.handle_reply = replied  # type: ignore[method-assign]
    finish = http_protocol.WebRequest.finish

    def finished(self: object) -> object:
        result = finish(self)
        if "d.app" in stamps:
            with out.open("a") as f:
                f.write(json.dumps(stamps) + "\n")
        stamps.clear()
        return result

    http_protocol.WebRequest.finish = finished  # type: ignore[method-assign]

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grokweb.settings")
    django.setup()
    from teamapi import asgi, calls, relay

    wrap_async(asgi, "app", "d.app", after=False)
    wrap_async(asgi, "_body", "d.body")
    wrap(calls, "count", "d.planned", after=True)
    wrap(calls, "plan", "d.plan0")
    wrap(calls, "plan", "d.plan1", after=True)
    from teamapi import parsing

    wrap(parsing, "parse", "d.parsed", after=True)
    from teamapi import grants

    wrap(grants, "cached", "d.grant", after=True)
    from teamapi import completions

    wrap_async(asgi, "complete", "d.complete", after=False)
    if os.environ.get("API_TRACE_SEND_TURNS"):  # an experiment: when admission starts
        completions.SEND_TURNS = int(os.environ["API_TRACE_SEND_TURNS"])

    wrap(completions, "_relay", "d.relay", after=True)
    from gateways.wire import client as wire

    exchange = wire.UpstreamClient._exchange  # the request handed to httpx's transport -> its headers parsed

    async def exchanged(*args: object, **kwargs: object) -> object:
        stamp("u.send")
        result = await exchange(*args, **kwargs)  # type: ignore[arg-type]
        stamp("u.headers")
        return result

    wire.UpstreamClient._exchange = exchanged  # type: ignore[method-assign]
    _experiment(os.environ.get("API_TRACE_EXPERIMENT", ""), stamp)
    wrap(calls, "admit", "d.admit0")
    admit = calls.admit

    def admitted(*args: object, **kwargs: object) -> object:
        try:
            return admit(*args, **kwargs)
        finally:
            stamp("d.admit1")

    calls.admit = admitted  # type: ignore[assignment]
    nxt = relay.Relay.next

    async def next_event(self: object) -> object:
        event = await nxt(self)  # type: ignore[arg-type]
        stamp("d.event1")
        return event

    relay.Relay.next = next_event  # type: ignore[method-assign]
    from gateways.wire import body

    for kind in (body.ChunkedBody, body.HttpxBody):
        _stamp_first_read(kind, stamps, stamp)


def _stamp_first_read(kind: Any, stamps: dict[str, int], stamp: Any) -> None:
    """When the first body bytes came out of the upstream body's reader, and how many (`n.bread`)."""
    read = kind.read

    async def first_read(self: object, **kwargs: Any) -> bytes:
        data: bytes = await read(self, **kwargs)
        if data and "d.bread" not in stamps:
            stamp("d.bread")
            stamps["n.bread"] = len(data)
        return data

    kind.read = first_read


# Experiments (`--experiment`): what a change would buy, measured before anyone builds it properly.

def _experiment(name: str, stamp: Any) -> None:
    """Patch the daphne process for one experiment; none by default.

    no-admission: the call is never admitted (what admission costs the first token; never in production).
    admission-first: admission is handed to its thread before the upstream request is made, not after.
    pause-after-first: the relay pauses 2 ms after the first event before reading on (daphne leaves the
      CPU to the client while it reads its first token; what relaying the rest at once costs it on a
      shared machine; never in production).
    raw-upstream: the streamed upstream request written and its response read on a plain asyncio
      connection kept per host (plain HTTP, chunked, status 200 only: a prototype, not a client),
      in place of httpx/httpcore: what httpx's request and response stack costs the first token.
    """
    if not name:
        return
    from teamapi import calls, completions

    if name == "no-admission":
        async def unadmitted(planned: Any, call_id: Any, holder: str) -> Any:
            relay = completions._relay(calls.make_call(planned, call_id))
            return await completions._answer(relay, planned.parsed, relay.next())

        completions._admitted_alongside = unadmitted  # type: ignore[assignment]
    elif name == "admission-first":
        from teamapi.errors import ApiError

        async def admitted_first(planned: Any, call_id: Any, holder: str) -> Any:
            relay = completions._relay(calls.make_call(planned, call_id))
            admitting = relay.admitted_by(asyncio.ensure_future(
                completions.in_thread(calls.admit)(planned, call_id, holder)))
            first = asyncio.ensure_future(relay.next())
            try:
                await asyncio.wait([admitting])
                admitting.result()
            except BaseException as exc:
                await asyncio.shield(completions._stop(relay, first, refused=isinstance(exc, ApiError)))
                raise
            return await completions._answer(relay, planned.parsed, first)

        completions._admitted_alongside = admitted_first  # type: ignore[assignment]
    elif name == "pause-after-first":
        from teamapi import relay

        nxt = relay.Relay.next

        async def paused(self: Any) -> Any:
            if self.chars and not getattr(self, "_paused", False):
                self._paused = True
                await asyncio.sleep(0.002)
            return await nxt(self)

        relay.Relay.next = paused  # type: ignore[method-assign]
    elif name == "raw-upstream":
        _raw_upstream(stamp)
    else:
        raise SystemExit(f"unknown experiment {name!r}")


def _raw_upstream(stamp: Any) -> None:
    import socket
    from urllib.parse import urlsplit

    from gateways.wire import client as wire
    from gateways.wire.chunked import ChunkedDecoder
    from gateways.wire.chunks import DONE, parse_data
    from gateways.wire.sse import SSEDecoder
    from gateways.wire.text import EventMender

    idle: dict[tuple[str | None, int | None], Any] = {}

    class Connection(asyncio.Protocol):
        def __init__(self) -> None:
            self.received: list[bytes] = []
            self.waiter: asyncio.Future[None] | None = None
            self.transport: Any = None
            self.ended = False

        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _wake(self) -> None:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(None)

        def data_received(self, data: bytes) -> None:
            self.received.append(data)
            self._wake()

        def eof_received(self) -> None:
            self.ended = True
            self._wake()

        def connection_lost(self, exc: Exception | None) -> None:
            self.ended = True
            self._wake()

        async def read(self) -> bytes:
            while not self.received:
                if self.ended:
                    return b""
                self.waiter = asyncio.get_running_loop().create_future()
                await self.waiter
            data = b"".join(self.received)
            self.received.clear()
            return data

    async def stream_once(self: Any, endpoint: Any, request: Any, coalesce_s: float = 0.0,
                          allowed: float | None = None, join_text: bool = False) -> Any:
        url = urlsplit(endpoint.base_url)
        key = (url.hostname, url.port)
        conn = idle.pop(key, None)
        if conn is None or conn.ended:
            _, conn = await asyncio.get_running_loop().create_connection(Connection, url.hostname, url.port)
        body = wire._json_body(wire.build_payload(request, stream=True, include_usage=endpoint.include_usage))
        head = (f"POST {url.path}/chat/completions HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer "
                f"{endpoint.api_key}\r\nAccept: text/event-stream\r\nAccept-Encoding: identity\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        stamp("u.send")
        conn.transport.write(head + body)
        buffered = b""
        while b"\r\n\r\n" not in buffered:
            data = await conn.read()
            if not data:
                raise wire.dropped_error()
            buffered += data
        status, _, data = buffered.partition(b"\r\n\r\n")
        stamp("u.headers")
        if b" 200 " not in status.split(b"\r\n", 1)[0] or b"chunked" not in status.lower():
            raise AssertionError("the raw-upstream experiment reads only a chunked 200")
        chunked, sse, mender, whole = ChunkedDecoder(), SSEDecoder(), EventMender(), False
        try:
            while True:
                payload = chunked.feed(data) if data else b""
                if payload:
                    events = sse.feed_data(payload)
                    if DONE in events:
                        events = events[:events.index(DONE)]
                    parsed: list[Any] = []
                    for event in events:
                        parsed.extend(parse_data(event))
                    for event in mender.mend(parsed):
                        yield event
                if chunked.done:
                    break
                data = await conn.read()
                if not data:
                    raise wire.dropped_error()
            for event in mender.flush():
                yield event
            whole = True
        finally:
            if whole and not chunked.extra:
                idle[key] = conn
            else:
                conn.transport.close()

    wire.UpstreamClient._stream_once = stream_once  # type: ignore[method-assign,assignment]


def serve_daphne(argv: list[str]) -> None:
    _install(Path(os.environ["API_TRACE_FILE"]))
    from daphne.cli import CommandLineInterface

    sys.argv = ["daphne", *argv]
    CommandLineInterface.entrypoint()


# client side -----------------------------------------------------------------------------------

async def run(n: int, realistic: bool, tokens: int = 64) -> None:
    from bench.api import MODEL, REALISTIC, Side, prompt
    from bench.stack import PY, manage, running_stack

    trace = Path(tempfile.mkdtemp(prefix="api-trace-")) / "stamps.jsonl"
    load = os.getloadavg()[0]
    profile = REALISTIC if realistic else ""
    client: list[dict[str, int]] = []
    import asyncio.selector_events as se

    current: dict[str, int] = {}
    ready = se._SelectorSocketTransport._read_ready

    def read_ready(self: object) -> object:
        if "c.recv" not in current:
            current["c.recv"] = time.perf_counter_ns()
        return ready(self)

    se._SelectorSocketTransport._read_ready = read_ready  # type: ignore[method-assign]
    direct_ttft: list[float] = []
    with running_stack({"API_TRACE_FILE": str(trace)}, daphne=[PY, __file__, "--daphne"]) as stack:
        key = manage(stack.env, "create_api_token", "bench", "--name", "bench").strip().splitlines()[-1]
        direct, api = Side(stack.emulator, "emulator"), Side(f"{stack.web}/v1", key)
        for i in range(n + 5):  # 5 to warm up
            text = prompt(tokens, profile)
            d = await direct.ask(text)
            current.clear()
            sent = time.perf_counter_ns()
            a = await api.ask(text)
            if a.text != d.text:
                raise AssertionError("relayed text differs")
            client.append({"c.send": sent, "c.first": sent + int(a.ttft * 1e9), **current})
            if i >= 5:
                direct_ttft.append(d.ttft * 1000)
        await asyncio.sleep(0.2)
    server = [json.loads(line) for line in trace.read_text().splitlines()]
    if len(server) != len(client):
        raise AssertionError(f"{len(server)} traced calls in daphne, {len(client)} sent")
    calls = [{**s, **c} for s, c in zip(server, client, strict=True)][5:]
    print(f"{n} calls one at a time, {'300 ms + 200 tok/s' if realistic else 'zero delay'}, {MODEL}; "
          f"load {load:.2f} / {os.getloadavg()[0]:.2f}\n")
    print("| stage | from the stage before p50 / p95 | since the client sent p50 | daphne loop turns p50 |\n"
          "|---|---:|---:|---:|")
    previous = "c.send"
    for name, label in STAGES[1:]:
        gaps = [(c[name] - c[previous]) / 1e6 for c in calls if name in c and previous in c]
        since = [(c[name] - c["c.send"]) / 1e6 for c in calls if name in c]
        spins = [c["#" + name] - c["#" + previous] for c in calls if "#" + name in c and "#" + previous in c]
        if gaps:
            print(f"| {label} | {statistics.median(gaps):.3f} / {sorted(gaps)[int(0.95 * (len(gaps) - 1))]:.3f} ms | "
                  f"{statistics.median(since):.3f} ms | {statistics.median(spins) if spins else ''} |")
            previous = name
    for name, label in EXTRA:
        since = [(c[name] - c["c.send"]) / 1e6 for c in calls if name in c]
        if since:
            print(f"| ({label}) | | {statistics.median(since):.3f} ms |")
    early = [c["n.early"] for c in calls if "n.early" in c]
    if early:
        print(f"| (body messages handed to daphne before its first socket write, p50 / p95) | | "
              f"{statistics.median(early):.0f} / {sorted(early)[int(0.95 * (len(early) - 1))]} |")
    bodies = [c["n.bodies"] for c in calls if "n.bodies" in c]
    if bodies:
        print(f"| (body messages handed to daphne per call, p50 / p95) | | {statistics.median(bodies):.0f} / "
              f"{sorted(bodies)[int(0.95 * (len(bodies) - 1))]} |")
    sizes = [c["n.bread"] for c in calls if "n.bread" in c]
    if sizes:
        print(f"| (the first body read's decoded size, p50 / p95) | | {statistics.median(sizes):.0f} / "
              f"{sorted(sizes)[int(0.95 * (len(sizes) - 1))]} bytes |")
    api_ttft = [(c["c.first"] - c["c.send"]) / 1e6 for c in calls]
    print(f"\nTTFT p50: direct {statistics.median(direct_ttft):.2f} ms, through /v1 {statistics.median(api_ttft):.2f} "
          f"ms, added {statistics.median(api_ttft) - statistics.median(direct_ttft):.2f} ms")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--daphne":
        serve_daphne(sys.argv[2:])
    else:
        parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--n", type=int, default=200)
        parser.add_argument("--realistic", action="store_true")
        parser.add_argument("--tokens", type=int, default=64, help="tokens per reply (bench/api.py asks for 256)")
        parser.add_argument("--experiment", choices=["no-admission", "admission-first", "raw-upstream",
                                                          "pause-after-first"],
                            help="patch daphne for one experiment (see _experiment); never a production setting")
        arguments = parser.parse_args()
        if arguments.experiment:
            os.environ["API_TRACE_EXPERIMENT"] = arguments.experiment
        asyncio.run(run(arguments.n, arguments.realistic, arguments.tokens))
