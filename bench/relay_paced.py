"""Relay at a real gateway's pace: what the stack adds per stream, per token and per socket.

    .venv/bin/python bench/relay_paced.py --quick     # a short run (levels 1 and 10)
    .venv/bin/python bench/relay_paced.py --levels 1 --rates 200 --fixed-only --fixed-replies 200 \\
        --rss-sockets 0                               # the fixed CPU per reply alone
    .venv/bin/python bench/relay_paced.py             # levels 1,10,50,200,500 at 200 and 50 tok/s
    .venv/bin/python bench/relay_paced.py --processes 2 --redis-url redis://127.0.0.1:6379/8 \\
        --database-url postgres://postgres@127.0.0.1:5432/grokweb_relay_bench
    RELAY_ROOT=<another checkout> .venv/bin/python bench/relay_paced.py ...   # measure that tree's relay

The upstream is the project's emulator at a gateway's pace (`[[ttft_ms]]`, `[[tps]]`: first token
after 300 ms, then one token per SSE event at the given rate; `[[numbered]]` makes the tokens
" w1 w2 ..." so every relayed token is checked for order and presence). For each rate and level
(concurrent streams, one tab per distinct user) daphne starts fresh (one process per CPU, pinned
with taskset when there are CPUs enough, each in a session of its own; the emulator, the Celery
worker and this load generator on the CPUs left over, if any, as a remote gateway and remote
browsers would be), then:

- RSS per open socket: the daphne RSS delta over opening the level's tabs (signed in, pinged);
- idle CPU: daphne's CPU time (its process CPU-time clock, to the nanosecond) over --idle-s with
  the tabs open;
- rounds: every tab asks for a reply at once, then (same run, in turn) as many direct httpx
  streams from the same emulator (a client per stream, its connection opened just before, run
  from the relay's CPU, idle then); added TTFT = stack minus direct, tokens/s per stream to the
  last token after the upstream's first-token wait (and, to diagnose, from the first token),
  relay CPU per 1,000 tokens = (CPU - idle rate x time) / tokens; the emulator's and this load
  generator's CPU in both halves;
- fixed CPU per reply: --fixed-replies replies of one token, no pacing, minus idle; in brackets the
  event loop's (main) thread's share, the rest being the database hops' worker threads.

Every reply is checked: deltas in seq order, their text exactly " w1 ... wN", `message.done` with
the same text and N completion tokens, exactly one end frame (a second one is counted when it
arrives). Problems are counted, never hidden. The load generator and the emulator share the
machine with daphne: the direct client's own figures show how much of a slow-down is the machine.
bench/relay.py is the UNPACED run (tokens arrive in batches): it measures a different thing.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.machine import describe
from bench.stack import ROOT, cpu_seconds, free_port, rss_bytes, wait_http

PY = sys.executable
MODEL = "grok-4-1-fast-non-reasoning"


# --- pure helpers ---------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def expected_text(tokens: int) -> str:
    """What a `[[numbered]]` reply of `tokens` tokens says (emulator.emulation.numbered_tokens)."""
    return "".join(f" w{i}" for i in range(1, tokens + 1))


def prompt(tokens: int, ttft_ms: int, rate: int | None) -> str:
    pace = f" [[ttft_ms={ttft_ms}]] [[tps={rate}]]" if rate else " [[ttft_ms=0]]"
    return f"bench {uuid.uuid4().hex[:8]} [[numbered]] [[tokens={tokens}]]{pace}"


@dataclass
class Reply:
    """One streamed reply as the client saw it, and what was wrong with it."""

    ttft: float | None = None  # seconds from send to the first content
    last: float | None = None  # seconds from send to the last content
    text: str = ""
    tokens: int = 0
    problems: list[str] = field(default_factory=list)

    def rate(self, tokens: int, ttft_s: float) -> float | None:
        """Tokens per second of the whole reply after the upstream's own first-token wait.

        Not first-to-last token: a first token held back by a busy relay is followed by a burst,
        which would look faster than the upstream. A reply that ends late is a slow stream.
        """
        if self.last is None or self.last <= ttft_s or tokens < 2:
            return None
        return (tokens - 1) / (self.last - ttft_s)  # an upstream exactly on time gives its own rate

    def pace(self, tokens: int) -> float | None:
        """Tokens per second from the first token to the last: whether the stream kept up once it had
        started (a diagnosis, not the figure: a held-back first token and a burst would look fast)."""
        if self.last is None or self.ttft is None or self.last <= self.ttft or tokens < 2:
            return None
        return (tokens - 1) / (self.last - self.ttft)


def check_deltas(seqs: list[int], text: str, done: dict | None, tokens: int) -> list[str]:
    """Problems of one relayed reply: seq must run 1, 2, ...; text and the end frame must be whole."""
    problems = []
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append("seq out of order")
    want = expected_text(tokens)
    if text != want:
        problems.append("tokens missing, extra or out of order")
    if done is None:
        problems.append("no end frame")
    else:
        if done.get("content") != want:
            problems.append("message.done text differs")
        usage = done.get("usage") or {}
        if usage.get("completion_tokens") != tokens:
            estimated = " (estimated)" if usage.get("estimated") else ""
            problems.append(f"completion_tokens {usage.get('completion_tokens')}{estimated}")
        if done.get("status") != "complete":
            problems.append(f"status {done.get('status')}")
    return problems


# --- the stack ------------------------------------------------------------------------------


@dataclass
class Setup:
    root: Path  # the tree whose daphne is measured (RELAY_ROOT)
    tmp: str  # database (SQLite), daphne's logs
    env: dict[str, str]
    emulator: str
    cookies: list[str]  # one signed-in user each
    warm_cookie: str
    processes: int
    redis_url: str | None
    relay_cpus: list[int] = field(default_factory=list)  # one per daphne; empty: not pinned
    worker: subprocess.Popen[bytes] | None = None
    emulator_pid: int = 0
    rest_cpus: list[int] = field(default_factory=list)  # the emulator's and load generator's, when daphne is pinned


def manage(setup_root: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([PY, "manage.py", *args], cwd=setup_root, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


USERS_SCRIPT = """
import json, sys
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model, load_backend
from django.contrib.auth.hashers import make_password
User = get_user_model()
store = import_module(settings.SESSION_ENGINE).SessionStore
backend = next(b for b in settings.AUTHENTICATION_BACKENDS if hasattr(load_backend(b), "get_user"))
hashed = make_password("bench-password-123")  # once: hashing per user would take minutes
keys = []
for name in ["bench-warm"] + [f"bench-u{i}" for i in range(COUNT)]:
    user = User.objects.filter(username=name).first() or User(username=name, password=hashed)
    user.save()
    session = store()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = backend
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    keys.append(session.session_key)
print(json.dumps(keys))
"""


def fresh_postgres(url: str) -> None:
    """Drop and create the benchmark database (only one whose name says bench)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"--database-url: the database is dropped first, so its name must contain 'bench' ({name})")
    admin = url[: -len(parts.path)] + "/postgres" if parts.path else url + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


