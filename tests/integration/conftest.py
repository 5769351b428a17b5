"""The integration set runs against real PostgreSQL and Redis (see `make test-integration`).

Without them it skips locally, but fails under CI=true: CI must never pass by skipping.
"""
from __future__ import annotations

import os

import pytest
from django.conf import settings


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
