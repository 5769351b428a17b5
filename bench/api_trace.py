"""Where the Team API's added time to first token goes: timestamps at each stage of one call.

    .venv/bin/python bench/api_trace.py            # 200 calls at zero delay, one at a time
    .venv/bin/python bench/api_trace.py --n 60 --realistic

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
    ("u.send", "httpx send called"),
    ("u.write", "upstream request written (first write)"),
    ("u.read", "upstream: first bytes read"),
    ("u.headers", "upstream status and headers parsed (httpx send returned)"),
    ("d.event1", "first upstream text event parsed"),
    ("d.start", "response start handed to daphne"),
    ("d.body1", "first SSE chunk handed to daphne"),
    ("d.sock", "daphne: first socket write"),
    ("c.recv", "client: first bytes readable"),
    ("c.first", "client: first content chunk parsed"),
]
EXTRA = [("d.accept", "a new connection accepted"), ("d.admit0", "admission started (thread)"),
         ("d.admit1", "admission done")]


# daphne side -----------------------------------------------------------------------------------

def _install(out: Path) -> None:
    """Wrap the stages' functions in the daphne process; each call's stamps go to `out` when it ends."""
    import asyncio.selector_events as se

    import daphne.server  # noqa: F401  # first: it installs Twisted's asyncio reactor
    from daphne import http_protocol
    from twisted.internet import tcp

    stamps: dict[str, int] = {}
    now = time.perf_counter_ns

    def stamp(name: str) -> None:
        if name not in stamps:
            stamps[name] = now()

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
    from teamapi import completions

    if os.environ.get("API_TRACE_SEND_TURNS"):  # an experiment: when admission starts
        completions.SEND_TURNS = int(os.environ["API_TRACE_SEND_TURNS"])

    wrap(completions, "_relay", "d.relay", after=True)
    import httpx

    wrap_async(httpx.AsyncClient, "send", "u.send", after=False)
    send = httpx.AsyncClient.send

    async def sent(*args: object, **kwargs: object) -> object:
        result = await send(*args, **kwargs)  # type: ignore[arg-type]
        stamp("u.headers")
        return result

    httpx.AsyncClient.send = sent  # type: ignore[method-assign]
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


def serve_daphne(argv: list[str]) -> None:
    _install(Path(os.environ["API_TRACE_FILE"]))
    from daphne.cli import CommandLineInterface

    sys.argv = ["daphne", *argv]
    CommandLineInterface.entrypoint()


# client side -----------------------------------------------------------------------------------

async def run(n: int, realistic: bool) -> None:
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
            text = prompt(64, profile)
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
    print("| stage | from the stage before p50 / p95 | since the client sent p50 |\n|---|---:|---:|")
    previous = "c.send"
    for name, label in STAGES[1:]:
        gaps = [(c[name] - c[previous]) / 1e6 for c in calls if name in c and previous in c]
        since = [(c[name] - c["c.send"]) / 1e6 for c in calls if name in c]
        if gaps:
            print(f"| {label} | {statistics.median(gaps):.3f} / {sorted(gaps)[int(0.95 * (len(gaps) - 1))]:.3f} ms | "
                  f"{statistics.median(since):.3f} ms |")
            previous = name
    for name, label in EXTRA:
        since = [(c[name] - c["c.send"]) / 1e6 for c in calls if name in c]
        if since:
            print(f"| ({label}) | | {statistics.median(since):.3f} ms |")
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
        arguments = parser.parse_args()
        asyncio.run(run(arguments.n, arguments.realistic))