MARK = "grokweb:bench:relay_paced"  # set in a db this benchmark flushed: it may flush it again


def flush_redis(url: str) -> None:
    """Empty the benchmark's db, never one holding anything else (another run's or test's data)."""
    import redis

    client = redis.Redis.from_url(url)
    if client.dbsize() and not client.exists(MARK):
        raise SystemExit(f"--redis-url {url}: the db holds keys this benchmark did not write; "
                         "it flushes its db, so give it an empty one (1-14)")
    client.flushdb()
    client.set(MARK, "1")


@contextlib.contextmanager
def prepared(args: argparse.Namespace, users: int) -> Iterator[Setup]:
    """Emulator (this tree's), database with `users` signed-in users, Celery worker on Redis."""
    root = Path(os.environ.get("RELAY_ROOT") or ROOT).resolve()
    tmp = tempfile.mkdtemp(prefix="grokweb-paced-")
    emu_port = free_port()
    emulator = f"http://127.0.0.1:{emu_port}/v1"
    env = {**os.environ, "SECRET_KEY": "bench-only", "EMULATOR_URL": emulator,
           "ALLOWED_HOSTS": "127.0.0.1,localhost", "MAX_LIVE_GENERATIONS": "100000",
           "MESSAGES_PER_MINUTE": "1000000", "LOG_LEVEL": "WARNING",
           "DATABASE_URL": args.database_url or f"sqlite:///{tmp}/bench.sqlite3"}
    for key in ("XAI_API_KEY", "AIMLAPI_API_KEY", "MAXTOKEN_API_KEY", "CRAZYROUTER_API_KEY", "REDIS_URL",
                "CELERY_BROKER_URL", "WEB_PROCESSES"):
        env.pop(key, None)
    if args.redis_url:
        db = urlsplit(args.redis_url).path.lstrip("/") or "0"
        if db in ("0", "15"):
            raise SystemExit("--redis-url: the benchmark flushes its Redis db; use one of 1-14 (15 is CI's)")
        env["REDIS_URL"] = env["CELERY_BROKER_URL"] = args.redis_url
        flush_redis(args.redis_url)
    if args.database_url:
        fresh_postgres(args.database_url)
    relay_cpus, rest = placement(cpus(), args.processes, args.pin and shutil.which("taskset") is not None)
    if rest:  # this load generator, and every process it starts from here on but daphne
        os.sched_setaffinity(0, rest)
    emu = subprocess.Popen([PY, "-m", "emulator.app", "--port", str(emu_port), "--flavour", "xai",
                            "--delay-scale", "0"], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    setup: Setup | None = None
    try:
        manage(root, env, "migrate", "--noinput")
        manage(root, env, "bootstrap")
        keys = json.loads(manage(root, env, "shell", "-c", USERS_SCRIPT.replace("COUNT", str(users))).strip()
                          .splitlines()[-1])
        wait_http(f"{emulator}/models")
        setup = Setup(root, tmp, env, emulator, keys[1:], keys[0], args.processes, args.redis_url, relay_cpus,
                      emulator_pid=emu.pid, rest_cpus=rest)
        if args.redis_url:  # titles run on a worker, as deployed (in-process without a broker)
            setup.worker = subprocess.Popen(
                [PY, "-m", "celery", "-A", "grokweb", "worker", "--concurrency=1", "--loglevel=WARNING"],
                cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield setup
    except BaseException:
        for log in sorted(Path(tmp).glob("daphne-*.log")):  # why a level failed, before the logs go
            print(f"--- {log.name} (last lines)\n" + log.read_text(errors="replace")[-3000:], file=sys.stderr)
        raise
    finally:
        for proc in (setup.worker if setup else None, emu):
            if proc is not None:
                stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(12)  # daphne grants its applications 10 s
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def placement(available: list[int], processes: int, pin: bool) -> tuple[list[int], list[int]]:
    """(one CPU per daphne, the CPUs for everything else), or ([], []) when daphne is not pinned.

    Deployed, the gateway and the browsers are other machines: the relay's cores are its own. So
    when CPUs are left over, the emulator, the Celery worker and this load generator go there;
    when none are (as many processes as CPUs), they share, and the `waiting` column shows it.
    """
    if not pin or processes > len(available):
        return [], []
    return available[:processes], available[processes:]


@contextlib.contextmanager
def web_processes(setup: Setup) -> Iterator[tuple[list[str], list[int], bool]]:
    """Fresh daphne processes, each on its own port and (when there are CPUs enough) pinned to one CPU."""
    if setup.redis_url:
        forget_layer(setup.redis_url)
    pin = bool(setup.relay_cpus)
    procs, urls = [], []
    try:
        for i in range(setup.processes):
            port = free_port()
            command = [str(Path(PY).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), "grokweb.asgi:application"]
            if pin:
                command = ["taskset", "-c", str(setup.relay_cpus[i]), *command]
            with open(Path(setup.tmp) / f"daphne-{i}.log", "ab") as log:  # the child keeps its own copy
                # Its own session: with autogroup scheduling (Linux's default on desktops and many
                # servers) a session's processes share one CPU share, so a relay started in ours
                # would split its share with this load generator and the emulator, and N
                # processes would split one share N ways. Deployed, each is a service of its own.
                procs.append(subprocess.Popen(command, cwd=setup.root, env=setup.env, start_new_session=True,
                                              stdout=subprocess.DEVNULL, stderr=log))
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_http(f"{url}/healthz", 60)
        yield urls, [p.pid for p in procs], pin
    finally:
        for proc in procs:
            stop(proc)


def forget_layer(url: str) -> None:
    """The last level's channel-layer keys (groups of processes now gone); Celery's keys stay."""
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match="asgi*", count=1000):
        client.delete(key)


def cpu_of(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def loop_cpu_of(pids: list[int]) -> float:
    """CPU seconds of the processes' main threads (the event loop); the rest is worker threads (the
    database hops of database_sync_to_async), which a process's total minus this gives."""
    return sum(cpu_seconds(pid, thread=pid) for pid in pids)


def cpu_ticks(cpus: list[int]) -> tuple[int, int]:
    """(busy, all) clock ticks of these CPUs so far, whoever ran on them (/proc/stat)."""
    busy = total = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
            ticks = [int(x) for x in fields[:8]]  # user nice system idle iowait irq softirq steal
            total += sum(ticks)
            busy += sum(ticks) - ticks[3] - ticks[4]
    return busy, total


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    return (after[0] - before[0]) / max(1, after[1] - before[1])


def waited_for_cpu(pids: list[int]) -> float:
    """Seconds the processes' threads sat runnable on a run queue, not running (/proc/.../schedstat)."""
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


# --- clients --------------------------------------------------------------------------------


class Tab:
    """A signed-in browser tab: one websocket, one ongoing conversation."""

    shown = 0  # problems printed in full so far

    def __init__(self, web: str, cookie: str) -> None:
        self.url = web.replace("http", "ws", 1) + "/ws/chat/"
        self.headers = {"Cookie": f"sessionid={cookie}", "Origin": web}
        self.ws: websockets.ClientConnection | None = None
        self.conversation: str | None = None
        self.titled = False
        self.ended: set[str] = set()  # replies that had their end frame
        self.stray: list[str] = []  # problems seen between replies (a second end frame)

    async def open(self) -> Tab:
        self.ws = await websockets.connect(self.url, additional_headers=self.headers, max_size=2**24,
                                           open_timeout=120, ping_interval=None)
        return self

    async def ping(self) -> None:
        assert self.ws is not None
        await self.ws.send('{"type":"ping"}')
        while True:
            frame = orjson.loads(await self.ws.recv())
            if frame["type"] == "pong":
                return
            self._between(frame)

    def _between(self, frame: dict) -> None:
        if frame["type"] == "conversation.updated" and frame["conversation"].get("title"):
            self.titled = True
        elif frame["type"] in ("message.done", "message.error") and frame.get("message") in self.ended:
            self.stray.append("second end frame")

    async def reply(self, tokens: int, ttft_ms: int, rate: int | None, limit_s: float) -> Reply:
        assert self.ws is not None
        out = Reply()
        request_id = str(uuid.uuid4())
        start = time.perf_counter()
        await self.ws.send(json.dumps({"type": "send", "request_id": request_id, "conversation": self.conversation,
                                       "model": MODEL, "content": prompt(tokens, ttft_ms, rate)}))
        message: str | None = None
        early: dict[str, list[dict]] = {}  # deltas that overtook message.created
        seqs: list[int] = []
        parts: list[str] = []
        done: dict | None = None

        def delta(frame: dict) -> None:
            seqs.append(frame["seq"])
            if frame.get("content"):
                out.last = time.perf_counter() - start
                if out.ttft is None:
                    out.ttft = out.last
                parts.append(frame["content"])

        try:
            async with asyncio.timeout(limit_s):
                while done is None:
                    frame = orjson.loads(await self.ws.recv())
                    kind = frame["type"]
                    if kind == "message.created" and frame.get("request_id") == request_id:
                        self.conversation = frame["conversation"]
                        assistant = frame["assistant_message"]
                        message = assistant["id"] if isinstance(assistant, dict) else assistant
                        for early_frame in early.pop(message, []):
                            delta(early_frame)
                    elif kind == "message.delta":
                        if message is None:
                            early.setdefault(frame["message"], []).append(frame)
                        elif frame["message"] == message:
                            delta(frame)
                    elif kind in ("message.done", "message.error") and message and frame["message"] == message:
                        done = frame
                        if kind == "message.error":
                            out.problems.append(f"message.error {frame.get('code')}")
                    elif kind == "error" and frame.get("request_id") == request_id:
                        out.problems.append(f"error {frame.get('code')}")
                        break
                    else:
                        self._between(frame)
        except TimeoutError:
            out.problems.append("timeout")
        out.text = "".join(parts)
        out.tokens = out.text.count(" w")
        if message:
            self.ended.add(message)
        if not out.problems or out.problems == ["timeout"]:
            out.problems += check_deltas(seqs, out.text, done, tokens)
        if out.problems and Tab.shown < 5:  # what went wrong, in full, for the first few
            Tab.shown += 1
            ending = {k: (done or {}).get(k) for k in ("type", "status", "finish_reason", "usage", "timing", "code")}
            print(f"# problem {out.problems} in reply {message} ({len(seqs)} deltas, {len(out.text)} chars): "
                  f"{json.dumps(ending)}", file=sys.stderr, flush=True)
        return out

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def direct(client: httpx.AsyncClient, emulator: str, tokens: int, ttft_ms: int, rate: int | None) -> Reply:
    """The same paced reply straight from the emulator: what a client without the stack sees."""
    out = Reply()
    body = {"model": MODEL, "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": prompt(tokens, ttft_ms, rate)}]}
    parts: list[str] = []
    finished = ended = False
    start = time.perf_counter()
    try:
        async with client.stream("POST", f"{emulator}/chat/completions", json=body,
                                 headers={"Authorization": "Bearer emulator"}) as response:
            buffer = b""
            async for chunk in response.aiter_bytes():
                buffer += chunk
                *events, buffer = buffer.split(b"\n\n")
                now = time.perf_counter()
                for event in events:
                    data = event.removeprefix(b"data: ")
                    if data == b"[DONE]":
                        ended = True
                        continue
                    choices = orjson.loads(data).get("choices") or [{}]
                    text = choices[0].get("delta", {}).get("content")
                    finished = finished or bool(choices[0].get("finish_reason"))
                    if text:
                        out.last = now - start
                        if out.ttft is None:
                            out.ttft = out.last
                        parts.append(text)
    except httpx.HTTPError as exc:
        out.problems.append(f"direct {type(exc).__name__}")
    out.text = "".join(parts)
    out.tokens = len(parts)
    if out.text != expected_text(tokens):
        out.problems.append("direct tokens differ")
    if not (finished and ended):
        out.problems.append("direct stream unfinished")
    return out


