"""Four emulated gateways on loopback ports, one of each kind, and providers pointing at them."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

from emulator.app import Emulator
from tests.emulator_server import running_emulator

# kind -> (emulator flavour, model list imitated)
GATEWAYS = {
    "xai": ("xai", "xai"),
    "aimlapi": ("aimlapi", "aimlapi"),
    "maxtoken": ("openai", "maxtoken"),
    "crazyrouter": ("openai", "crazyrouter"),
}
KEYS = {kind: f"sk-{kind}-secret-{i}Zq9W7vB3nT5yR1" for i, kind in enumerate(GATEWAYS)}


@dataclass
class Gateway:
    kind: str
    url: str
    app: Emulator
    key: str


@pytest.fixture(scope="session")
def gateways() -> Iterator[dict[str, Gateway]]:
    """One zero-delay emulator per gateway kind; each accepts only its own key."""
    with ExitStack() as stack:
        found = {}
        for kind, (flavour, listing) in GATEWAYS.items():
            app = Emulator(flavour, 0.0, listing, api_key=KEYS[kind])
            url = stack.enter_context(running_emulator(app=app))
            found[kind] = Gateway(kind, url, app, KEYS[kind])
        yield found


@pytest.fixture(autouse=True)
def _default_listings(request):  # type: ignore[no-untyped-def]
    """A test may change what a gateway lists; put it back afterwards."""
    yield
    if "gateways" in request.fixturenames:
        from emulator import emulation as em

        for kind, (_, listing) in GATEWAYS.items():
            request.getfixturevalue("gateways")[kind].app.listed = em.gateway_ids(listing)


@pytest.fixture
def make_provider(db, gateways):  # type: ignore[no-untyped-def]
    from gateways.models import Provider

    def make(kind: str, *, name: str | None = None, headers: dict[str, str] | None = None,
             key: str | None = None, url: str | None = None) -> Provider:
        gateway = gateways[kind]
        provider = Provider(name=name or Provider.Kind(kind).label, kind=kind, base_url=url or gateway.url,
                            headers=headers or {}, max_retries=0)
        provider.set_api_key(key if key is not None else gateway.key)
        provider.save()
        return provider

    return make


@pytest.fixture
def free_port() -> int:
    """A loopback port nobody listens on (connections to it are refused)."""
    from tests.emulator_server import free_port as pick

    return pick()


