"""Team API benchmark: what /v1/chat/completions adds on top of the upstream, side by side in one run.

    .venv/bin/python bench/api.py            # full run, prints markdown tables
    .venv/bin/python bench/api.py --quick    # fewer samples
    .venv/bin/python bench/api.py --single 200  # 1 stream only, 200 samples (50 realistic): the TTFT target
    .venv/bin/python bench/api.py --queries  # in-process: queries and CPU of each step of one call

The same client code (httpx, streaming, SSE parsed line by line) talks either straight to
the emulator or to daphne's /v1/ with a personal token; each prompt goes to both, and every
relayed token is checked: the text through the API must equal the direct text, token for
token, and the usage must count them. Two upstream profiles: the emulator at zero delay,
and a realistic one (first token after 300 ms, 200 tokens/s, 256 tokens) set per request
with the emulator's timing markers. Measured: added time to first token (p50 / p95) at 1
and 50 concurrent streams, daphne's CPU per request (1-token replies) and per 1,000 relayed
tokens, and tokens/s through one daphne process. Everything is on 127.0.0.1; the machine's
load average and each process's CPU time are printed with the results. `--queries` runs each step
of a warm call in-process (SQLite) and counts its SQL statements: what stands before the upstream
request, what runs beside it (admission) and what follows it (the ledger row).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.machine import describe
from bench.stack import cpu_seconds, manage, running_stack

MODEL = "grok-4-1-fast-non-reasoning"
REALISTIC = "[[ttft_ms=300]] [[tps=200]]"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@dataclass
class Reply:
    ttft: float
    text: str
    chunks: int
    usage: dict = field(default_factory=dict)  # type: ignore[type-arg]


class Side:
    """One way to reach the model: the emulator directly, or the Team API. The same code for both."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key
        self.http = httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=500,
                                                                        max_keepalive_connections=500))

    async def ask(self, content: str) -> Reply:
        payload = {"model": MODEL, "stream": True, "stream_options": {"include_usage": True},
                   "messages": [{"role": "user", "content": content}]}
        start, ttft, pieces, usage = time.perf_counter(), 0.0, [], {}
        async with self.http.stream("POST", f"{self.base}/chat/completions", json=payload,
                                    headers={"Authorization": f"Bearer {self.key}"}) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                if line == "data: [DONE]":
                    # Read on to the body's end, as the openai SDK's async client does: the connection then
                    # goes back to the pool (kept alive) instead of being closed and opened anew per call.
                    continue
                chunk = json.loads(line[6:])
                if chunk.get("error"):
                    raise RuntimeError(chunk["error"])
                if chunk.get("usage"):
                    usage = chunk["usage"]
                for choice in chunk.get("choices") or []:
                    text = choice.get("delta", {}).get("content")
                    if text:
                        if not pieces:
                            ttft = time.perf_counter() - start
                        pieces.append(text)
        return Reply(ttft, "".join(pieces), len(pieces), usage)


def prompt(tokens: int, profile: str) -> str:
    return f"bench {uuid.uuid4()} [[tokens={tokens}]] {profile}".strip()


def check(direct: Reply, api: Reply, tokens: int) -> None:
    """Every token relayed, unchanged, and counted."""
    if api.text != direct.text or api.chunks != tokens or direct.chunks != tokens:
        raise AssertionError(f"relayed text differs: {api.chunks} chunks via the API, {direct.chunks} direct")
    if api.usage.get("completion_tokens") != tokens:
        raise AssertionError(f"usage counts {api.usage.get('completion_tokens')} tokens, {tokens} were sent")


async def paired(direct: Side, api: Side, concurrency: int, rounds: int, tokens: int,
                 profile: str) -> dict[str, float]:
    """`rounds` times: `concurrency` prompts at once direct, then the same prompts at once through the API."""
    direct_t: list[float] = []
    api_t: list[float] = []
    for _ in range(rounds):
        prompts = [prompt(tokens, profile) for _ in range(concurrency)]
        straight = await asyncio.gather(*(direct.ask(p) for p in prompts))
        relayed = await asyncio.gather(*(api.ask(p) for p in prompts))
        for a, b in zip(straight, relayed, strict=True):
            check(a, b, tokens)
        direct_t += [r.ttft * 1000 for r in straight]
        api_t += [r.ttft * 1000 for r in relayed]
    return {"direct_p50": statistics.median(direct_t), "direct_p95": pct(direct_t, 95),
            "api_p50": statistics.median(api_t), "api_p95": pct(api_t, 95), "samples": len(api_t)}