@contextlib.contextmanager
def on_cpus(where: list[int]) -> Iterator[None]:
    """This load generator on `where` for a while (only itself: its children keep theirs)."""
    before = cpus()
    os.sched_setaffinity(0, where)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


async def in_batches(coros: list, size: int) -> list:  # type: ignore[type-arg]
    """Run coroutines `size` at a time: a handshake storm must not hit daphne's own connect timeout."""
    results = []
    for i in range(0, len(coros), size):
        results += await asyncio.gather(*coros[i:i + size])
    return results


# --- one level ------------------------------------------------------------------------------


@dataclass
class Level:
    rate: int
    streams: int
    load: list[float] = field(default_factory=list)
    stack: list[Reply] = field(default_factory=list)
    direct: list[Reply] = field(default_factory=list)
    busy_cpu_s: float = 0.0
    busy_wall_s: float = 0.0
    waited_s: float = 0.0  # relay runnable but not running: the machine's other load
    client_cpu_s: float = 0.0  # this load generator's own CPU while the stack streamed
    idle_rate: float = 0.0  # the relay's CPU seconds per second with the tabs open, doing nothing
    round_ms_per_1k: list[float] = field(default_factory=list)  # each round's own figure: the spread within a run
    emulator_cpu_s: float = 0.0  # the emulator's CPU while the stack streamed
    rest_busy: list[float] = field(default_factory=list)  # the emulator's CPUs' busy share, per stack round
    direct_wall_s: float = 0.0
    direct_emulator_cpu_s: float = 0.0
    direct_client_cpu_s: float = 0.0
    direct_rest_busy: list[float] = field(default_factory=list)
    direct_cpus: list[int] = field(default_factory=list)  # where the direct client ran
    fixed_ms: float | None = None
    fixed_loop_ms: float | None = None  # of it, the event loop's thread (no idle subtracted: a split, not a figure)
    rss_kib: float | None = None
    pinned: bool = False
    untitled: int = 0
    problems: dict[str, int] = field(default_factory=dict)
    failed: str = ""


