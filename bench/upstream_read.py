"""CPU of reading paced gateway streams alone: the upstream client, without daphne, websockets or the database.

    taskset -c 0 .venv/bin/python bench/upstream_read.py --streams 1,20
    taskset -c 0 .venv/bin/python bench/upstream_read.py --streams 20 --httpx   # httpx's own body reader

The emulator runs as its own process (first token after 300 ms, then one token per SSE event,
one HTTP chunk each, at --tps); this process reads --streams replies at once with
`UpstreamClient.stream(coalesce_s=0.03)` (as the relay does), for --rounds rounds after one
warm-up round, and reports its own CPU (user+system) per 1,000 tokens and its reads per reply.
`--httpx` makes every body go through httpx's `aiter_bytes` (gateways.wire.body.HttpxBody, the
reader before issue 12's round 3) instead of the chunked reader under it.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import PY, ROOT, free_port, wait_http
from gateways.wire import body, client
from gateways.wire.client import ChatRequest, Endpoint, UpstreamClient
from gateways.wire.events import ContentDelta

READS = [0]


def counting(read):  # type: ignore[no-untyped-def]
    async def counted(self):  # type: ignore[no-untyped-def]
        READS[0] += 1
        return await read(self)
    return counted


async def level(url: str, streams: int, rounds: int, tps: int, tokens: int) -> str:
    text = f"bench [[ttft_ms=300]] [[tps={tps}]] [[tokens={tokens}]]"
    request = ChatRequest("grok-4-fast-non-reasoning", [{"role": "user", "content": text}])
    async with UpstreamClient() as upstream:
        endpoint = Endpoint(url, "k")

        async def one() -> int:
            events = upstream.stream(endpoint, request, coalesce_s=0.03)
            return sum([isinstance(e, ContentDelta) async for e in events])

        await asyncio.gather(*(one() for _ in range(streams)))  # warm: imports, connections
        READS[0] = 0
        start, wall = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        got = 0
        for _ in range(rounds):
            got += sum(await asyncio.gather(*(one() for _ in range(streams))))
        end, wall = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - wall
    cpu = end.ru_utime - start.ru_utime + end.ru_stime - start.ru_stime
    want = streams * rounds * tokens
    return (f"| {streams} | {cpu / got * 1e6:.0f} ms | {READS[0] / (streams * rounds):.0f} | {got:,} of {want:,} "
            f"| {wall:.1f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", default="1,20")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tps", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--httpx", action="store_true", help="httpx's body reader (before round 3)")
    args = parser.parse_args()
    if args.httpx:
        async def httpx_body(response):  # type: ignore[no-untyped-def]
            return body.HttpxBody(response)
        client.open_body = httpx_body  # type: ignore[assignment]
    body.ChunkedBody.read = counting(body.ChunkedBody.read)  # type: ignore[method-assign]
    body.HttpxBody.read = counting(body.HttpxBody.read)  # type: ignore[method-assign]
    port = free_port()
    emulator = subprocess.Popen([PY, "-m", "emulator.app", "--port", str(port), "--delay-scale", "0"], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models")
        print(f"load average {os.getloadavg()[0]:.1f}; {args.tokens} tokens at {args.tps} tok/s; "
              f"{'httpx' if args.httpx else 'chunked'} reader; CPU of this process only")
        print("| streams | CPU per 1k tokens | reads per reply | tokens | wall |\n|---:|---:|---:|---:|---:|")
        for streams in (int(n) for n in args.streams.split(",")):
            print(asyncio.run(level(f"http://127.0.0.1:{port}/v1", streams, args.rounds, args.tps, args.tokens)))
    finally:
        emulator.terminate()
        emulator.wait(5)


if __name__ == "__main__":
    main()
