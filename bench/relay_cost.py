"""What one relayed token and one reply cost the web process, at a real gateway's pace.

    .venv/bin/python bench/relay_cost.py                      # 1 and 20 streams, paced (256 tokens at 200 tok/s)
    .venv/bin/python bench/relay_cost.py --levels 1,50 --replies 4
    .venv/bin/python bench/relay_cost.py --queries             # queries per reply, in-process

A quick measure for working on the relay (issue 12), next to bench/relay_paced.py's full run:
one daphne process (pinned to CPU 0 with `--pin`), the emulator as its own process pacing each
reply with its markers (first token after 300 ms, then one token per SSE event at 200 tok/s),
SQLite, the in-memory layer, one user per tab continuing one conversation. Relay CPU is daphne's
utime+stime from /proc minus its idle rate. Every reply is checked: deltas numbered 1, 2, 3 ...
with no gap, their text equal to the final text, the token count the emulator reports, exactly
one end frame. `--queries` runs the consumer's store-and-plan hop and the runner's ending
in-process against the emulator and counts every SQL statement of one reply in an existing chat.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import ROOT, cpu_seconds, manage, rss_bytes, running_stack

MODEL = "grok-4-fast-non-reasoning"
PACED = "[[ttft_ms=300]] [[tps={tps}]] [[tokens={tokens}]]"


class Tab:
    def __init__(self, web: str, cookie: str) -> None:
        self.url = web.replace("http", "ws", 1) + "/ws/chat/"
        self.headers = {"Cookie": f"sessionid={cookie}", "Origin": web}
        self.ws: websockets.ClientConnection | None = None
        self.conversation: str | None = None

    async def open(self) -> Tab:
        self.ws = await websockets.connect(self.url, additional_headers=self.headers, max_size=2**24,
                                           open_timeout=60)
        return self

    async def reply(self, markers: str) -> tuple[int, list[str]]:
        """One message and its whole reply; returns (completion tokens, problems seen)."""
        assert self.ws is not None
        problems: list[str] = []
        await self.ws.send(json.dumps({"type": "send", "request_id": str(uuid.uuid4()),
                                       "conversation": self.conversation, "model": MODEL,
                                       "content": f"bench {uuid.uuid4().hex[:8]} {markers}"}))
        message, seq, text = None, 0, []
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 120))
            kind = frame["type"]
            if kind == "message.created":
                self.conversation = frame["conversation"]
                message = frame["assistant_message"]["id"]
            elif kind == "message.delta" and frame["message"] == message:
                seq += 1
                if frame["seq"] != seq:
                    problems.append(f"seq {frame['seq']} after {seq - 1}")
                    seq = frame["seq"]
                text.append(frame["content"])
            elif kind in ("message.done", "message.error") and frame.get("message") == message:
                if kind == "message.error" or frame["status"] != "complete":
                    problems.append(f"ended {kind} {frame.get('code') or frame.get('status')}")
                if "".join(text) != frame["content"]:
                    problems.append("deltas differ from the final text")
                return int((frame.get("usage") or {}).get("completion_tokens") or 0), problems
            elif kind == "error":
                problems.append(f"error {frame['code']}")
                return 0, problems

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


def signed_in_users(env: dict[str, str], count: int) -> list[str]:
    """Session keys of `count` new users, made in the database (the login page needs collected static files)."""
    out = manage(env, "shell", "-c",
                 "from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY\n"
                 "from django.contrib.sessions.backends.db import SessionStore\n"
                 "from accounts.models import User\n"
                 f"for i in range({count}):\n"
                 "    user = User.objects.create_user(f'tab{i}', '', 'bench-password-123')\n"
                 "    s = SessionStore()\n"
                 "    s[SESSION_KEY] = str(user.pk)\n"
                 "    s[BACKEND_SESSION_KEY] = 'accounts.backends.AccountBackend'\n"
                 "    s[HASH_SESSION_KEY] = user.get_session_auth_hash()\n"
                 "    s.save()\n"
                 "    print('KEY', s.session_key)\n")
    return [line.split()[1] for line in out.splitlines() if line.startswith("KEY ")]


def idle_rate(pid: int, seconds: float) -> float:
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)


async def measure(pid: int, idle: float, work) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    result = await work
    wall = time.monotonic() - t0
    return max(0.0, cpu_seconds(pid) - cpu0 - idle * wall), wall, result


async def _profile(args: Any, pid: int, path: str) -> subprocess.Popen[bytes] | None:
    """A sampling profile of daphne (py-spy, collapsed stacks into `path`) until _stop."""
    if not args.profile:
        return None
    command = [args.profile, "record", "-p", str(pid), "-r", "250", "-f", "raw", "-o", path]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: ASYNC220
    await asyncio.sleep(1.0)
    return spy


def _stop(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is not None:
        spy.send_signal(2)
        spy.wait(30)


async def level(stack, cookies: list[str], streams: int, args) -> dict[str, float]:  # type: ignore[no-untyped-def]
    tabs = [await Tab(stack.web, cookie).open() for cookie in cookies[:streams]]
    await asyncio.gather(*(tab.reply("[[tokens=3]]") for tab in tabs))  # a chat each, titled
    idle = 1.0
    for _ in range(10):  # titles of the new chats run in the process: wait until it is quiet
        await asyncio.sleep(0.5)
        idle = min(idle, idle_rate(stack.daphne_pid, args.idle_s))
        if idle < 0.02:
            break
    problems: list[str] = []

    async def rounds(markers: str, count: int) -> int:
        tokens = 0
        for _ in range(count):
            for got, seen in await asyncio.gather(*(tab.reply(markers) for tab in tabs)):
                tokens += got
                problems.extend(seen)
        return tokens

    fixed_n = max(1, args.fixed_replies // streams)
    spy = await _profile(args, stack.daphne_pid, f"/tmp/relay_cost_fixed_{streams}.txt")
    fixed_cpu, _, _ = await measure(stack.daphne_pid, idle, rounds("[[tokens=1]]", fixed_n))
    _stop(spy)
    paced = PACED.format(tps=args.tps, tokens=args.tokens)
    spy = await _profile(args, stack.daphne_pid, f"/tmp/relay_cost_{streams}.txt")
    cpu, wall, tokens = await measure(stack.daphne_pid, idle, rounds(paced, args.replies))
    _stop(spy)
    replies = streams * args.replies
    want = replies * args.tokens
    if tokens != want:
        problems.append(f"{tokens} tokens relayed, {want} sent")
    for tab in tabs:
        await tab.close()
    fixed = fixed_cpu / (fixed_n * streams)
    return {"streams": streams, "fixed_ms": fixed * 1000, "per_1k_ms": cpu / tokens * 1e6,
            "per_1k_beyond_fixed_ms": max(0.0, cpu - fixed * replies) / tokens * 1e6,
            "tok_s_per_stream": tokens / wall / streams, "tokens": tokens, "problems": len(problems),
            "first_problems": problems[:3], "idle_pct": idle * 100}


async def rss_per_socket(stack, cookie: str, sockets: int) -> float:  # type: ignore[no-untyped-def]
    warm = [await Tab(stack.web, cookie).open() for _ in range(10)]
    for tab in warm:
        await tab.ws.send('{"type":"ping"}')  # type: ignore[union-attr]
        await tab.ws.recv()  # type: ignore[union-attr]
    await asyncio.sleep(0.5)
    before = rss_bytes(stack.daphne_pid)
    tabs = [await Tab(stack.web, cookie).open() for _ in range(sockets)]
    for tab in tabs:
        await tab.ws.send('{"type":"ping"}')  # type: ignore[union-attr]
        await tab.ws.recv()  # type: ignore[union-attr]
    after = rss_bytes(stack.daphne_pid)
    for tab in tabs + warm:
        await tab.close()
    return (after - before) / sockets


async def run(args) -> None:  # type: ignore[no-untyped-def]
    levels = [int(n) for n in args.levels.split(",")]
    with running_stack() as stack:
        if args.pin:
            subprocess.run(["taskset", "-pc", "0", str(stack.daphne_pid)],  # noqa: ASYNC221  # before any load
                           check=True, capture_output=True)
        cookies = signed_in_users(stack.env, max(levels))
        rows = [await level(stack, cookies, n, args) for n in levels]
        rss = await rss_per_socket(stack, cookies[0], args.sockets)
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} / {load[1]:.1f}; {args.tokens} tokens at {args.tps} tok/s, "
          f"{args.replies} replies per tab")
    print("| streams | fixed CPU per 1-token reply | CPU per 1k tokens (all) | beyond fixed | tok/s per stream "
          "| tokens | problems | idle CPU |\n|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['streams']} | {row['fixed_ms']:.1f} ms | {row['per_1k_ms']:.0f} ms | "
              f"{row['per_1k_beyond_fixed_ms']:.0f} ms | {row['tok_s_per_stream']:.0f} | {row['tokens']:,} | "
              f"{row['problems']} {row['first_problems'] or ''} | {row['idle_pct']:.1f}% |")
    print(f"RSS per open socket ({args.sockets}): {rss / 1024:.1f} KiB")


# Queries per reply, in-process ------------------------------------------------------------------

SEEN: list[str] = []


def _count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
    SEEN.append(sql)
    return execute(sql, params, many, context)


def _wrap(sender, connection, **kwargs):  # type: ignore[no-untyped-def]
    if _count not in connection.execute_wrappers:  # every connection, the runner's thread's too
        connection.execute_wrappers.append(_count)


def queries() -> None:
    import tempfile

    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/q.sqlite3"
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "grokweb.settings")
    os.environ.pop("REDIS_URL", None)
    os.environ["MESSAGES_PER_MINUTE"] = "1000000"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.backends.signals import connection_created

    from accounts.models import User
    from chat import consumers
    from gateways import catalog, offering
    from gateways.models import Provider
    from tests.emulator_server import running_emulator

    connection_created.connect(_wrap)
    connection.ensure_connection()
    _wrap(None, connection)
    call_command("migrate", verbosity=0)
    user = User.objects.create_user("q", "", "x")
    with running_emulator(flavour="xai", delay_scale=0.0) as url:
        provider = Provider.objects.filter(name="emulator").first() or Provider(name="emulator", kind="emulator")
        provider.base_url = url
        provider.set_api_key("emulator")
        provider.save()
        offering.offer(provider, list(catalog.CATALOG))
        conversation = None
        fast = hasattr(consumers, "_start_or_draft")  # the fast start (a send's rows written in a second hop)
        for _ in range(4):  # the first replies warm the caches (plans, prices) and title the chat
            SEEN.clear()
            plan, conversation, hops = _store(user, conversation, "hi [[tokens=5]]", fast)
            sent = len(SEEN)
            asyncio.run(_run_reply(plan))
        per_hop = " + ".join(map(str, hops))
        print(f"queries per reply in an existing chat: {len(SEEN)} (send and plan: {sent} = {per_hop} by hop, "
              f"ending: {len(SEEN) - sent})")
        if os.environ.get("SHOW_SQL"):
            for sql in SEEN:
                print("  ", sql[:150])
        fixed_cpu(user, conversation, fast)


def _store(user: Any, conversation: Any, content: str, fast: bool) -> tuple[Any, Any, list[int]]:
    """A send as the websocket stores and plans it: (its plan, its conversation id, queries per database hop)."""
    from chat import consumers, services

    def start(chat: Any = conversation) -> Any:
        send = services.start_send if fast else services.send
        return send(user, request_id=uuid.uuid4(), conversation_id=chat, content=content, model_slug=MODEL)

    before = len(SEEN)
    if not fast:
        prepared = consumers._store_and_plan(user, start, "r")
        return prepared.plan, prepared.started.conversation.id, [len(SEEN) - before]
    first = consumers._start_or_draft(user, start, "r")
    if isinstance(first, consumers._Prepared):
        return first.plan, first.started.conversation.id, [len(SEEN) - before]
    draft, plan = first
    middle = len(SEEN)
    prepared = consumers._store_draft(user, draft, "r")
    return plan, prepared.started.conversation.id, [middle - before, len(SEEN) - middle]


async def _run_reply(plan: Any) -> None:
    """The runner, as the hub starts it, to the reply's end (the ending's hop included)."""
    from chat.generation import Job, Runner
    from chat.store import DjangoStore
    from gateways.attempts import buffered
    from gateways.failover import FailoverStream
    from gateways.wire.client import get_client, reset_client

    reset_client()
    planned = getattr(plan, "planned", None)  # an older tree has no planned ending
    store = DjangoStore(planned) if planned is not None else DjangoStore()
    events = FailoverStream(get_client(), list(plan.routes), plan.request,
                            record=buffered(plan.model_slug, store.attempts))

    async def publish(frame: dict[str, Any]) -> None:
        return None

    await Runner(Job(plan.message_id, plan.prompt_chars), events, publish, store, served=lambda: events.served).run()
    await get_client().aclose()


def fixed_cpu(user, conversation, fast: bool = False, replies: int = 60) -> None:  # type: ignore[no-untyped-def]
    """CPU of the database hops of a reply (store-and-plan, ending), without the upstream call."""
    import cProfile
    import pstats

    from chat import consumers, services
    from gateways.attempts import Attempted
    from gateways.wire.usage import estimate

    def one() -> tuple[float, float, float]:
        t0 = time.process_time()
        if fast:
            first = consumers._start_or_draft(user, lambda: services.start_send(
                user, request_id=uuid.uuid4(), conversation_id=conversation, content="hi", model_slug=MODEL), "r")
            t_first = time.process_time()
            draft, plan = first
            consumers._store_draft(user, draft, "r")
        else:
            prepared = consumers._store_and_plan(user, lambda: services.send(
                user, request_id=uuid.uuid4(), conversation_id=conversation, content="hi", model_slug=MODEL), "r")
            t_first = time.process_time()
            plan = prepared.plan
        t1 = time.process_time()
        usage = estimate(plan.prompt_chars, "a reply", "")
        ending = services.Ending("complete", "a reply of some words", "", "stop", usage, None,
                                 upstream_model=plan.request.model, ttft_ms=5, duration_ms=9,
                                 route_id=plan.routes[0].route_id, provider_id=plan.routes[0].provider_id)
        attempt = Attempted(plan.routes[0].provider_id, plan.routes[0].route_id, plan.model_slug, "ok", 5)
        if getattr(plan, "planned", None) is not None:
            services.finish_planned(plan.planned, ending, (attempt,))
        else:  # an older tree
            services.finish(plan.message_id, ending, (attempt,))
        return t_first - t0, t1 - t0, time.process_time() - t1

    for _ in range(5):
        one()
    profile = cProfile.Profile() if os.environ.get("PROFILE") else None
    if profile:
        profile.enable()
    times = [one() for _ in range(replies)]
    if profile:
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
    times.sort(key=lambda t: t[1] + t[2])
    mid = times[len(times) // 4: 3 * len(times) // 4]  # the middle half: this machine is shared
    first_ms = sum(t[0] for t in mid) / len(mid) * 1000
    send_ms = sum(t[1] for t in mid) / len(mid) * 1000
    end_ms = sum(t[2] for t in mid) / len(mid) * 1000
    print(f"CPU of a reply's database hops, in-process (middle half of {replies}, chat of "
          f"{2 * (replies + 9)} messages at the end): store and plan {send_ms:.2f} ms (before the upstream call "
          f"starts: {first_ms:.2f} ms), ending {end_ms:.2f} ms, together {send_ms + end_ms:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,20")
    parser.add_argument("--replies", type=int, default=3, help="paced replies per tab")
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--tps", type=int, default=200)
    parser.add_argument("--fixed-replies", type=int, default=40, help="1-token replies per level")
    parser.add_argument("--idle-s", type=float, default=2.0)
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--pin", action="store_true", help="pin daphne to CPU 0")
    parser.add_argument("--queries", action="store_true")
    parser.add_argument("--profile", default="", help="path of py-spy: profile daphne over the paced replies")
    arguments = parser.parse_args()
    os.chdir(ROOT)
    if arguments.queries:
        queries()
    else:
        asyncio.run(run(arguments))