async def measure(setup: Setup, args: argparse.Namespace, rate: int, streams: int) -> Level:
    level = Level(rate, streams, [os.getloadavg()[0]])
    timeout = 60 + args.tokens / rate * 20 + streams * 0.2
    with web_processes(setup) as (urls, pids, pinned):
        level.pinned = pinned
        warm = [await Tab(urls[i % len(urls)], setup.warm_cookie).open() for i in range(2 * len(urls))]
        for tab in warm:  # every import and the send path warm in every process
            await tab.reply(3, 0, None, 60)
        rss0 = sum(rss_bytes(pid) for pid in pids)
        tabs = [Tab(urls[i % len(urls)], setup.cookies[i]) for i in range(streams)]
        try:
            await in_batches([tab.open() for tab in tabs], args.batch)
            await in_batches([tab.ping() for tab in tabs], args.batch)
        except (OSError, websockets.exceptions.WebSocketException, TimeoutError) as exc:
            level.failed = f"opening {streams} tabs: {type(exc).__name__} {exc}"
            return level
        if streams >= 50:  # fewer: allocator pages, not sockets
            level.rss_kib = (sum(rss_bytes(pid) for pid in pids) - rss0) / streams / 1024
        # Each tab starts its conversation and gets its title: what is measured is the relay, not titling.
        firsts = await in_batches([tab.reply(3, 0, None, timeout) for tab in tabs], args.batch)
        tally(level, [p for r in firsts for p in r.problems])
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                for tab in tabs:
                    while not tab.titled:
                        tab._between(orjson.loads(await tab.ws.recv()))  # type: ignore[union-attr]
        level.untitled = sum(not tab.titled for tab in tabs)
        cpu0, t0 = cpu_of(pids), time.perf_counter()
        await asyncio.sleep(args.idle_s)
        idle_rate = level.idle_rate = (cpu_of(pids) - cpu0) / (time.perf_counter() - t0)
        rounds = max(args.rounds, math.ceil(args.min_samples / streams))
        emu, rest = setup.emulator_pid, setup.rest_cpus
        # The direct client reads the upstream from the relay's CPU(s), which idle meanwhile: in both
        # halves of a round the reader of the upstream has those, and the emulator the CPUs left over
        # (with the tabs, idle in the direct half). On the emulator's CPU, 50 direct streams' httpx
        # (about 50 µs per event) and the emulator took turns, and started the streams late.
        level.direct_cpus = (setup.relay_cpus if rest else []) or cpus()
        for _ in range(rounds):
            cpu0, t0, wait0, own0 = cpu_of(pids), time.perf_counter(), waited_for_cpu(pids), time.process_time()
            emu0, rest0 = cpu_seconds(emu), cpu_ticks(rest)
            got = await asyncio.gather(*(tab.reply(args.tokens, args.ttft_ms, rate, timeout) for tab in tabs))
            wall = time.perf_counter() - t0
            level.busy_cpu_s += (busy := cpu_of(pids) - cpu0 - idle_rate * wall)
            level.round_ms_per_1k.append(busy / max(1, sum(r.tokens for r in got)) * 1e6)
            level.busy_wall_s += wall
            level.waited_s += waited_for_cpu(pids) - wait0
            level.client_cpu_s += time.process_time() - own0
            level.emulator_cpu_s += cpu_seconds(emu) - emu0
            level.rest_busy.append(busy_share(rest0, cpu_ticks(rest)))
            level.stack += got
            with on_cpus(level.direct_cpus):
                # A client per stream, its connection opened just before (one unpaced token): the tabs'
                # sockets and the relay's pooled upstream connections are open before a round too.
                # Not one client for all: httpcore's pool, handed 50 requests at once over 50 idle
                # connections, re-plans every connection for every waiting request and gives one
                # connection to several (ConnectionNotAvailable, again), which started the streams
                # 100 ms late; a fresh client per round instead opened 50 connections in the round.
                async with contextlib.AsyncExitStack() as clients_open:
                    clients = [await clients_open.enter_async_context(httpx.AsyncClient(timeout=timeout))
                               for _ in range(streams)]
                    opened = await asyncio.gather(*(direct(c, setup.emulator, 1, 0, None) for c in clients))
                    tally(level, [p for r in opened for p in r.problems])
                    t0, own0, emu0, rest0 = time.perf_counter(), time.process_time(), cpu_seconds(emu), cpu_ticks(rest)
                    level.direct += await asyncio.gather(*(direct(c, setup.emulator, args.tokens, args.ttft_ms, rate)
                                                           for c in clients))
                    level.direct_wall_s += time.perf_counter() - t0
                    level.direct_client_cpu_s += time.process_time() - own0
                    level.direct_emulator_cpu_s += cpu_seconds(emu) - emu0
                    level.direct_rest_busy.append(busy_share(rest0, cpu_ticks(rest)))
            level.load.append(os.getloadavg()[0])
        senders = tabs[:min(streams, args.fixed_replies)]
        per_tab = math.ceil(args.fixed_replies / len(senders))

        async def ones(tab: Tab) -> list[Reply]:
            return [await tab.reply(1, 0, None, timeout) for _ in range(per_tab)]

        cpu0, loop0, t0 = cpu_of(pids), loop_cpu_of(pids), time.perf_counter()
        fixed = [r for rs in await asyncio.gather(*(ones(tab) for tab in senders)) for r in rs]
        level.fixed_ms = (cpu_of(pids) - cpu0 - idle_rate * (time.perf_counter() - t0)) / len(fixed) * 1000
        level.fixed_loop_ms = (loop_cpu_of(pids) - loop0) / len(fixed) * 1000
        tally(level, [p for r in fixed for p in r.problems])
        await in_batches([tab.ping() for tab in tabs], args.batch)  # a second end frame shows up by now
        tally(level, [p for r in level.stack + level.direct for p in r.problems]
              + [p for tab in tabs for p in tab.stray])
        for tab in tabs + warm:
            await tab.close()
    level.load.append(os.getloadavg()[0])
    return level


