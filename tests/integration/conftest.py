"""The integration set runs against real PostgreSQL and Redis (see `make test-integration`).

Without them it skips locally, but fails under CI=true: CI must never pass by skipping.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_finish(session):  # type: ignore[no-untyped-def]
    """Runs after `-m` deselection, so `-m "not integration"` under CI=true is fine."""
    items = session.items
    missing = []
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        missing.append("DATABASE_URL (PostgreSQL)")
    if not settings.REDIS_URL:
        missing.append("REDIS_URL")
    if not missing:
        return
    reason = "integration tests need " + " and ".join(missing) + "; run `make test-integration`"
    ours = [item for item in items if "tests/integration" in str(item.fspath)]
    if ours and os.environ.get("CI") == "true":
        raise pytest.UsageError(reason)
    for item in ours:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _flush_redis_layer():  # type: ignore[no-untyped-def]
    """Leave no queued frames or group members behind for the next test."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    yield
    layer = get_channel_layer()
    if hasattr(layer, "flush"):
        async_to_sync(layer.flush)()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """Close the sessions that worker threads (database_sync_to_async) left open.

    Those threads' connections are theirs alone, so the main thread cannot close them;
    without this, dropping the test database warns that another session still uses it.
    """
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")


# Two real web processes ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database_url() -> str:
    """The test database (pytest-django's test_ name), for the web processes to share."""
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def two_web_processes(tmp_path, request):  # type: ignore[no-untyped-def]
    """Two daphne processes on the same PostgreSQL and Redis, 4 messages a minute each user.

    A test's `@pytest.mark.web_env(NAME="value", ...)` changes their environment.
    """
    marker = request.node.get_closest_marker("web_env")
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "grokweb.settings", "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL, "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "SECRET_KEY": settings.SECRET_KEY, "ALLOWED_HOSTS": "127.0.0.1", "DEBUG": "0", "LOG_LEVEL": "WARNING",
        "MESSAGES_PER_MINUTE": "4", "MAX_LIVE_GENERATIONS": "1", "CONN_MAX_AGE": "0",
        **(marker.kwargs if marker is not None else {}),
    }
    daphne = str(Path(sys.executable).with_name("daphne"))
    servers = []
    try:
        for n in range(2):
            port = _free_port()
            log = (tmp_path / f"web{n}.log").open("wb")
            proc = subprocess.Popen([daphne, "-b", "127.0.0.1", "-p", str(port), "grokweb.asgi:application"],
                                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            servers.append((port, proc))
        for port, proc in servers:
            _wait_until_up(port, proc, tmp_path)
        yield [port for port, _ in servers]
    finally:
        for _, proc in servers:
            proc.terminate()
        for _, proc in servers:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_until_up(port: int, proc: subprocess.Popen[bytes], logs: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, [p.read_text()[-2000:] for p in logs.glob("*.log")]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)  # polling a starting process, not waiting for our own work
    raise AssertionError(f"web process on {port} did not start")
