"""A real daphne serving grokweb on a loopback port, over this test run's database.

The in-process communicator and test client hide what daphne does at the edge (a close
before accept becomes HTTP 403, an overlong request line is Twisted's to answer), so the
tests of that edge talk to a daphne. It reads the test database file, so tests using it
need django_db(transaction=True) to see their rows; it shares this run's SECRET_KEY, so a
session made here signs in there.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.conf import settings as django_settings
from django.db import connection

from tests.emulator_server import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def running_daphne(**settings: str) -> Iterator[str]:
    """daphne on a free port (extra environment: `settings`); yields http://127.0.0.1:<port>."""
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "grokweb.settings", "READ_DOTENV": "false",
           "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}", "SECRET_KEY": django_settings.SECRET_KEY,
           "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING", **settings}
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                             "grokweb.asgi:application"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "daphne exited"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "daphne did not answer within 60 s"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