async def rss_idle(setup: Setup, args: argparse.Namespace) -> tuple[float, int, str, float]:
    """RSS per idle signed-in socket: fresh processes, warmed, then --rss-sockets more sockets (pinged)."""
    with web_processes(setup) as (urls, pids, _pinned):
        warm = [await Tab(urls[i % len(urls)], setup.warm_cookie).open() for i in range(2 * len(urls))]
        for tab in warm:
            await tab.reply(3, 0, None, 60)
        rss0 = sum(rss_bytes(pid) for pid in pids)
        tabs = [Tab(urls[i % len(urls)], setup.cookies[i % len(setup.cookies)]) for i in range(args.rss_sockets)]
        await in_batches([tab.open() for tab in tabs], args.batch)
        await in_batches([tab.ping() for tab in tabs], args.batch)
        per_socket = (sum(rss_bytes(pid) for pid in pids) - rss0) / len(tabs) / 1024
        for tab in tabs + warm:
            await tab.close()
    return per_socket, len(tabs), f"{os.getloadavg()[0]:.1f}", rss0 / len(pids) / 2**20


def tally(level: Level, problems: list[str]) -> None:
    for problem in problems:
        level.problems[problem] = level.problems.get(problem, 0) + 1


# --- report ---------------------------------------------------------------------------------


