"""Shared fixtures: users, the emulator on a loopback port, and a provider pointing at it."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from tests.emulator_server import running_emulator


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    """One zero-delay xAI-flavoured emulator for the whole run (it keeps no state but fault counters)."""
    with running_emulator(flavour="xai", delay_scale=0.0) as url:
        yield url


@pytest.fixture
def emulator_provider(db, emulator_url):  # type: ignore[no-untyped-def]
    """The built-in emulator as the only provider, with the whole catalog offered."""
    from gateways import catalog, offering
    from gateways.models import Provider

    provider = Provider(name="Built-in emulator", kind=Provider.Kind.EMULATOR, base_url=emulator_url)
    provider.set_api_key("emulator")
    provider.save()
    offering.offer(provider, list(catalog.CATALOG))
    return provider


@pytest.fixture
def make_user(db):  # type: ignore[no-untyped-def]
    from accounts.models import User

    def make(username: str = "alice", **extra) -> User:  # type: ignore[no-untyped-def]
        return User.objects.create_user(username, f"{username}@example.com", "correct horse battery", **extra)

    return make


@pytest.fixture
def user(make_user):  # type: ignore[no-untyped-def]
    return make_user("alice")


@pytest.fixture
def logged_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    """Each test runs in its own event loop: forget loop-bound singletons around it."""
    from django.core.cache import cache

    from chat.hub import reset_hub
    from gateways.wire.client import reset_client

    reset_hub()
    reset_client()
    cache.clear()  # circuit breakers (gateways.breaker) must not carry over between tests
    yield
    reset_hub()
    reset_client()


@pytest.fixture
def staff(make_user):  # type: ignore[no-untyped-def]
    """An admin (staff and superuser, so the Django admin pages open too)."""
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(staff) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def member_client(make_user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(make_user("member"))
    return client
