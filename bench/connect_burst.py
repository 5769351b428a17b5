"""N websockets connecting at once: how many are accepted, and how long their handshakes take.

    .venv/bin/python bench/connect_burst.py                    # 1,000 sockets, 200 users, as deployed
    .venv/bin/python bench/connect_burst.py --sockets 300 --launch plain   # daphne -b/-p, its own defaults
    .venv/bin/python bench/connect_burst.py --processes 2 --database-url postgres://... --redis-url redis://...

`--launch web` starts the server as the team deployment does (scripts/web.py: one listening
socket with a deep backlog, daphne --fd, our daphne options), with WEB_PROCESSES=1 on SQLite
and the in-memory layer; `--launch plain` runs `daphne -b -p` with daphne's defaults (a
listen backlog of 50, a 5 s handshake timeout), for comparison. Users and their sessions are
written straight into the database first (no sign-in per user). Every socket is opened at
the same moment from one asyncio loop, kept open until all have finished, then closed.
A socket counts as accepted when the server's 101 arrived and a ping got its pong.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.stack import PY, ROOT, free_port, manage, wait_http

SEED = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from accounts.models import User
users = User.objects.bulk_create([User(username=f"{prefix}{n}", email=f"{prefix}{n}@example.com", password="!")
                                  for n in range({users})])
keys = []
for user in User.objects.filter(username__startswith="{prefix}"):
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "accounts.backends.AccountBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    keys.append(session.session_key)
print(json.dumps(keys))
"""


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def one(url: str, origin: str, cookie: str, start: asyncio.Event, done: asyncio.Event,
              known: asyncio.Future[tuple[str, float]], timeout_s: float) -> None:
    """Open one socket when `start` is set; report (outcome, handshake seconds) in `known`; hold it until `done`."""
    await start.wait()
    began = time.perf_counter()
    try:
        ws = await websockets.connect(url, origin=origin, additional_headers={"Cookie": f"sessionid={cookie}"},
                                      open_timeout=timeout_s, ping_interval=None)
    except websockets.InvalidStatus as exc:
        known.set_result((f"refused {exc.response.status_code}", time.perf_counter() - began))
        return
    except (OSError, TimeoutError, websockets.WebSocketException) as exc:
        known.set_result((f"failed ({type(exc).__name__})", time.perf_counter() - began))
        return
    took = time.perf_counter() - began
    try:
        await ws.send('{"type": "ping"}')
        answer = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
        outcome = "accepted" if answer.get("type") == "pong" else f"odd frame {answer.get('type')}"
    except (websockets.WebSocketException, TimeoutError) as exc:
        outcome = f"closed after the handshake ({getattr(getattr(exc, 'rcvd', None), 'code', type(exc).__name__)})"
    known.set_result((outcome, took))
    await done.wait()
    with contextlib.suppress(Exception):
        await ws.close()


async def burst(web: str, cookies: list[str], sockets: int, timeout_s: float) -> None:
    url = web.replace("http", "ws", 1) + "/ws/chat/"
    loop = asyncio.get_running_loop()
    start, done = asyncio.Event(), asyncio.Event()
    known: list[asyncio.Future[tuple[str, float]]] = [loop.create_future() for _ in range(sockets)]
    tasks = [asyncio.create_task(one(url, web, cookies[n % len(cookies)], start, done, known[n], timeout_s))
             for n in range(sockets)]
    await asyncio.sleep(0)  # every task reaches `start.wait()`
    began = time.perf_counter()
    start.set()
    results = await asyncio.gather(*known)  # all open at once: none is closed before every outcome is known
    wall = time.perf_counter() - began
    done.set()
    await asyncio.gather(*tasks)
    outcomes: dict[str, int] = {}
    for outcome, _ in results:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    times = [took * 1000 for outcome, took in results if outcome == "accepted"]
    print(f"sockets {sockets}, users {len(cookies)}: " + ", ".join(f"{v} {k}" for k, v in sorted(outcomes.items())))
    if times:
        print(f"handshake ms: p50 {statistics.median(times):.0f}  p95 {pct(times, 95):.0f}  "
              f"max {max(times):.0f}  (every outcome known after {wall:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--launch", choices=("web", "plain"), default="web")
    parser.add_argument("--timeout", type=float, default=60.0, help="the client's own patience, seconds")
    parser.add_argument("--processes", type=int, default=1, help="WEB_PROCESSES (more than 1 needs --redis-url)")
    parser.add_argument("--database-url", default="", help="default: a new SQLite file")
    parser.add_argument("--redis-url", default="", help="default: none (the in-memory channel layer)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="grokweb-burst-")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": args.database_url or f"sqlite:///{tmp}/burst.sqlite3",
           "SECRET_KEY": "bench-only", "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING",
           "WEB_PROCESSES": str(args.processes), "EMULATOR_URL": f"http://127.0.0.1:{port}/emulator/v1",
           "READ_DOTENV": "false"}
    for key in ("XAI_API_KEY", "AIMLAPI_API_KEY", "MAXTOKEN_API_KEY", "CRAZYROUTER_API_KEY", "REDIS_URL",
                "CELERY_BROKER_URL"):
        env.pop(key, None)
    if args.redis_url:
        env["REDIS_URL"] = env["CELERY_BROKER_URL"] = args.redis_url
    manage(env, "migrate", "--noinput")
    seed = SEED.replace("{users}", str(args.users)).replace("{prefix}", f"burst{uuid.uuid4().hex[:8]}-")
    cookies = json.loads(manage(env, "shell", "-c", seed).strip().splitlines()[-1])
    if args.launch == "web":
        command = [PY, "scripts/web.py", "--host", "127.0.0.1", "--port", str(port)]
    else:
        command = [str(Path(PY).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), "grokweb.asgi:application"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz")
        print(f"server: {' '.join(command[1:] if args.launch == 'web' else command[-5:])}")
        asyncio.run(burst(f"http://127.0.0.1:{port}", cookies, args.sockets, args.timeout))
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(15)


if __name__ == "__main__":
    main()
