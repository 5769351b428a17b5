"""Relay benchmark, UNPACED: what the whole stack adds on top of an upstream that answers at once.

The emulator here has no delay, so tokens reach the relay in batches (many per socket read):
this measures the relay's bulk throughput, not real traffic. A real gateway sends one token per
SSE event at 50-200 tok/s, which costs the relay several times more CPU per token: that is
bench/relay_paced.py, the benchmark to read first.

    .venv/bin/python bench/relay.py            # full run, prints a markdown table
    .venv/bin/python bench/relay.py --quick    # fewer samples

Measures, in one run against the same zero-delay emulator on loopback:
time to first token through daphne + websocket vs. a direct httpx stream, at 1 and
100 concurrent streams; tokens/s one daphne process relays; its CPU seconds per
1,000 relayed tokens; RSS per open socket; database writes per reply.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import cpu_seconds, rss_bytes, running_stack, session_cookie

MODEL = "grok-4-1-fast-non-reasoning"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def direct_ttft(emulator: str, tokens: int) -> float:
    payload = {"model": MODEL, "stream": True, "stream_options": {"include_usage": True},
               "messages": [{"role": "user", "content": f"bench {uuid.uuid4()} [[tokens={tokens}]]"}]}
    async with httpx.AsyncClient(timeout=60) as client:
        start = time.perf_counter()
        async with client.stream("POST", f"{emulator}/chat/completions", json=payload,
                                 headers={"Authorization": "Bearer emulator"}) as response:
            async for line in response.aiter_lines():
                if line.startswith("data:") and '"content"' in line:
                    return time.perf_counter() - start
    raise RuntimeError("no content")


class Tab:
    def __init__(self, web: str, cookie: str) -> None:
        self.url = web.replace("http", "ws", 1) + "/ws/chat/"
        self.headers = {"Cookie": f"sessionid={cookie}", "Origin": web}
        self.ws: websockets.ClientConnection | None = None
        self.conversation: str | None = None  # replies continue one conversation, as people chat
        self.titles_seen = 0

    async def open(self) -> Tab:
        self.ws = await websockets.connect(self.url, additional_headers=self.headers, max_size=2**24)
        return self

    async def reply(self, tokens: int) -> tuple[float, int, float]:
        """Send one message; return (ttft, content chars, total seconds)."""
        assert self.ws is not None
        start = time.perf_counter()
        await self.ws.send(json.dumps({"type": "send", "request_id": str(uuid.uuid4()),
                                       "conversation": self.conversation,
                                       "model": MODEL, "content": f"bench {uuid.uuid4()} [[tokens={tokens}]]"}))
        ttft = None
        while True:
            frame = json.loads(await self.ws.recv())
            if frame["type"] == "message.created":
                self.conversation = frame["conversation"]
            elif frame["type"] == "conversation.updated":
                self.titles_seen += 1
            elif frame["type"] == "message.delta" and ttft is None and frame["content"]:
                ttft = time.perf_counter() - start
            elif frame["type"] == "message.done":
                return ttft or 0.0, frame["usage"]["completion_tokens"], time.perf_counter() - start
            elif frame["type"] in ("message.error", "error"):
                raise RuntimeError(frame)

    async def wait_titles(self, count: int) -> None:
        """Titles of new conversations run after their first reply: let them finish before measuring."""
        assert self.ws is not None
        while self.titles_seen < count:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            self.titles_seen += frame["type"] == "conversation.updated"

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def open_tabs(stack, cookie: str, count: int) -> list[Tab]:  # type: ignore[no-untyped-def]
    """Tabs with a conversation each, titled already: what is measured is the relay, not titling."""
    tabs = [await Tab(stack.web, cookie).open() for _ in range(count)]
    await asyncio.gather(*(tab.reply(5) for tab in tabs))
    await tabs[0].wait_titles(count)
    return tabs


async def ttft_round(stack, cookie: str, concurrency: int, rounds: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    tabs = await open_tabs(stack, cookie, concurrency)
    stack_t: list[float] = []
    direct_t: list[float] = []
    for _ in range(rounds):
        stack_t += [r[0] for r in await asyncio.gather(*(tab.reply(20) for tab in tabs))]
        direct_t += await asyncio.gather(*(direct_ttft(stack.emulator, 20) for _ in range(concurrency)))
    for tab in tabs:
        await tab.close()
    return {"stack_p50": statistics.median(stack_t) * 1000, "stack_p95": pct(stack_t, 95) * 1000,
            "direct_p50": statistics.median(direct_t) * 1000, "direct_p95": pct(direct_t, 95) * 1000,
            "samples": len(stack_t)}


async def throughput(stack, cookie: str, streams: int, tokens: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    tabs = await open_tabs(stack, cookie, streams)
    cpu0, t0 = cpu_seconds(stack.daphne_pid), time.perf_counter()
    results = await asyncio.gather(*(tab.reply(tokens) for tab in tabs))
    wall, cpu = time.perf_counter() - t0, cpu_seconds(stack.daphne_pid) - cpu0
    relayed = sum(r[1] for r in results)
    for tab in tabs:
        await tab.close()
    return {"tokens": relayed, "wall_s": wall, "tokens_per_s": relayed / wall,
            "cpu_s_per_1000_tokens": cpu / relayed * 1000}


async def rss_per_socket(stack, cookie: str, sockets: int) -> float:  # type: ignore[no-untyped-def]
    warm = [await Tab(stack.web, cookie).open() for _ in range(10)]
    before = rss_bytes(stack.daphne_pid)
    tabs = [await Tab(stack.web, cookie).open() for _ in range(sockets)]
    for tab in tabs:  # a ping round trip: every socket fully set up
        await tab.ws.send('{"type":"ping"}')  # type: ignore[union-attr]
        await tab.ws.recv()  # type: ignore[union-attr]
    after = rss_bytes(stack.daphne_pid)
    for tab in tabs + warm:
        await tab.close()
    return (after - before) / sockets


async def main(quick: bool) -> None:
    with running_stack() as stack:
        cookie = session_cookie(stack.web)
        await ttft_round(stack, cookie, 1, 3)  # warm-up: imports, first connections
        one = await ttft_round(stack, cookie, 1, 20 if quick else 100)
        hundred = await ttft_round(stack, cookie, 100, 2 if quick else 5)
        tput = await throughput(stack, cookie, 100, 1000 if quick else 2000)
        rss = await rss_per_socket(stack, cookie, 200 if quick else 1000)
    print("# UNPACED relay (zero-delay emulator, tokens in batches): bench/relay.py; "
          "for a gateway's pace see bench/relay_paced.py")
    print("| measure | value |\n|---|---|")
    for name, row in (("1 stream", one), ("100 streams", hundred)):
        print(f"| TTFT {name}, stack p50 / p95 | {row['stack_p50']:.1f} / {row['stack_p95']:.1f} ms |")
        print(f"| TTFT {name}, direct p50 / p95 | {row['direct_p50']:.1f} / {row['direct_p95']:.1f} ms |")
        print(f"| TTFT {name}, added p50 | {row['stack_p50'] - row['direct_p50']:.1f} ms ({row['samples']} samples) |")
    print(f"| relayed tokens/s (100 streams x {tput['tokens'] // 100} tokens) | {tput['tokens_per_s']:,.0f} |")
    print(f"| daphne CPU s per 1,000 relayed tokens | {tput['cpu_s_per_1000_tokens']:.4f} |")
    print(f"| RSS per open socket | {rss / 1024:.1f} KiB |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