def row(level: Level, tokens: int, processes: int, ttft_s: float) -> str:
    load = f"{min(level.load):.1f}–{max(level.load):.1f}"
    if level.failed:
        return f"| {level.rate} | {level.streams} | failed: {level.failed} |" + " |" * 11 + f" {load} |"
    s_ttft = [r.ttft * 1000 for r in level.stack if r.ttft is not None]
    d_ttft = [r.ttft * 1000 for r in level.direct if r.ttft is not None]
    s_rate = [x for r in level.stack if (x := r.rate(tokens, ttft_s)) is not None]
    d_rate = [x for r in level.direct if (x := r.rate(tokens, ttft_s)) is not None]
    s_pace = [x for r in level.stack if (x := r.pace(tokens)) is not None]
    d_pace = [x for r in level.direct if (x := r.pace(tokens)) is not None]
    relayed = sum(r.tokens for r in level.stack)
    verified = sum(r.tokens for r in level.stack if not r.problems) + sum(r.tokens for r in level.direct
                                                                            if not r.problems)
    problems = sum(level.problems.values())
    cells = [
        f"{level.rate}", f"{level.streams}",
        f"{statistics.median(s_ttft) - statistics.median(d_ttft):+,.0f} / "
        f"{percentile(s_ttft, 95) - percentile(d_ttft, 95):+,.0f} ms" if s_ttft and d_ttft else "—",
        f"{statistics.median(s_ttft):,.0f} / {statistics.median(d_ttft):,.0f} ms" if s_ttft and d_ttft else "—",
        f"{statistics.median(s_rate):.0f} / {statistics.median(d_rate):.0f}" if s_rate and d_rate else "—",
        f"{statistics.median(s_pace):.0f} / {statistics.median(d_pace):.0f}" if s_pace and d_pace else "—",
        f"{relayed / level.busy_wall_s:,.0f}" if level.busy_wall_s else "—",
        f"{level.busy_cpu_s / relayed * 1e6:,.0f} ms{spread(level.round_ms_per_1k)}" if relayed else "—",
        f"{level.busy_cpu_s / level.busy_wall_s / processes:.0%} / {level.waited_s / level.busy_wall_s / processes:.0%}"
        f" / {level.client_cpu_s / level.busy_wall_s:.0%}" if level.busy_wall_s else "—",
        instrument(level),
        f"{level.fixed_ms:.1f} ms (loop {level.fixed_loop_ms:.1f})" if level.fixed_ms is not None
        and level.fixed_loop_ms is not None else "—",
        f"{level.rss_kib:.1f} KiB" if level.rss_kib is not None else "—",
        f"{verified:,} / {problems}" + (" (" + ", ".join(f"{k}: {v}" for k, v in level.problems.items()) + ")"
                                         if problems else ""),
        load,
    ]
    return "| " + " | ".join(cells) + " |"


