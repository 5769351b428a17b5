"""Start the real stack for benchmarks: the emulator and daphne as separate processes.

Everything listens on 127.0.0.1 only, and everything is stopped on exit.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class Stack:
    web: str  # http://127.0.0.1:PORT
    emulator: str  # http://127.0.0.1:PORT/v1
    daphne_pid: int
    env: dict[str, str]
    emulator_pid: int = 0


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return done.stdout


@contextlib.contextmanager
def running_stack(extra_env: dict[str, str] | None = None, delay_scale: float = 0.0,
                  daphne: list[str] | None = None, root: Path = ROOT, ready_s: float = 30.0) -> Iterator[Stack]:
    """`delay_scale` 0: the emulator answers at once; 1: at each model's real speed.

    `daphne`: the command that starts daphne in place of the venv's `daphne` (its arguments follow);
    `root`: the tree daphne serves (another checkout, to compare); `ready_s`: how long it may take to
    come up (under tracemalloc, a minute or more).
    """
    tmp = tempfile.mkdtemp(prefix="grokweb-bench-")
    emu_port, web_port = free_port(), free_port()
    emulator = f"http://127.0.0.1:{emu_port}/v1"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
        "SECRET_KEY": "bench-only",
        "EMULATOR_URL": emulator,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "MAX_LIVE_GENERATIONS": "100000",
        "MESSAGES_PER_MINUTE": "1000000",  # the bench sends far more than a person (rate limits, issue 3)
        "LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    for key in ("XAI_API_KEY", "AIMLAPI_API_KEY", "MAXTOKEN_API_KEY", "CRAZYROUTER_API_KEY", "REDIS_URL"):
        env.pop(key, None)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen(
            [PY, "-m", "emulator.app", "--port", str(emu_port), "--flavour", "xai",
             "--delay-scale", str(delay_scale)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        emulator_pid = procs[0].pid
        manage(env, "migrate", "--noinput")
        manage(env, "bootstrap")
        manage(env, "shell", "-c",
               "from accounts.models import User; User.objects.create_user('bench', '', 'bench-password-123')")
        web = subprocess.Popen(
            [*(daphne or [str(Path(PY).parent / "daphne")]), "-b", "127.0.0.1", "-p", str(web_port),
             "grokweb.asgi:application"],
            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(web)
        wait_http(f"{emulator}/models")
        wait_http(f"http://127.0.0.1:{web_port}/healthz", ready_s)
        yield Stack(f"http://127.0.0.1:{web_port}", emulator, web.pid, env, emulator_pid)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)


def session_cookie(web: str, username: str = "bench", password: str = "bench-password-123") -> str:
    with httpx.Client(base_url=web) as client:
        client.get("/accounts/login/")
        token = client.cookies["csrftoken"]
        answer = client.post("/accounts/login/", data={"username": username, "password": password,
                                                        "csrfmiddlewaretoken": token})
        if "sessionid" not in client.cookies:
            raise RuntimeError(f"sign-in failed: {answer.status_code}")
        return client.cookies["sessionid"]


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """CPU time of a process, its threads' whole (or of one of its threads: the main thread's id is the pid).

    To the nanosecond where Linux says so (the process's CPU-time clock; a thread's schedstat), not in
    /proc's clock ticks: a tick is 10 ms, and a reply at one stream costs a few ticks, so ticks made the
    one-stream CPU per 1k tokens swing by a third between runs (an idle rate over 2 s read as 0, 5 or
    10 ms/s, times 30 s of rounds). utime+stime in ticks only where neither can be read.
    """
    with contextlib.suppress(OSError):
        if thread is None:  # the process CPU-time clock of clock_getcpuclockid(3): MAKE_PROCESS_CPUCLOCK(pid, SCHED)
            return time.clock_gettime(((~pid) << 3) | 2)
        return int(Path(f"/proc/{pid}/task/{thread}/schedstat").read_text().split()[0]) / 1e9
    path = f"/proc/{pid}/task/{thread}/stat" if thread is not None else f"/proc/{pid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0
