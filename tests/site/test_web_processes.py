"""scripts/web.py, the team deployment's web command: WEB_PROCESSES daphne processes on one port."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in found.read_text().split()] if found.exists() else []


def test_web_starts_the_processes_asked_for_on_one_port_and_stops_them_all(tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = _free_port()
    env = {**os.environ, "WEB_PROCESSES": "2", "DATABASE_URL": f"sqlite:///{tmp_path}/web.sqlite3",
           "SECRET_KEY": "test-only", "ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING"}
    env.pop("REDIS_URL", None)
    web = subprocess.Popen([sys.executable, "scripts/web.py", "--host", "127.0.0.1", "--port", str(port)],
                           cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, answered = time.monotonic() + 60, 0
        while answered < 4 and time.monotonic() < deadline:
            try:
                answered += httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.2)
        assert answered == 4
        daphnes = _children(web.pid)
        assert len(daphnes) == 2
        web.send_signal(signal.SIGTERM)
        assert web.wait(30) == 0
        assert not [pid for pid in daphnes if Path(f"/proc/{pid}").exists()
                    and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]]
    finally:
        if web.poll() is None:
            web.kill()