async def cpu_per_request(api: Side, daphne: int, requests: int) -> float:
    """daphne CPU seconds per call for 1-token replies, 10 at a time: the fixed cost of a call."""
    before = cpu_seconds(daphne)
    for _ in range(requests // 10):
        await asyncio.gather(*(api.ask(prompt(1, "")) for _ in range(10)))
    return (cpu_seconds(daphne) - before) / requests


async def throughput(api: Side, daphne: int, streams: int, tokens: int, fixed_s: float) -> dict[str, float]:
    before, start = cpu_seconds(daphne), time.perf_counter()
    replies = await asyncio.gather(*(api.ask(prompt(tokens, "")) for _ in range(streams)))
    wall, cpu = time.perf_counter() - start, cpu_seconds(daphne) - before
    relayed = sum(r.chunks for r in replies)
    if relayed != streams * tokens:
        raise AssertionError(f"{relayed} tokens relayed of {streams * tokens}")
    return {"tokens": relayed, "tokens_per_s": relayed / wall, "cpu_s": cpu,
            "relay_cpu_per_1000": max(cpu - streams * fixed_s, 0.0) / relayed * 1000}


async def main(quick: bool, single: int = 0) -> None:
    load_before, client_cpu = os.getloadavg(), time.process_time()
    with running_stack() as stack:
        key = manage(stack.env, "create_api_token", "bench", "--name", "bench").strip().splitlines()[-1]
        direct, api = Side(stack.emulator, "emulator"), Side(f"{stack.web}/v1", key)
        cpu0 = {"daphne": cpu_seconds(stack.daphne_pid), "emulator": cpu_seconds(stack.emulator_pid)}
        await paired(direct, api, 1, 5, 20, "")  # warm-up: imports, first connections
        zero_1 = await paired(direct, api, 1, single or (20 if quick else 100), 256, "")
        zero_50 = None if single else await paired(direct, api, 50, 2 if quick else 6, 256, "")
        real_1 = await paired(direct, api, 1, single // 4 or (5 if quick else 20), 256, REALISTIC)
        real_50 = None if single else await paired(direct, api, 50, 1 if quick else 3, 256, REALISTIC)
        fixed = await cpu_per_request(api, stack.daphne_pid, 100 if quick or single else 300)
        tput = None if single else await throughput(api, stack.daphne_pid, 50, 1000 if quick else 2000, fixed)
        cpu = {"daphne": cpu_seconds(stack.daphne_pid) - cpu0["daphne"],
               "emulator": cpu_seconds(stack.emulator_pid) - cpu0["emulator"]}
    client_cpu = time.process_time() - client_cpu
    print(f"# {describe()}\n")
    print("| profile, streams | direct TTFT p50 / p95 | through /v1 p50 / p95 | added p50 / p95 | samples |")
    print("|---|---|---|---|---|")
    for name, row in (("zero delay, 1", zero_1), ("zero delay, 50", zero_50),
                      ("300 ms + 200 tok/s, 1", real_1), ("300 ms + 200 tok/s, 50", real_50)):
        if row is None:
            continue
        print(f"| {name} | {row['direct_p50']:.1f} / {row['direct_p95']:.1f} ms | {row['api_p50']:.1f} / "
              f"{row['api_p95']:.1f} ms | **{row['api_p50'] - row['direct_p50']:.1f}** / "
              f"{row['api_p95'] - row['direct_p95']:.1f} ms | {row['samples']} |")
    print()
    print("| measure | value |\n|---|---|")
    print(f"| daphne CPU per call (1-token replies) | {fixed * 1000:.2f} ms |")
    if tput is not None:
        print(f"| daphne CPU per 1,000 relayed tokens (beyond the per-call cost) | "
              f"{tput['relay_cpu_per_1000'] * 1000:.1f} ms |")
        print(f"| tokens/s through one daphne process (50 streams x {tput['tokens'] // 50:,} tokens, zero delay) | "
              f"{tput['tokens_per_s']:,.0f} |")
    print(f"| CPU s over the run: daphne / emulator / bench client | {cpu['daphne']:.1f} / {cpu['emulator']:.1f} / "
          f"{client_cpu:.1f} |")
    print(f"| load average (1 min) before / after | {load_before[0]:.2f} / {os.getloadavg()[0]:.2f} |")


def queries(rounds: int = 300) -> None:
    """Each step of one warm call, in-process: SQL statements and CPU (process time) per call."""
    import tempfile

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tempfile.mkdtemp()}/q.sqlite3", "SECRET_KEY": "bench-only",
           "DJANGO_SETTINGS_MODULE": "grokweb.settings", "MESSAGES_PER_MINUTE": "1000000",
           "MAX_LIVE_GENERATIONS": "100000", "EMULATOR_URL": "http://127.0.0.1:9/v1"}
    env.pop("REDIS_URL", None)
    os.environ.update(env)
    manage(env, "migrate", "--noinput")
    manage(env, "bootstrap")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts import gate, tokens
    from accounts.models import User
    from gateways.wire.usage import estimate
    from teamapi import calls, grants, parsing

    user = User.objects.create_user("bench", "", "bench-password-123")
    raw = tokens.create(user, "bench")[1]
    body = json.dumps({"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]}).encode()
    parsed = parsing.parse(body)
    grant = grants.load(raw)
    planned = calls.plan(grant, parsed)
    route = planned.routes[0]
    ending = calls.Ending("complete", estimate(10, "hello"), None, route.upstream_id, route.route_id,
                          route.provider_id)

    def admit() -> None:
        gate.release(calls.admit(planned, uuid.uuid4(), "bench").id)

    steps = [
        ("before: the token's check (kept per process)", lambda: grants.cached(raw)),
        ("before: body, model, routes (plans cache)", lambda: calls.plan(grant, parsed)),
        ("before: the per-minute counter (cache)", lambda: calls.count(planned)),
        ("beside: admission and the Reservation (+ its release)", admit),
        ("after: ledger row, attempts, release", lambda: calls.close_call(calls.make_call(planned, uuid.uuid4()),
                                                                          ending)),
        ("a cold token check (cache miss)", lambda: grants.load(raw)),
    ]
    print("| step of one call | SQL statements | CPU per call |\n|---|---|---|")
    for name, step in steps:
        step()
        with CaptureQueriesContext(connection) as seen:
            step()
        start = time.process_time()
        for _ in range(rounds):
            step()
        cpu = (time.process_time() - start) / rounds
        print(f"| {name} | {len(seen.captured_queries)} | {cpu * 1e6:,.0f} µs |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--single", type=int, default=0, metavar="N",
                        help="only the 1-stream rows: N samples at zero delay, N/4 at the realistic profile")
    parser.add_argument("--queries", action="store_true", help="count each step's SQL in-process, then stop")
    arguments = parser.parse_args()
    if arguments.queries:
        queries()
    else:
        asyncio.run(main(arguments.quick, arguments.single))