def spread(values: list[float]) -> str:
    """The rounds' quartiles, when there are rounds enough for them to mean something."""
    if len(values) < 8:
        return ""
    return f" (rounds {percentile(values, 25):.0f}–{percentile(values, 75):.0f})"


def instrument(level: Level) -> str:
    """Emulator / load generator CPU per second, the stack's half then the direct half, and (in brackets)
    how busy the emulator's CPUs were, whoever ran there (the highest round): is the instrument the limit?"""
    if not level.busy_wall_s or not level.direct_wall_s:
        return "—"

    def most(shares: list[float]) -> str:
        return f" ({max(shares):.0%})" if shares else ""

    return (f"{level.emulator_cpu_s / level.busy_wall_s:.0%} / {level.client_cpu_s / level.busy_wall_s:.0%}"
            f"{most(level.rest_busy)} · {level.direct_emulator_cpu_s / level.direct_wall_s:.0%} / "
            f"{level.direct_client_cpu_s / level.direct_wall_s:.0%}{most(level.direct_rest_busy)}")


HEADER = ("| tok/s upstream | streams | added TTFT p50 / p95 | TTFT p50 stack / direct | tok/s per stream "
          "p50 stack / direct | tok/s after the first token p50 stack / direct | aggregate tok/s "
          "| relay CPU per 1k tokens | relay busy / waiting for CPU / client busy "
          "| emulator / load generator CPU: stack · direct (emulator's CPUs busy) "
          "| fixed CPU per 1-token reply (of it the event loop's thread) | RSS per socket | tokens verified / problems "
          "| load 1-min |\n"
          "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")


async def main(args: argparse.Namespace) -> int:
    plan = [(rate, n) for rate in args.rates for n in args.levels if rate * n <= args.max_aggregate]
    skipped = [(rate, n) for rate in args.rates for n in args.levels if rate * n > args.max_aggregate]
    tree = os.environ.get("RELAY_ROOT") or str(ROOT)
    every = cpus()
    print(f"# Relay at a gateway's pace (PACED: one token per SSE event): bench/relay_paced.py, relay tree {tree}")
    store = "PostgreSQL" if args.database_url else "SQLite"
    layer = "Redis (layer, cache, Celery worker for titles)" if args.redis_url else "in-memory layer"
    print(f"# {args.processes} daphne process(es), {store} + {layer}; first token after {args.ttft_ms} ms, "
          f"{args.tokens} tokens per reply, {MODEL}; CPUs {every}", flush=True)
    print(f"# {describe()}", flush=True)
    if skipped:
        print(f"# skipped (over --max-aggregate {args.max_aggregate:,} tok/s): "
              + ", ".join(f"{n} streams at {rate}" for rate, n in skipped), flush=True)
    levels = []
    with prepared(args, max(n for _, n in plan)) as setup:
        for rate, streams in plan:
            print(f"# measuring {streams} streams at {rate} tok/s ...", file=sys.stderr, flush=True)
            level = await measure(setup, args, rate, streams)
            levels.append(level)
            print(f"# {row(level, args.tokens, args.processes, args.ttft_ms / 1000)}", file=sys.stderr, flush=True)
        idle = await rss_idle(setup, args) if args.rss_sockets else None
    print(HEADER)
    for level in levels:
        print(row(level, args.tokens, args.processes, args.ttft_ms / 1000))
    if idle:
        print(f"\nRSS per idle signed-in socket: {idle[0]:.1f} KiB ({idle[1]} sockets on fresh, warmed "
              f"process(es); load {idle[2]}); a warmed process before them: {idle[3]:.0f} MiB")
    pinned = all(level.pinned for level in levels)
    rest = cpus()  # this process's CPUs now: placement() may have moved it off daphne's
    pinning = ("pinned with taskset, one CPU per process; " + (f"emulator, worker and load generator on CPUs {rest}"
               if len(rest) < len(every) else "the emulator and load generator share those CPUs")
               if pinned else "NOT pinned (--no-pin, no taskset, few CPUs)")
    print(f"\ndaphne {pinning}; "
          f"untitled tabs: {sum(level.untitled for level in levels)}; "
          "relay CPU per 1k tokens includes each reply's fixed cost; added TTFT = stack minus the direct client; "
          "busy = the relay's CPU per second per process, waiting = its threads' seconds runnable but not "
          "running per second per process (other load; over 100% when several threads wait), client = this "
          "load generator's own CPU per second, all while the stack streamed; the direct client ran on CPUs "
          f"{sorted({c for level in levels for c in level.direct_cpus})}; relay idle rate "
          + ", ".join(f"{level.idle_rate * 1000:.2f}" for level in levels) + " ms/s (subtracted).")
    return 1 if any(level.problems or level.failed for level in levels) else 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ints = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
    parser.add_argument("--levels", type=ints, default=None, help="concurrent streams (default 1,10,50,200,500)")
    parser.add_argument("--rates", type=ints, default=[200, 50], help="upstream tokens/s per stream (default 200,50)")
    parser.add_argument("--tokens", type=int, default=256, help="tokens per reply (default 256)")
    parser.add_argument("--ttft-ms", type=int, default=300, help="upstream's first token after (default 300)")
    parser.add_argument("--rounds", type=int, default=None, help="replies per tab per level (default 3; quick 2)")
    parser.add_argument("--min-samples", type=int, default=None,
                        help="at least this many replies per level: more rounds at low levels (default 20; quick 6)")
    parser.add_argument("--fixed-replies", type=int, default=None,
                        help="1-token replies for the fixed cost (default 30; quick 10)")
    parser.add_argument("--idle-s", type=float, default=None, help="seconds to measure idle CPU (default 3; quick 1)")
    parser.add_argument("--max-aggregate", type=int, default=25_000,
                        help="skip a level whose streams x rate is above this (default 25,000 tok/s: "
                             "200 and 500 streams run at 50 tok/s only)")
    parser.add_argument("--rss-sockets", type=int, default=None,
                        help="idle sockets for RSS per socket, 0 to skip (default 500; quick 100)")
    parser.add_argument("--batch", type=int, default=25, help="websocket handshakes at once (default 25)")
    parser.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True,
                        help="pin each daphne to one CPU with taskset (default; --no-pin lets the kernel move it)")
    parser.add_argument("--processes", type=int, default=1, help="daphne processes (more than 1 needs --redis-url)")
    parser.add_argument("--redis-url", help="Redis channel layer, cache and Celery (db 1-14; flushed)")
    parser.add_argument("--database-url", help="PostgreSQL database, dropped and created (name must contain 'bench')")
    parser.add_argument("--quick", action="store_true", help="levels 1,10, fewer rounds")
    parser.add_argument("--fixed-only", action="store_true",
                        help="no paced rounds: only the fixed CPU per 1-token reply (and RSS unless 0)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.levels = args.levels or ([1, 10] if quick else [1, 10, 50, 200, 500])
    args.rounds = 0 if args.fixed_only else args.rounds or (2 if quick else 3)
    args.min_samples = 0 if args.fixed_only else args.min_samples or (6 if quick else 20)
    args.rss_sockets = args.rss_sockets if args.rss_sockets is not None else (100 if quick else 500)
    args.fixed_replies = args.fixed_replies or (10 if quick else 30)
    args.idle_s = args.idle_s if args.idle_s is not None else (1.0 if quick else 3.0)
    if args.processes > 1 and not args.redis_url:
        parser.error("--processes > 1 needs --redis-url: processes share nothing else")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
